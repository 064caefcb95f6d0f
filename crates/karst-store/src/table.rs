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
//! - Resizing is incremental, as Redis's rehashing is: a table that grows, or shrinks below a
//!   fifth full, keeps its old slot array beside the new one and moves the old entries over a
//!   few slots per write (and per visit of the active expiry cycle), from slot 0 up, so that no
//!   single write rehashes a whole shard. Lookups meanwhile probe the new array, then the old.

use crate::entry::{Entry, size_class};
use crate::shard::{Hasher, h32_of};

/// The table never fills past 4/5 (probe runs stay short).
const MAX_LOAD: (usize, usize) = (4, 5);
/// Below 1/5 full it shrinks to about half full.
const MIN_LOAD: (usize, usize) = (1, 5);
const MIN_SLOTS: usize = 8;
/// Old slots moved per write (and per lookup through the shard) while a resized table drains
/// its old array: the drain ends after 1/8 of the old size in writes, and costs a write about
/// eight rehashes meanwhile. A grown table's new array could not fill before (the growth leaves
/// room for 1/2 of it); a shrunk one's could only if every one of those writes added a key,
/// and then the growth finishes the drain first.
pub(crate) const DRAIN_STEP: usize = 8;
/// Tables this small (in slots) still grow and shrink at once: their whole rehash is shorter
/// than a drain's bookkeeping is worth.
const DRAIN_FROM: usize = 256;

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

/// The old slot array of a table that grew, emptied from slot 0 up.
#[derive(Debug)]
struct Draining {
    slots: Box<[Option<Entry>]>,
    /// INVARIANT: every slot below `next` is empty and no entry left here has its home below
    /// `next`. (A drain step stops just past an empty slot, so no run crosses `next`; removals
    /// shift entries back only into holes at or past the removed slot.) Hence probes of the old
    /// array stay right: a run that wrapped round the end began at slot 0 and went first.
    next: usize,
}

/// One database's keys in one shard.
#[derive(Debug, Default)]
pub(crate) struct Table {
    slots: Box<[Option<Entry>]>,
    /// Entries in both arrays.
    len: usize,
    old: Option<Box<Draining>>,
}

impl Table {
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Bytes the slots take (both arrays while draining).
    #[inline]
    pub(crate) fn allocation_size(&self) -> usize {
        let old = self.old.as_ref().map_or(0, |o| {
            std::mem::size_of::<Draining>() + o.slots.len() * std::mem::size_of::<Option<Entry>>()
        });
        self.slots.len() * std::mem::size_of::<Option<Entry>>() + old
    }

    /// True while the table moves the entries of its old array over.
    #[inline]
    pub(crate) fn draining(&self) -> bool {
        self.old.is_some()
    }

    /// The slot holding `key`.
    #[inline]
    pub(crate) fn find_index(&self, h32: u32, key: &[u8]) -> Option<usize> {
        self.find_hash_index(h32, |e| karst_mem::bytes_eq(e.key(), key))
    }

    /// The first slot of the probe run of `h32` whose entry has its tag and satisfies `pred`
    /// (for callers that know a key's hash but not the key). While draining, an index past the
    /// new array's end is a slot of the old one; any write may move entries, so an index is
    /// good until the next call that takes `&mut self` other than `at_mut` and `replace`.
    #[inline]
    pub(crate) fn find_hash_index(
        &self,
        h32: u32,
        mut pred: impl FnMut(&Entry) -> bool,
    ) -> Option<usize> {
        let tag = tag_of(h32);
        if let Some(i) = probe(&self.slots, h32, tag, &mut pred) {
            return Some(i);
        }
        let old = self.old.as_deref()?;
        probe(&old.slots, h32, tag, &mut pred).map(|i| self.slots.len() + i)
    }

    /// Slot `i`: of the new array, or past its end, of the old one. (The bounds check of the
    /// new array is the only test a lookup pays for the old one.)
    #[inline]
    fn slot(&self, i: usize) -> Option<&Option<Entry>> {
        match self.slots.get(i) {
            Some(s) => Some(s),
            None => self.old_slot(i),
        }
    }

    #[inline]
    fn slot_mut(&mut self, i: usize) -> Option<&mut Option<Entry>> {
        if i < self.slots.len() { self.slots.get_mut(i) } else { self.old_slot_mut(i) }
    }

    #[cold]
    fn old_slot(&self, i: usize) -> Option<&Option<Entry>> {
        self.old.as_ref()?.slots.get(i.checked_sub(self.slots.len())?)
    }

    #[cold]
    fn old_slot_mut(&mut self, i: usize) -> Option<&mut Option<Entry>> {
        let n = self.slots.len();
        self.old.as_mut()?.slots.get_mut(i.checked_sub(n)?)
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
        self.slot(i)?.as_ref()
    }

    #[inline]
    pub(crate) fn at_mut(&mut self, i: usize) -> Option<&mut Entry> {
        self.slot_mut(i)?.as_mut()
    }

    /// Puts `new` in slot `i` in place of its entry (same key) and returns the old one.
    pub(crate) fn replace(&mut self, i: usize, mut new: Entry) -> Option<Entry> {
        let slot = self.slot_mut(i)?;
        let old = slot.as_ref()?;
        new.set_tag(old.tag());
        slot.replace(new)
    }

    /// Adds the entry of a key that is not in the table (`h32` is its hash).
    pub(crate) fn insert_new(&mut self, h32: u32, mut e: Entry, hs: &Hasher) {
        self.drain(DRAIN_STEP, hs);
        if (self.len + 1) * MAX_LOAD.1 > self.slots.len() * MAX_LOAD.0 {
            // Growing by half (to 53% full) rehashes each key about three times over its life,
            // doubling about twice; the half costs less memory.
            self.rehash(slots_for(self.slots.len() * 3 / 2), hs);
        }
        e.set_tag(tag_of(h32));
        place(&mut self.slots, h32, e);
        self.len += 1;
    }

    /// Removes the entry in slot `i`, then moves back each following entry of the run that may
    /// sit closer to its home, so every probe still finds its key. Shrinks a nearly empty table
    /// (its keys move over as writes come, as after a growth; an emptied one at once).
    pub(crate) fn remove(&mut self, i: usize, hs: &Hasher) -> Option<Entry> {
        let n = self.slots.len();
        let out = if i < n {
            take_at(&mut self.slots, i, hs)?
        } else {
            take_at(&mut self.old.as_mut()?.slots, i - n, hs)?
        };
        self.len -= 1;
        if self.len == 0 {
            self.old = None;
        }
        self.drain(DRAIN_STEP, hs);
        let n = self.slots.len();
        if !self.draining() && self.len * MIN_LOAD.1 < n * MIN_LOAD.0 && n > MIN_SLOTS {
            self.rehash(slots_for(self.len * 2), hs);
        }
        Some(out)
    }

    /// A new array of `n` slots, larger or smaller, the entries moving over as writes come (at
    /// once if the table is small or empty). A drain still going when the new array fills is
    /// finished first (this keeps the table right whatever the constants).
    fn rehash(&mut self, n: usize, hs: &Hasher) {
        self.drain(usize::MAX, hs);
        if self.slots.len() < DRAIN_FROM || self.len == 0 {
            return self.resize(n, hs);
        }
        let old = std::mem::replace(&mut self.slots, empty(n));
        self.old = Some(Box::new(Draining { slots: old, next: 0 }));
    }

    /// Moves the entries of about `slots` old slots (more, to the end of a run) to the new
    /// array; drops the old array once it is empty. Returns true while it is not.
    pub(crate) fn drain(&mut self, slots: usize, hs: &Hasher) -> bool {
        let Some(old) = self.old.as_deref_mut() else { return false };
        let mut done = 0;
        while let Some(slot) = old.slots.get_mut(old.next) {
            old.next += 1;
            match slot.take() {
                Some(e) => place(&mut self.slots, h32_of(hs, e.key()), e),
                // Just past an empty slot: no run crosses `next`.
                None if done >= slots => return true,
                None => {}
            }
            done += 1;
        }
        self.old = None;
        false
    }

    /// Moves every entry into a table of `n` slots.
    fn resize(&mut self, n: usize, hs: &Hasher) {
        self.drain(usize::MAX, hs);
        let old = std::mem::replace(&mut self.slots, empty(n));
        for e in old.into_vec().into_iter().flatten() {
            place(&mut self.slots, h32_of(hs, e.key()), e);
        }
    }

    /// One step of a scan in hash order: calls `emit` on every entry whose hash (as `hash`
    /// gives it) lies in `[from, next)`, and returns `next`, or None when that range reaches the
    /// top of the hash space. `next` is reached after about `count` entries (at most two runs of
    /// slots more, one per array while draining), so a call costs O(count) slots, not a walk of
    /// the table. The bound depends on the hash alone, so it stays right when the table is
    /// resized between two calls.
    pub(crate) fn scan<'a>(
        &'a self,
        from: u64,
        count: usize,
        hash: impl Fn(&Entry) -> u32,
        mut emit: impl FnMut(&'a Entry),
    ) -> Option<u64> {
        let from = u32::try_from(from).ok()?;
        let mut found = Vec::new();
        let mut bound = walk(&self.slots, from, TOP, count.max(1), &hash, &mut found);
        if let Some(old) = &self.old {
            bound = walk(&old.slots, from, bound, count.max(1), &hash, &mut found);
        }
        found.iter().filter(|(h, _)| u64::from(*h) < bound).for_each(|(_, e)| emit(e));
        (bound < TOP).then_some(bound)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Entry> {
        let old = self.old.as_ref().map_or(&[][..], |o| &o.slots[..]);
        self.slots.iter().chain(old).flatten()
    }

    /// The occupied slot at or after slot `r % n` (wrapping; `n` counts the old array's slots
    /// too while draining): a random entry when `r` is random. Entries after long runs of
    /// empty slots come up more often, as with Redis's sampling.
    pub(crate) fn sample(&self, r: usize) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        let n = self.slots.len() + self.old.as_ref().map_or(0, |o| o.slots.len());
        (0..n).map(|k| (r % n + k) % n).find(|&i| self.slot(i).is_some_and(Option::is_some))
    }
}

impl IntoIterator for Table {
    type Item = Entry;
    type IntoIter = std::iter::Flatten<
        std::iter::Chain<std::vec::IntoIter<Option<Entry>>, std::vec::IntoIter<Option<Entry>>>,
    >;

    fn into_iter(self) -> Self::IntoIter {
        let old = self.old.map(|o| o.slots.into_vec()).unwrap_or_default();
        self.slots.into_vec().into_iter().chain(old).flatten()
    }
}

/// The hash space's end, as a scan bound.
const TOP: u64 = 1 << 32;

fn empty(n: usize) -> Box<[Option<Entry>]> {
    (0..n).map(|_| None).collect()
}

#[inline]
fn next(i: usize, n: usize) -> usize {
    if i + 1 == n { 0 } else { i + 1 }
}

/// The first slot of the probe run of `h32` in `slots` whose entry has `tag` and satisfies
/// `pred`.
#[inline]
fn probe(
    slots: &[Option<Entry>],
    h32: u32,
    tag: u16,
    pred: &mut impl FnMut(&Entry) -> bool,
) -> Option<usize> {
    if slots.is_empty() {
        return None;
    }
    let mut i = home(h32, slots.len());
    loop {
        let e = slots.get(i)?.as_ref()?;
        if e.tag() == tag && pred(e) {
            return Some(i);
        }
        i = next(i, slots.len());
    }
}

/// Puts `e` in the first empty slot from its home (there is one: the load stays below 1).
fn place(slots: &mut [Option<Entry>], h32: u32, e: Entry) {
    let n = slots.len();
    let mut i = home(h32, n);
    loop {
        match slots.get_mut(i) {
            Some(slot @ None) => {
                *slot = Some(e);
                return;
            }
            Some(Some(_)) => i = next(i, n),
            None => return,
        }
    }
}

/// Takes the entry in slot `i`, then moves back each following entry of the run that may sit
/// closer to its home, so every probe still finds its key.
fn take_at(slots: &mut [Option<Entry>], i: usize, hs: &Hasher) -> Option<Entry> {
    let out = slots.get_mut(i)?.take()?;
    let n = slots.len();
    let (mut hole, mut j) = (i, next(i, n));
    while let Some(e) = slots.get(j).and_then(Option::as_ref) {
        let h = home(h32_of(hs, e.key()), n);
        // The entry may move to the hole if the hole lies on its probe path, [h, j).
        if (j + n - h) % n >= (j + n - hole) % n {
            slots.swap(hole, j);
            hole = j;
        }
        j = next(j, n);
    }
    Some(out)
}

/// One array's part of [`Table::scan`]. Homes rise with the hash, so the entries whose hash
/// lies in `[from, bound(i))`, where slot `i` is empty and `bound(i)` is the first hash homed
/// at `i` or later, are those homed in `[home(from), i)`; each sits between its home and the
/// first empty slot after it. Walking from `home(from)` to `i` meets all of them, plus entries
/// pushed past their home from below (their hash is under `from`) and, in the run at slot 0,
/// entries that wrapped round from the top (their home is past their slot).
///
/// Pushes to `found` every entry with its hash in `[from, limit)` up to the first empty slot
/// past `count` of them, and returns that slot's bound (at most `limit`; `limit` if the walk
/// went off the end).
fn walk<'a>(
    slots: &'a [Option<Entry>],
    from: u32,
    limit: u64,
    count: usize,
    hash: &impl Fn(&Entry) -> u32,
    found: &mut Vec<(u32, &'a Entry)>,
) -> u64 {
    let n = slots.len();
    let start = home(from, n.max(1));
    let mut taken = 0;
    let mut take = |i: usize, e: &'a Entry, wrapped: bool| {
        let h = hash(e);
        let ok = h >= from && u64::from(h) < limit && (home(h, n) > i) == wrapped;
        if ok {
            found.push((h, e));
        }
        usize::from(ok)
    };
    for (i, slot) in slots.iter().enumerate().skip(start) {
        match slot {
            Some(e) => taken += take(i, e, false),
            None => {
                // ceil(i * 2^32 / n): the first hash whose home is `i` or later.
                let bound = ((i as u64) << 32).div_ceil(n as u64);
                if taken >= count || bound >= limit {
                    return bound.min(limit);
                }
            }
        }
    }
    // Off the end: the entries homed near the top that wrapped into the run at slot 0 (the
    // walk above passed over them if it started inside that run).
    for (i, slot) in slots.iter().enumerate() {
        let Some(e) = slot else { break };
        take(i, e, true);
    }
    limit
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
            let mut draining = 0;
            for step in 0..steps {
                draining += usize::from(t.draining());
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
                // Halfway through a drain, every key is still found, in one array or the other.
                if t.draining() && step % 32 == 0 {
                    for k in &model {
                        assert!(t.find(h32_of(&hs, k), k).is_some(), "lost while draining");
                    }
                }
            }
            for k in &model {
                assert_eq!(t.find(h32_of(&hs, k), k).map(Entry::key), Some(&k[..]));
            }
            // The large tables grew incrementally: some steps ran while one drained.
            if space > DRAIN_FROM * 2 && !cfg!(miri) {
                assert!(draining > 0, "never drained");
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

    /// A table emptied to under a fifth full shrinks through a drain, as it grows: the write
    /// that shrinks it moves a few slots, not every entry, and every key stays found until
    /// the drain is over. An emptied table gives its slots back at once.
    #[test]
    fn a_large_table_shrinks_incrementally() {
        let hs = Hasher::with_seed(7);
        let key = |i: usize| format!("k{i}").into_bytes();
        let mut t = Table::default();
        let n = if cfg!(miri) { 400 } else { 4000 };
        for i in 0..n {
            t.insert_new(h32_of(&hs, &key(i)), entry(&key(i)), &hs);
        }
        while t.draining() {
            t.drain(DRAIN_STEP, &hs);
        }
        let full = t.slots.len();
        let mut left = n;
        let mut shrinks = 0;
        while left > 0 {
            let was = t.draining();
            left -= 1;
            let k = key(left);
            let i = t.find_index(h32_of(&hs, &k), &k).expect("present");
            assert!(t.remove(i, &hs).is_some());
            if !was && t.draining() {
                shrinks += 1;
                // The old array is still there, nearly whole; the new one is smaller.
                let old = t.old.as_ref().expect("draining");
                assert!(t.slots.len() < old.slots.len());
                assert!(old.next <= 4 * DRAIN_STEP, "moved {} slots at once", old.next);
                for j in 0..left {
                    assert!(t.find(h32_of(&hs, &key(j)), &key(j)).is_some(), "lost {j}");
                }
            }
            assert_eq!(t.len(), left);
        }
        assert!(shrinks > 0, "never shrank incrementally");
        assert!(!t.draining());
        assert!(t.slots.len() <= MIN_SLOTS, "{} of {full} slots left", t.slots.len());
    }

    /// SCAN's guarantee at the table: keys come in disjoint hash ranges, so none comes twice,
    /// and every key present from the first call to the last comes, while other keys come and
    /// go between the calls and the table grows and shrinks under the cursor. Small key spaces
    /// make tables of a few slots, where runs wrap round the end.
    #[test]
    fn scan_returns_every_lasting_key_once_while_the_table_resizes() {
        use rand::{Rng, SeedableRng};
        let mut scans_while_draining = 0;
        for seed in 0..if cfg!(miri) { 3 } else { 120u64 } {
            let hs = Hasher::with_seed(seed);
            let h = |k: &[u8]| h32_of(&hs, k);
            let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
            let mut t = Table::default();
            let space = [6, 40, 400, 1000][seed as usize % 4];
            let key = |i: u32| format!("k{i}").into_bytes();
            for i in 0..space / 2 {
                t.insert_new(h(&key(i)), entry(&key(i)), &hs);
            }
            // Unchanged, the table gives back exactly its keys, in one call or in many.
            let mut want: Vec<&[u8]> = t.iter().map(Entry::key).collect();
            want.sort();
            for one_call in [true, false] {
                let mut all = Vec::new();
                let mut from = Some(0u64);
                while let Some(f) = from {
                    let count = if one_call { usize::MAX } else { rng.random_range(1..5) };
                    from = t.scan(f, count, |e| h(e.key()), |e| all.push(e.key()));
                }
                all.sort();
                assert_eq!(all, want);
            }
            let lasting: Vec<Vec<u8>> = (0..space / 4).map(key).collect();
            let mut seen = std::collections::HashSet::new();
            let mut from = Some(0u64);
            while let Some(f) = from {
                scans_while_draining += usize::from(t.draining());
                let count = rng.random_range(1..12);
                let mut got = Vec::new();
                from = t.scan(f, count, |e| h(e.key()), |e| got.push(e.key().to_vec()));
                for k in got {
                    let kh = u64::from(h(&k));
                    assert!(kh >= f && from.is_none_or(|n| kh < n), "{kh} outside [{f}, {from:?})");
                    assert!(seen.insert(k.clone()), "{:?} came twice", String::from_utf8(k));
                }
                // Churn among the keys that do not last: enough to grow or shrink the table.
                for _ in 0..rng.random_range(0..space / 2) {
                    let k = key(rng.random_range(space / 4..space));
                    match t.find_index(h(&k), &k) {
                        Some(i) => drop(t.remove(i, &hs)),
                        None => t.insert_new(h(&k), entry(&k), &hs),
                    }
                }
            }
            for k in &lasting {
                assert!(seen.contains(k), "{:?} missed", String::from_utf8_lossy(k));
            }
        }
        // Some steps ran while a grown table still held entries in its old array.
        assert!(scans_while_draining > 0 || cfg!(miri));
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
