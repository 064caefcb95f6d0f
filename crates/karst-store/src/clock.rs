//! Time, injected: the store reads the time only through a [`Clock`], so tests move it by hand.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::sync::{AtomicI64, Ordering};

/// A source of wall-clock time in milliseconds since the Unix epoch.
pub trait Clock: Send + Sync + Debug {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
}

/// The system's wall clock.
///
/// Every command reads the time (expiry, the LRU stamp), and the system call behind it costs
/// 20–30 ns on the machines measured: a third of an embedded GET of a key in cache. So on x86-64
/// each thread keeps the last reading with the CPU's time-stamp counter at that moment, and
/// reuses it while the counter has moved less than 50,000 cycles: at most 50 µs at any clock
/// rate of 1 GHz or more, the same order as Redis's one reading per command.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

/// How far the time-stamp counter may move before the clock is read again.
#[cfg(target_arch = "x86_64")]
const REUSE_CYCLES: u64 = 50_000;

fn system_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code, reason = "reading the time-stamp counter")]
fn cycles() -> u64 {
    // SAFETY: RDTSC reads a counter; it has no preconditions and touches no memory.
    unsafe { std::arch::x86_64::_rdtsc() }
}

impl Clock for SystemClock {
    #[cfg(target_arch = "x86_64")]
    fn now_ms(&self) -> i64 {
        use std::cell::Cell;
        thread_local! {
            /// (counter, milliseconds) at this thread's last reading of the clock.
            static LAST: Cell<(u64, i64)> = const { Cell::new((0, 0)) };
        }
        let now = cycles();
        LAST.with(|last| {
            let (at, ms) = last.get();
            // A counter behind the last reading (another core's) reads the clock again too.
            if at != 0 && now.wrapping_sub(at) < REUSE_CYCLES {
                return ms;
            }
            let ms = system_ms();
            last.set((now, ms));
            ms
        })
    }

    #[cfg(not(target_arch = "x86_64"))]
    fn now_ms(&self) -> i64 {
        system_ms()
    }
}

/// A clock that moves only when told to; clones share the same time.
#[derive(Debug, Clone)]
pub struct MockClock {
    now: Arc<AtomicI64>,
}

impl MockClock {
    /// A mock clock at `now_ms`.
    pub fn new(now_ms: i64) -> MockClock {
        MockClock { now: Arc::new(AtomicI64::new(now_ms)) }
    }

    /// Sets the time.
    pub fn set(&self, now_ms: i64) {
        self.now.store(now_ms, Ordering::SeqCst);
    }

    /// Moves the time forward by `ms`.
    pub fn advance(&self, ms: i64) {
        self.now.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Default for MockClock {
    /// 2024-01-01T00:00:00Z.
    fn default() -> MockClock {
        MockClock::new(1_704_067_200_000)
    }
}

impl Clock for MockClock {
    fn now_ms(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }
}

#[cfg(all(test, not(karst_loom)))]
mod tests {
    use super::*;

    /// The reused reading never runs ahead of the system clock and never sticks: after a
    /// sleep the clock has moved at least as far as the sleep.
    #[test]
    fn system_clock_follows_the_system_time() {
        let clock = SystemClock;
        for _ in 0..5 {
            let before = clock.now_ms();
            assert!(before <= system_ms());
            for _ in 0..1000 {
                assert!(clock.now_ms() >= before);
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
            let after = clock.now_ms();
            assert!(after >= before + 5, "{before} then {after} after sleeping 5 ms");
            assert!(after <= system_ms());
        }
    }
}
