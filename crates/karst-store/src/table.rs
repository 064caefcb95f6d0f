//! The keyspace's hash table: open addressing with linear probing over 8-byte slots, each an
//! entry pointer whose unused top 16 bits carry a tag made from the key's hash.
//!
//! Why not hashbrown's `HashTable`, which the collections use: a lookup of a key that is not in
//! the CPU's cache costs the misses it chases one after another. hashbrown keeps its tags in a
//! control array beside the slots, so it reads the control bytes, then the slot, then the entry:
//! three dependent misses. Here the tag is in the slot, so it reads the slot, then the entry.
//! And hashbrown's power-of-two sizes leave a table anywhere between 44% and 87% full (one
//! million keys over 1,024 shards sit at 48%); this table grows by half and stays between 53%
//! and 80% full. No crate offers a table of tagged thin pointers, so it is written here. The
//! figures are in `docs/design.md` ("The keyspace table").
//!
//! - The home slot of a key is `h32 * n >> 32` (any size `n`, no power of two needed), so it
//!   comes from the hash's high bits; the tag is its low 16 bits, so keys sharing a home still
//!   differ in their tag 65,535 times in 65,536.
//! - Linear probing keeps a key within a few slots (one cache line) of its home. There are no
//!   tombstones: a removal shifts the following keys of its run back, recomputing their homes
//!   from their keys (the hash is not stored, as `entry` explains).
//! - At least one slot is always empty, so every probe ends.

use crate::entry::{Entry, size_class};
use crate::shard::{Hasher, h32_of};

/// The table never fills past 4/5 (probe runs stay short).
const MAX_LOAD: (usize, usize) = (4, 5);
/// Below 1/5 full it shrinks to about half full.
const MIN_LOAD: (usize, usize) = (1, 5);
const MIN_SLOTS: usize = 8;

/// A key's tag: the low 16 bits of its stored hash (the home slot uses the high bits).
#[inline]
pub(crate) fn tag_of(h32: u32) -> u16 {
    if cfg!(target_pointer_width = "64") { h32 as u16 } else { 0 }
}

#[inline]
fn home(h32: u32, n: usize) -> usize {
    ((u64::from(h32) * n as u64) >> 32) as usize
}

/// The slot count for about `want` slots, rounded up to fill the allocator's size class.
fn slots_for(want: usize) -> usize {
    size_class(want.max(MIN_SLOTS) * 8) / 8
}

/// One database's keys in one shard.
#[derive(Debug, Default)]
pub(crate) struct Table {
    slots: Box<[Option<Entry>]>,
    len: usize,
}

impl Table {
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Bytes the slots take.
    #[inline]
    pub(crate) fn allocation_size(&self) -> usize {
        self.slots.len() * std::mem::size_of::<Option<Entry>>()
    }

    #[inline]
    fn next(&self, i: usize) -> usize {
        if i + 1 == self.slots.len() { 0 } else { i + 1 }
    }

    /// The slot holding `key`.
    #[inline]
    pub(crate) fn find_index(&self, h32: u32, key: &[u8]) -> Option<usize> {
        self.find_hash_index(h32, |e| karst_mem::bytes_eq(e.key(), key))
    }

    /// The first slot of the probe run of `h32` whose entry has its tag and satisfies `pred`
    /// (for callers that know a key's hash but not the key).
    #[inline]
    pub(crate) fn find_hash_index(
        &self,
        h32: u32,
        mut pred: impl FnMut(&Entry) -> bool,
    ) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let tag = tag_of(h32);
        let mut i = home(h32, self.slots.len());
        loop {
            let e = self.slots.get(i)?.as_ref()?;
            if e.tag() == tag && pred(e) {
                return Some(i);
            }
            i = self.next(i);
        }
    }

    #[inline]
    pub(crate) fn find(&self, h32: u32, key: &[u8]) -> Option<&Entry> {
        self.find_index(h32, key).and_then(|i| self.at(i))
    }

    #[inline]
    pub(crate) fn find_mut(&mut self, h32: u32, key: &[u8]) -> Option<&mut Entry> {
        self.find_index(h32, key).and_then(|i| self.at_mut(i))
    }

    #[inline]
    pub(crate) fn at(&self, i: usize) -> Option<&Entry> {
        self.slots.get(i)?.as_ref()
    }

    #[inline]
    pub(crate) fn at_mut(&mut self, i: usize) -> Option<&mut Entry> {
        self.slots.get_mut(i)?.as_mut()
    }

    /// Puts `new` in slot `i` in place of its entry (same key) and returns the old one.
    pub(crate) fn replace(&mut self, i: usize, mut new: Entry) -> Option<Entry> {
        let slot = self.slots.get_mut(i)?;
        let old = slot.as_ref()?;
        new.set_tag(old.tag());
        slot.replace(new)
    }

    /// Adds the entry of a key that is not in the table (`h32` is its hash).
    pub(crate) fn insert_new(&mut self, h32: u32, mut e: Entry, hs: &Hasher) {
        if (self.len + 1) * MAX_LOAD.1 > self.slots.len() * MAX_LOAD.0 {
            // Growing by half (to 53% full) rehashes each key about three times over its life,
            // doubling about twice; the half costs less memory.
            self.resize(slots_for(self.slots.len() * 3 / 2), hs);
        }
        e.set_tag(tag_of(h32));
        self.place(h32, e);
        self.len += 1;
    }

    /// Puts `e` in the first empty slot from its home (there is one: the load stays below 1).
    fn place(&mut self, h32: u32, e: Entry) {
        let mut i = home(h32, self.slots.len());
        loop {
            match self.slots.get_mut(i) {
                Some(slot @ None) => {
                    *slot = Some(e);
                    return;
                }
                Some(Some(_)) => i = self.next(i),
                None => return,
            }
        }
    }

    /// Removes the entry in slot `i`, then moves back each following entry of the run that may
    /// sit closer to its home, so every probe still finds its key. Shrinks a nearly empty table.
    pub(crate) fn remove(&mut self, i: usize, hs: &Hasher) -> Option<Entry> {
        let out = self.slots.get_mut(i)?.take()?;
        self.len -= 1;
        let n = self.slots.len();
        let (mut hole, mut j) = (i, self.next(i));
        while let Some(e) = self.slots.get(j).and_then(Option::as_ref) {
            let h = home(h32_of(hs, e.key()), n);
            // The entry may move to the hole if the hole lies on its probe path, [h, j).
            if (j + n - h) % n >= (j + n - hole) % n {
                self.slots.swap(hole, j);
                hole = j;
            }
            j = self.next(j);
        }
        if self.len * MIN_LOAD.1 < n * MIN_LOAD.0 && n > MIN_SLOTS {
            self.resize(slots_for(self.len * 2), hs);
        }
        Some(out)
    }

    /// Moves every entry into a table of `n` slots.
    fn resize(&mut self, n: usize, hs: &Hasher) {
        let old = std::mem::replace(&mut self.slots, (0..n).map(|_| None).collect());
        for e in old.into_vec().into_iter().flatten() {
            self.place(h32_of(hs, e.key()), e);
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.slots.iter().flatten()
    }

    /// The occupied slot at or after slot `r % n` (wrapping): a random entry when `r` is random.
    /// Entries after long runs of empty slots come up more often, as with Redis's sampling.
    pub(crate) fn sample(&self, r: usize) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        let n = self.slots.len();
        (0..n).map(|k| (r % n + k) % n).find(|&i| self.slots.get(i).is_some_and(Option::is_some))
    }
}

impl IntoIterator for Table {
    type Item = Entry;
    type IntoIter = std::iter::Flatten<std::vec::IntoIter<Option<Entry>>>;

    fn into_iter(self) -> Self::IntoIter {
        self.slots.into_vec().into_iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::NewValue;

    fn entry(key: &[u8]) -> Entry {
        Entry::new(key, None, 0, 0, NewValue::Int(key.len() as i64))
    }

    /// A model test against `HashMap`, with removals shifting runs and the table growing and
    /// shrinking. A hasher that keeps only a few distinct hashes makes long runs and equal tags.
    #[test]
    fn table_matches_a_hash_map() {
        use rand::{Rng, SeedableRng};
        for seed in 0..if cfg!(miri) { 1 } else { 4u64 } {
            let hs = Hasher::with_seed(seed);
            let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
            let mut t = Table::default();
            let mut model = std::collections::HashSet::new();
            let space = if seed % 2 == 0 { 300 } else { 3000 };
            let steps = if cfg!(miri) { 600 } else { 20_000 };
            for step in 0..steps {
                let k = format!("k{}", rng.random_range(0..space)).into_bytes();
                let h = h32_of(&hs, &k);
                match t.find_index(h, &k) {
                    Some(i) if rng.random_bool(0.6) || step > steps * 3 / 4 => {
                        assert!(model.remove(&k));
                        let e = t.remove(i, &hs).expect("found slot is occupied");
                        assert_eq!(e.key(), &k[..]);
                    }
                    Some(i) => {
                        assert!(model.contains(&k));
                        let old = t.replace(i, entry(&k)).expect("occupied");
                        assert_eq!(old.key(), &k[..]);
                    }
                    None => {
                        assert!(!model.contains(&k));
                        t.insert_new(h, entry(&k), &hs);
                        model.insert(k.clone());
                    }
                }
                assert_eq!(t.len(), model.len());
                assert!(t.len() < t.slots.len() || t.slots.is_empty());
            }
            for k in &model {
                assert_eq!(t.find(h32_of(&hs, k), k).map(Entry::key), Some(&k[..]));
            }
            assert_eq!(t.iter().count(), model.len());
            assert!(t.slots.len() <= slots_for(model.len() * 5 + 1));
            // Emptied, the table gives its memory back.
            let peak = t.slots.len();
            for k in &model {
                let i = t.find_index(h32_of(&hs, k), k).expect("present");
                assert!(t.remove(i, &hs).is_some());
            }
            assert_eq!(t.len(), 0);
            assert!(t.slots.len() <= MIN_SLOTS.max(peak / 4), "{} slots left", t.slots.len());
        }
    }

    #[test]
    fn table_probes_by_tag_and_samples_every_entry() {
        let hs = Hasher::with_seed(1);
        let mut t = Table::default();
        let keys: Vec<Vec<u8>> = (0..100).map(|i| format!("key:{i}").into_bytes()).collect();
        for k in &keys {
            t.insert_new(h32_of(&hs, k), entry(k), &hs);
        }
        for k in &keys {
            let h = h32_of(&hs, k);
            let i = t.find_hash_index(h, |e| h32_of(&hs, e.key()) == h);
            assert_eq!(t.at(i.expect("present")).map(Entry::key), Some(&k[..]));
            assert_eq!(t.at(i.expect("present")).map(Entry::tag), Some(tag_of(h)));
        }
        let mut seen = std::collections::HashSet::new();
        for r in 0..t.slots.len() {
            seen.insert(t.at(t.sample(r).expect("not empty")).map(|e| e.key().to_vec()));
        }
        assert_eq!(seen.len(), keys.len());
        let all: Vec<Entry> = t.into_iter().collect();
        assert_eq!(all.len(), keys.len());
    }
}
