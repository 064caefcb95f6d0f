//! The list type: Redis's quicklist without compression.
//!
//! A list is a run of nodes; each node is one buffer of packed elements, bounded by
//! `list-max-listpack-size` (positive: elements per node; -1 to -5: 4 to 64 KiB per node). A list
//! that fits one node is `listpack`; past that it becomes `quicklist`, a `VecDeque` of nodes, and
//! stays so (Redis 7.0 never converts back; 7.2 does below half the limit).
//!
//! Why not [`super::packed::Packed`]: a list pushes at both ends, and a `Vec` can only grow at
//! its back, so LPUSH would move the whole node each time. A node here keeps its elements in
//! the middle of its buffer (`buf[head..tail]`) with free room on either side, so pushes and pops
//! at both ends are O(1) amortized. Its element format also stores integers in binary as
//! listpack does (a list of counters or ids costs 1 to 10 bytes an element, not digits + 2):
//!
//! ```text
//! 0x00..=0x7F len, bytes, len        string of up to 127 bytes     (len + 2)
//! 0x80..=0xEF                        integer 0..=111               (1)
//! 0xF0 len:u16, bytes, len:u16, 0xF0 string of up to 65535 bytes   (len + 6)
//! 0xF1..=0xF4 int:1/2/4/8, same tag  i8 / i16 / i32 / i64          (3, 4, 6, 10)
//! 0xFF len:u32, bytes, len:u32, 0xFF longer string                 (len + 10)
//! ```
//!
//! The last byte of an element tells its size, so a walk goes either way. Integers are stored
//! only when the bytes are the canonical form of an i64 (as Redis's `string2ll` accepts), so an
//! element always reads back as the bytes that were pushed.

use std::collections::VecDeque;

use karst_resp::Output;
use karst_resp::num::parse_i64;

/// An element read from a list: bytes, or an integer stored in binary (rendered in decimal).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Elem<'a> {
    Str(&'a [u8]),
    Int(i64),
}

impl<'a> Elem<'a> {
    /// The element an argument becomes: an integer if it is the canonical form of one.
    #[inline]
    pub(crate) fn of(v: &'a [u8]) -> Elem<'a> {
        match v.len() <= 20 {
            true => parse_i64(v).map_or(Elem::Str(v), Elem::Int),
            false => Elem::Str(v),
        }
    }

    /// Writes the element as a bulk string.
    #[inline]
    pub(crate) fn reply(self, out: &mut Output) {
        match self {
            Elem::Str(s) => out.bulk(s),
            Elem::Int(i) => out.bulk_integer(i),
        }
    }

    /// True if the element's bytes are the needle's.
    #[inline]
    pub(crate) fn matches(self, n: &Elem<'_>) -> bool {
        match (self, n) {
            (Elem::Str(a), Elem::Str(b)) => a == *b,
            (Elem::Int(a), Elem::Int(b)) => a == *b,
            _ => false,
        }
    }

    /// A copy that outlives the list it was read from (for LMOVE between two lists).
    pub(crate) fn detach(self) -> OwnedElem {
        match self {
            Elem::Int(i) => OwnedElem::Int(i),
            Elem::Str(s) if s.len() <= INLINE => {
                let mut buf = [0u8; INLINE];
                put(&mut buf, 0, s);
                OwnedElem::Inline(buf, s.len() as u8)
            }
            Elem::Str(s) => OwnedElem::Heap(s.to_vec()),
        }
    }

    /// Bytes the element takes in a node.
    #[inline]
    fn size(self) -> usize {
        match self {
            Elem::Str(s) if s.len() < 128 => s.len() + 2,
            Elem::Str(s) if s.len() <= u16::MAX as usize => s.len() + 6,
            Elem::Str(s) => s.len() + 10,
            Elem::Int(i) if (0..=TINY_MAX).contains(&i) => 1,
            Elem::Int(i) if i8::try_from(i).is_ok() => 3,
            Elem::Int(i) if i16::try_from(i).is_ok() => 4,
            Elem::Int(i) if i32::try_from(i).is_ok() => 6,
            Elem::Int(_) => 10,
        }
    }

    /// Encodes the element into `dst`, which is exactly [`Elem::size`] bytes long.
    fn write(self, dst: &mut [u8]) {
        fn framed(dst: &mut [u8], tag: u8, body: &[u8]) {
            let n = dst.len();
            put(dst, 0, &[tag]);
            put(dst, 1, body);
            put(dst, n.wrapping_sub(1), &[tag]);
        }
        match self {
            Elem::Str(s) if s.len() < 128 => {
                let n = s.len();
                framed(dst, n as u8, s);
            }
            Elem::Str(s) if s.len() <= u16::MAX as usize => {
                let n = s.len();
                let len = (n as u16).to_le_bytes();
                put(dst, 0, &[TAG_STR16, len[0], len[1]]);
                put(dst, 3, s);
                put(dst, 3 + n, &[len[0], len[1], TAG_STR16]);
            }
            Elem::Str(s) => {
                let n = s.len();
                let len = (n as u32).to_le_bytes();
                put(dst, 0, &[TAG_STR32]);
                put(dst, 1, &len);
                put(dst, 5, s);
                put(dst, 5 + n, &len);
                put(dst, 9 + n, &[TAG_STR32]);
            }
            Elem::Int(i) if (0..=TINY_MAX).contains(&i) => put(dst, 0, &[TAG_TINY + i as u8]),
            Elem::Int(i) => {
                if let Ok(v) = i8::try_from(i) {
                    framed(dst, TAG_I8, &v.to_le_bytes());
                } else if let Ok(v) = i16::try_from(i) {
                    framed(dst, TAG_I16, &v.to_le_bytes());
                } else if let Ok(v) = i32::try_from(i) {
                    framed(dst, TAG_I32, &v.to_le_bytes());
                } else {
                    framed(dst, TAG_I64, &i.to_le_bytes());
                }
            }
        }
    }
}

#[inline]
fn put(dst: &mut [u8], at: usize, src: &[u8]) {
    if let Some(d) = dst.get_mut(at..at + src.len()) {
        d.copy_from_slice(src);
    }
}

/// Strings up to this length are copied on the stack when moved between lists.
const INLINE: usize = 64;

/// An element copied out of a list.
#[derive(Clone, Debug)]
pub(crate) enum OwnedElem {
    Int(i64),
    Inline([u8; INLINE], u8),
    Heap(Vec<u8>),
}

impl OwnedElem {
    /// The element, borrowed.
    #[inline]
    pub(crate) fn get(&self) -> Elem<'_> {
        match self {
            OwnedElem::Int(i) => Elem::Int(*i),
            OwnedElem::Inline(b, n) => Elem::Str(b.get(..*n as usize).unwrap_or_default()),
            OwnedElem::Heap(v) => Elem::Str(v),
        }
    }
}

const TAG_TINY: u8 = 0x80;
const TINY_MAX: i64 = 0xEF - 0x80;
const TAG_STR16: u8 = 0xF0;
const TAG_I8: u8 = 0xF1;
const TAG_I16: u8 = 0xF2;
const TAG_I32: u8 = 0xF3;
const TAG_I64: u8 = 0xF4;
const TAG_STR32: u8 = 0xFF;

fn int_width(tag: u8) -> usize {
    match tag {
        TAG_I8 => 1,
        TAG_I16 => 2,
        TAG_I32 => 4,
        _ => 8,
    }
}

fn read_int(b: &[u8], tag: u8) -> i64 {
    let mut k = [0u8; 8];
    let w = int_width(tag);
    if let (Some(d), Some(s)) = (k.get_mut(..w), b.get(..w)) {
        d.copy_from_slice(s);
    }
    match tag {
        TAG_I8 => i64::from(k[0] as i8),
        TAG_I16 => i64::from(i16::from_le_bytes([k[0], k[1]])),
        TAG_I32 => i64::from(i32::from_le_bytes([k[0], k[1], k[2], k[3]])),
        _ => i64::from_le_bytes(k),
    }
}

fn read_len(b: &[u8], at: usize, w: usize) -> usize {
    let mut k = [0u8; 4];
    if let (Some(d), Some(s)) = (k.get_mut(..w), b.get(at..at + w)) {
        d.copy_from_slice(s);
    }
    u32::from_le_bytes(k) as usize
}

/// The node limit of `list-max-listpack-size`, resolved once per command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fill {
    /// Elements per node.
    count: usize,
    /// Bytes per node.
    bytes: usize,
}

/// Redis's size safety limit of a node when the fill counts elements.
const SAFETY_BYTES: usize = 8192;

impl Fill {
    /// From the configured value: positive, elements per node (capped at 32768 as Redis, and by
    /// 8 KiB as Redis's safety limit); -1..-5, 4/8/16/32/64 KiB per node (below -5 as -5).
    pub(crate) fn new(size: i64) -> Fill {
        if size >= 0 {
            Fill { count: size.min(1 << 15) as usize, bytes: SAFETY_BYTES }
        } else {
            let level = size.unsigned_abs().min(5) as u32;
            Fill { count: usize::MAX, bytes: 4096 << (level - 1) }
        }
    }
}

impl Default for Fill {
    fn default() -> Fill {
        Fill::new(-2)
    }
}

/// One node: elements packed in `buf[head..tail]`.
#[derive(Clone, Debug, Default)]
struct Node {
    buf: Box<[u8]>,
    head: usize,
    tail: usize,
    count: usize,
}

impl Node {
    #[inline]
    fn used(&self) -> usize {
        self.tail - self.head
    }

    #[inline]
    fn cap(&self) -> usize {
        self.buf.len()
    }

    /// True if one more element of `size` bytes may join the node.
    #[inline]
    fn fits(&self, size: usize, fill: Fill) -> bool {
        self.count == 0 || (self.count < fill.count && self.used() + size <= fill.bytes)
    }

    /// The element at `at` and the offset of the next one.
    #[inline]
    fn get(&self, at: usize) -> Option<(Elem<'_>, usize)> {
        let b = &self.buf;
        let tag = *b.get(at)?;
        match tag {
            0..=0x7F => {
                let n = tag as usize;
                Some((Elem::Str(b.get(at + 1..at + 1 + n)?), at + n + 2))
            }
            0x80..=0xEF => Some((Elem::Int(i64::from(tag - TAG_TINY)), at + 1)),
            TAG_STR16 => {
                let n = read_len(b, at + 1, 2);
                Some((Elem::Str(b.get(at + 3..at + 3 + n)?), at + n + 6))
            }
            TAG_I8..=TAG_I64 => {
                let w = int_width(tag);
                Some((Elem::Int(read_int(b.get(at + 1..)?, tag)), at + w + 2))
            }
            TAG_STR32 => {
                let n = read_len(b, at + 1, 4);
                Some((Elem::Str(b.get(at + 5..at + 5 + n)?), at + n + 10))
            }
            _ => None,
        }
    }

    /// The offset of the element that ends at `end`.
    #[inline]
    fn prev(&self, end: usize) -> Option<usize> {
        if end <= self.head {
            return None;
        }
        let b = &self.buf;
        let tag = *b.get(end - 1)?;
        let size = match tag {
            0..=0x7F => tag as usize + 2,
            0x80..=0xEF => 1,
            TAG_STR16 => read_len(b, end.checked_sub(3)?, 2) + 6,
            TAG_I8..=TAG_I64 => int_width(tag) + 2,
            TAG_STR32 => read_len(b, end.checked_sub(5)?, 4) + 10,
            _ => return None,
        };
        end.checked_sub(size)
    }

    /// The offset of element `i` of the node, walking from the nearer end.
    fn offset_of(&self, i: usize) -> Option<usize> {
        if i >= self.count {
            return None;
        }
        if i <= self.count / 2 {
            let mut at = self.head;
            for _ in 0..i {
                at = self.get(at)?.1;
            }
            Some(at)
        } else {
            let mut at = self.tail;
            for _ in i..self.count {
                at = self.prev(at)?;
            }
            Some(at)
        }
    }

    /// Moves the elements to a buffer of `cap` bytes (or within the buffer) so that `gap` free
    /// bytes sit at offset `at` of the old layout; `front` puts the spare room before the
    /// elements instead of after. Returns the gap's new offset.
    fn relayout(&mut self, at: usize, gap: usize, cap: usize, front: bool) -> usize {
        let used = self.used();
        let spare = cap.saturating_sub(used + gap);
        let head = if front { spare } else { spare / 8 };
        let mut buf = vec![0u8; cap].into_boxed_slice();
        let left = at - self.head;
        if let (Some(d), Some(s)) = (buf.get_mut(head..head + left), self.buf.get(self.head..at)) {
            d.copy_from_slice(s);
        }
        let right = self.tail - at;
        let to = head + left + gap;
        if let (Some(d), Some(s)) = (buf.get_mut(to..to + right), self.buf.get(at..self.tail)) {
            d.copy_from_slice(s);
        }
        self.buf = buf;
        self.head = head;
        self.tail = head + used + gap;
        head + left
    }

    /// Opens `n` free bytes at offset `at` (head ≤ at ≤ tail) and returns where they are now.
    fn open(&mut self, at: usize, n: usize, limit: usize) -> usize {
        let room_front = self.head;
        let room_back = self.cap() - self.tail;
        let left = at - self.head;
        let right = self.tail - at;
        // Move the smaller side when both could move, else whichever can. A push at an end
        // that runs out of room there moves all the room over from the other end, so the
        // next pushes at that end move nothing.
        if room_back >= n && (right <= left || room_front < n) {
            let by = if at == self.head { room_back } else { n };
            self.buf.copy_within(at..self.tail, at + by);
            self.tail += by;
            self.head += by - n;
            return at + by - n;
        }
        if room_front >= n {
            let by = if at == self.tail { room_front } else { n };
            self.buf.copy_within(self.head..at, self.head - by);
            self.head -= by;
            self.tail -= by - n;
            return at - by;
        }
        // Grow by an eighth (at least 16 bytes), but not past the node limit when the elements
        // fit it: a full node then holds exactly its limit and wastes nothing.
        let want = self.used() + n;
        let slack = (want / 8).max(16);
        let mut cap = want + slack;
        if want <= limit {
            cap = cap.min(limit);
        }
        if room_front + room_back >= n + slack {
            cap = self.cap();
        }
        let front = at == self.head && self.count > 0;
        self.relayout(at, n, cap, front)
    }

    /// Puts `e` in place of the element in `at..next`.
    fn replace(&mut self, at: usize, next: usize, e: Elem<'_>, limit: usize) {
        let (old, size) = (next - at, e.size());
        if size <= old {
            if let Some(d) = self.buf.get_mut(at..at + size) {
                e.write(d);
            }
            if size < old {
                self.remove_bytes(at + size, next, 0);
            }
            return;
        }
        // Open the difference right after the old element: wherever that moves the old
        // element, it stays right before the gap.
        let gap = self.open(next, size - old, limit.max(self.used() - old + size));
        if let Some(d) = self.buf.get_mut(gap - old..gap - old + size) {
            e.write(d);
        }
    }

    /// Gives memory back when less than `1/ratio` of the buffer is used (all of it when empty).
    fn shrink(&mut self, ratio: usize) {
        if self.count == 0 {
            *self = Node::default();
        } else if self.used() * ratio < self.cap() && self.cap() > 64 {
            let used = self.used();
            let cap = used + (used / 8).max(16);
            let head = self.head;
            self.relayout(head, 0, cap, false);
        }
    }

    fn insert(&mut self, at: usize, e: Elem<'_>, limit: usize) {
        let n = e.size();
        let at = self.open(at, n, limit);
        if let Some(d) = self.buf.get_mut(at..at + n) {
            e.write(d);
        }
        self.count += 1;
    }

    fn push_front(&mut self, e: Elem<'_>, limit: usize) {
        self.insert(self.head, e, limit);
    }

    fn push_back(&mut self, e: Elem<'_>, limit: usize) {
        self.insert(self.tail, e, limit);
    }

    /// Removes the `k` elements in `from..to`, moving the smaller side.
    fn remove_bytes(&mut self, from: usize, to: usize, k: usize) {
        if from - self.head <= self.tail - to {
            self.buf.copy_within(self.head..from, self.head + (to - from));
            self.head += to - from;
        } else {
            self.buf.copy_within(to..self.tail, from);
            self.tail -= to - from;
        }
        self.count -= k;
    }

    /// Removes up to `k` elements from the front; returns how many.
    fn pop_front(&mut self, k: usize) -> usize {
        let k = k.min(self.count);
        let mut at = self.head;
        for _ in 0..k {
            at = self.get(at).map_or(self.tail, |(_, next)| next);
        }
        self.head = at;
        self.count -= k;
        k
    }

    /// Removes up to `k` elements from the back; returns how many.
    fn pop_back(&mut self, k: usize) -> usize {
        let k = k.min(self.count);
        let mut at = self.tail;
        for _ in 0..k {
            at = self.prev(at).unwrap_or(self.head);
        }
        self.tail = at;
        self.count -= k;
        k
    }

    /// Removes the elements equal to `v`, at most `limit`, walking from the head (or the tail):
    /// one pass that slides the kept elements over the removed ones.
    fn remove_matching(&mut self, v: &Elem<'_>, limit: usize, from_tail: bool) -> usize {
        let mut removed = 0;
        if !from_tail {
            let (mut r, mut w) = (self.head, self.head);
            while r < self.tail {
                let Some((e, next)) = self.get(r) else { break };
                if removed < limit && e.matches(v) {
                    removed += 1;
                } else {
                    if w != r {
                        self.buf.copy_within(r..next, w);
                    }
                    w += next - r;
                }
                r = next;
            }
            self.tail = w;
        } else {
            let (mut r, mut w) = (self.tail, self.tail);
            while r > self.head {
                let Some(start) = self.prev(r) else { break };
                let hit = removed < limit && self.get(start).is_some_and(|(e, _)| e.matches(v));
                if hit {
                    removed += 1;
                } else {
                    let n = r - start;
                    if w != r {
                        self.buf.copy_within(start..r, w - n);
                    }
                    w -= n;
                }
                r = start;
            }
            self.head = w;
        }
        self.count -= removed;
        removed
    }

    /// Splits off the elements from offset `at` on (of which there are `k`) into a new node.
    fn split_off(&mut self, at: usize, k: usize) -> Node {
        let right = self.buf.get(at..self.tail).unwrap_or_default();
        let node = Node { buf: right.into(), head: 0, tail: right.len(), count: k };
        self.tail = at;
        self.count -= k;
        node
    }

    /// A node holding one element.
    fn single(e: Elem<'_>) -> Node {
        Node::with_room(e, 0, false)
    }

    /// A node holding one element in a buffer of `cap` bytes (at least the element's size),
    /// the room before the element (`front`) or after it.
    fn with_room(e: Elem<'_>, cap: usize, front: bool) -> Node {
        let size = e.size();
        let cap = cap.max(size);
        let at = if front { cap - size } else { 0 };
        let mut n =
            Node { buf: vec![0u8; cap].into_boxed_slice(), head: at, tail: at + size, count: 0 };
        if let Some(d) = n.buf.get_mut(at..at + size) {
            e.write(d);
        }
        n.count = 1;
        n
    }
}

/// The large form's state.
#[derive(Clone, Debug, Default)]
struct Quick {
    nodes: VecDeque<Node>,
    len: usize,
    /// Sum of the nodes' buffer sizes.
    bufs: usize,
}

#[derive(Clone, Debug)]
enum Repr {
    /// One node: Redis's `listpack` encoding.
    Small(Node),
    /// Redis's `quicklist`.
    Quick(Box<Quick>),
}

/// Which end of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum End {
    Head,
    Tail,
}

/// A list value. See the [module docs](self).
#[derive(Clone, Debug)]
pub(crate) struct List {
    repr: Repr,
}

impl Default for List {
    fn default() -> List {
        List { repr: Repr::Small(Node::default()) }
    }
}

/// A position: node number and byte offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Pos {
    node: usize,
    at: usize,
}

impl List {
    /// The name OBJECT ENCODING replies with.
    pub(crate) fn encoding(&self) -> &'static str {
        match self.repr {
            Repr::Small(_) => "listpack",
            Repr::Quick(_) => "quicklist",
        }
    }

    /// Bytes of memory held, O(1): the node buffers, and in the large form the deque of nodes
    /// and its box.
    pub(crate) fn cost(&self) -> usize {
        match &self.repr {
            Repr::Small(n) => n.cap(),
            Repr::Quick(q) => {
                q.bufs
                    + q.nodes.capacity() * std::mem::size_of::<Node>()
                    + std::mem::size_of::<Quick>()
            }
        }
    }

    /// Number of elements.
    pub(crate) fn len(&self) -> usize {
        match &self.repr {
            Repr::Small(n) => n.count,
            Repr::Quick(q) => q.len,
        }
    }

    #[inline]
    fn nodes(&self) -> usize {
        match &self.repr {
            Repr::Small(_) => 1,
            Repr::Quick(q) => q.nodes.len(),
        }
    }

    #[inline]
    fn node(&self, i: usize) -> Option<&Node> {
        match &self.repr {
            Repr::Small(n) => (i == 0).then_some(n),
            Repr::Quick(q) => q.nodes.get(i),
        }
    }

    /// Runs `f` on node `i`, then updates the totals and drops the node if it emptied (in the
    /// large form). Returns None if there is no node `i`.
    fn edit<R>(&mut self, i: usize, f: impl FnOnce(&mut Node) -> R) -> Option<R> {
        match &mut self.repr {
            Repr::Small(n) => (i == 0).then(|| {
                let used = n.used();
                let r = f(n);
                // Only removals give memory back: a push never shrinks what it just grew.
                if n.used() < used {
                    n.shrink(2);
                }
                r
            }),
            Repr::Quick(q) => {
                // The end nodes take the pushes and pops: they keep more room, so a run of
                // pops does not reallocate them at every halving.
                let ratio = if i == 0 || i + 1 == q.nodes.len() { 8 } else { 2 };
                let n = q.nodes.get_mut(i)?;
                let (cap, count, used) = (n.cap(), n.count, n.used());
                let r = f(n);
                if n.used() < used {
                    n.shrink(ratio);
                }
                q.bufs = q.bufs + n.cap() - cap;
                q.len = q.len + n.count - count;
                if n.count == 0 {
                    // An emptied node has already given its buffer back (`Node::shrink`).
                    q.nodes.remove(i);
                    if q.nodes.capacity() > 8 && q.nodes.len() * 4 < q.nodes.capacity() {
                        q.nodes.shrink_to(q.nodes.len() * 2);
                    }
                }
                Some(r)
            }
        }
    }

    /// Converts to the large form (no-op if already there).
    fn make_quick(&mut self) {
        if let Repr::Small(n) = &mut self.repr {
            let n = std::mem::take(n);
            let mut q = Quick { nodes: VecDeque::with_capacity(4), len: n.count, bufs: n.cap() };
            q.nodes.push_back(n);
            self.repr = Repr::Quick(Box::new(q));
        }
    }

    /// Adds `node` as node number `i` (converting to the large form).
    fn add_node(&mut self, i: usize, node: Node) {
        self.make_quick();
        if let Repr::Quick(q) = &mut self.repr {
            // A small list's node may be empty (a new list): never keep an empty node.
            if q.nodes.front().is_some_and(|n| n.count == 0) {
                q.nodes.pop_front();
            }
            q.len += node.count;
            q.bufs += node.cap();
            q.nodes.insert(i.min(q.nodes.len()), node);
        }
    }

    /// Pushes an element at one end.
    pub(crate) fn push(&mut self, end: End, e: Elem<'_>, fill: Fill) {
        let size = e.size();
        let i = match end {
            End::Head => 0,
            End::Tail => self.nodes().saturating_sub(1),
        };
        if self.node(i).is_some_and(|n| n.fits(size, fill)) {
            self.edit(i, |n| match end {
                End::Head => n.push_front(e, fill.bytes),
                End::Tail => n.push_back(e, fill.bytes),
            });
        } else {
            // A new end node of a large list will be filled by the next pushes: it gets its
            // whole size at once rather than growing (and reallocating) towards it.
            let cap = match fill.count {
                usize::MAX => fill.bytes,
                c => fill.bytes.min(size.saturating_mul(c)),
            };
            let (at, front) = if end == End::Head { (0, true) } else { (self.nodes(), false) };
            self.add_node(at, Node::with_room(e, cap, front));
        }
    }

    /// Pushes an argument at one end.
    #[inline]
    pub(crate) fn push_arg(&mut self, end: End, v: &[u8], fill: Fill) {
        self.push(end, Elem::of(v), fill);
    }

    /// The element at one end.
    pub(crate) fn peek(&self, end: End) -> Option<Elem<'_>> {
        match end {
            End::Head => {
                let n = self.node(0)?;
                n.get(n.head).map(|(e, _)| e)
            }
            End::Tail => {
                let n = self.node(self.nodes().checked_sub(1)?)?;
                n.get(n.prev(n.tail)?).map(|(e, _)| e)
            }
        }
    }

    /// Removes up to `k` elements from one end; returns how many.
    pub(crate) fn pop(&mut self, end: End, mut k: usize) -> usize {
        let mut done = 0;
        while k > 0 && self.len() > 0 {
            let i = match end {
                End::Head => 0,
                End::Tail => self.nodes() - 1,
            };
            let n = self
                .edit(i, |n| match end {
                    End::Head => n.pop_front(k),
                    End::Tail => n.pop_back(k),
                })
                .unwrap_or(0);
            if n == 0 {
                break;
            }
            done += n;
            k -= n;
        }
        done
    }

    /// The position of element `i`, walking from the nearer end.
    pub(crate) fn seek(&self, i: usize) -> Option<Pos> {
        let len = self.len();
        if i >= len {
            return None;
        }
        if i < len / 2 {
            let mut skip = i;
            for node in 0..self.nodes() {
                let n = self.node(node)?;
                if skip < n.count {
                    return Some(Pos { node, at: n.offset_of(skip)? });
                }
                skip -= n.count;
            }
        } else {
            let mut from_end = len - i;
            for node in (0..self.nodes()).rev() {
                let n = self.node(node)?;
                if from_end <= n.count {
                    return Some(Pos { node, at: n.offset_of(n.count - from_end)? });
                }
                from_end -= n.count;
            }
        }
        None
    }

    /// The element at `p`.
    pub(crate) fn at(&self, p: Pos) -> Option<Elem<'_>> {
        self.node(p.node)?.get(p.at).map(|(e, _)| e)
    }

    /// The element at index `i`.
    pub(crate) fn get(&self, i: usize) -> Option<Elem<'_>> {
        self.at(self.seek(i)?)
    }

    /// Elements from index `i` on, towards the tail.
    pub(crate) fn iter_from(&self, i: usize) -> Iter<'_> {
        match self.seek(i) {
            Some(p) => Iter { list: self, node: p.node, at: p.at },
            None => Iter { list: self, node: usize::MAX, at: 0 },
        }
    }

    /// Elements from index `i` back to the head.
    pub(crate) fn iter_rev_from(&self, i: usize) -> RevIter<'_> {
        let p = self.seek(i).and_then(|p| Some((p, self.node(p.node)?.get(p.at)?.1)));
        match p {
            Some((p, end)) => RevIter { list: self, node: p.node, end },
            None => RevIter { list: self, node: usize::MAX, end: 0 },
        }
    }

    /// Elements with their positions, from the head (or the tail).
    fn positions(&self, from_tail: bool) -> impl Iterator<Item = (Pos, Elem<'_>)> + '_ {
        let mut node = if from_tail { self.nodes().wrapping_sub(1) } else { 0 };
        let mut at = match self.node(node) {
            Some(n) if from_tail => n.tail,
            Some(n) => n.head,
            None => 0,
        };
        std::iter::from_fn(move || {
            loop {
                let n = self.node(node)?;
                if from_tail {
                    if let Some(start) = n.prev(at) {
                        at = start;
                        return Some((Pos { node, at: start }, n.get(start)?.0));
                    }
                    node = node.checked_sub(1)?;
                    at = self.node(node)?.tail;
                } else {
                    if at < n.tail {
                        let (e, next) = n.get(at)?;
                        let p = Pos { node, at };
                        at = next;
                        return Some((p, e));
                    }
                    node += 1;
                    at = self.node(node)?.head;
                }
            }
        })
    }

    /// The position of the first element equal to `pivot`.
    pub(crate) fn find(&self, pivot: &Elem<'_>) -> Option<Pos> {
        self.positions(false).find(|(_, e)| e.matches(pivot)).map(|(p, _)| p)
    }

    /// LPOS: calls `found` with the index of each match it reports and returns how many.
    /// `rank` < 0 walks from the tail (indexes still count from the head); `count` None stops
    /// at the first match, Some(0) takes all. The arithmetic is Redis 7.0's, wrapping included
    /// (RANK -9223372036854775808 acts as "every match from the tail").
    pub(crate) fn lpos(
        &self,
        v: &Elem<'_>,
        rank: i64,
        count: Option<i64>,
        maxlen: i64,
        mut found: impl FnMut(i64),
    ) -> usize {
        let from_tail = rank < 0;
        let rank = if from_tail { rank.wrapping_neg() } else { rank };
        let len = self.len() as i64;
        let (mut matches, mut index, mut hits) = (0i64, 0i64, 0usize);
        for (_, e) in self.positions(from_tail) {
            if maxlen != 0 && index >= maxlen {
                break;
            }
            if e.matches(v) {
                matches += 1;
                if matches >= rank {
                    found(if from_tail { len - index - 1 } else { index });
                    hits += 1;
                    let done = match count {
                        None => true,
                        Some(c) => c != 0 && matches.wrapping_sub(rank).wrapping_add(1) >= c,
                    };
                    if done {
                        break;
                    }
                }
            }
            index += 1;
        }
        hits
    }

    /// Inserts `e` before the element at `p` (or after it with `after`).
    pub(crate) fn insert(&mut self, p: Pos, after: bool, e: Elem<'_>, fill: Fill) {
        let Some(n) = self.node(p.node) else { return };
        let at = if after { n.get(p.at).map_or(n.tail, |(_, next)| next) } else { p.at };
        self.insert_at(p.node, at, e, fill);
    }

    /// Inserts `e` at byte offset `at` of node `i`, splitting the node when it is full.
    fn insert_at(&mut self, i: usize, at: usize, e: Elem<'_>, fill: Fill) {
        let size = e.size();
        let Some(n) = self.node(i) else { return };
        if n.fits(size, fill) {
            self.edit(i, |n| n.insert(at, e, fill.bytes));
            return;
        }
        let fits = |l: &List, j: usize| l.node(j).is_some_and(|n| n.fits(size, fill));
        if at == n.head {
            if i > 0 && fits(self, i - 1) {
                self.edit(i - 1, |p| p.push_back(e, fill.bytes));
            } else {
                self.add_node(i, Node::single(e));
            }
            return;
        }
        if at >= n.tail {
            if fits(self, i + 1) {
                self.edit(i + 1, |p| p.push_front(e, fill.bytes));
            } else {
                self.add_node(i + 1, Node::single(e));
            }
            return;
        }
        // In the middle of a full node: split it there, then put the element at the end of
        // the left half, the start of the right half or in a node of its own.
        let mut k = 0;
        let mut o = n.tail;
        while o > at {
            let Some(s) = n.prev(o) else { break };
            o = s;
            k += 1;
        }
        self.make_quick();
        let Some(right) = self.edit(i, |n| n.split_off(at, k)) else { return };
        self.add_node(i + 1, right);
        if fits(self, i) {
            self.edit(i, |l| l.push_back(e, fill.bytes));
        } else if fits(self, i + 1) {
            self.edit(i + 1, |r| r.push_front(e, fill.bytes));
        } else {
            self.add_node(i + 1, Node::single(e));
        }
    }

    /// Replaces element number `i` with `e` (LSET); false if there is none.
    pub(crate) fn set(&mut self, i: usize, e: Elem<'_>, fill: Fill) -> bool {
        let Some(p) = self.seek(i) else { return false };
        let Some(n) = self.node(p.node) else { return false };
        let Some((_, next)) = n.get(p.at) else { return false };
        let old = next - p.at;
        let size = e.size();
        if n.count == 1 || n.used() - old + size <= fill.bytes {
            self.edit(p.node, |n| n.replace(p.at, next, e, fill.bytes));
            return true;
        }
        // Too big for its node: take the old element out, then insert at its index.
        self.edit(p.node, |n| n.remove_bytes(p.at, next, 1));
        match self.seek(i) {
            Some(q) => self.insert(q, false, e, fill),
            None => self.push(End::Tail, e, fill),
        }
        true
    }

    /// Removes the elements equal to `v`: `count` > 0 the first `count` from the head, < 0
    /// from the tail, 0 all. Returns how many.
    pub(crate) fn remove(&mut self, v: &Elem<'_>, count: i64) -> usize {
        let from_tail = count < 0;
        let mut limit = if count == 0 { usize::MAX } else { count.unsigned_abs() as usize };
        let mut removed = 0;
        if from_tail {
            let mut i = self.nodes();
            while i > 0 && limit > 0 {
                i -= 1;
                let k = self.edit(i, |n| n.remove_matching(v, limit, true)).unwrap_or(0);
                removed += k;
                limit -= k;
            }
        } else {
            let mut i = 0;
            while i < self.nodes() && limit > 0 {
                let before = self.nodes();
                let k = self.edit(i, |n| n.remove_matching(v, limit, false)).unwrap_or(0);
                removed += k;
                limit -= k;
                if self.nodes() == before {
                    i += 1;
                }
            }
        }
        removed
    }

    /// Keeps the `keep` elements from index `start` on (LTRIM).
    pub(crate) fn trim(&mut self, start: usize, keep: usize) {
        let len = self.len();
        self.pop(End::Head, start);
        self.pop(End::Tail, len.saturating_sub(start).saturating_sub(keep));
    }
}

/// Elements towards the tail.
#[derive(Clone, Debug)]
pub(crate) struct Iter<'a> {
    list: &'a List,
    node: usize,
    at: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = Elem<'a>;

    #[inline]
    fn next(&mut self) -> Option<Elem<'a>> {
        loop {
            let n = self.list.node(self.node)?;
            if self.at < n.tail {
                let (e, next) = n.get(self.at)?;
                self.at = next;
                return Some(e);
            }
            self.node += 1;
            self.at = self.list.node(self.node)?.head;
        }
    }
}

/// Elements towards the head.
#[derive(Clone, Debug)]
pub(crate) struct RevIter<'a> {
    list: &'a List,
    node: usize,
    end: usize,
}

impl<'a> Iterator for RevIter<'a> {
    type Item = Elem<'a>;

    #[inline]
    fn next(&mut self) -> Option<Elem<'a>> {
        loop {
            let n = self.list.node(self.node)?;
            if let Some(start) = n.prev(self.end) {
                self.end = start;
                return n.get(start).map(|(e, _)| e);
            }
            self.node = self.node.checked_sub(1)?;
            self.end = self.list.node(self.node)?.tail;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n.max(1)
        }
    }

    fn owned(e: Elem<'_>) -> Vec<u8> {
        match e {
            Elem::Str(s) => s.to_vec(),
            Elem::Int(i) => i.to_string().into_bytes(),
        }
    }

    /// Checks the list against the model and its own bookkeeping.
    fn check(l: &List, m: &VecDeque<Vec<u8>>) {
        assert_eq!(l.len(), m.len());
        let fwd: Vec<Vec<u8>> = l.iter_from(0).map(owned).collect();
        assert_eq!(fwd, m.iter().cloned().collect::<Vec<_>>());
        if !m.is_empty() {
            let rev: Vec<Vec<u8>> = l.iter_rev_from(m.len() - 1).map(owned).collect();
            assert_eq!(rev, m.iter().rev().cloned().collect::<Vec<_>>());
        }
        let (mut len, mut bufs) = (0, 0);
        for i in 0..l.nodes() {
            let n = l.node(i).unwrap();
            let mut at = n.head;
            let mut k = 0;
            while at < n.tail {
                at = n.get(at).unwrap().1;
                k += 1;
            }
            assert_eq!(at, n.tail);
            assert_eq!(k, n.count);
            assert!(n.tail <= n.cap());
            if let Repr::Quick(_) = l.repr {
                assert!(n.count > 0, "empty node kept");
            }
            len += n.count;
            bufs += n.cap();
        }
        assert_eq!(len, m.len());
        match &l.repr {
            Repr::Small(n) => assert_eq!(l.cost(), n.cap()),
            Repr::Quick(q) => {
                assert_eq!(q.bufs, bufs);
                assert_eq!(q.len, len);
            }
        }
    }

    fn value(r: &mut Rng) -> Vec<u8> {
        match r.below(10) {
            0 => (r.below(300) as i64 - 150).to_string().into_bytes(),
            1 => (r.next() as i64).to_string().into_bytes(),
            2 => vec![b'x'; r.below(400) as usize],
            3 => vec![b'y'; 60_000 + r.below(10_000) as usize],
            4 => b"007".to_vec(),
            5 => Vec::new(),
            _ => format!("v{}", r.below(20)).into_bytes(),
        }
    }

    fn run_model(fill: Fill, seed: u64, steps: usize) {
        let mut r = Rng(seed);
        let mut l = List::default();
        let mut m: VecDeque<Vec<u8>> = VecDeque::new();
        for _ in 0..steps {
            let v = value(&mut r);
            let len = m.len();
            match r.below(12) {
                0 | 1 => {
                    l.push_arg(End::Head, &v, fill);
                    m.push_front(v);
                }
                2 | 3 => {
                    l.push_arg(End::Tail, &v, fill);
                    m.push_back(v);
                }
                4 => {
                    let k = r.below(4) as usize;
                    assert_eq!(l.pop(End::Head, k), k.min(len));
                    m.drain(..k.min(len));
                }
                5 => {
                    let k = r.below(4) as usize;
                    assert_eq!(l.pop(End::Tail, k), k.min(len));
                    m.truncate(len - k.min(len));
                }
                6 if len > 0 => {
                    let i = r.below(len as u64) as usize;
                    assert!(l.set(i, Elem::of(&v), fill));
                    m[i] = v;
                }
                7 if len > 0 => {
                    let i = r.below(len as u64) as usize;
                    let after = r.below(2) == 0;
                    let pivot = m[i].clone();
                    let p = l.find(&Elem::of(&pivot)).unwrap();
                    let j = m.iter().position(|x| *x == pivot).unwrap();
                    l.insert(p, after, Elem::of(&v), fill);
                    m.insert(j + usize::from(after), v);
                }
                8 if len > 0 => {
                    let needle = m[r.below(len as u64) as usize].clone();
                    let count = r.below(5) as i64 - 2;
                    let got = l.remove(&Elem::of(&needle), count);
                    let mut want = 0;
                    let limit = if count == 0 { usize::MAX } else { count.unsigned_abs() as usize };
                    if count >= 0 {
                        let mut kept = VecDeque::new();
                        for x in m.drain(..) {
                            if want < limit && x == needle {
                                want += 1;
                            } else {
                                kept.push_back(x);
                            }
                        }
                        m = kept;
                    } else {
                        let mut kept = VecDeque::new();
                        for x in m.drain(..).rev() {
                            if want < limit && x == needle {
                                want += 1;
                            } else {
                                kept.push_front(x);
                            }
                        }
                        m = kept;
                    }
                    assert_eq!(got, want);
                }
                9 if len > 0 => {
                    let start = r.below(len as u64 / 4 + 1) as usize;
                    let keep = r.below(len as u64) as usize;
                    let keep = keep.min(len - start);
                    l.trim(start, keep);
                    m = m.into_iter().skip(start).take(keep).collect();
                }
                10 if len > 0 => {
                    let i = r.below(len as u64) as usize;
                    assert_eq!(owned(l.get(i).unwrap()), m[i]);
                }
                _ => {
                    for _ in 0..r.below(40) {
                        let v = value(&mut r);
                        l.push_arg(End::Tail, &v, fill);
                        m.push_back(v);
                    }
                }
            }
            check(&l, &m);
        }
    }

    #[test]
    fn edits_match_a_deque_model_for_every_fill() {
        for (k, size) in [-2i64, -1, -5, 1, 2, 5, 0, 128].into_iter().enumerate() {
            run_model(Fill::new(size), 0x9E37_79B9_7F4A_7C15 ^ k as u64, 1500);
        }
    }

    #[test]
    fn elements_round_trip_in_every_format() {
        let cases: Vec<Vec<u8>> = [
            "0",
            "111",
            "112",
            "-1",
            "127",
            "128",
            "-128",
            "-129",
            "32767",
            "32768",
            "-32769",
            "2147483647",
            "2147483648",
            "-2147483649",
            "9223372036854775807",
            "-9223372036854775808",
            "9223372036854775808",
            "007",
            "-0",
            "+1",
            "1.5",
            "",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .chain([vec![7u8; 127], vec![7u8; 128], vec![7u8; 65535], vec![7u8; 65536]])
        .collect();
        let mut l = List::default();
        for c in &cases {
            l.push_arg(End::Tail, c, Fill::new(-5));
        }
        let got: Vec<Vec<u8>> = l.iter_from(0).map(owned).collect();
        assert_eq!(got, cases);
        let back: Vec<Vec<u8>> = l.iter_rev_from(cases.len() - 1).map(owned).collect();
        assert_eq!(back, cases.iter().rev().cloned().collect::<Vec<_>>());
        assert_eq!(Elem::of(b"1").size(), 1);
        assert_eq!(Elem::of(b"-9223372036854775808").size(), 10);
        assert_eq!(Elem::of(b"007"), Elem::Str(b"007"));
    }

    #[test]
    fn converts_to_quicklist_past_one_node_and_never_back() {
        let fill = Fill::new(-2);
        let mut l = List::default();
        assert_eq!((l.encoding(), l.cost()), ("listpack", 0));
        while l.encoding() == "listpack" {
            l.push_arg(End::Tail, b"element-of-some-length", fill);
        }
        // 8 KiB of 24-byte elements.
        assert_eq!(l.len(), 8192 / 24 + 1);
        l.pop(End::Tail, l.len() - 1);
        assert_eq!((l.encoding(), l.len()), ("quicklist", 1));
        let mut small = List::default();
        for _ in 0..5 {
            small.push_arg(End::Head, b"a", Fill::new(5));
        }
        assert_eq!(small.encoding(), "listpack");
        small.push_arg(End::Head, b"a", Fill::new(5));
        assert_eq!(small.encoding(), "quicklist");
        let mut big = List::default();
        big.push_arg(End::Tail, &[b'z'; 9000], fill);
        assert_eq!(big.encoding(), "listpack");
        big.push_arg(End::Tail, b"z", fill);
        assert_eq!(big.encoding(), "quicklist");
    }

    #[test]
    fn memory_per_element_stays_near_the_packed_size() {
        let fill = Fill::default();
        let mut l = List::default();
        for i in 0..100_000 {
            l.push_arg(if i % 2 == 0 { End::Head } else { End::Tail }, b"xxx", fill);
        }
        // 5 bytes an element packed; Redis's quicklist costs about the same (listpack entries
        // of 5 bytes, 8 KiB nodes in jemalloc size classes).
        let per = l.cost() as f64 / l.len() as f64;
        assert!(per < 5.3, "{per} bytes an element");
        let mut ints = List::default();
        for i in 0..100_000 {
            ints.push_arg(End::Tail, (i % 100).to_string().as_bytes(), fill);
        }
        let per = ints.cost() as f64 / ints.len() as f64;
        assert!(per < 1.1, "{per} bytes an element");
        // Popping gives memory back.
        l.pop(End::Head, 99_990);
        assert!(l.cost() < 1000, "{}", l.cost());
    }

    #[test]
    fn lpos_follows_redis_arithmetic() {
        let mut l = List::default();
        for v in ["a", "b", "a", "c", "a"] {
            l.push_arg(End::Tail, v.as_bytes(), Fill::default());
        }
        let a = Elem::of(b"a");
        let collect = |rank, count, maxlen| {
            let mut v = Vec::new();
            l.lpos(&a, rank, count, maxlen, |i| v.push(i));
            v
        };
        assert_eq!(collect(1, None, 0), vec![0]);
        assert_eq!(collect(2, None, 0), vec![2]);
        assert_eq!(collect(-1, None, 0), vec![4]);
        assert_eq!(collect(1, Some(0), 0), vec![0, 2, 4]);
        assert_eq!(collect(-2, Some(0), 0), vec![2, 0]);
        assert_eq!(collect(1, Some(2), 0), vec![0, 2]);
        assert_eq!(collect(1, Some(0), 3), vec![0, 2]);
        assert_eq!(collect(i64::MIN, Some(1), 0), vec![4, 2, 0]);
        assert_eq!(collect(i64::MIN, None, 0), vec![4]);
        assert_eq!(collect(9, None, 0), Vec::<i64>::new());
    }

    #[test]
    fn list_value_stays_small() {
        assert!(std::mem::size_of::<List>() <= 40, "{}", std::mem::size_of::<List>());
    }
}
