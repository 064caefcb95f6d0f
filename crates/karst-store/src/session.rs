//! Per-connection state that commands read and change.

use crate::blocking::{Blocked, Mode, SessionBlock};

/// What the engine keeps about one client between its commands. The network layer owns one per
/// connection; an embedding application gets one inside [`crate::Store::execute`].
#[derive(Debug, Clone, Default)]
pub struct Session {
    /// The selected database (`SELECT`).
    pub db: usize,
    /// `CLIENT NO-TOUCH ON`: reads do not update the access clock.
    pub no_touch: bool,
    /// `CLIENT NO-EVICT ON`.
    pub no_evict: bool,
    /// A blocking command's note for the dispatcher, and the ticket it leaves.
    pub(crate) block: SessionBlock,
}

impl Session {
    /// A session on database 0.
    pub fn new() -> Session {
        Session::default()
    }

    /// The ticket of the command that just blocked ([`crate::Outcome::Blocked`]): the caller
    /// waits on it for the reply.
    pub fn take_blocked(&mut self) -> Option<Blocked> {
        self.block.ticket.take()
    }

    /// Whether blocking commands may wait (the default). When not, they reply their timeout
    /// reply at once when nothing can serve them, as Redis does inside MULTI and scripts.
    pub fn set_may_block(&mut self, may: bool) {
        self.block.mode = if may { Mode::Wait } else { Mode::Never };
    }
}
