//! The index of a large set: from a member's hash to its position in the set's dense vector.
//!
//! Open addressing with linear probing over 8-byte slots. A slot holds the position plus one (0
//! is empty) and the low 32 bits of the member's hash. Those bits place it (its home slot is
//! them masked to the table's size, a power of two) and, above the mask, tell most other
//! members in the probe run apart without reading them. A lookup reads the slots from home on,
//! usually one cache line, and then only the member whose bits match.
//!
//! It replaced a hashbrown `HashTable<u32>`, where a lookup read the control bytes, then the
//! slot, then the member: three dependent cache misses for a set of a million members, against
//! two here (SADD spent 38% of its time in that lookup). The price is slot size: 8 bytes at
//! 3/8 to 3/4 full against hashbrown's 5 at 7/16 to 7/8, about 8 bytes a member more.
//!
//! A removal shifts the rest of its probe run back (no tombstones); every slot knows its home,
//! so neither that nor growth reads a member.

/// Slots are at most this full: 3/4 (linear probing's runs grow fast past it).
const LOAD_NUM: usize = 3;
const LOAD_DEN: usize = 4;

/// Positions by hash. See the [module docs](self).
#[derive(Clone, Debug, Default)]
pub(super) struct Positions {
    slots: Box<[u64]>,
    len: usize,
}

#[inline]
fn slot(h: u32, pos: u32) -> u64 {
    u64::from(h) << 32 | (u64::from(pos) + 1)
}

#[inline]
fn bits(s: u64) -> u32 {
    (s >> 32) as u32
}

#[inline]
fn pos(s: u64) -> u32 {
    (s as u32).wrapping_sub(1)
}

impl Positions {
    /// An index with room for `n` positions.
    pub(super) fn with_capacity(n: usize) -> Positions {
        let mut p = Positions::default();
        p.resize(Positions::size_for(n));
        p
    }

    /// The table size that holds `n` positions.
    fn size_for(n: usize) -> usize {
        (n * LOAD_DEN / LOAD_NUM + 1).next_power_of_two().max(8)
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Bytes of the slots.
    pub(super) fn allocation_size(&self) -> usize {
        self.slots.len() * 8
    }

    #[inline]
    fn mask(&self) -> usize {
        self.slots.len().wrapping_sub(1)
    }

    /// The position stored under hash `h` for which `is(position)` holds.
    #[inline]
    pub(super) fn find(&self, h: u64, mut is: impl FnMut(u32) -> bool) -> Option<u32> {
        self.find_slot(h as u32, &mut is).map(|i| pos(self.slots[i]))
    }

    fn find_slot(&self, h: u32, is: &mut impl FnMut(u32) -> bool) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.mask();
        let mut i = h as usize & mask;
        loop {
            let s = self.slots[i];
            if s == 0 {
                return None;
            }
            if bits(s) == h && is(pos(s)) {
                return Some(i);
            }
            i = (i + 1) & mask;
        }
    }

    /// Adds `position` under hash `h` (not there yet), growing first if full.
    pub(super) fn insert(&mut self, h: u64, position: u32) {
        if (self.len + 1) * LOAD_DEN > self.slots.len() * LOAD_NUM {
            self.resize(Positions::size_for(self.len + 1).max(self.slots.len() * 2));
        }
        self.place(slot(h as u32, position));
        self.len += 1;
    }

    fn place(&mut self, s: u64) {
        let mask = self.mask();
        let mut i = bits(s) as usize & mask;
        while self.slots[i] != 0 {
            i = (i + 1) & mask;
        }
        self.slots[i] = s;
    }

    /// Removes `position` from under hash `h`. False if it was not there.
    pub(super) fn remove(&mut self, h: u64, position: u32) -> bool {
        let Some(mut hole) = self.find_slot(h as u32, &mut |p| p == position) else {
            return false;
        };
        let mask = self.mask();
        let mut j = hole;
        loop {
            j = (j + 1) & mask;
            let s = self.slots[j];
            if s == 0 {
                break;
            }
            // The slot at `j` may move back to the hole unless its home lies after the hole.
            let home = bits(s) as usize & mask;
            if (j.wrapping_sub(home) & mask) >= (j.wrapping_sub(hole) & mask) {
                self.slots[hole] = s;
                hole = j;
            }
        }
        self.slots[hole] = 0;
        self.len -= 1;
        true
    }

    /// Changes the position stored under hash `h` from `from` to `to` (the vector moved a
    /// member).
    pub(super) fn repoint(&mut self, h: u64, from: u32, to: u32) {
        if let Some(i) = self.find_slot(h as u32, &mut |p| p == from) {
            self.slots[i] = slot(h as u32, to);
        }
    }

    /// Shrinks to fit `n` positions when the table is far larger (after many removals).
    pub(super) fn shrink_to(&mut self, n: usize) {
        let size = Positions::size_for(n.max(self.len));
        if size < self.slots.len() {
            self.resize(size);
        }
    }

    fn resize(&mut self, size: usize) {
        let old = std::mem::replace(&mut self.slots, vec![0; size].into_boxed_slice());
        for s in old.iter().copied().filter(|&s| s != 0) {
            self.place(s);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// The index against a map, with hashes that collide in their low bits (long probe runs,
    /// runs that wrap around the end) and in full, through growth, removals and shrinking.
    #[test]
    fn positions_match_a_map() {
        let mut p = Positions::default();
        let mut m: HashMap<u32, u64> = HashMap::new();
        let mut x: u64 = 0x5DEE_CE66_D1CE_4E5B;
        let mut next = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let steps = if cfg!(miri) { 500 } else { 50_000 };
        for step in 0..steps {
            let grow = (step / (steps / 4)) % 2 == 0;
            let h = match next(4) {
                // Same low bits (one home at every size), different high bits.
                0 => next(16) << 40 | 0x0000_0007,
                // The very same 32 bits.
                1 => 0xFFFF_FFFF,
                _ => next(u64::MAX),
            };
            if m.is_empty() || (grow && next(10) < 7) || (!grow && next(10) < 3) {
                let position = step as u32;
                p.insert(h, position);
                m.insert(position, h);
            } else {
                let victim = *m.keys().nth(next(m.len() as u64) as usize).unwrap();
                let h = m.remove(&victim).unwrap();
                assert!(p.remove(h, victim));
                assert!(!p.remove(h, victim));
                if next(4) == 0
                    && let Some((&other, &oh)) = m.iter().next()
                {
                    p.repoint(oh, other, other + 1_000_000);
                    m.remove(&other);
                    m.insert(other + 1_000_000, oh);
                }
            }
            if step % 1000 == 0 {
                p.shrink_to(m.len());
            }
            assert_eq!(p.len(), m.len());
            if step % 97 == 0 {
                for (&position, &h) in &m {
                    assert_eq!(p.find(h, |q| q == position), Some(position), "step {step}");
                }
                assert_eq!(p.find(0x1234_5678_0000_0000, |_| true), None);
                assert!(p.len() * LOAD_DEN <= p.slots.len() * LOAD_NUM);
            }
        }
    }
}
