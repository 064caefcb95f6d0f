//! The set type, in Redis's three encodings.
//!
//! - **intset**: every member is a canonical i64 string; a sorted array of integers of the
//!   narrowest width that holds them all (2, 4 or 8 bytes, as Redis's intset), so members come
//!   out sorted. Up to `set-max-intset-entries`.
//! - **listpack**: a packed run of the members in insertion order ([`Packed`], as small
//!   hashes), up to `set-max-listpack-entries` members of at most `set-max-listpack-value` bytes
//!   (Redis 7.2's small-set encoding; 7.0 went straight to a hash table).
//! - **hashtable**: the members in a dense vector, and a table of their positions by hash
//!   ([`Dense`], which the large hash shares: 6-byte slots that carry hash bits, so a lookup
//!   reads one slot run and then the member).
//!   Members up to 22 bytes live inside their 24-byte slot with no allocation of their own
//!   (Redis spends a 24-byte dictEntry, an sds allocation and a bucket pointer on each). The
//!   dense vector makes a random member O(1) (SPOP, SRANDMEMBER) and gives SSCAN a cursor that
//!   survives growth and removals (see [`Set::scan`]).
//!
//! A set converts to a larger encoding past its limits and never back, as in Redis.

use super::EncodingLimits;
use super::dense::{Dense, Keyed};
use super::packed::Packed;
use super::positions::Prefetch;
use crate::entry::size_class;

/// One member as the set gives it out: intsets hold integers, not strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Elem<'a> {
    Int(i64),
    Bytes(&'a [u8]),
}

impl Elem<'_> {
    /// Runs `f` on the member's string form (integers are formatted on the stack).
    #[inline]
    pub(crate) fn with<R>(self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            Elem::Int(i) => f(itoa::Buffer::new().format(i).as_bytes()),
            Elem::Bytes(b) => f(b),
        }
    }

    /// The member as an integer if it is a canonical one (what intsets can hold).
    #[inline]
    pub(crate) fn as_int(self) -> Option<i64> {
        match self {
            Elem::Int(i) => Some(i),
            Elem::Bytes(b) => karst_resp::num::parse_i64(b),
        }
    }

    /// Length of the string form.
    pub(crate) fn str_len(self) -> usize {
        match self {
            Elem::Int(i) => itoa::Buffer::new().format(i).len(),
            Elem::Bytes(b) => b.len(),
        }
    }
}

// --- intset -----------------------------------------------------------------------------------

/// Sorted distinct integers, each stored little-endian in `width` bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
struct IntSet {
    /// INVARIANT: 2, 4 or 8; every value fits in it; `buf.len()` is a multiple of it.
    width: usize,
    buf: Vec<u8>,
}

impl Default for IntSet {
    fn default() -> IntSet {
        IntSet { width: 2, buf: Vec::new() }
    }
}

fn width_of(v: i64) -> usize {
    if i64::from(v as i16) == v {
        2
    } else if i64::from(v as i32) == v {
        4
    } else {
        8
    }
}

impl IntSet {
    #[inline]
    fn len(&self) -> usize {
        self.buf.len() / self.width
    }

    #[inline]
    fn get(&self, i: usize) -> Option<i64> {
        let w = self.width;
        let s = self.buf.get(i * w..i * w + w)?;
        Some(match *s {
            [a, b] => i64::from(i16::from_le_bytes([a, b])),
            [a, b, c, d] => i64::from(i32::from_le_bytes([a, b, c, d])),
            [a, b, c, d, e, f, g, h] => i64::from_le_bytes([a, b, c, d, e, f, g, h]),
            _ => return None,
        })
    }

    /// Ok(position) if present, else Err(insertion point).
    fn search(&self, v: i64) -> Result<usize, usize> {
        if width_of(v) > self.width {
            // Out of the current width's range: below or above everything.
            return Err(if v < 0 { 0 } else { self.len() });
        }
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.get(mid) {
                Some(x) if x < v => lo = mid + 1,
                Some(x) if x > v => hi = mid,
                Some(_) => return Ok(mid),
                None => return Err(lo),
            }
        }
        Err(lo)
    }

    fn contains(&self, v: i64) -> bool {
        self.search(v).is_ok()
    }

    fn encode(v: i64, w: usize) -> [u8; 8] {
        let b = v.to_le_bytes();
        // Little-endian: the low `w` bytes are the narrow value (it fits, by the invariant).
        let mut out = [0u8; 8];
        out[..w].copy_from_slice(&b[..w]);
        out
    }

    /// Grows capacity to fill the allocator's size class for `len + 1` values (amortizes the
    /// reallocations without the doubling slack a Vec would keep).
    fn reserve_one(&mut self) {
        let need = self.buf.len() + self.width;
        if need > self.buf.capacity() {
            let target = size_class(need).max(need);
            self.buf.reserve_exact(target - self.buf.len());
        }
    }

    fn upgrade(&mut self, w: usize) {
        let n = self.len();
        let mut buf = Vec::with_capacity(size_class((n + 1) * w).max((n + 1) * w));
        for i in 0..n {
            if let Some(v) = self.get(i) {
                buf.extend_from_slice(&Self::encode(v, w)[..w]);
            }
        }
        self.width = w;
        self.buf = buf;
    }

    fn insert(&mut self, v: i64) -> bool {
        let w = width_of(v);
        if w > self.width {
            self.upgrade(w);
        }
        match self.search(v) {
            Ok(_) => false,
            Err(at) => {
                self.reserve_one();
                let w = self.width;
                let enc = Self::encode(v, w);
                let at = at * w;
                self.buf.splice(at..at, enc[..w].iter().copied());
                true
            }
        }
    }

    fn remove_at(&mut self, i: usize) {
        let w = self.width;
        if i * w + w <= self.buf.len() {
            self.buf.drain(i * w..i * w + w);
        }
    }

    fn remove(&mut self, v: i64) -> bool {
        match self.search(v) {
            Ok(i) => {
                self.remove_at(i);
                true
            }
            Err(_) => false,
        }
    }

    fn cost(&self) -> usize {
        if self.buf.capacity() == 0 { 0 } else { size_class(self.buf.capacity()) }
    }

    fn shrink(&mut self) {
        if self.buf.capacity() > size_class(self.buf.len()).max(16) * 2 {
            self.buf.shrink_to(size_class(self.buf.len()));
        }
    }
}

// --- hash table -------------------------------------------------------------------------------

/// Longest member kept inside its slot.
const INLINE: usize = 22;

/// A member of a large set (or of a large sorted set's arena): inline up to 22 bytes, else one
/// boxed allocation.
#[derive(Clone, Debug)]
pub(super) enum Member {
    Inline { len: u8, buf: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl std::ops::Deref for Member {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.bytes()
    }
}

impl Member {
    pub(super) fn new(v: &[u8]) -> Member {
        if v.len() <= INLINE {
            let mut buf = [0u8; INLINE];
            buf[..v.len()].copy_from_slice(v);
            Member::Inline { len: v.len() as u8, buf }
        } else {
            Member::Heap(v.into())
        }
    }

    #[inline]
    pub(super) fn bytes(&self) -> &[u8] {
        match self {
            Member::Inline { len, buf } => buf.get(..*len as usize).unwrap_or_default(),
            Member::Heap(b) => b,
        }
    }

    /// Bytes allocated for the member outside its slot.
    #[inline]
    pub(super) fn heap(&self) -> usize {
        match self {
            Member::Inline { .. } => 0,
            Member::Heap(b) => size_class(b.len()),
        }
    }
}

/// A member as the large encoding keeps it: found by its bytes.
impl Keyed for Member {
    #[inline]
    fn key(&self) -> &[u8] {
        self.bytes()
    }

    #[inline]
    fn heap(&self) -> usize {
        Member::heap(self)
    }

    #[inline]
    fn behind(&self) -> Option<*const u8> {
        match self {
            Member::Heap(b) => Some(b.as_ptr()),
            Member::Inline { .. } => None,
        }
    }
}

/// The large encoding: members in a dense vector, a table of their positions.
type Table = Dense<Member>;

/// Adds `v` to a large set; false if it was there.
fn table_insert(t: &mut Table, v: &[u8]) -> bool {
    let h = t.hash(v);
    t.position_hashed(h, v).is_none() && t.push(h, Member::new(v))
}

// --- the set ----------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Repr {
    Ints(IntSet),
    Pack(Packed),
    /// Boxed: keeps `Obj` (and with it every small collection's slot) small.
    Table(Box<Table>),
}

/// A set value. See the [module docs](self).
#[derive(Clone, Debug)]
pub(crate) struct Set {
    repr: Repr,
}

impl Default for Set {
    fn default() -> Set {
        Set { repr: Repr::Ints(IntSet::default()) }
    }
}

/// Where an SSCAN call continues.
pub(crate) struct ScanNext(pub(crate) u64);

impl Set {
    /// The name OBJECT ENCODING replies with.
    pub(crate) fn encoding(&self) -> &'static str {
        match self.repr {
            Repr::Ints(_) => "intset",
            Repr::Pack(_) => "listpack",
            Repr::Table(_) => "hashtable",
        }
    }

    /// Bytes of heap memory held, O(1).
    pub(crate) fn cost(&self) -> usize {
        match &self.repr {
            Repr::Ints(s) => s.cost(),
            Repr::Pack(p) => p.cost(),
            Repr::Table(t) => t.cost(),
        }
    }

    /// One stage of loading what a lookup of member `v` will read, for a large set (a small one
    /// is a single allocation, read whole by any lookup).
    pub(crate) fn prefetch(&self, v: &[u8], stage: Prefetch) {
        if let Repr::Table(t) = &self.repr {
            t.prefetch(v, stage);
        }
    }

    /// Number of members.
    pub(crate) fn len(&self) -> usize {
        match &self.repr {
            Repr::Ints(s) => s.len(),
            Repr::Pack(p) => p.len(),
            Repr::Table(t) => t.len(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// An empty set in the encoding Redis's `setTypeCreate` picks for a first member `first`
    /// when about `hint` members are coming (SADD passes its argument count).
    pub(crate) fn with_hint(first: Elem<'_>, hint: usize, lim: &EncodingLimits) -> Set {
        let repr = if first.as_int().is_some() && hint <= lim.set_max_intset_entries {
            Repr::Ints(IntSet::default())
        } else if hint <= lim.set_max_listpack_entries {
            Repr::Pack(Packed::new())
        } else {
            Repr::Table(Box::new(Table::with_capacity(hint.min(1 << 16))))
        };
        Set { repr }
    }

    /// True if `v` is a member.
    pub(crate) fn contains(&self, v: &[u8]) -> bool {
        match &self.repr {
            Repr::Ints(s) => karst_resp::num::parse_i64(v).is_some_and(|i| s.contains(i)),
            Repr::Pack(p) => p.iter().any(|m| m == v),
            Repr::Table(t) => t.position(v).is_some(),
        }
    }

    /// True if the member `e` (from another set) is a member.
    pub(crate) fn contains_elem(&self, e: Elem<'_>) -> bool {
        match (&self.repr, e) {
            (Repr::Ints(s), Elem::Int(i)) => s.contains(i),
            (_, Elem::Bytes(b)) => self.contains(b),
            (_, e) => e.with(|b| self.contains(b)),
        }
    }

    /// Converts the compact encodings to the hash table (room for `extra` more members).
    fn convert_to_table(&mut self, extra: usize) {
        let mut t = Table::with_capacity(self.len() + extra);
        match &self.repr {
            Repr::Ints(s) => {
                for i in 0..s.len() {
                    if let Some(v) = s.get(i) {
                        table_insert(&mut t, itoa::Buffer::new().format(v).as_bytes());
                    }
                }
            }
            Repr::Pack(p) => {
                for m in p.iter() {
                    table_insert(&mut t, m);
                }
            }
            Repr::Table(_) => return,
        }
        self.repr = Repr::Table(Box::new(t));
    }

    fn ints_to_pack(&mut self) {
        let Repr::Ints(s) = &self.repr else { return };
        let mut p = Packed::new();
        for i in 0..s.len() {
            if let Some(v) = s.get(i) {
                p.push_back(itoa::Buffer::new().format(v).as_bytes());
            }
        }
        self.repr = Repr::Pack(p);
    }

    /// Adds `v`; false if it was already a member. Converts the encoding past `lim`.
    pub(crate) fn add(&mut self, v: &[u8], lim: &EncodingLimits) -> bool {
        self.add_elem(Elem::Bytes(v), lim)
    }

    /// Adds a member taken from another set (integers stay integers in an intset).
    pub(crate) fn add_elem(&mut self, e: Elem<'_>, lim: &EncodingLimits) -> bool {
        if let Repr::Ints(s) = &mut self.repr {
            if let Some(i) = e.as_int() {
                if s.contains(i) {
                    return false;
                }
                if s.len() < lim.set_max_intset_entries {
                    return s.insert(i);
                }
                if s.len() == 0 {
                    // No intset allowed at all: a new set as Redis creates it.
                    *self = Set::with_hint(e, 1, lim);
                } else {
                    self.convert_to_table(1);
                }
            } else {
                let n = s.len();
                let longest = (0..n).filter_map(|i| s.get(i)).map(|v| Elem::Int(v).str_len());
                let fits = e.str_len() <= lim.set_max_listpack_value
                    && longest.max().unwrap_or(0) <= lim.set_max_listpack_value;
                if n < lim.set_max_listpack_entries && fits {
                    self.ints_to_pack();
                } else {
                    self.convert_to_table(1);
                }
            }
        }
        if let Repr::Pack(p) = &mut self.repr {
            let found = e.with(|b| p.iter().any(|m| m == b));
            if found {
                return false;
            }
            if p.len() < lim.set_max_listpack_entries && e.str_len() <= lim.set_max_listpack_value {
                e.with(|b| p.push_back(b));
                return true;
            }
            self.convert_to_table(1);
        }
        match &mut self.repr {
            Repr::Table(t) => e.with(|b| table_insert(t, b)),
            _ => false,
        }
    }

    /// Removes `v`; false if it was not a member.
    pub(crate) fn remove(&mut self, v: &[u8]) -> bool {
        let done = match &mut self.repr {
            Repr::Ints(s) => karst_resp::num::parse_i64(v).is_some_and(|i| s.remove(i)),
            Repr::Pack(p) => {
                let mut at = p.start();
                let mut found = false;
                while let Some((m, next)) = p.get(at) {
                    if m == v {
                        p.remove(at);
                        found = true;
                        break;
                    }
                    at = next;
                }
                found
            }
            Repr::Table(t) => t.remove(v),
        };
        if done {
            self.shrink();
        }
        done
    }

    fn shrink(&mut self) {
        match &mut self.repr {
            Repr::Ints(s) => s.shrink(),
            Repr::Pack(p) => p.trim(),
            Repr::Table(t) => t.shrink(),
        }
    }

    /// The member at position `i` (O(1), O(n) for a listpack).
    pub(crate) fn nth(&self, i: usize) -> Option<Elem<'_>> {
        match &self.repr {
            Repr::Ints(s) => s.get(i).map(Elem::Int),
            Repr::Pack(p) => p.offset_of(i).and_then(|at| p.get(at)).map(|(m, _)| Elem::Bytes(m)),
            Repr::Table(t) => t.items().get(i).map(|m| Elem::Bytes(m.bytes())),
        }
    }

    /// Removes the member at position `i`.
    pub(crate) fn remove_nth(&mut self, i: usize) {
        match &mut self.repr {
            Repr::Ints(s) => s.remove_at(i),
            Repr::Pack(p) => {
                if let Some(at) = p.offset_of(i) {
                    p.remove(at);
                }
            }
            Repr::Table(t) => {
                t.remove_at(i);
            }
        }
    }

    /// Keeps only the members `keep` accepts (the order of those kept may change).
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(Elem<'_>) -> bool) {
        match &mut self.repr {
            Repr::Ints(s) => {
                let w = s.width;
                let mut buf = Vec::with_capacity(s.buf.len());
                for i in 0..s.len() {
                    if let Some(v) = s.get(i).filter(|&v| keep(Elem::Int(v))) {
                        buf.extend_from_slice(&IntSet::encode(v, w)[..w]);
                    }
                }
                s.buf = buf;
            }
            Repr::Pack(p) => {
                let mut at = p.start();
                while let Some((m, next)) = p.get(at) {
                    at = if keep(Elem::Bytes(m)) { next } else { p.remove(at) };
                }
            }
            Repr::Table(t) => {
                // Downwards: a removal moves the last member, already kept, into the hole.
                for i in (0..t.len()).rev() {
                    if !t.items().get(i).is_some_and(|m| keep(Elem::Bytes(m.bytes()))) {
                        t.remove_at(i);
                    }
                }
            }
        }
        self.shrink();
    }

    /// Gives memory back after a run of removals (SPOP with a count).
    pub(crate) fn compact(&mut self) {
        self.shrink();
    }

    /// Every member, in the encoding's order (sorted for an intset).
    pub(crate) fn iter(&self) -> impl Iterator<Item = Elem<'_>> + '_ {
        let (ints, pack, table) = match &self.repr {
            Repr::Ints(s) => (Some(s), None, None),
            Repr::Pack(p) => (None, Some(p), None),
            Repr::Table(t) => (None, None, Some(t)),
        };
        let ints =
            ints.into_iter().flat_map(|s| (0..s.len()).filter_map(|i| s.get(i)).map(Elem::Int));
        let pack = pack.into_iter().flat_map(|p| p.iter().map(Elem::Bytes));
        let table =
            table.into_iter().flat_map(|t| t.items().iter().map(|m| Elem::Bytes(m.bytes())));
        ints.chain(pack).chain(table)
    }

    /// Calls `f` on the members at the sorted positions `idx` (one walk for a listpack).
    pub(crate) fn for_positions(&self, idx: &[usize], mut f: impl FnMut(Elem<'_>)) {
        if let Repr::Pack(p) = &self.repr {
            let (mut at, mut i) = (p.start(), 0);
            let mut want = idx.iter().peekable();
            while let Some((m, next)) = p.get(at) {
                while want.next_if(|&&w| w == i).is_some() {
                    f(Elem::Bytes(m));
                }
                at = next;
                i += 1;
            }
            return;
        }
        for &i in idx {
            if let Some(e) = self.nth(i) {
                f(e);
            }
        }
    }

    /// Byte offsets of a listpack's members (None for the other encodings, which index in
    /// O(1)); lets a long run of random picks index a listpack in O(1) too.
    pub(crate) fn offsets(&self) -> Option<Vec<usize>> {
        let Repr::Pack(p) = &self.repr else { return None };
        let mut v = Vec::with_capacity(p.len());
        let mut at = p.start();
        while let Some((_, next)) = p.get(at) {
            v.push(at);
            at = next;
        }
        Some(v)
    }

    /// The member at `i` using `offsets` from [`Set::offsets`] for a listpack.
    pub(crate) fn nth_with(&self, offsets: Option<&[usize]>, i: usize) -> Option<Elem<'_>> {
        match (&self.repr, offsets) {
            (Repr::Pack(p), Some(o)) => {
                o.get(i).and_then(|&at| p.get(at)).map(|(m, _)| Elem::Bytes(m))
            }
            _ => self.nth(i),
        }
    }

    /// One SSCAN step: up to `count` members of the hash table from `cursor` down, each given
    /// to `f` (see [`Dense::scan`] for what the cursor guarantees). A compact set gives every
    /// member and cursor 0.
    pub(crate) fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(Elem<'_>)) -> ScanNext {
        let Repr::Table(t) = &self.repr else {
            self.iter().for_each(f);
            return ScanNext(0);
        };
        let (members, next) = t.scan(cursor, count);
        members.for_each(|m| f(Elem::Bytes(m.bytes())));
        ScanNext(next)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn lim() -> EncodingLimits {
        EncodingLimits::default()
    }

    fn members(s: &Set) -> BTreeSet<Vec<u8>> {
        s.iter().map(|e| e.with(|b| b.to_vec())).collect()
    }

    #[test]
    fn member_slot_is_24_bytes_and_the_set_small() {
        assert_eq!(std::mem::size_of::<Member>(), 24);
        assert!(std::mem::size_of::<Set>() <= 40, "{}", std::mem::size_of::<Set>());
    }

    #[test]
    fn intset_widths_sort_and_upgrade() {
        let mut s = Set::default();
        for v in [5i64, -3, 70000, 1, i64::MIN, i64::MAX, 5, 300] {
            s.add(itoa::Buffer::new().format(v).as_bytes(), &lim());
        }
        assert_eq!(s.encoding(), "intset");
        let got: Vec<Elem<'_>> = s.iter().collect();
        let want: Vec<Elem<'_>> =
            [i64::MIN, -3, 1, 5, 300, 70000, i64::MAX].into_iter().map(Elem::Int).collect();
        assert_eq!(got, want);
        assert!(s.contains(b"70000"));
        assert!(!s.contains(b"070000"));
        assert!(!s.contains(b"+5"));
        assert!(s.remove(b"-3"));
        assert!(!s.remove(b"-3"));
        assert!(!s.contains(b"99999999999"));
        assert_eq!(s.len(), 6);
        if let Repr::Ints(i) = &s.repr {
            assert_eq!(i.width, 8);
        }
    }

    #[test]
    fn intset_to_listpack_to_hashtable() {
        let l = lim();
        let mut s = Set::default();
        for i in 0..10 {
            s.add(format!("{i}").as_bytes(), &l);
        }
        assert_eq!(s.encoding(), "intset");
        s.add(b"x", &l);
        assert_eq!(s.encoding(), "listpack");
        assert_eq!(s.len(), 11);
        for i in 11..128 {
            s.add(format!("m{i}").as_bytes(), &l);
        }
        assert_eq!((s.len(), s.encoding()), (128, "listpack"));
        assert!(!s.add(b"x", &l));
        s.add(b"one-more", &l);
        assert_eq!((s.len(), s.encoding()), (129, "hashtable"));
        assert!(s.contains(b"5") && s.contains(b"x") && s.contains(b"m127"));
    }

    #[test]
    fn thresholds() {
        let l = lim();
        let mut s = Set::default();
        for i in 0..512 {
            s.add(format!("{i}").as_bytes(), &l);
        }
        assert_eq!(s.encoding(), "intset");
        s.add(b"512", &l);
        assert_eq!(s.encoding(), "hashtable");
        // An intset too long for a listpack goes to the hash table on a string.
        let mut s = Set::default();
        for i in 0..128 {
            s.add(format!("{i}").as_bytes(), &l);
        }
        s.add(b"a", &l);
        assert_eq!(s.encoding(), "hashtable");
        // A long value.
        let mut s = Set::default();
        s.add(b"a", &l);
        assert_eq!(s.encoding(), "listpack");
        s.add(&[b'v'; 64], &l);
        assert_eq!(s.encoding(), "listpack");
        s.add(&[b'v'; 65], &l);
        assert_eq!(s.encoding(), "hashtable");
        let mut s = Set::default();
        s.add(b"1", &l);
        s.add(&[b'v'; 65], &l);
        assert_eq!(s.encoding(), "hashtable");
        assert_eq!(Set::with_hint(Elem::Bytes(b"1"), 600, &l).encoding(), "hashtable");
        assert_eq!(Set::with_hint(Elem::Bytes(b"1"), 500, &l).encoding(), "intset");
        assert_eq!(Set::with_hint(Elem::Bytes(b"a"), 128, &l).encoding(), "listpack");
        assert_eq!(Set::with_hint(Elem::Bytes(b"a"), 129, &l).encoding(), "hashtable");
        // set-max-intset-entries 0: integers go to a listpack.
        let no_ints = EncodingLimits { set_max_intset_entries: 0, ..l };
        let mut s = Set::default();
        s.add(b"1", &no_ints);
        s.add(b"2", &no_ints);
        assert_eq!((s.encoding(), s.len()), ("listpack", 2));
    }

    fn check_cost(s: &Set) {
        let c = s.cost();
        match &s.repr {
            Repr::Table(t) => assert_eq!(c, t.recount()),
            _ => assert!(c >= s.len()),
        }
    }

    #[test]
    fn matches_a_model_in_every_encoding() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::SmallRng::seed_from_u64(3);
        for round in 0..6 {
            let l = lim();
            let mut s = Set::default();
            let mut m = BTreeSet::new();
            let span = [20, 200, 600, 2000, 50, 5000][round];
            for _ in 0..8000 {
                let k: u32 = rng.random_range(0..span);
                let v = match (round % 3, k % 7) {
                    (0, _) => format!("{k}").into_bytes(),
                    (1, 0) => format!("long-member-{k:040}").into_bytes(),
                    _ => format!("{}", k as i64 - 100).into_bytes(),
                };
                if rng.random_bool(0.6) {
                    assert_eq!(s.add(&v, &l), m.insert(v.clone()));
                } else if rng.random_bool(0.5) {
                    assert_eq!(s.remove(&v), m.remove(&v));
                } else if !s.is_empty() {
                    let i = rng.random_range(0..s.len());
                    let e = s.nth(i).map(|e| e.with(|b| b.to_vec())).unwrap();
                    s.remove_nth(i);
                    assert!(m.remove(&e));
                }
                assert_eq!(s.len(), m.len());
                assert_eq!(s.contains(&v), m.contains(&v));
            }
            assert_eq!(members(&s), m);
            check_cost(&s);
        }
    }

    #[test]
    fn scan_survives_removals_and_growth() {
        let l = lim();
        let mut s = Set::default();
        for i in 0..1000 {
            s.add(format!("m{i}").as_bytes(), &l);
        }
        let mut seen = BTreeSet::new();
        let mut cursor = 0;
        let mut step = 0;
        loop {
            let next = s.scan(cursor, 37, |e| {
                seen.insert(e.with(|b| b.to_vec()));
            });
            // Remove members below 200 and add new ones between steps.
            s.remove(format!("m{}", step * 3).as_bytes());
            s.add(format!("new{step}").as_bytes(), &l);
            step += 1;
            cursor = next.0;
            if cursor == 0 {
                break;
            }
        }
        for i in 200..1000 {
            assert!(seen.contains(format!("m{i}").as_bytes()), "m{i} missed");
        }
    }

    #[test]
    fn cost_follows_growth_and_shrink() {
        let l = lim();
        let mut s = Set::default();
        assert_eq!(s.cost(), 0);
        let mut last = 0;
        for i in 0..3000 {
            s.add(format!("member:{i}").as_bytes(), &l);
            check_cost(&s);
            last = s.cost();
        }
        // Per member, under Redis's ~50 bytes for a short member in a hashtable set.
        assert!(last / 3000 < 56, "{} bytes per member", last / 3000);
        for i in 0..2990 {
            s.remove(format!("member:{i}").as_bytes());
        }
        check_cost(&s);
        assert!(s.cost() < last / 10);
    }
}
