//! Byte accounting for maxmemory: cheap to update from many threads, cheap to check on every
//! write.
//!
//! Each slot (a shard, or a thread) accumulates its changes in its own cache line and moves
//! them to one global counter once they reach `batch` bytes either way. So:
//! - `add`/`sub` touch only the slot's cache line, except once per `batch` bytes;
//! - [`MemCounter::approx_total`] is one load, off from the exact total by less than
//!   `slots × batch` bytes ([`MemCounter::max_error`]) once updates have returned, plus
//!   whatever updates are under way while it reads;
//! - [`MemCounter::total`] adds every slot to it: exact when no update is under way, O(slots).
//!
//! All operations are relaxed: the counter orders nothing else, it only counts.

use crossbeam_utils::CachePadded;

use crate::sync::{AtomicIsize, AtomicUsize, Ordering};

/// Default batch: 64 KiB per slot, so 1024 shards are off by less than 64 MiB.
pub const DEFAULT_BATCH: usize = 64 * 1024;

/// A byte counter with per-slot batching and an optional limit. It is `Send + Sync`; share it
/// by reference or in an `Arc`.
pub struct MemCounter {
    /// Changes not yet moved to `global`, one cache line each.
    /// INVARIANT: `global + Σ pending` is the exact total of every `add` minus every `sub`
    /// that has returned, and each `|pending| < batch` once the updates to it have returned.
    pending: Box<[CachePadded<AtomicIsize>]>,
    global: CachePadded<AtomicIsize>,
    batch: isize,
    /// 0: no limit (Redis's `maxmemory 0`).
    limit: AtomicUsize,
}

impl MemCounter {
    /// A counter with `slots` slots (at least one) and [`DEFAULT_BATCH`].
    pub fn new(slots: usize) -> MemCounter {
        MemCounter::with_batch(slots, DEFAULT_BATCH)
    }

    /// A counter with `slots` slots (at least one) that publish every `batch` bytes (at least
    /// one; `1` makes `approx_total` exact at the cost of a shared write per update).
    pub fn with_batch(slots: usize, batch: usize) -> MemCounter {
        MemCounter {
            pending: (0..slots.max(1)).map(|_| CachePadded::new(AtomicIsize::new(0))).collect(),
            global: CachePadded::new(AtomicIsize::new(0)),
            batch: batch.clamp(1, isize::MAX as usize) as isize,
            limit: AtomicUsize::new(0),
        }
    }

    /// Counts `bytes` more in `slot` (taken modulo the number of slots).
    pub fn add(&self, slot: usize, bytes: usize) {
        self.apply(slot, bytes.min(isize::MAX as usize) as isize);
    }

    /// Counts `bytes` fewer in `slot` (taken modulo the number of slots).
    pub fn sub(&self, slot: usize, bytes: usize) {
        self.apply(slot, -(bytes.min(isize::MAX as usize) as isize));
    }

    fn apply(&self, slot: usize, delta: isize) {
        let pending = &self.pending[slot % self.pending.len()];
        let now = pending.fetch_add(delta, Ordering::Relaxed).wrapping_add(delta);
        if now.unsigned_abs() >= self.batch.unsigned_abs() {
            // `swap` moves whatever is pending, ours and any racing update's, exactly once.
            let moved = pending.swap(0, Ordering::Relaxed);
            self.global.fetch_add(moved, Ordering::Relaxed);
        }
    }

    /// The total with one load; see [`max_error`](Self::max_error).
    pub fn approx_total(&self) -> usize {
        self.global.load(Ordering::Relaxed).max(0) as usize
    }

    /// The exact total when no update is under way (sums every slot).
    pub fn total(&self) -> usize {
        let pending: isize = self.pending.iter().map(|p| p.load(Ordering::Relaxed)).sum();
        self.global.load(Ordering::Relaxed).saturating_add(pending).max(0) as usize
    }

    /// How far `approx_total` can be from the exact total when no update is under way.
    pub fn max_error(&self) -> usize {
        self.pending.len() * (self.batch as usize - 1)
    }

    /// Sets the limit in bytes; 0 removes it.
    pub fn set_limit(&self, limit: usize) {
        self.limit.store(limit, Ordering::Relaxed);
    }

    /// The limit in bytes; 0 means none.
    pub fn limit(&self) -> usize {
        self.limit.load(Ordering::Relaxed)
    }

    /// Whether a limit is set and the approximate total is above it.
    pub fn over_limit(&self) -> bool {
        self.would_exceed(0)
    }

    /// Whether a limit is set and adding `extra` bytes would take the approximate total above
    /// it: the check a write makes before it stores (then evicts or refuses with `-OOM`).
    pub fn would_exceed(&self, extra: usize) -> bool {
        let limit = self.limit();
        limit != 0 && self.approx_total().saturating_add(extra) > limit
    }
}

impl std::fmt::Debug for MemCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemCounter")
            .field("total", &self.total())
            .field("approx_total", &self.approx_total())
            .field("limit", &self.limit())
            .finish()
    }
}

#[cfg(all(test, not(karst_loom)))]
mod tests {
    use super::*;

    #[test]
    fn batches_publish_and_totals_agree() {
        let c = MemCounter::with_batch(4, 100);
        c.add(0, 60);
        c.add(5, 30); // slot 1
        assert_eq!((c.total(), c.approx_total()), (90, 0));
        c.add(0, 50); // slot 0 reaches 110: published
        assert_eq!((c.total(), c.approx_total()), (140, 110));
        c.sub(0, 110);
        c.sub(0, 10);
        assert_eq!(c.total(), 20);
        assert!(c.total().abs_diff(c.approx_total()) <= c.max_error());
        c.sub(1, 30);
        assert_eq!(c.total(), 0, "never negative");
    }

    #[test]
    fn limit_checks() {
        let c = MemCounter::with_batch(1, 1);
        assert!(!c.would_exceed(usize::MAX), "no limit");
        c.set_limit(1000);
        c.add(0, 900);
        assert!(!c.over_limit());
        assert!(!c.would_exceed(100));
        assert!(c.would_exceed(101));
        c.add(0, 200);
        assert!(c.over_limit());
    }

    #[test]
    fn threads_sum_exactly() {
        let c = MemCounter::with_batch(2, 64);
        let n = if cfg!(miri) { 50 } else { 10_000 };
        std::thread::scope(|s| {
            for t in 0..2 {
                let c = &c;
                s.spawn(move || {
                    for i in 0..n {
                        c.add(t, 3 + i % 5);
                        c.sub(t ^ 1, 1);
                    }
                });
            }
        });
        let expect: usize = 2 * (0..n).map(|i| 2 + i % 5).sum::<usize>();
        assert_eq!(c.total(), expect);
        assert!(c.total().abs_diff(c.approx_total()) <= c.max_error());
    }
}

#[cfg(all(test, karst_loom))]
mod loom_tests {
    use super::*;
    use crate::sync::Arc;

    #[test]
    fn loom_racing_updates_are_moved_exactly_once() {
        loom::model(|| {
            let c = Arc::new(MemCounter::with_batch(1, 10));
            let c2 = Arc::clone(&c);
            let t = loom::thread::spawn(move || c2.add(0, 7));
            c.add(0, 6);
            t.join().unwrap();
            assert_eq!(c.total(), 13);
            assert!(c.total() - c.approx_total() < 10);
        });
    }
}
