//! The large encoding that the hash and the set share: their items (pairs, members) in a dense
//! vector, and a [`Positions`] index from an item's key to its place in the vector.
//!
//! Dense means the vector has no holes: a removal moves the last item into the hole and
//! repoints its position, so the index holds exactly the positions `0..len` (which
//! [`Positions`] relies on when it grows). A random pick (HRANDFIELD, SRANDMEMBER, SPOP) is
//! then a random position, and iteration walks memory front to back.
//!
//! Each table has its own seed for the key hash: inputs built to collide in one table do not
//! collide in another, and no one can compute them ahead.

use std::hash::BuildHasher;

use foldhash::fast::FixedState;

use super::Prefetch;
use super::positions::Positions;
use crate::entry::size_class;

/// What the vector holds: an item looked up by some of its bytes.
pub(crate) trait Keyed {
    /// The bytes the item is found by: a set's member, a hash's field.
    fn key(&self) -> &[u8];
    /// Bytes the item holds in an allocation of its own, in the allocator's size class.
    fn heap(&self) -> usize;
    /// Where the bytes that a lookup compares live when they are not in the vector itself (a
    /// prefetch loads them).
    fn behind(&self) -> Option<*const u8>;
}

/// The key hash of the item at position `p` (the index's `hash_of` when it moves slots).
fn hash_at<T: Keyed>(items: &[T], hasher: &FixedState, p: u32) -> u64 {
    items.get(p as usize).map_or(0, |t| hasher.hash_one(t.key()))
}

/// Items in a dense vector, found through a position index. See the [module docs](self).
#[derive(Clone, Debug)]
pub(crate) struct Dense<T> {
    /// INVARIANT: holds exactly the positions `0..items.len()`, each under its item's key hash.
    index: Positions,
    items: Vec<T>,
    /// Sum of [`Keyed::heap`] over `items`.
    heap: usize,
    hasher: FixedState,
}

impl<T: Keyed> Dense<T> {
    /// An empty table with room for `n` items.
    pub(super) fn with_capacity(n: usize) -> Dense<T> {
        Dense {
            index: Positions::with_capacity(n),
            items: Vec::with_capacity(n),
            heap: 0,
            hasher: FixedState::with_seed(rand::random()),
        }
    }

    /// The hash of key `k` in this table.
    #[inline]
    pub(super) fn hash(&self, k: &[u8]) -> u64 {
        self.hasher.hash_one(k)
    }

    /// The items, in vector order.
    #[inline]
    pub(super) fn items(&self) -> &[T] {
        &self.items
    }

    #[inline]
    pub(super) fn len(&self) -> usize {
        self.items.len()
    }

    /// The position of the item with key `k`, whose hash is `h`.
    #[inline]
    pub(super) fn position_hashed(&self, h: u64, k: &[u8]) -> Option<usize> {
        let items = &self.items;
        self.index
            .find(h, |i| items.get(i as usize).is_some_and(|t| t.key() == k))
            .map(|i| i as usize)
    }

    /// The position of the item with key `k`.
    #[inline]
    pub(super) fn position(&self, k: &[u8]) -> Option<usize> {
        self.position_hashed(self.hash(k), k)
    }

    /// The item with key `k`.
    #[inline]
    pub(super) fn get(&self, k: &[u8]) -> Option<&T> {
        self.items.get(self.position(k)?)
    }

    /// Appends `item`, whose key hashes to `h` and is not in the table. False only past four
    /// billion items (positions are u32; hundreds of gigabytes would run out first).
    pub(super) fn push(&mut self, h: u64, item: T) -> bool {
        let Ok(pos) = u32::try_from(self.items.len()) else { return false };
        let (items, hasher) = (&self.items, &self.hasher);
        self.index.insert(h, pos, |p| hash_at(items, hasher, p));
        self.heap += item.heap();
        self.items.push(item);
        true
    }

    /// Runs `f` on the item at position `i`, which may change anything but the item's key, and
    /// recounts the item's heap bytes after.
    pub(super) fn update<R>(&mut self, i: usize, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        let item = self.items.get_mut(i)?;
        let before = item.heap();
        let r = f(item);
        self.heap = self.heap.saturating_sub(before) + item.heap();
        Some(r)
    }

    /// One step of a scan (HSCAN, SSCAN): up to `count` items from `cursor` down, highest
    /// position first, and the cursor to continue from (0: done). Positions are walked downwards
    /// from the top (cursor 0 starts at the top; a cursor `c` means positions below `c` remain):
    /// a removal moves the last item into the hole, so an item present for the whole scan is
    /// either below the cursor or already returned; new items go on top and may be missed, as
    /// SCAN allows.
    pub(super) fn scan(&self, cursor: u64, count: usize) -> (impl Iterator<Item = &T>, u64) {
        let n = self.items.len();
        let top = if cursor == 0 { n } else { usize::try_from(cursor).map_or(n, |c| c.min(n)) };
        let bottom = top.saturating_sub(count.max(1));
        (self.items.get(bottom..top).unwrap_or_default().iter().rev(), bottom as u64)
    }

    /// Removes the item at position `i`, moving the last item into its place.
    pub(super) fn remove_at(&mut self, i: usize) -> Option<T> {
        let h = self.hash(self.items.get(i)?.key());
        let (items, hasher) = (&self.items, &self.hasher);
        self.index.remove(h, i as u32, |p| hash_at(items, hasher, p));
        let last = self.items.len() - 1;
        if i != last
            && let Some(moved) = self.items.get(last)
        {
            self.index.repoint(self.hash(moved.key()), last as u32, i as u32);
        }
        let item = self.items.swap_remove(i);
        self.heap = self.heap.saturating_sub(item.heap());
        Some(item)
    }

    /// Removes the item with key `k`; false if there was none.
    pub(super) fn remove(&mut self, k: &[u8]) -> bool {
        self.position(k).and_then(|i| self.remove_at(i)).is_some()
    }

    /// Gives memory back once the table is mostly empty (Redis shrinks its dicts below 10%
    /// fill); twice the items left leaves room to regrow.
    pub(super) fn shrink(&mut self) {
        let n = self.items.len();
        if self.items.capacity() > 64 && n * 4 < self.items.capacity() {
            self.items.shrink_to(n * 2);
            let (items, hasher) = (&self.items, &self.hasher);
            self.index.shrink_to(n * 2, |p| hash_at(items, hasher, p));
        }
    }

    /// Bytes held: the table, the vector, the index and the items' own allocations, each in its
    /// size class.
    pub(super) fn cost(&self) -> usize {
        self.tables_cost() + self.heap
    }

    /// Bytes of the table itself, its vector and its index, without the items' allocations.
    fn tables_cost(&self) -> usize {
        let class = |n: usize| if n == 0 { 0 } else { size_class(n) };
        size_class(std::mem::size_of::<Dense<T>>())
            + class(self.items.capacity() * std::mem::size_of::<T>())
            + class(self.index.allocation_size())
    }

    /// One stage of loading what a lookup of key `k` will read (see [`Prefetch`]).
    #[inline]
    pub(super) fn prefetch(&self, k: &[u8], stage: Prefetch) {
        self.index.prefetch(self.hash(k), stage, &self.items, T::behind);
    }

    /// Recounts what [`Dense::cost`] keeps up to date, and checks the index against the vector
    /// (for tests).
    #[cfg(test)]
    pub(super) fn recount(&self) -> usize {
        assert_eq!(self.index.len(), self.items.len());
        for (i, t) in self.items.iter().enumerate() {
            assert_eq!(self.position(t.key()), Some(i));
        }
        self.tables_cost() + self.items.iter().map(Keyed::heap).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An item that is its own key, and whose heap is its capacity's size class.
    #[derive(Clone, Debug, PartialEq)]
    struct Item(Vec<u8>);

    impl Keyed for Item {
        fn key(&self) -> &[u8] {
            &self.0
        }
        fn heap(&self) -> usize {
            size_class(self.0.capacity())
        }
        fn behind(&self) -> Option<*const u8> {
            Some(self.0.as_ptr())
        }
    }

    /// Pushes, updates that change an item's allocation, removals by key and by position (the
    /// last item moves) and shrinking, against a model vector: the cost stays the recount, and
    /// every item is found at the model's position.
    #[test]
    fn tracks_a_model_and_its_heap() {
        let mut t: Dense<Item> = Dense::with_capacity(0);
        let mut model: Vec<Vec<u8>> = Vec::new();
        for i in 0..2000u32 {
            let k = format!("member:{i}").into_bytes();
            assert!(t.push(t.hash(&k), Item(k.clone())));
            model.push(k);
        }
        for i in (0..2000).step_by(7) {
            let grown = t.update(i, |it| it.0.reserve_exact(100 + i)).is_some();
            assert!(grown);
        }
        assert_eq!(t.cost(), t.recount());
        for i in (0..2000u32).step_by(3) {
            let k = format!("member:{i}").into_bytes();
            assert!(t.remove(&k));
            let at = model.iter().position(|m| *m == k).unwrap_or(usize::MAX);
            model.swap_remove(at);
            assert!(!t.remove(&k));
        }
        while model.len() > 100 {
            let gone = t.remove_at(5).map(|it| it.0);
            assert_eq!(gone, Some(model.swap_remove(5)));
        }
        t.shrink();
        assert_eq!(t.cost(), t.recount());
        assert_eq!(t.len(), model.len());
        for (i, k) in model.iter().enumerate() {
            assert_eq!(t.position(k), Some(i));
            assert_eq!(t.items().get(i).map(|it| &it.0), Some(k));
        }
        assert_eq!(t.get(b"member:3"), None);
    }
}
