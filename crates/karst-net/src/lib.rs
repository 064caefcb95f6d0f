//! karst-net: the network shell of karst-server — listeners, event loops, connections,
//! pipelining, limits, authentication, and the connection and server commands (HELLO, AUTH,
//! CLIENT, CONFIG, INFO, COMMAND, SLOWLOG, SHUTDOWN…).
//!
//! # Components
//!
//! - [`Server`] binds the listeners and starts N event-loop threads (default: one per core). In
//!   the default [`ThreadModel::ReusePort`] each thread runs its own current-thread tokio runtime
//!   with its own `SO_REUSEPORT` listener, and a connection lives on the thread that accepted it.
//! - A connection reads into one reused buffer, parses every complete request
//!   ([`karst_resp::RequestParser`]), runs them in order on the [`karst_store::Store`] from the
//!   same thread (no channel, task or allocation per command) and writes all replies with one
//!   vectored write. Large bulks are received straight into a buffer of their exact size and large
//!   replies leave by reference.
//! - [`Config`] and [`OPTIONS`]: every option under Redis's name, shared by the config file,
//!   the flags, `CONFIG GET/SET/REWRITE` and the docs.
//!
//! # Guarantees
//!
//! - No input panics a thread; a protocol error closes only the connection that sent it, after
//!   the good requests before it have run and been answered.
//! - Memory per connection is bounded: the query buffer by `client-query-buffer-limit`, bulks by
//!   `proto-max-bulk-len`, pending replies by a pause threshold (execution stops until the client
//!   reads) and `client-output-buffer-limit`.
//!
//! # Example
//!
//! ```no_run
//! use karst_net::{Config, Server};
//!
//! let mut config = Config::default();
//! config.port = 0;
//! let server = Server::new(config, karst_store::Store::new()).start().unwrap();
//! println!("listening on {}", server.local_addr());
//! server.shutdown();
//! ```

#![forbid(unsafe_code)]

mod commands;
mod config;
mod conn;
mod info;
mod server;
mod shared;

pub use commands::REDIS_VERSION;
pub use config::{
    ALIASES, Config, ConfigOption, OPTIONS, OutputLimit, ThreadModel, glob_match, human_bytes,
    option, parse_memory,
};
pub use server::{Server, ServerHandle, Stopper};
