//! The synchronisation types of the crate: std's in a normal build, loom's under
//! `--cfg karst_loom`, so that the pool's return path can be model-checked. The rest of the
//! crate imports only from here.

#[cfg(karst_loom)]
pub(crate) use loom::sync::{
    Arc, Mutex, MutexGuard,
    atomic::{AtomicIsize, AtomicUsize, Ordering},
};
#[cfg(not(karst_loom))]
pub(crate) use std::sync::{
    Arc, Mutex, MutexGuard,
    atomic::{AtomicIsize, AtomicUsize, Ordering},
};

/// Locks `m`, ignoring poison: every critical section of this crate is a single `Vec`
/// push/pop/take, which leaves the list valid even if a panic unwinds through it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
