//! The synchronisation primitives of the crate: parking_lot and std atomics normally, loom's
//! under `cfg(karst_loom)` so that models explore every interleaving. The rest of the crate
//! imports only from here.

#[cfg(not(karst_loom))]
pub(crate) use parking_lot::{Mutex, MutexGuard};
#[cfg(not(karst_loom))]
pub(crate) use std::sync::atomic::{AtomicI64, AtomicU8, AtomicU64, AtomicUsize, Ordering};

#[cfg(karst_loom)]
pub(crate) use loom::sync::atomic::{AtomicI64, AtomicU8, AtomicU64, AtomicUsize, Ordering};
#[cfg(karst_loom)]
pub(crate) use loom_mutex::{Mutex, MutexGuard};

#[cfg(karst_loom)]
mod loom_mutex {
    /// loom's mutex with parking_lot's signature (no poisoning).
    #[derive(Debug)]
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

    pub(crate) type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Mutex<T> {
            Mutex(loom::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            self.0.lock().unwrap_or_else(|e| e.into_inner())
        }
    }
}
