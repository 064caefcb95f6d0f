//! Per-connection state that commands read and change.

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
}

impl Session {
    /// A session on database 0.
    pub fn new() -> Session {
        Session::default()
    }
}
