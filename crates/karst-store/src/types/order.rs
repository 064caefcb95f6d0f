//! The order of a large sorted set: a B+ tree of `(score, id)` keys with element counts in its
//! inner nodes (rank and select in O(log n), the role of Redis's skiplist spans).
//!
//! A key is a score and the id of an element in the set's arena, whose member breaks ties
//! between equal scores; keys are unique. Leaves hold up to [`CAP`] keys and link to their
//! neighbours, so a range is a walk along the leaves; inner nodes hold up to [`CAP`] children,
//! each with the number of keys below it and a separator that is its smallest key: separators
//! are keys of the tree, so they mean the same element when the arena moves it (`relabel`), and
//! removing a subtree's smallest key makes its successor the separator. Nodes live in two arenas
//! with `u32` links and are reused through free lists.
//!
//! Why a B+ tree: a ZADD into a million-member set spent 60% of its time walking the treap this
//! replaces, about thirty dependent cache misses deep; here the upper levels stay in cache and a
//! descent misses on about one leaf.
//!
//! A full leaf splits in halves, except when the new key goes at its end (ascending scores, as
//! timestamps): then the new key starts a leaf of its own and the full one stays full. A node
//! that falls below a quarter full is merged with a neighbour when the two fit in three quarters
//! of a node; an empty subtree is removed. Nodes are not rebalanced otherwise. When three
//! quarters of the leaf arena are free, [`Order::compact`] rebuilds the tree.

use std::cmp::Ordering;

pub(super) use super::set::Member;

/// Keys per leaf and children per inner node.
const CAP: usize = 32;
/// A node with fewer entries is merged with a neighbour if they fit in [`MERGED_MAX`].
const MIN: usize = CAP / 4;
const MERGED_MAX: usize = CAP * 3 / 4;
const NIL: u32 = u32::MAX;

/// An element of the set, in the arena the keys point into (32 bytes: members up to 22 bytes
/// inside it, so comparing equal scores reads the element's slot and no allocation behind it).
#[derive(Clone, Debug)]
pub(super) struct Elem {
    pub(super) member: Member,
    pub(super) score: f64,
}

/// A key: an element's score and its index in the arena.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Key {
    pub(super) score: f64,
    pub(super) id: u32,
}

impl Key {
    const NONE: Key = Key { score: 0.0, id: NIL };
}

#[derive(Clone, Debug)]
struct Leaf {
    len: u32,
    prev: u32,
    next: u32,
    keys: [Key; CAP],
}

impl Leaf {
    const EMPTY: Leaf = Leaf { len: 0, prev: NIL, next: NIL, keys: [Key::NONE; CAP] };

    fn keys(&self) -> &[Key] {
        &self.keys[..self.len as usize]
    }

    /// Where element `e` is, or would go, among the keys.
    fn position(&self, elems: &[Elem], e: &Elem) -> usize {
        self.keys().partition_point(|k| cmp(elems, k, e.score, &e.member) == Ordering::Less)
    }
}

#[derive(Clone, Debug)]
struct Inner {
    len: u32,
    /// `keys[i]` is the smallest key under child `i` (`keys[0]` is not used).
    keys: [Key; CAP],
    kids: [u32; CAP],
    counts: [u32; CAP],
}

impl Inner {
    const EMPTY: Inner =
        Inner { len: 0, keys: [Key::NONE; CAP], kids: [NIL; CAP], counts: [0; CAP] };

    /// The child whose range holds a key, `upto(separator)` telling whether the separator sorts
    /// before that key or is it (a separator may be a key still in the tree).
    fn child(&self, mut upto: impl FnMut(&Key) -> bool) -> usize {
        self.keys[1..self.len as usize].partition_point(|k| upto(k))
    }

    /// The child whose range holds element `e`.
    fn route(&self, elems: &[Elem], e: &Elem) -> usize {
        self.child(|k| cmp(elems, k, e.score, &e.member) != Ordering::Greater)
    }

    fn remove(&mut self, i: usize) {
        let n = self.len as usize;
        self.keys.copy_within(i + 1..n, i);
        self.kids.copy_within(i + 1..n, i);
        self.counts.copy_within(i + 1..n, i);
        self.len -= 1;
    }

    fn insert(&mut self, i: usize, key: Key, kid: u32, count: u32) {
        let n = self.len as usize;
        self.keys.copy_within(i..n, i + 1);
        self.kids.copy_within(i..n, i + 1);
        self.counts.copy_within(i..n, i + 1);
        self.keys[i] = key;
        self.kids[i] = kid;
        self.counts[i] = count;
        self.len += 1;
    }
}

/// How `key` compares with the element `(score, member)`.
#[inline]
fn cmp(elems: &[Elem], key: &Key, score: f64, member: &[u8]) -> Ordering {
    key.score
        .partial_cmp(&score)
        .unwrap_or(Ordering::Equal)
        .then_with(|| elems[key.id as usize].member.bytes().cmp(member))
}

/// A node split in two: the right half's separator, id and key count.
type Split = Option<(Key, u32, u32)>;

/// The tree. See the [module docs](self).
#[derive(Clone, Debug)]
pub(super) struct Order {
    leaves: Vec<Leaf>,
    inners: Vec<Inner>,
    free_leaves: Vec<u32>,
    free_inners: Vec<u32>,
    root: u32,
    /// Levels of inner nodes above the leaves (0: the root is a leaf).
    height: u32,
    len: usize,
}

impl Default for Order {
    fn default() -> Order {
        Order {
            leaves: vec![Leaf::EMPTY],
            inners: Vec::new(),
            free_leaves: Vec::new(),
            free_inners: Vec::new(),
            root: 0,
            height: 0,
            len: 0,
        }
    }
}

impl Order {
    /// Bytes of the nodes.
    pub(super) fn cost(&self) -> usize {
        self.leaves.capacity() * std::mem::size_of::<Leaf>()
            + self.inners.capacity() * std::mem::size_of::<Inner>()
            + (self.free_leaves.capacity() + self.free_inners.capacity()) * 4
    }

    fn new_leaf(&mut self) -> u32 {
        new_node(&mut self.leaves, &mut self.free_leaves, Leaf::EMPTY)
    }

    fn new_inner(&mut self) -> u32 {
        new_node(&mut self.inners, &mut self.free_inners, Inner::EMPTY)
    }

    fn free_leaf(&mut self, id: u32) {
        let (prev, next) = (self.leaves[id as usize].prev, self.leaves[id as usize].next);
        if prev != NIL {
            self.leaves[prev as usize].next = next;
        }
        if next != NIL {
            self.leaves[next as usize].prev = prev;
        }
        self.leaves[id as usize] = Leaf::EMPTY;
        self.free_leaves.push(id);
    }

    fn free_inner(&mut self, id: u32) {
        self.inners[id as usize].len = 0;
        self.free_inners.push(id);
    }

    /// Adds `key`, whose element is already in `elems` and not in the tree.
    pub(super) fn insert(&mut self, elems: &[Elem], key: Key) {
        let e = &elems[key.id as usize];
        if let Some((sep, right, count)) = self.insert_at(self.root, self.height, elems, key, e) {
            let left = self.root;
            let left_count = (self.len + 1) as u32 - count;
            let root = self.new_inner();
            let r = &mut self.inners[root as usize];
            r.len = 2;
            (r.kids[0], r.counts[0]) = (left, left_count);
            (r.keys[1], r.kids[1], r.counts[1]) = (sep, right, count);
            self.root = root;
            self.height += 1;
        }
        self.len += 1;
    }

    fn insert_at(&mut self, node: u32, height: u32, elems: &[Elem], key: Key, e: &Elem) -> Split {
        if height == 0 {
            let leaf = &mut self.leaves[node as usize];
            let mut at = leaf.position(elems, e);
            let mut target = node;
            let mut split = None;
            if leaf.len as usize == CAP {
                let right = self.new_leaf();
                // Appending (ascending scores, the common case) leaves full nodes behind.
                let half = if at == CAP { CAP } else { CAP / 2 };
                let (l, r) = two(&mut self.leaves, node as usize, right as usize);
                r.keys[..CAP - half].copy_from_slice(&l.keys[half..]);
                (r.len, l.len) = ((CAP - half) as u32, half as u32);
                let after = l.next;
                (r.prev, r.next, l.next) = (node, after, right);
                if after != NIL {
                    self.leaves[after as usize].prev = right;
                }
                if at > half || half == CAP {
                    (target, at) = (right, at - half);
                }
                split = Some(right);
            }
            let leaf = &mut self.leaves[target as usize];
            let n = leaf.len as usize;
            leaf.keys.copy_within(at..n, at + 1);
            leaf.keys[at] = key;
            leaf.len += 1;
            return split.map(|r| {
                let r_leaf = &self.leaves[r as usize];
                (r_leaf.keys[0], r, r_leaf.len)
            });
        }
        let inner = &mut self.inners[node as usize];
        let i = inner.route(elems, e);
        inner.counts[i] += 1;
        let kid = inner.kids[i];
        let (sep, right, count) = self.insert_at(kid, height - 1, elems, key, e)?;
        self.inners[node as usize].counts[i] -= count;
        let mut target = node;
        let mut at = i + 1;
        let mut split = None;
        if self.inners[node as usize].len as usize == CAP {
            let new = self.new_inner();
            let half = if at == CAP { CAP } else { CAP / 2 };
            let (l, r) = two(&mut self.inners, node as usize, new as usize);
            r.keys[..CAP - half].copy_from_slice(&l.keys[half..]);
            r.kids[..CAP - half].copy_from_slice(&l.kids[half..]);
            r.counts[..CAP - half].copy_from_slice(&l.counts[half..]);
            (r.len, l.len) = ((CAP - half) as u32, half as u32);
            if at > half || half == CAP {
                (target, at) = (new, at - half);
            }
            split = Some(new);
        }
        self.inners[target as usize].insert(at, sep, right, count);
        split.map(|r| {
            let r_inner = &self.inners[r as usize];
            let count = r_inner.counts[..r_inner.len as usize].iter().sum();
            (r_inner.keys[0], r, count)
        })
    }

    /// Removes `key`, whose element is still in `elems`. False if it was not in the tree.
    pub(super) fn remove(&mut self, elems: &[Elem], key: Key) -> bool {
        let e = &elems[key.id as usize];
        let Some((leaf, at)) = self.locate(elems, e) else { return false };
        if self.leaves[leaf as usize].keys[at].id != key.id {
            return false;
        }
        // Only a leaf's first key can be a separator.
        let next = if at == 0 { self.successor(leaf, at) } else { None };
        self.remove_at(self.root, self.height, elems, e);
        self.len -= 1;
        // A separator that was this key becomes its successor, the new smallest key of that
        // subtree (the key still routes to it); with no successor, the subtree emptied and went
        // with its separator.
        if let Some(next) = next {
            self.replace_separator(elems, e, key.id, next);
        }
        while self.height > 0 && self.inners[self.root as usize].len == 1 {
            let only = self.inners[self.root as usize].kids[0];
            self.free_inner(self.root);
            self.root = only;
            self.height -= 1;
        }
        true
    }

    /// The key after position `at` of `leaf`.
    fn successor(&self, mut leaf: u32, at: usize) -> Option<Key> {
        if let Some(&k) = self.leaves[leaf as usize].keys().get(at + 1) {
            return Some(k);
        }
        loop {
            leaf = self.leaves[leaf as usize].next;
            if leaf == NIL {
                return None;
            }
            if let Some(&k) = self.leaves[leaf as usize].keys().first() {
                return Some(k);
            }
        }
    }

    /// On the path to element `e`, replaces the separator that is element `id` with `with`.
    fn replace_separator(&mut self, elems: &[Elem], e: &Elem, id: u32, with: Key) {
        let mut node = self.root;
        for _ in 0..self.height {
            let inner = &mut self.inners[node as usize];
            let i = inner.route(elems, e);
            if i > 0 && inner.keys[i].id == id {
                inner.keys[i] = with;
            }
            node = inner.kids[i];
        }
    }

    /// The leaf and position of the element `e`, if it is in the tree.
    fn locate(&self, elems: &[Elem], e: &Elem) -> Option<(u32, usize)> {
        let mut node = self.root;
        for _ in 0..self.height {
            let inner = &self.inners[node as usize];
            node = inner.kids[inner.route(elems, e)];
        }
        let leaf = &self.leaves[node as usize];
        let at = leaf.position(elems, e);
        let k = leaf.keys().get(at)?;
        (cmp(elems, k, e.score, &e.member) == Ordering::Equal).then_some((node, at))
    }

    /// Removes element `e` (present) from the subtree `node`; returns the subtree's new entry
    /// count.
    fn remove_at(&mut self, node: u32, height: u32, elems: &[Elem], e: &Elem) -> usize {
        if height == 0 {
            let leaf = &mut self.leaves[node as usize];
            let at = leaf.position(elems, e);
            let n = leaf.len as usize;
            leaf.keys.copy_within(at + 1..n, at);
            leaf.len -= 1;
            return leaf.len as usize;
        }
        let inner = &mut self.inners[node as usize];
        let i = inner.route(elems, e);
        inner.counts[i] -= 1;
        let kid = inner.kids[i];
        if self.remove_at(kid, height - 1, elems, e) < MIN {
            self.rebalance(node, i, height - 1);
        }
        self.inners[node as usize].len as usize
    }

    fn entries(&self, node: u32, height: u32) -> usize {
        if height == 0 {
            self.leaves[node as usize].len as usize
        } else {
            self.inners[node as usize].len as usize
        }
    }

    /// Child `i` of `parent` fell below [`MIN`]: removes it if empty, or merges it with a
    /// neighbour when both fit in [`MERGED_MAX`].
    fn rebalance(&mut self, parent: u32, i: usize, height: u32) {
        let p = &self.inners[parent as usize];
        let kid = p.kids[i];
        if p.counts[i] == 0 && p.len > 1 {
            self.free_subtree(kid, height);
            let p = &mut self.inners[parent as usize];
            if i == 0 {
                // The next child becomes the first, whose separator is not used.
                p.remove(0);
            } else {
                p.remove(i);
            }
            return;
        }
        if p.len < 2 {
            return;
        }
        let l = if i > 0 { i - 1 } else { 0 };
        let r = l + 1;
        let (lk, rk) = (p.kids[l], p.kids[r]);
        let (ln, rn) = (self.entries(lk, height), self.entries(rk, height));
        if ln + rn > MERGED_MAX {
            return;
        }
        if height == 0 {
            let (a, b) = two(&mut self.leaves, lk as usize, rk as usize);
            a.keys[ln..ln + rn].copy_from_slice(&b.keys[..rn]);
            a.len += rn as u32;
            b.len = 0;
            self.free_leaf(rk);
        } else {
            let sep = self.inners[parent as usize].keys[r];
            let (a, b) = two(&mut self.inners, lk as usize, rk as usize);
            a.keys[ln..ln + rn].copy_from_slice(&b.keys[..rn]);
            a.kids[ln..ln + rn].copy_from_slice(&b.kids[..rn]);
            a.counts[ln..ln + rn].copy_from_slice(&b.counts[..rn]);
            // The right node's first child had the parent's separator as its bound.
            a.keys[ln] = sep;
            a.len += rn as u32;
            self.free_inner(rk);
        }
        let p = &mut self.inners[parent as usize];
        p.counts[l] += p.counts[r];
        p.remove(r);
    }

    /// Whether most of the node arenas are free (after many removals): then [`Order::compact`]
    /// gives the memory back.
    pub(super) fn sparse(&self) -> bool {
        let live = self.leaves.len() - self.free_leaves.len();
        self.leaves.capacity() > 64 && live * 4 < self.leaves.capacity()
    }

    /// Rebuilds the tree in fresh arenas, leaves three quarters full.
    pub(super) fn compact(&mut self) {
        let mut keys = Vec::with_capacity(self.len);
        self.walk(0, false, |k| {
            keys.push(k);
            true
        });
        *self = Order::build(&keys);
    }

    /// A tree of `keys` (in order), its nodes three quarters full.
    fn build(keys: &[Key]) -> Order {
        const FILL: usize = CAP * 3 / 4;
        let mut t = Order { leaves: Vec::new(), ..Order::default() };
        if keys.is_empty() {
            return Order::default();
        }
        t.leaves.reserve_exact(keys.len().div_ceil(FILL));
        // (node, first key, count) of the level being built.
        let mut level: Vec<(u32, Key, u32)> = Vec::new();
        for chunk in keys.chunks(FILL) {
            let id = t.leaves.len() as u32;
            let mut leaf = Leaf::EMPTY;
            leaf.keys[..chunk.len()].copy_from_slice(chunk);
            leaf.len = chunk.len() as u32;
            if id > 0 {
                leaf.prev = id - 1;
                t.leaves[id as usize - 1].next = id;
            }
            t.leaves.push(leaf);
            level.push((id, chunk[0], chunk.len() as u32));
        }
        while level.len() > 1 {
            let mut up = Vec::with_capacity(level.len().div_ceil(FILL));
            for chunk in level.chunks(FILL) {
                let id = t.inners.len() as u32;
                let mut inner = Inner::EMPTY;
                for (i, &(kid, first, count)) in chunk.iter().enumerate() {
                    (inner.keys[i], inner.kids[i], inner.counts[i]) = (first, kid, count);
                }
                inner.len = chunk.len() as u32;
                t.inners.push(inner);
                up.push((id, chunk[0].1, chunk.iter().map(|c| c.2).sum()));
            }
            level = up;
            t.height += 1;
        }
        t.root = level[0].0;
        t.len = keys.len();
        t
    }

    /// Frees an emptied subtree (a chain of single-child inner nodes down to an empty leaf).
    fn free_subtree(&mut self, node: u32, height: u32) {
        if height == 0 {
            self.free_leaf(node);
            return;
        }
        let inner = &self.inners[node as usize];
        let kids = inner.kids;
        let n = inner.len as usize;
        self.free_inner(node);
        for &kid in &kids[..n] {
            self.free_subtree(kid, height - 1);
        }
    }

    /// Points the key of element `e` (id `from`) at id `to`: the arena moved the element.
    pub(super) fn relabel(&mut self, elems: &[Elem], e: &Elem, from: u32, to: u32) {
        let mut node = self.root;
        for _ in 0..self.height {
            let inner = &mut self.inners[node as usize];
            let i = inner.route(elems, e);
            // Separators are keys in the tree: this one may be the moved element's.
            if inner.keys[i].id == from {
                inner.keys[i].id = to;
            }
            node = inner.kids[i];
        }
        let leaf = &mut self.leaves[node as usize];
        let at = leaf.position(elems, e);
        if let Some(k) = leaf.keys.get_mut(at).filter(|k| k.id == from) {
            k.id = to;
        }
    }

    /// How many keys satisfy `pred`, which holds for a prefix of the order and not after it.
    pub(super) fn prefix(&self, elems: &[Elem], pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        let sat = |k: &Key| pred(k.score, &elems[k.id as usize].member);
        let (mut node, mut acc) = (self.root, 0);
        for _ in 0..self.height {
            let inner = &self.inners[node as usize];
            let i = inner.child(sat);
            acc += inner.counts[..i].iter().map(|&c| c as usize).sum::<usize>();
            node = inner.kids[i];
        }
        acc + self.leaves[node as usize].keys().partition_point(sat)
    }

    /// The leaf and position of ascending rank `rank`.
    fn select(&self, rank: usize) -> Option<(u32, usize)> {
        if rank >= self.len {
            return None;
        }
        let (mut node, mut k) = (self.root, rank);
        for _ in 0..self.height {
            let inner = &self.inners[node as usize];
            let mut i = 0;
            while i + 1 < inner.len as usize && k >= inner.counts[i] as usize {
                k -= inner.counts[i] as usize;
                i += 1;
            }
            node = inner.kids[i];
        }
        (k < self.leaves[node as usize].len as usize).then_some((node, k))
    }

    /// The key of ascending rank `rank`.
    pub(super) fn at(&self, rank: usize) -> Option<Key> {
        self.select(rank).map(|(leaf, at)| self.leaves[leaf as usize].keys[at])
    }

    /// Hands keys to `f` from rank `rank` on, ascending (descending if `rev`), while it returns
    /// true.
    pub(super) fn walk(&self, rank: usize, rev: bool, mut f: impl FnMut(Key) -> bool) {
        let Some((mut leaf, at)) = self.select(rank) else { return };
        let mut at = at as isize;
        loop {
            let l = &self.leaves[leaf as usize];
            let keys = l.keys();
            while let Some(&k) = usize::try_from(at).ok().and_then(|a| keys.get(a)) {
                if !f(k) {
                    return;
                }
                at += if rev { -1 } else { 1 };
            }
            leaf = if rev { l.prev } else { l.next };
            if leaf == NIL {
                return;
            }
            at = if rev { self.leaves[leaf as usize].len as isize - 1 } else { 0 };
        }
    }

    /// Checks the tree's invariants (tests).
    #[cfg(test)]
    pub(super) fn check(&self, elems: &[Elem]) {
        let mut keys = Vec::new();
        let n = self.check_node(self.root, self.height, &mut keys);
        assert_eq!(n, self.len);
        for w in keys.windows(2) {
            let e = &elems[w[1].id as usize];
            assert_eq!(cmp(elems, &w[0], e.score, &e.member), Ordering::Less);
        }
        let mut walked = Vec::new();
        self.walk(0, false, |k| {
            walked.push(k.id);
            true
        });
        assert_eq!(walked, keys.iter().map(|k| k.id).collect::<Vec<_>>());
    }

    #[cfg(test)]
    fn check_node(&self, node: u32, height: u32, out: &mut Vec<Key>) -> usize {
        if height == 0 {
            let leaf = &self.leaves[node as usize];
            out.extend_from_slice(leaf.keys());
            return leaf.len as usize;
        }
        let inner = &self.inners[node as usize];
        assert!(inner.len >= 1);
        let mut total = 0;
        for i in 0..inner.len as usize {
            let start = out.len();
            let n = self.check_node(inner.kids[i], height - 1, out);
            assert_eq!(n, inner.counts[i] as usize, "count of child {i}");
            if i > 0
                && let Some(first) = out.get(start)
            {
                // The separator is the child's smallest key, the same element.
                assert_eq!(inner.keys[i].id, first.id, "separator of child {i}");
                assert_eq!(inner.keys[i].score, first.score, "separator of child {i}");
            }
            total += n;
        }
        total
    }
}

/// A free node of an arena, reused or added (as `empty`).
fn new_node<T>(nodes: &mut Vec<T>, free: &mut Vec<u32>, empty: T) -> u32 {
    if let Some(id) = free.pop() {
        return id;
    }
    grow(nodes);
    nodes.push(empty);
    (nodes.len() - 1) as u32
}

/// Makes room for one more node by a quarter of the arena: a node is hundreds of bytes, and
/// doubling would leave up to half the arena unused.
fn grow<T>(v: &mut Vec<T>) {
    if v.len() == v.capacity() {
        v.reserve_exact((v.len() / 4).max(4));
    }
}

/// Two distinct elements of a slice, mutably.
fn two<T>(v: &mut [T], a: usize, b: usize) -> (&mut T, &mut T) {
    debug_assert_ne!(a, b);
    if a < b {
        let (x, y) = v.split_at_mut(b);
        (&mut x[a], &mut y[0])
    } else {
        let (x, y) = v.split_at_mut(a);
        (&mut y[0], &mut x[b])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tree against a sorted model through inserts, score changes and removals (ties of
    /// score included), the arena moving elements as the sorted set's does; every query checked.
    #[test]
    fn order_matches_a_sorted_model() {
        let mut elems: Vec<Elem> = Vec::new();
        let mut order = Order::default();
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::SmallRng::seed_from_u64(0x1234_5678_9abc_def1);
        let mut next = |n: u64| rng.random_range(0..n);
        let model = |elems: &[Elem]| {
            let mut m: Vec<(f64, Vec<u8>)> =
                elems.iter().map(|e| (e.score, e.member.to_vec())).collect();
            m.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap().then_with(|| a.1.cmp(&b.1)));
            m
        };
        let steps = if cfg!(miri) { 400 } else { 60_000 };
        for step in 0..steps {
            // Grow to a few thousand elements (three levels), then shrink to empty, twice.
            let phase = (step * 4 / steps) % 2;
            let add = if phase == 0 { next(10) < 7 } else { next(10) < 3 };
            if add || elems.is_empty() {
                let member = format!("m{}", next(1_000_000)).into_bytes();
                if elems.iter().any(|e| *e.member == *member) {
                    continue;
                }
                let score = next(50) as f64;
                let id = elems.len() as u32;
                elems.push(Elem { member: Member::new(&member), score });
                order.insert(&elems, Key { score, id });
            } else if next(3) == 0 {
                let id = next(elems.len() as u64) as u32;
                assert!(order.remove(&elems, Key { score: elems[id as usize].score, id }));
                elems[id as usize].score = next(50) as f64 - 0.5;
                order.insert(&elems, Key { score: elems[id as usize].score, id });
            } else {
                let id = next(elems.len() as u64) as u32;
                assert!(order.remove(&elems, Key { score: elems[id as usize].score, id }));
                let last = (elems.len() - 1) as u32;
                if id != last {
                    let moved = elems[last as usize].clone();
                    order.relabel(&elems, &moved, last, id);
                }
                elems.swap_remove(id as usize);
            }
            if step % 4999 == 0 || order.sparse() {
                order.compact();
            }
            if step % 97 == 0 || elems.len() < 3 {
                order.check(&elems);
                let m = model(&elems);
                let r = next(m.len() as u64 + 1) as usize;
                let key =
                    |k: Key| (elems[k.id as usize].score, elems[k.id as usize].member.to_vec());
                assert_eq!(order.at(r).map(key), m.get(r).cloned());
                let mut down = Vec::new();
                order.walk(r, true, |k| {
                    down.push(key(k));
                    down.len() < 40
                });
                let want: Vec<_> = match m.get(..=r) {
                    Some(upto) => upto.iter().rev().take(40).cloned().collect(),
                    None => Vec::new(),
                };
                assert_eq!(down, want, "walk down from {r}");
                let cut = next(50) as f64;
                assert_eq!(
                    order.prefix(&elems, |s, _| s < cut),
                    m.iter().filter(|p| p.0 < cut).count()
                );
            }
        }
        order.check(&elems);
    }

    /// Ascending inserts (timestamps as scores) fill leaves instead of leaving them half full,
    /// and a compacted tree holds the same keys in fewer nodes.
    #[test]
    fn ascending_inserts_fill_nodes() {
        let n = if cfg!(miri) { 300 } else { 20_000 };
        let elems: Vec<Elem> =
            (0..n).map(|i| Elem { member: Member::new(b"m"), score: i as f64 }).collect();
        let mut order = Order::default();
        for id in 0..n {
            order.insert(&elems, Key { score: id as f64, id });
        }
        order.check(&elems);
        let live = order.leaves.len() - order.free_leaves.len();
        assert_eq!(live, (n as usize).div_ceil(CAP), "leaves for {n} ascending keys");
        order.compact();
        order.check(&elems);
        assert_eq!(order.at(n as usize / 2).map(|k| k.id), Some(n / 2));
    }
}
