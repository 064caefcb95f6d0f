//! A fixed set of connections to one server, shared by any number of threads.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, TryLockError};

use crate::config::Config;
use crate::conn::Connection;
use crate::error::{Error, Result};

/// `connections` lazily opened connections to one address. A connection that fails is dropped
/// and the next use opens a new one.
#[derive(Debug)]
pub(crate) struct Pool {
    addr: String,
    config: Config,
    slots: Vec<Mutex<Option<Connection>>>,
    next: AtomicUsize,
}

impl Pool {
    pub(crate) fn new(addr: String, config: &Config) -> Pool {
        let n = config.connections.max(1);
        Pool {
            addr,
            config: config.clone(),
            slots: (0..n).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
        }
    }

    pub(crate) fn addr(&self) -> &str {
        &self.addr
    }

    pub(crate) fn size(&self) -> usize {
        self.slots.len()
    }

    /// A starting slot for a caller; successive callers start on successive slots.
    pub(crate) fn pick(&self) -> usize {
        self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len()
    }

    fn lock(&self, slot: usize) -> MutexGuard<'_, Option<Connection>> {
        let m = &self.slots[slot % self.slots.len()];
        match m.lock() {
            Ok(g) => g,
            Err(poisoned) => {
                // A thread panicked while using this connection: its state is unknown.
                let mut g = poisoned.into_inner();
                *g = None;
                m.clear_poison();
                g
            }
        }
    }

    /// The connection at `start` if it is free, else the next free one, else (all busy) the one
    /// at `start` once it is released.
    fn lock_from(&self, start: usize) -> MutexGuard<'_, Option<Connection>> {
        let n = self.slots.len();
        for i in 0..n {
            match self.slots[(start + i) % n].try_lock() {
                Ok(g) => return g,
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Poisoned(_)) => return self.lock((start + i) % n),
            }
        }
        self.lock(start)
    }

    /// Runs `f` on a connection (preferably the one at `slot`, or any free one), opening it if
    /// needed.
    /// When a connection that was already open turns out closed before any reply arrived, `f`
    /// is tried once more on a new one: the server may have closed an idle connection.
    pub(crate) fn with<T>(
        &self,
        slot: Option<usize>,
        mut f: impl FnMut(&mut Connection) -> Result<T>,
    ) -> Result<T> {
        let mut guard = self.lock_from(slot.unwrap_or_else(|| self.pick()));
        let reused = guard.is_some();
        let conn = match &mut *guard {
            Some(c) => c,
            empty => empty.insert(Connection::connect(&self.addr, &self.config)?),
        };
        let before = conn.received();
        match f(conn) {
            Err(e) if e.is_connection_error() => {
                // Retry only on a connection that was found dead before any reply byte came
                // back: then the server cannot have answered, nor (closing idle) have run it.
                let silent = guard.as_ref().is_some_and(|c| c.received() == before);
                *guard = None;
                if !reused || !silent || !stale(&e) {
                    return Err(e);
                }
                let conn = guard.insert(Connection::connect(&self.addr, &self.config)?);
                let r = f(conn);
                if matches!(&r, Err(e) if e.is_connection_error()) {
                    *guard = None;
                }
                r
            }
            r => r,
        }
    }
}

/// True for the errors an idle connection that the server (or a proxy) closed shows on its
/// next use. A timeout is not one: the command may be running, so it is not sent again.
fn stale(e: &Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e, Error::Io(io) if matches!(io.kind(), BrokenPipe | ConnectionReset | ConnectionAborted | UnexpectedEof))
}
