//! karst-store: the engine behind karst-server, usable in-process.
//!
//! (Skeleton: the contract between the engine and the network layer. The engine itself is being
//! built; see `Store::dispatch`.)

mod command;
mod cmd;
mod session;
mod store;

pub use command::{CommandSpec, Flags, Handler, commands, lookup};
pub use session::Session;
pub use store::{Outcome, Store};
