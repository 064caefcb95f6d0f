//! The index of a large set: from a member's hash to its position in the set's dense vector.
//!
//! Open addressing with linear probing over 6-byte slots: the position plus one (0 is empty)
//! and the top 16 bits of the member's hash. The home slot of a member is its hash's low bits
//! masked to the table's size (a power of two); the 16 stored bits tell almost every other
//! member of the probe run apart without reading it. A lookup reads the slots from home on,
//! usually one cache line, then only the member whose bits match.
//!
//! It replaced a hashbrown `HashTable<u32>`, where a lookup read the control bytes, then the
//! slot, then the member: three dependent cache misses for a set of a million members, against
//! two here (SADD spent 38% of its time in that lookup). Slots are 6 bytes at 3/8 to 3/4 full
//! against hashbrown's 5 at 7/16 to 7/8: about the same memory (8-byte slots holding 32 hash
//! bits, so that nothing needed rehashing, cost 8 bytes a member more and were dropped).
//!
//! A removal shifts the rest of its probe run back (no tombstones); growth and those shifts
//! rehash the members they move, through the caller's `hash_of`.
//!
//! The positions held are always exactly `0..len`: the users keep their vector dense (a removal
//! moves the last member into the hole and [`Positions::repoint`]s it), and call
//! [`Positions::insert`] with the next position before pushing. Growth relies on it.

/// A stage of [`Store::prefetch`](crate::Store::prefetch): each stage reads what the one before started loading
/// and starts loading the next, so a caller that runs them a few commands apart (`Store::prefetch`)
/// turns a lookup's chain of dependent cache misses into misses that overlap other work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prefetch {
    /// Load the member's home slot.
    Slot,
    /// Read the slots, load the candidates' items in the dense vector.
    Item,
    /// Read the items, load what they point to (a hash's pair, a long set member).
    Behind,
}

/// Slots are at most this full: 3/4 (linear probing's runs grow fast past it).
const LOAD_NUM: usize = 3;
const LOAD_DEN: usize = 4;

type Slot = [u8; 6];
const EMPTY: Slot = [0; 6];

/// Positions by hash. See the [module docs](self).
#[derive(Clone, Debug, Default)]
pub(super) struct Positions {
    slots: Box<[Slot]>,
    len: usize,
}

#[inline]
fn tag(h: u64) -> u16 {
    (h >> 48) as u16
}

#[inline]
fn slot(h: u64, pos: u32) -> Slot {
    let mut s = EMPTY;
    s[..2].copy_from_slice(&tag(h).to_le_bytes());
    s[2..].copy_from_slice(&(pos + 1).to_le_bytes());
    s
}

#[inline]
fn slot_tag(s: &Slot) -> u16 {
    u16::from_le_bytes([s[0], s[1]])
}

/// The position plus one (0: empty).
#[inline]
fn raw_pos(s: &Slot) -> u32 {
    u32::from_le_bytes([s[2], s[3], s[4], s[5]])
}

impl Positions {
    /// An index with room for `n` positions.
    pub(super) fn with_capacity(n: usize) -> Positions {
        Positions { slots: vec![EMPTY; Positions::size_for(n)].into_boxed_slice(), len: 0 }
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
        self.slots.len() * std::mem::size_of::<Slot>()
    }

    #[inline]
    fn mask(&self) -> usize {
        self.slots.len().wrapping_sub(1)
    }

    /// The position stored under hash `h` for which `is(position)` holds.
    #[inline]
    pub(super) fn find(&self, h: u64, mut is: impl FnMut(u32) -> bool) -> Option<u32> {
        self.find_slot(h, &mut is).map(|i| raw_pos(&self.slots[i]) - 1)
    }

    fn find_slot(&self, h: u64, is: &mut impl FnMut(u32) -> bool) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let (mask, t) = (self.mask(), tag(h));
        let mut i = h as usize & mask;
        loop {
            let s = &self.slots[i];
            let p = raw_pos(s);
            if p == 0 {
                return None;
            }
            if slot_tag(s) == t && is(p - 1) {
                return Some(i);
            }
            i = (i + 1) & mask;
        }
    }

    /// One stage of loading what a lookup of hash `h` will read (see [`Prefetch`]): the home
    /// slot; or the candidates' items in the caller's dense vector `items` (the positions whose
    /// slots carry `h`'s tag, as a lookup would compare them); or what `behind` says an item
    /// points to.
    #[inline]
    pub(super) fn prefetch<T>(
        &self,
        h: u64,
        stage: Prefetch,
        items: &[T],
        behind: impl Fn(&T) -> Option<*const u8>,
    ) {
        match stage {
            Prefetch::Slot => {
                karst_mem::prefetch_read(
                    self.slots.as_ptr().wrapping_add(h as usize & self.mask()),
                );
            }
            Prefetch::Item => {
                self.find_slot(h, &mut |i| {
                    karst_mem::prefetch_read(items.as_ptr().wrapping_add(i as usize));
                    false
                });
            }
            Prefetch::Behind => {
                self.find_slot(h, &mut |i| {
                    if let Some(p) = items.get(i as usize).and_then(&behind) {
                        karst_mem::prefetch_read(p);
                    }
                    false
                });
            }
        }
    }

    /// Adds `position` under hash `h` (not there yet), growing first if full; `hash_of` gives
    /// the hash of the member at a position.
    pub(super) fn insert(&mut self, h: u64, position: u32, hash_of: impl Fn(u32) -> u64) {
        if (self.len + 1) * LOAD_DEN > self.slots.len() * LOAD_NUM {
            self.resize(Positions::size_for(self.len + 1).max(self.slots.len() * 2), &hash_of);
        }
        self.place(h, slot(h, position));
        self.len += 1;
    }

    fn place(&mut self, h: u64, s: Slot) {
        let mask = self.mask();
        let mut i = h as usize & mask;
        while raw_pos(&self.slots[i]) != 0 {
            i = (i + 1) & mask;
        }
        self.slots[i] = s;
    }

    /// Removes `position` from under hash `h`. False if it was not there.
    pub(super) fn remove(&mut self, h: u64, position: u32, hash_of: impl Fn(u32) -> u64) -> bool {
        let Some(mut hole) = self.find_slot(h, &mut |p| p == position) else {
            return false;
        };
        let mask = self.mask();
        let mut j = hole;
        loop {
            j = (j + 1) & mask;
            let s = self.slots[j];
            let p = raw_pos(&s);
            if p == 0 {
                break;
            }
            // The slot at `j` may move back to the hole unless its home lies after the hole.
            let home = hash_of(p - 1) as usize & mask;
            if (j.wrapping_sub(home) & mask) >= (j.wrapping_sub(hole) & mask) {
                self.slots[hole] = s;
                hole = j;
            }
        }
        self.slots[hole] = EMPTY;
        self.len -= 1;
        true
    }

    /// Changes the position stored under hash `h` from `from` to `to` (the vector moved a
    /// member).
    pub(super) fn repoint(&mut self, h: u64, from: u32, to: u32) {
        if let Some(i) = self.find_slot(h, &mut |p| p == from) {
            self.slots[i] = slot(h, to);
        }
    }

    /// Shrinks to fit `n` positions when the table is far larger (after many removals).
    pub(super) fn shrink_to(&mut self, n: usize, hash_of: impl Fn(u32) -> u64) {
        let size = Positions::size_for(n.max(self.len));
        if size < self.slots.len() {
            self.resize(size, &hash_of);
        }
    }

    /// Rebuilds the slots at `size`. The positions held are exactly `0..len` (see the module
    /// docs), so it places them in that order: the caller's items are read front to back, which
    /// the hardware prefetcher follows. Walking the old slots read them in hash order, a cache
    /// miss each, and growing a million-member hash spent 8% of HSET's time there.
    fn resize(&mut self, size: usize, hash_of: &impl Fn(u32) -> u64) {
        self.slots = vec![EMPTY; size].into_boxed_slice();
        for pos in 0..self.len as u32 {
            let h = hash_of(pos);
            self.place(h, slot(h, pos));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The index against a model vector used as its users use it (dense positions, a removal
    /// moves the last member into the hole), with hashes that collide in their low bits (long
    /// probe runs, runs that wrap around the end) and in full, through growth, removals and
    /// shrinking.
    #[test]
    fn positions_match_a_model() {
        let mut p = Positions::default();
        // The hash of the member at each position, as the set would recompute it.
        let mut model: Vec<u64> = Vec::new();
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::SmallRng::seed_from_u64(0x5DEE_CE66_D1CE_4E5B);
        let mut next = |n: u64| rng.random_range(0..n);
        let steps = if cfg!(miri) { 500 } else { 50_000 };
        for step in 0..steps {
            let grow = (step / (steps / 4)) % 2 == 0;
            let h = match next(4) {
                // Same low bits (one home at every size), different high bits.
                0 => next(1 << 20) << 40 | 0x0000_0007,
                // The very same hash.
                1 => 0xFFFF_FFFF,
                _ => next(u64::MAX),
            };
            if model.is_empty() || (grow && next(10) < 7) || (!grow && next(10) < 3) {
                let position = model.len() as u32;
                p.insert(h, position, |q| model[q as usize]);
                model.push(h);
            } else {
                let victim = next(model.len() as u64) as u32;
                let vh = model[victim as usize];
                assert!(p.remove(vh, victim, |q| model[q as usize]));
                assert!(!p.remove(vh, victim, |q| model[q as usize]));
                let last = model.len() as u32 - 1;
                if victim != last {
                    p.repoint(model[last as usize], last, victim);
                }
                model.swap_remove(victim as usize);
            }
            if step % 1000 == 0 {
                p.shrink_to(model.len(), |q| model[q as usize]);
            }
            assert_eq!(p.len(), model.len());
            if step % 97 == 0 {
                for (position, &h) in model.iter().enumerate() {
                    let position = position as u32;
                    assert_eq!(p.find(h, |q| q == position), Some(position), "step {step}");
                }
                assert_eq!(p.find(0x1234_5678_9abc_0000, |_| false), None);
                assert!(p.len() * LOAD_DEN <= p.slots.len() * LOAD_NUM);
            }
        }
    }
}
