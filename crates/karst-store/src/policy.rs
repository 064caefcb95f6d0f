//! Eviction policies and the access clocks they read (Redis's `evict.c`, in 24 bits per key).

use std::fmt;
use std::str::FromStr;

/// What happens when a write needs memory over `maxmemory`. Names are Redis's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Policy {
    /// Refuse writes flagged DENYOOM with `-OOM`.
    #[default]
    NoEviction,
    /// Evict the least recently used of a sample of keys.
    AllKeysLru,
    /// Evict the least frequently used of a sample of keys.
    AllKeysLfu,
    /// Evict a random key.
    AllKeysRandom,
    /// LRU among keys with a TTL.
    VolatileLru,
    /// LFU among keys with a TTL.
    VolatileLfu,
    /// A random key with a TTL.
    VolatileRandom,
    /// The key with a TTL that expires first.
    VolatileTtl,
    /// SIEVE (Zhang et al., NSDI '24): a FIFO with a visited bit and a moving hand; `allkeys-sieve`.
    AllKeysSieve,
}

impl Policy {
    /// Every policy, in Redis's order, SIEVE last.
    pub const ALL: [Policy; 9] = [
        Policy::VolatileLru,
        Policy::VolatileLfu,
        Policy::VolatileRandom,
        Policy::VolatileTtl,
        Policy::AllKeysLru,
        Policy::AllKeysLfu,
        Policy::AllKeysRandom,
        Policy::NoEviction,
        Policy::AllKeysSieve,
    ];

    /// Redis's name (`allkeys-lru`…).
    pub fn name(self) -> &'static str {
        match self {
            Policy::NoEviction => "noeviction",
            Policy::AllKeysLru => "allkeys-lru",
            Policy::AllKeysLfu => "allkeys-lfu",
            Policy::AllKeysRandom => "allkeys-random",
            Policy::VolatileLru => "volatile-lru",
            Policy::VolatileLfu => "volatile-lfu",
            Policy::VolatileRandom => "volatile-random",
            Policy::VolatileTtl => "volatile-ttl",
            Policy::AllKeysSieve => "allkeys-sieve",
        }
    }

    /// True for the LFU policies (the access clock holds a frequency).
    pub fn is_lfu(self) -> bool {
        matches!(self, Policy::AllKeysLfu | Policy::VolatileLfu)
    }

    /// True for the LRU and LFU policies (Redis then stops sharing small integers).
    pub(crate) fn tracks_access(self) -> bool {
        matches!(
            self,
            Policy::AllKeysLru | Policy::VolatileLru | Policy::AllKeysLfu | Policy::VolatileLfu
        )
    }

    /// True when only keys with a TTL may be evicted.
    pub fn is_volatile(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru
                | Policy::VolatileLfu
                | Policy::VolatileRandom
                | Policy::VolatileTtl
        )
    }

    pub(crate) fn to_u8(self) -> u8 {
        Policy::ALL.iter().position(|p| *p == self).unwrap_or(7) as u8
    }

    pub(crate) fn from_u8(v: u8) -> Policy {
        Policy::ALL.get(v as usize).copied().unwrap_or(Policy::NoEviction)
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownPolicy;

impl fmt::Display for UnknownPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unknown maxmemory policy")
    }
}

impl std::error::Error for UnknownPolicy {}

impl FromStr for Policy {
    type Err = UnknownPolicy;

    /// Redis's names, ignoring ASCII case.
    fn from_str(s: &str) -> Result<Policy, UnknownPolicy> {
        Policy::ALL.iter().copied().find(|p| p.name().eq_ignore_ascii_case(s)).ok_or(UnknownPolicy)
    }
}

/// The LRU clock: milliseconds in 40 bits (wraps after 34 years). Redis keeps seconds in 24
/// bits; a finer clock lets sampled LRU tell apart keys read within the same second (at a
/// million reads a second, a one-second clock makes allkeys-lru no better than allkeys-random).
pub(crate) const LRU_CLOCK_MAX: u64 = (1 << 40) - 1;
/// A new key's LFU counter.
pub(crate) const LFU_INIT_VAL: u64 = 5;
const LFU_LOG_FACTOR: f64 = 10.0;
/// Minutes per decrement of the counter.
const LFU_DECAY_TIME: u64 = 1;

pub(crate) fn lru_clock(now_ms: i64) -> u64 {
    (now_ms as u64) & LRU_CLOCK_MAX
}

/// Idle time in milliseconds of an LRU clock value.
pub(crate) fn lru_idle_ms(clock: u64, now_ms: i64) -> u64 {
    lru_clock(now_ms).wrapping_sub(clock) & LRU_CLOCK_MAX
}

fn lfu_minutes(now_ms: i64) -> u64 {
    ((now_ms / 60_000) as u64) & 0xFFFF
}

/// The access clock of a new key.
pub(crate) fn initial_access(lfu: bool, now_ms: i64) -> u64 {
    if lfu { (lfu_minutes(now_ms) << 8) | LFU_INIT_VAL } else { lru_clock(now_ms) }
}

/// The LFU counter after decay.
pub(crate) fn lfu_decayed(access: u64, now_ms: i64) -> u64 {
    let ldt = (access >> 8) & 0xFFFF;
    let counter = access & 0xFF;
    let now = lfu_minutes(now_ms);
    let elapsed = if now >= ldt { now - ldt } else { 65535 - ldt + now };
    let periods = elapsed / LFU_DECAY_TIME;
    counter.saturating_sub(periods)
}

/// The access clock after one access (`updateLFU` or the LRU clock).
pub(crate) fn touched(access: u64, lfu: bool, now_ms: i64, random: f64) -> u64 {
    if !lfu {
        return lru_clock(now_ms);
    }
    let mut counter = lfu_decayed(access, now_ms);
    if counter < 255 {
        let base = counter.saturating_sub(LFU_INIT_VAL) as f64;
        let p = 1.0 / (base * LFU_LOG_FACTOR + 1.0);
        if random < p {
            counter += 1;
        }
    }
    (lfu_minutes(now_ms) << 8) | counter
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in Policy::ALL {
            assert_eq!(p.name().parse::<Policy>(), Ok(p));
            assert_eq!(p.name().to_uppercase().parse::<Policy>(), Ok(p));
            assert_eq!(Policy::from_u8(p.to_u8()), p);
        }
        assert!("allkeys".parse::<Policy>().is_err());
    }

    #[test]
    fn lfu_counts_and_decays() {
        let t = 1_000_000_000_000;
        let a = initial_access(true, t);
        assert_eq!(lfu_decayed(a, t), LFU_INIT_VAL);
        let b = touched(a, true, t, 0.0);
        assert_eq!(lfu_decayed(b, t), LFU_INIT_VAL + 1);
        // Three minutes later the counter lost three.
        assert_eq!(lfu_decayed(b, t + 180_000), LFU_INIT_VAL - 2);
    }

    #[test]
    fn lru_idle_wraps() {
        let t = 5_000;
        let c = lru_clock(t);
        assert_eq!(lru_idle_ms(c, t + 3_000), 3_000);
        assert_eq!(lru_idle_ms(LRU_CLOCK_MAX - 1, 0), 2);
    }
}
