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

    /// Whether blocking commands (BLPOP…) that nothing can serve may wait.
    ///
    /// `true`: [`crate::Store::dispatch`] returns [`crate::Outcome::Blocked`] and leaves a
    /// ticket ([`Session::take_blocked`]); for callers that wait on tickets, as the network
    /// layer does. `false`: the command replies a null at once, as Redis does inside MULTI and
    /// scripts. Unset (a new session), `dispatch` behaves as with `false`, so a caller
    /// that knows nothing of tickets always gets a reply, and [`crate::Store::execute_in`] as
    /// with `true`, blocking the calling thread.
    pub fn set_may_block(&mut self, may: bool) {
        self.block.mode = if may { Mode::Wait } else { Mode::Never };
    }

    /// The mode `execute_in` runs with: waits unless told not to.
    pub(crate) fn waits_in_execute(&mut self) -> Mode {
        let was = self.block.mode;
        if was == Mode::Default {
            self.block.mode = Mode::Wait;
        }
        was
    }
}
