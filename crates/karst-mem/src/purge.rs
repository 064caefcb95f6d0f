//! Freed memory handed back to the kernel from a thread of its own.
//!
//! mimalloc hands the pages of freed memory back to the kernel (`madvise`) once they have been
//! free for its purge delay (1 s by default), from whichever thread next allocates a fresh
//! page. After a burst of deletions that thread serves clients, and one such purge held it for
//! several milliseconds between two commands (`docs/benchmarks.md`, "Shrinking drains too").
//! Redis gives the same work to jemalloc's background thread (`jemalloc-bg-thread yes`);
//! [`start_purger`] does it for mimalloc: its thread forces the pending purges every period,
//! shorter than the delay, so the other threads find none due. (mimalloc lets one thread purge
//! at a time; the others skip.)

use std::io;
use std::time::Duration;

/// How often [`start_purger`]'s thread purges: a quarter of mimalloc's default purge delay, so
/// no purge falls due in another thread while this one keeps up.
pub const PURGE_PERIOD: Duration = Duration::from_millis(250);

/// Starts the thread `karst-purge`, which hands mimalloc's freed pages back to the kernel every
/// [`PURGE_PERIOD`] for the rest of the process. For a program whose global allocator is
/// mimalloc, called once from its `main`.
pub fn start_purger() -> io::Result<()> {
    std::thread::Builder::new()
        .name("karst-purge".into())
        .spawn(|| {
            loop {
                std::thread::sleep(PURGE_PERIOD);
                purge();
            }
        })
        .map(drop)
}

/// Hands every freed page mimalloc holds back to the kernel now, from the calling thread.
pub fn purge() {
    // SAFETY: mi_collect takes a flag and works on mimalloc's own state, under its own
    // synchronisation; any thread may call it at any time.
    unsafe { libmimalloc_sys::mi_collect(true) }
}
