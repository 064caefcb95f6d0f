//! The packed entry: one allocation per key holding its metadata, the key and a small value.
//!
//! ```text
//! byte 0      flags: kind (2 bits: inline string, integer, heap string, collection), RAW, TTL,
//!             VISITED, and for a collection its type (2 bits)
//! bytes 1..6  access clock, 40 bits (LRU: milliseconds; LFU: 16-bit minutes + 8-bit counter)
//! len         the entry's total length: 1 byte, or 0xFF and 4 bytes little-endian from 255 on
//! klen        the key's length, encoded the same way
//! expire      8 bytes (i64 ms, little-endian), only when the TTL flag is set
//! key
//! value       inline bytes | i64 little-endian | a `Bytes`, aligned, at the very end | a pointer
//!             to the collection, which the entry owns
//! ```
//!
//! The table holds a thin pointer to that allocation (8 bytes a slot), whose unused top 16 bits
//! carry the table's tag of the key (see `table`): a 16-byte key with a 32-byte value costs
//! 8 + 48 bytes in one allocation (a 64-byte size class) plus one slot. The key's hash is not
//! stored: recomputing it when a table grows or a removal shifts a probe run costs a few
//! nanoseconds a key, and the 4 bytes would push such an entry from glibc's 64-byte chunks into
//! its 80-byte ones (mimalloc rounds both to 64). Why not a struct with fields: a `Bytes` alone
//! is 32 bytes and an `Option<i64>` 16; in the table those would cost 1.5 to 2 times their size
//! again because a hash table is never full. Why not `Box<[u8]>`: its fat pointer made every
//! slot 16 bytes, a measured 17 bytes per key more at one million keys.
//!
//! A string longer than [`INLINE_MAX`] is a `Bytes` the entry owns, written over its last 32
//! bytes (padding before it aligns it): a GET that hands out the value is a reference count,
//! never a copy, and the value is one pointer away from the entry. (It used to be an index into
//! a slab of the shard's: one more dependent cache miss.)
//!
//! A collection (hash, list, set, sorted set) is a box of its type, of 32 to 48 bytes, whose
//! pointer the entry holds and whose type the flags name: the role of Redis's 16-byte robj. It
//! used to be a slot of the shard's object slab (56 bytes, and the slab's doubling left a
//! quarter of the slots of 1024 small shards empty on average); measured on 20 000 keys of 50
//! elements, the slab held 58 to 68 bytes a key where the box holds 32 to 48.
//!
//! This is the crate's only unsafe code touching memory (the others are `clock`'s read of the
//! time-stamp counter and `store.rs`'s taking over of a shard lock kept across a pipeline's
//! commands, see `hold.rs`): allocation, release, the tag in the pointer, the view of the
//! allocation as a byte slice, the `Bytes` at its end and the collection's box behind the
//! pointer in the value.
//! Everything else reads and writes through that slice or through the typed references of
//! [`Entry::obj`] and [`Entry::obj_mut`].

#![allow(unsafe_code, reason = "the thin entry pointer; see the module docs")]

use std::alloc::{Layout, alloc, dealloc, handle_alloc_error};
use std::mem::MaybeUninit;
use std::ptr::NonNull;

use bytes::Bytes;

use crate::types::hash::Hash;
use crate::types::list::List;
use crate::types::set::Set;
use crate::types::zset::ZSet;
use crate::types::{Obj, ObjMut, ObjRef};

/// Values up to this length live in the entry; longer ones are shared `Bytes` the entry owns.
/// Why not Redis's `embstr` limit of 44 bytes, so that more GETs hand out a reference count:
/// measured with 64-byte values (2026-11-21), the server's SET took 18–42% more CPU per request
/// and its GET 3–13% more (a second allocation to make and free, a second miss to read), and
/// the embedded store gained 7-9% at 90% GETs but lost 6-9% at 50%. See `docs/design.md`.
pub(crate) const INLINE_MAX: usize = 512;

const KIND_MASK: u8 = 0b11;
const KIND_INLINE: u8 = 0;
const KIND_INT: u8 = 1;
const KIND_HEAP: u8 = 2;
const KIND_OBJ: u8 = 3;
/// Redis would report `raw` (APPEND/SETRANGE made it) even when short.
pub(crate) const RAW: u8 = 1 << 2;
const TTL: u8 = 1 << 3;
/// SIEVE's visited bit.
pub(crate) const VISITED: u8 = 1 << 4;
/// A collection's type, in bits 5 and 6 (so TYPE and SCAN TYPE need not look at the value).
const OBJ_TYPE_SHIFT: u8 = 5;
const OBJ_TYPE_MASK: u8 = 0b11 << OBJ_TYPE_SHIFT;

/// The type of a key's value, as TYPE names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ValueType {
    String,
    Hash,
    List,
    Set,
    ZSet,
}

impl ValueType {
    pub(crate) fn name(self) -> &'static str {
        match self {
            ValueType::String => "string",
            ValueType::Hash => "hash",
            ValueType::List => "list",
            ValueType::Set => "set",
            ValueType::ZSet => "zset",
        }
    }

    /// The type TYPE calls `name` (SCAN's TYPE option).
    pub(crate) fn from_name(name: &[u8]) -> Option<ValueType> {
        [ValueType::String, ValueType::Hash, ValueType::List, ValueType::Set, ValueType::ZSet]
            .into_iter()
            .find(|t| name.eq_ignore_ascii_case(t.name().as_bytes()))
    }
}

/// How the value is stored.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Stored<'a> {
    Inline(&'a [u8]),
    Int(i64),
    Heap(&'a Bytes),
    Obj(ObjRef<'a>),
}

/// A string value stored inside the entry (a longer one goes in with [`Entry::new_shared`], a
/// collection with [`Entry::new_obj`]).
#[derive(Clone, Copy, Debug)]
pub(crate) enum NewValue<'a> {
    Inline(&'a [u8]),
    Int(i64),
}

/// A value as [`Entry::build`] writes it: a string value in the entry, or a `Bytes` or a
/// collection's box (of the type named) whose ownership passes to the entry.
#[derive(Debug)]
enum Value<'a> {
    Str(NewValue<'a>),
    Shared(Bytes),
    Obj(NonNull<u8>, Boxed),
}

/// The type of a collection's box, the one the pointer in its entry's value points to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Boxed {
    Hash,
    List,
    Set,
    ZSet,
}

impl Boxed {
    /// Its bits in the flags (under OBJ_TYPE_MASK).
    fn bits(self) -> u8 {
        (match self {
            Boxed::Hash => 0,
            Boxed::List => 1,
            Boxed::Set => 2,
            Boxed::ZSet => 3,
        }) << OBJ_TYPE_SHIFT
    }

    fn of_flags(f: u8) -> Boxed {
        match (f & OBJ_TYPE_MASK) >> OBJ_TYPE_SHIFT {
            0 => Boxed::Hash,
            1 => Boxed::List,
            2 => Boxed::Set,
            _ => Boxed::ZSet,
        }
    }

    fn value_type(self) -> ValueType {
        match self {
            Boxed::Hash => ValueType::Hash,
            Boxed::List => ValueType::List,
            Boxed::Set => ValueType::Set,
            Boxed::ZSet => ValueType::ZSet,
        }
    }
}

/// Bytes of a collection's pointer in the value.
const PTR: usize = std::mem::size_of::<*mut u8>();
/// Bytes of a large string's `Bytes` in the value.
const SHARED: usize = std::mem::size_of::<Bytes>();
/// The alignment of every entry's allocation: the `Bytes` of a large string needs it (the
/// allocators karst runs on align every block of 16 bytes or more to 16 anyway).
const ALIGN: usize = std::mem::align_of::<Bytes>();

/// Boxes a collection; the pointer and the type it was boxed as.
fn into_raw(o: Obj) -> (NonNull<u8>, Boxed) {
    match o {
        Obj::Hash(v) => (NonNull::from(Box::leak(Box::new(v))).cast(), Boxed::Hash),
        Obj::List(v) => (NonNull::from(Box::leak(Box::new(v))).cast(), Boxed::List),
        Obj::Set(v) => (NonNull::from(Box::leak(Box::new(v))).cast(), Boxed::Set),
        Obj::ZSet(v) => (NonNull::from(Box::leak(Box::new(v))).cast(), Boxed::ZSet),
    }
}

/// What the box of collection `o` costs: its type's size in the allocator's size class.
pub(crate) fn obj_box_cost(o: ObjRef<'_>) -> usize {
    size_class(match o {
        ObjRef::Hash(_) => std::mem::size_of::<Hash>(),
        ObjRef::List(_) => std::mem::size_of::<List>(),
        ObjRef::Set(_) => std::mem::size_of::<Set>(),
        ObjRef::ZSet(_) => std::mem::size_of::<ZSet>(),
    })
}

/// The size class an allocator gives `n` bytes: mimalloc's (16-byte steps up to 128, then four
/// classes per power of two), which karst-server uses; glibc's are within a word of these.
pub(crate) fn size_class(n: usize) -> usize {
    if n <= 128 {
        (n.max(1) + 15) & !15
    } else {
        let step = n.next_power_of_two() / 8;
        n.div_ceil(step) * step
    }
}

/// One key and its value. See the [module docs](self).
pub(crate) struct Entry {
    /// INVARIANT: with its top [`TAG_BITS`] cleared (see [`Entry::base`]), points to an
    /// allocation of `Layout::from_size_align(n, ALIGN)` bytes, all initialized, owned by this
    /// entry, where `n >= MIN_LEN` is the length its header records (byte 6, or bytes 7..11 when
    /// byte 6 is 0xFF, in which case `n >= 255`). The top bits hold the table's tag (see
    /// `table`). When the kind is a collection, the value is a pointer (native-endian,
    /// unaligned) from `Box::leak` of a box of the type the flags name, owned by this entry
    /// alone. When the kind is a heap string, `n` is a multiple of ALIGN and the last SHARED
    /// bytes are a valid `Bytes`, owned by this entry.
    ptr: NonNull<u8>,
}

/// Bits at the top of an entry pointer that hold its tag. User-space addresses on the 64-bit
/// targets karst runs on fit in 48 bits (Linux hands out higher ones only to mmap calls that ask
/// for them, which allocators do not), and `Entry::new` checks it.
#[cfg(target_pointer_width = "64")]
const TAG_SHIFT: u32 = 48;
#[cfg(target_pointer_width = "64")]
const ADDR_MASK: usize = (1 << TAG_SHIFT) - 1;
/// On 32-bit targets entries carry no tag (every tag reads 0, which the table handles).
#[cfg(not(target_pointer_width = "64"))]
const ADDR_MASK: usize = usize::MAX;

/// The shortest entry: 6 bytes of header, length and key length bytes, no key, no value.
const MIN_LEN: usize = 8;
/// Where the length field starts.
const LEN_AT: usize = 6;

const _: () = assert!(std::mem::size_of::<Entry>() == 8);
const _: () = assert!(std::mem::size_of::<Option<Entry>>() == 8);

// SAFETY: an entry owns its allocation exclusively (no aliasing pointers exist), like a `Box`.
unsafe impl Send for Entry {}
// SAFETY: shared references only read the allocation, but for a large string's `Bytes`, which
// is `Sync` itself (its clone may promote its storage, atomically).
unsafe impl Sync for Entry {}

impl Drop for Entry {
    fn drop(&mut self) {
        if let Some(b) = self.shared_ptr() {
            // SAFETY: by the invariant a valid `Bytes` owned by this entry lies there; it is
            // dropped once, here (`disown` clears the kind of an entry that handed it on).
            unsafe { b.drop_in_place() }
        }
        if let Some((p, t)) = self.boxed() {
            // SAFETY: by the invariant `p` came from `Box::leak` of a box of type `t`, and this
            // entry owns it; it is released once, here (`disown` clears the kind of an entry
            // that handed it on).
            unsafe {
                match t {
                    Boxed::Hash => drop(Box::from_raw(p.cast::<Hash>().as_ptr())),
                    Boxed::List => drop(Box::from_raw(p.cast::<List>().as_ptr())),
                    Boxed::Set => drop(Box::from_raw(p.cast::<Set>().as_ptr())),
                    Boxed::ZSet => drop(Box::from_raw(p.cast::<ZSet>().as_ptr())),
                }
            }
        }
        let len = self.len();
        // SAFETY: by the invariant the allocation was made with this layout and is owned by us;
        // it is released once, here.
        unsafe { dealloc(self.base(), Layout::from_size_align_unchecked(len, ALIGN)) }
    }
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("key", &String::from_utf8_lossy(self.key()))
            .field("expire", &self.expire())
            .field("stored", &self.stored())
            .finish()
    }
}

fn varint_len(n: usize) -> usize {
    if n < 255 { 1 } else { 5 }
}

fn put_varint(dst: &mut [u8], at: &mut usize, n: usize) {
    if n < 255 {
        if let Some(b) = dst.get_mut(*at) {
            *b = n as u8;
        }
        *at += 1;
    } else {
        if let Some(d) = dst.get_mut(*at..*at + 5) {
            d[0] = 0xFF;
            d[1..].copy_from_slice(&(n as u32).to_le_bytes());
        }
        *at += 5;
    }
}

fn get_varint(src: &[u8], at: usize) -> (usize, usize) {
    match src.get(at).copied() {
        Some(0xFF) => {
            let mut k = [0u8; 4];
            k.copy_from_slice(src.get(at + 1..at + 5).unwrap_or(&[0; 4]));
            (u32::from_le_bytes(k) as usize, at + 5)
        }
        Some(n) => (n as usize, at + 1),
        None => (0, at + 1),
    }
}

/// The total length of an entry: header, key, expire and a value of `vlen` bytes. The length
/// field counts itself: 1 byte below 255 in all, else 5.
fn entry_len(klen: usize, ttl: bool, vlen: usize) -> usize {
    let body = varint_len(klen) + if ttl { 8 } else { 0 } + klen + vlen;
    if LEN_AT + 1 + body < 255 { LEN_AT + 1 + body } else { LEN_AT + 5 + body }
}

/// The total length of an entry whose value is a `Bytes`: padded to a multiple of ALIGN, so
/// that the `Bytes` in its last SHARED bytes is aligned (padding that takes the length past 254
/// takes a longer length field, and is padded again).
fn shared_entry_len(klen: usize, ttl: bool) -> usize {
    let n = entry_len(klen, ttl, SHARED);
    let padded = n.next_multiple_of(ALIGN);
    if n < 255 && padded >= 255 { (n + 4).next_multiple_of(ALIGN) } else { padded }
}

/// The flags byte of a new entry.
fn new_flags(flags: u8, value: &Value<'_>, expire: Option<i64>) -> u8 {
    let kind = match value {
        Value::Str(NewValue::Inline(_)) => KIND_INLINE,
        Value::Str(NewValue::Int(_)) => KIND_INT,
        Value::Shared(_) => KIND_HEAP,
        Value::Obj(_, t) => KIND_OBJ | t.bits(),
    };
    (flags & (RAW | VISITED)) | kind | if expire.is_some() { TTL } else { 0 }
}

/// Everything before the key: flags, access clock, length, key length, expire. Returns the
/// bytes and how many of them are used.
fn header(
    len: usize,
    klen: usize,
    expire: Option<i64>,
    access: u64,
    flags: u8,
) -> ([u8; 24], usize) {
    let mut h = [0u8; 24];
    h[0] = flags;
    h[1..6].copy_from_slice(&access.to_le_bytes()[..5]);
    let mut at = LEN_AT;
    put_varint(&mut h, &mut at, len);
    put_varint(&mut h, &mut at, klen);
    if let Some(t) = expire {
        if let Some(d) = h.get_mut(at..at + 8) {
            d.copy_from_slice(&t.to_le_bytes());
        }
        at += 8;
    }
    (h, at)
}

/// A value's bytes in the entry (a collection's pointer and a `Bytes` are written apart, see
/// [`Entry::build`]: zeros stand in for them here).
enum Encoded<'a> {
    Slice(&'a [u8]),
    Int([u8; 8]),
    Ptr([u8; PTR]),
}

impl Encoded<'_> {
    fn bytes(&self) -> &[u8] {
        match self {
            Encoded::Slice(b) => b,
            Encoded::Int(b) => b,
            Encoded::Ptr(b) => b,
        }
    }

    fn len(&self) -> usize {
        self.bytes().len()
    }
}

impl Value<'_> {
    fn encode(&self) -> Encoded<'_> {
        match *self {
            Value::Str(NewValue::Inline(v)) => Encoded::Slice(v),
            Value::Str(NewValue::Int(i)) => Encoded::Int(i.to_le_bytes()),
            Value::Shared(_) => Encoded::Slice(&[]),
            Value::Obj(..) => Encoded::Ptr([0; PTR]),
        }
    }
}

/// Initializes an allocation front to back.
struct Fill<'a> {
    buf: &'a mut [MaybeUninit<u8>],
    at: usize,
}

impl Fill<'_> {
    /// Writes `src` next (what does not fit is dropped, so the bytes written stay contiguous).
    fn put(&mut self, src: &[u8]) {
        let dst = self.buf.get_mut(self.at..).unwrap_or_default();
        for (d, s) in dst.iter_mut().zip(src) {
            d.write(*s);
        }
        self.at += src.len();
    }

    /// Zeroes what is left (nothing, when the lengths add up), so every byte is initialized.
    fn finish(self) {
        for d in self.buf.get_mut(self.at..).unwrap_or_default() {
            d.write(0);
        }
    }
}

impl Entry {
    /// An entry with a string value.
    pub(crate) fn new(
        key: &[u8],
        expire: Option<i64>,
        access: u64,
        flags: u8,
        value: NewValue<'_>,
    ) -> Entry {
        Entry::build(key, expire, access, flags, Value::Str(value))
    }

    /// An entry that owns the large string `b`.
    pub(crate) fn new_shared(
        key: &[u8],
        expire: Option<i64>,
        access: u64,
        flags: u8,
        b: Bytes,
    ) -> Entry {
        Entry::build(key, expire, access, flags, Value::Shared(b))
    }

    /// An entry that owns the collection `o`.
    pub(crate) fn new_obj(key: &[u8], expire: Option<i64>, access: u64, o: Obj) -> Entry {
        let (p, t) = into_raw(o);
        Entry::build(key, expire, access, 0, Value::Obj(p, t))
    }

    fn build(key: &[u8], expire: Option<i64>, access: u64, flags: u8, value: Value<'_>) -> Entry {
        let v = value.encode();
        let len = match value {
            Value::Shared(_) => shared_entry_len(key.len(), expire.is_some()),
            _ => entry_len(key.len(), expire.is_some(), v.len()),
        };
        let Ok(layout) = Layout::from_size_align(len, ALIGN) else {
            handle_alloc_error(Layout::new::<[u8; MIN_LEN]>())
        };
        // Not zeroed: every byte is written below, and glibc serves zeroed requests from its
        // shared arena, never from the per-thread cache that a plain one uses.
        // SAFETY: `layout` has a non-zero size (len >= MIN_LEN) and a power-of-two alignment.
        let raw = unsafe { alloc(layout) };
        let Some(ptr) = NonNull::new(raw) else { handle_alloc_error(layout) };
        if ptr.as_ptr().addr() & !ADDR_MASK != 0 {
            // An address with its tag bits in use (see TAG_SHIFT): never seen from an allocator.
            handle_alloc_error(layout)
        }
        // SAFETY: `ptr` is a fresh allocation of `len` bytes that nothing else references, seen
        // as uninitialized bytes. `Fill` initializes every one of them (`finish` zeroes any the
        // fields left). The `Entry` that will own it is made only once they are, so a panic here
        // leaks the allocation instead of freeing it with a wrong size.
        let buf = unsafe { std::slice::from_raw_parts_mut(ptr.as_ptr().cast(), len) };
        let (head, n) = header(len, key.len(), expire, access, new_flags(flags, &value, expire));
        let mut fill = Fill { buf, at: 0 };
        fill.put(head.get(..n).unwrap_or_default());
        fill.put(key);
        fill.put(v.bytes());
        fill.finish();
        match value {
            Value::Obj(p, _) => {
                // SAFETY: the value's last PTR bytes are inside the allocation (the value is
                // exactly them) and were just initialized; the pointer is written over them,
                // unaligned, so that it keeps its provenance.
                unsafe { ptr.as_ptr().add(len - PTR).cast::<*mut u8>().write_unaligned(p.as_ptr()) }
            }
            Value::Shared(b) => {
                // SAFETY: the last SHARED bytes are inside the allocation (`shared_entry_len`
                // left room for them after the key), and aligned: the allocation is aligned to
                // ALIGN and `len` is a multiple of it. The entry takes ownership of `b`.
                unsafe { ptr.as_ptr().add(len - SHARED).cast::<Bytes>().write(b) }
            }
            Value::Str(_) => {}
        }
        let e = Entry { ptr };
        debug_assert_eq!(e.len(), len);
        e
    }

    /// True if an entry of this key with `expire` and `value` would have exactly this entry's
    /// layout, so that [`Entry::overwrite`] can write it in place. Never for a collection's or
    /// a large string's entry: its value owns what it points to (a SET of an integer over a
    /// hash would otherwise overwrite the pointer, same length, and leak the hash).
    #[inline]
    pub(crate) fn same_layout(&self, expire: Option<i64>, value: NewValue<'_>) -> bool {
        matches!(self.flags() & KIND_MASK, KIND_INLINE | KIND_INT)
            && expire.is_some() == (self.flags() & TTL != 0)
            && entry_len(self.key().len(), expire.is_some(), Value::Str(value).encode().len())
                == self.len()
    }

    /// Writes a new value, expire, access clock and flags over this entry, keeping its key, its
    /// allocation and its tag: a SET replacing a value by one of the same length allocates and
    /// frees nothing. Does nothing unless [`Entry::same_layout`] holds.
    pub(crate) fn overwrite(
        &mut self,
        expire: Option<i64>,
        access: u64,
        flags: u8,
        value: NewValue<'_>,
    ) {
        if !self.same_layout(expire, value) {
            return;
        }
        let (len, klen) = (self.len(), self.key().len());
        let value = Value::Str(value);
        let (head, n) = header(len, klen, expire, access, new_flags(flags, &value, expire));
        let v = value.encode();
        let b = self.bytes_mut();
        // The header's length fields are unchanged (same layout); the key stays.
        if let Some(dst) = b.get_mut(..n) {
            dst.copy_from_slice(head.get(..n).unwrap_or_default());
        }
        if let Some(dst) = b.get_mut(len - v.len()..) {
            dst.copy_from_slice(v.bytes());
        }
    }

    /// Whether [`Entry::replace_shared`] would take a new large string with this `expire`: this
    /// is a large string's entry, and its TTL field comes and goes with `expire`.
    #[inline]
    pub(crate) fn takes_shared(&self, expire: Option<i64>) -> bool {
        self.flags() & KIND_MASK == KIND_HEAP && expire.is_some() == (self.flags() & TTL != 0)
    }

    /// Gives a large string's entry the string `b` in place of its own, with a new expire,
    /// access clock and flags, keeping its key, allocation and tag; returns the old string.
    /// Refuses (handing `b` back) unless this is a large string's entry whose TTL field comes
    /// and goes with `expire`.
    pub(crate) fn replace_shared(
        &mut self,
        expire: Option<i64>,
        access: u64,
        flags: u8,
        b: Bytes,
    ) -> Result<Bytes, Bytes> {
        if !self.takes_shared(expire) {
            return Err(b);
        }
        let Some(slot) = self.shared_mut() else { return Err(b) };
        let old = std::mem::replace(slot, b);
        let (len, klen) = (self.len(), self.key().len());
        let kind = Value::Shared(Bytes::new());
        let (head, n) = header(len, klen, expire, access, new_flags(flags, &kind, expire));
        // The length fields are unchanged (same key, same TTL field); the key and the value
        // after it stay.
        if let Some(dst) = self.bytes_mut().get_mut(..n) {
            dst.copy_from_slice(head.get(..n).unwrap_or_default());
        }
        Ok(old)
    }

    /// The allocation's address, without the tag.
    #[inline]
    fn base(&self) -> *mut u8 {
        self.ptr.as_ptr().map_addr(|a| a & ADDR_MASK)
    }

    /// The tag the table gave this entry (0 until it is in a table).
    #[inline]
    pub(crate) fn tag(&self) -> u16 {
        #[cfg(target_pointer_width = "64")]
        return (self.ptr.as_ptr().addr() >> TAG_SHIFT) as u16;
        #[cfg(not(target_pointer_width = "64"))]
        0
    }

    #[inline]
    pub(crate) fn set_tag(&mut self, tag: u16) {
        #[cfg(target_pointer_width = "64")]
        {
            let tagged = self.base().map_addr(|a| a | usize::from(tag) << TAG_SHIFT);
            if let Some(p) = NonNull::new(tagged) {
                self.ptr = p;
            }
        }
        #[cfg(not(target_pointer_width = "64"))]
        let _ = tag;
    }

    /// The total length, from the header.
    #[inline]
    fn len(&self) -> usize {
        match (self.head() >> (8 * LEN_AT)) as u8 {
            0xFF => {
                // SAFETY: a length byte of 0xFF means the entry is at least 255 bytes long.
                let head = unsafe { std::slice::from_raw_parts(self.base(), LEN_AT + 5) };
                let mut b = [0u8; 4];
                b.copy_from_slice(&head[LEN_AT + 1..LEN_AT + 5]);
                u32::from_le_bytes(b) as usize
            }
            n => n as usize,
        }
    }

    /// The entry's first 8 bytes, little-endian: flags, access clock, and the first bytes of
    /// the length fields. Read at once, the common header (both lengths below 255) decodes
    /// with shifts.
    #[inline]
    fn head(&self) -> u64 {
        // SAFETY: every entry is at least MIN_LEN = 8 bytes long and fully initialized.
        u64::from_le(unsafe { self.base().cast::<u64>().read_unaligned() })
    }

    /// The whole entry as bytes.
    #[inline]
    fn bytes(&self) -> &[u8] {
        // SAFETY: by the invariant the allocation holds `len()` initialized bytes, owned by this
        // entry, and `&self` rules out writers for the lifetime of the slice.
        unsafe { std::slice::from_raw_parts(self.base(), self.len()) }
    }

    /// The whole entry as mutable bytes (callers never change the length fields).
    #[inline]
    fn bytes_mut(&mut self) -> &mut [u8] {
        let len = self.len();
        // SAFETY: as `bytes`, and `&mut self` makes this the only reference.
        unsafe { std::slice::from_raw_parts_mut(self.base(), len) }
    }

    /// Gives the entry another expire, keeping everything else (a collection or a large
    /// string moves to the new allocation).
    pub(crate) fn set_expire(&mut self, expire: Option<i64>) {
        let value = match (self.boxed(), self.shared_ptr(), self.stored()) {
            (Some((p, t)), _, _) => Value::Obj(p, t),
            // SAFETY: a bitwise copy of the `Bytes` this entry owns; the new entry takes it over
            // and this one is disowned below, before anything could drop it (`build` does not
            // unwind: a failed allocation aborts).
            (None, Some(b), _) => Value::Shared(unsafe { b.read() }),
            (None, None, Stored::Inline(v)) => Value::Str(NewValue::Inline(v)),
            (None, None, Stored::Int(i)) => Value::Str(NewValue::Int(i)),
            (None, None, Stored::Heap(_) | Stored::Obj(_)) => return,
        };
        let mut e = Entry::build(self.key(), expire, self.access(), self.flags(), value);
        e.set_tag(self.tag());
        std::mem::replace(self, e).disown();
    }

    /// Takes the collection out of the entry (None for a string).
    pub(crate) fn into_obj(mut self) -> Option<Obj> {
        let (p, t) = self.boxed()?;
        self.disown();
        // SAFETY: by the invariant `p` came from `Box::leak` of a box of type `t`, and this
        // entry owned it; `disown` made sure the entry's drop does not release it too.
        Some(unsafe {
            match t {
                Boxed::Hash => Obj::Hash(*Box::from_raw(p.cast::<Hash>().as_ptr())),
                Boxed::List => Obj::List(*Box::from_raw(p.cast::<List>().as_ptr())),
                Boxed::Set => Obj::Set(*Box::from_raw(p.cast::<Set>().as_ptr())),
                Boxed::ZSet => Obj::ZSet(*Box::from_raw(p.cast::<ZSet>().as_ptr())),
            }
        })
    }

    /// Takes the large string out of the entry (None for any other value).
    pub(crate) fn into_shared(mut self) -> Option<Bytes> {
        let p = self.shared_ptr()?;
        // SAFETY: by the invariant a valid `Bytes` owned by this entry lies at `p`; `disown`
        // makes sure the entry's drop does not drop it too.
        let b = unsafe { p.read() };
        self.disown();
        Some(b)
    }

    /// Marks the string as Redis's `raw` (APPEND and SETRANGE made it).
    pub(crate) fn set_raw(&mut self) {
        if let Some(f) = self.bytes_mut().first_mut() {
            *f |= RAW;
        }
    }

    /// Forgets the collection or large string this entry held (its new owner has it): the
    /// value reads as an inline string from now on, and dropping the entry frees only its own
    /// allocation.
    fn disown(&mut self) {
        if let Some(f) = self.bytes_mut().first_mut() {
            *f &= !(KIND_MASK | OBJ_TYPE_MASK);
        }
    }

    /// Where a large string's `Bytes` lies, if the value is one.
    #[inline]
    fn shared_ptr(&self) -> Option<*mut Bytes> {
        if self.flags() & KIND_MASK != KIND_HEAP {
            return None;
        }
        // SAFETY: a large string's entry ends with its SHARED-byte `Bytes` (see `build`), inside
        // the allocation.
        Some(unsafe { self.base().add(self.len() - SHARED).cast::<Bytes>() })
    }

    /// The large string, if the value is one.
    #[inline]
    pub(crate) fn shared(&self) -> Option<&Bytes> {
        // SAFETY: by the invariant a valid, aligned `Bytes` owned by this entry lies there, and
        // `&self` rules out a `&mut` to it (only `shared_mut` makes one) while the reference
        // lives.
        self.shared_ptr().map(|p| unsafe { &*p })
    }

    /// The large string, mutable, if the value is one.
    #[inline]
    pub(crate) fn shared_mut(&mut self) -> Option<&mut Bytes> {
        // SAFETY: as `shared`, and `&mut self` makes this the only reference.
        self.shared_ptr().map(|p| unsafe { &mut *p })
    }

    /// The collection's pointer and box type, if the value is one.
    #[inline]
    fn boxed(&self) -> Option<(NonNull<u8>, Boxed)> {
        let f = self.flags();
        if f & KIND_MASK != KIND_OBJ {
            return None;
        }
        let len = self.len();
        // SAFETY: a collection's entry ends with the PTR bytes of its pointer (see `build`),
        // inside the allocation; read unaligned, as it was written.
        let p = unsafe { self.base().add(len - PTR).cast::<*mut u8>().read_unaligned() };
        Some((NonNull::new(p)?, Boxed::of_flags(f)))
    }

    /// The collection, if the value is one.
    #[inline]
    pub(crate) fn obj(&self) -> Option<ObjRef<'_>> {
        let (p, t) = self.boxed()?;
        // SAFETY: by the invariant `p` points to a live box of type `t`, owned by this entry;
        // `&self` rules out a `&mut` to it (only `obj_mut` makes one) for the lifetime of the
        // reference.
        Some(unsafe {
            match t {
                Boxed::Hash => ObjRef::Hash(p.cast::<Hash>().as_ref()),
                Boxed::List => ObjRef::List(p.cast::<List>().as_ref()),
                Boxed::Set => ObjRef::Set(p.cast::<Set>().as_ref()),
                Boxed::ZSet => ObjRef::ZSet(p.cast::<ZSet>().as_ref()),
            }
        })
    }

    /// The collection, mutable, if the value is one.
    #[inline]
    pub(crate) fn obj_mut(&mut self) -> Option<ObjMut<'_>> {
        let (p, t) = self.boxed()?;
        // SAFETY: as `obj`, and `&mut self` makes this the only reference to the box.
        Some(unsafe {
            match t {
                Boxed::Hash => ObjMut::Hash(p.cast::<Hash>().as_mut()),
                Boxed::List => ObjMut::List(p.cast::<List>().as_mut()),
                Boxed::Set => ObjMut::Set(p.cast::<Set>().as_mut()),
                Boxed::ZSet => ObjMut::ZSet(p.cast::<ZSet>().as_mut()),
            }
        })
    }

    /// The type of the value.
    #[inline]
    pub(crate) fn value_type(&self) -> ValueType {
        let f = self.flags();
        if f & KIND_MASK != KIND_OBJ {
            return ValueType::String;
        }
        Boxed::of_flags(f).value_type()
    }

    #[inline]
    fn flags(&self) -> u8 {
        self.head() as u8
    }

    /// (start of key, end of key).
    #[inline]
    fn key_span(&self) -> (usize, usize) {
        let h = self.head();
        let (len, klen) = ((h >> 48) as u8, (h >> 56) as u8);
        if len != 0xFF && klen != 0xFF {
            let at = MIN_LEN + if h as u8 & TTL != 0 { 8 } else { 0 };
            return (at, at + klen as usize);
        }
        let b = self.bytes();
        let (_, at) = get_varint(b, LEN_AT);
        let (klen, mut at) = get_varint(b, at);
        if self.flags() & TTL != 0 {
            at += 8;
        }
        (at, at + klen)
    }

    #[inline]
    pub(crate) fn key(&self) -> &[u8] {
        let (s, e) = self.key_span();
        debug_assert!(s <= e && e <= self.len());
        // SAFETY: the header that `build` wrote describes the entry's own layout: the key lies
        // within its `len()` initialized bytes.
        unsafe { std::slice::from_raw_parts(self.base().add(s), e - s) }
    }

    #[inline]
    pub(crate) fn expire(&self) -> Option<i64> {
        if self.flags() & TTL == 0 {
            return None;
        }
        let b = self.bytes();
        let (at, _) = self.key_span();
        let at = at - 8;
        let mut t = [0u8; 8];
        t.copy_from_slice(b.get(at..at + 8)?);
        let b = t;
        Some(i64::from_le_bytes(b))
    }

    #[inline]
    pub(crate) fn is_expired(&self, now: i64) -> bool {
        matches!(self.expire(), Some(at) if at <= now)
    }

    #[inline]
    pub(crate) fn stored(&self) -> Stored<'_> {
        let (_, e) = self.key_span();
        let v = self.bytes().get(e..).unwrap_or_default();
        match self.flags() & KIND_MASK {
            KIND_INT => {
                let mut b = [0u8; 8];
                b.copy_from_slice(v.get(..8).unwrap_or(&[0; 8]));
                Stored::Int(i64::from_le_bytes(b))
            }
            KIND_HEAP => match self.shared() {
                Some(b) => Stored::Heap(b),
                None => Stored::Inline(&[]),
            },
            KIND_OBJ => match self.obj() {
                Some(o) => Stored::Obj(o),
                None => Stored::Inline(&[]),
            },
            _ => Stored::Inline(v),
        }
    }

    #[inline]
    pub(crate) fn is_raw(&self) -> bool {
        self.flags() & RAW != 0
    }

    #[inline]
    pub(crate) fn access(&self) -> u64 {
        (self.head() >> 8) & 0xFF_FFFF_FFFF
    }

    #[inline]
    pub(crate) fn set_access(&mut self, access: u64) {
        self.flags_and_access()[1..].copy_from_slice(&access.to_le_bytes()[..5]);
    }

    #[inline]
    pub(crate) fn visited(&self) -> bool {
        self.flags() & VISITED != 0
    }

    #[inline]
    pub(crate) fn set_visited(&mut self, on: bool) {
        let f = &mut self.flags_and_access()[0];
        if on {
            *f |= VISITED;
        } else {
            *f &= !VISITED;
        }
    }

    /// The flags byte and the access clock, the header's first 6 bytes (there in every entry).
    #[inline]
    fn flags_and_access(&mut self) -> &mut [u8; 6] {
        // SAFETY: every entry is at least MIN_LEN = 8 bytes long, and `&mut self` makes this
        // the only reference to it.
        unsafe { &mut *self.base().cast::<[u8; 6]>() }
    }

    /// What the allocation costs: its length rounded up to the allocator's size class.
    #[inline]
    pub(crate) fn cost(&self) -> usize {
        size_class(self.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_pinned() {
        assert_eq!(std::mem::size_of::<Entry>(), 8);
        assert_eq!(std::mem::size_of::<Option<Entry>>(), 8);
        // 16-byte key, 32-byte value, no TTL: 8 bytes of header, one 64-byte size class.
        let e = Entry::new(&[b'k'; 16], None, 0, 0, NewValue::Inline(&[b'v'; 32]));
        assert_eq!(e.len(), 56);
        assert_eq!(e.cost(), 64);
        assert_eq!((size_class(48), size_class(129), size_class(300)), (48, 160, 320));
        // Lengths around the one-byte limit of the length field.
        for n in 230..260 {
            let e = Entry::new(b"k", None, 0, 0, NewValue::Inline(&vec![1; n]));
            assert_eq!(e.stored(), Stored::Inline(&vec![1; n][..]));
            assert_eq!(e.key(), b"k");
        }
    }

    #[test]
    fn entry_tags_leave_the_entry_alone() {
        let mut e = Entry::new(b"key", Some(9), 3, 0, NewValue::Inline(b"value"));
        assert_eq!(e.tag(), 0);
        for tag in [1, 0xFFFF, 0x8000, 0] {
            e.set_tag(tag);
            assert_eq!(e.tag(), if cfg!(target_pointer_width = "64") { tag } else { 0 });
            assert_eq!((e.key(), e.expire(), e.access()), (&b"key"[..], Some(9), 3));
            assert_eq!(e.stored(), Stored::Inline(b"value"));
            e.set_access(4);
            assert_eq!(e.access(), 4);
            e.set_access(3);
        }
        e.set_tag(0xABCD);
        e.set_expire(None);
        assert_eq!((e.tag(), e.expire()), (0xABCD, None));
    }

    /// A value of the same length is written over the entry, which keeps its key, tag and
    /// allocation; anything that changes the layout is refused and leaves the entry alone.
    #[test]
    fn overwrite_in_place_keeps_the_key_and_refuses_other_layouts() {
        for expire in [None, Some(7)] {
            let mut e = Entry::new(b"key:000000000001", expire, 1, RAW | VISITED, NewValue::Int(5));
            e.set_tag(0x1234);
            let at = e.base();
            for value in
                [NewValue::Inline(b"8 bytes!"), NewValue::Int(-1), NewValue::Inline(b"12345678")]
            {
                assert!(e.same_layout(expire.map(|t| t + 1), value));
                e.overwrite(expire.map(|t| t + 1), 9, 0, value);
                assert_eq!(
                    (e.key(), e.expire(), e.access()),
                    (&b"key:000000000001"[..], expire.map(|t| t + 1), 9)
                );
                assert_eq!(e.stored(), Entry::new(b"k", None, 0, 0, value).stored());
                assert!(!e.is_raw() && !e.visited());
                assert_eq!((e.tag(), e.base()), (0x1234, at));
            }
            let before = e.bytes().to_vec();
            for (exp, value) in [
                (expire, NewValue::Inline(b"seven b")),
                (if expire.is_some() { None } else { Some(1) }, NewValue::Int(1)),
            ] {
                assert!(!e.same_layout(exp, value));
                e.overwrite(exp, 1, 0, value);
                assert_eq!(e.bytes(), &before[..]);
            }
        }
        // A new entry's every byte is written: its bytes read back as built field by field.
        let e = Entry::new(&[b'x'; 300], Some(-1), 0xAB, VISITED, NewValue::Inline(&[3; 200]));
        assert_eq!(e.bytes().len(), e.len());
        assert_eq!((e.key(), e.expire(), e.access()), (&[b'x'; 300][..], Some(-1), 0xAB));
        assert_eq!(e.stored(), Stored::Inline(&[3; 200]));
    }

    /// Every field reads back what was written, for each layout of the header: both length
    /// fields of 1 byte, a 5-byte total length with a 1-byte key length (a short key with a
    /// long value), and both of 5 bytes; with and without a TTL.
    #[test]
    fn fields_round_trip() {
        let big = Bytes::from(vec![7u8; 100]);
        let long = [9u8; 400];
        for key in [&b""[..], b"k", &[b'x'; 300]] {
            for expire in [None, Some(0), Some(-5), Some(i64::MAX)] {
                let values = [
                    Some(NewValue::Inline(b"hello")),
                    Some(NewValue::Inline(&long)),
                    Some(NewValue::Int(-42)),
                    None,
                ];
                for value in values {
                    let mut e = match value {
                        Some(v) => Entry::new(key, expire, 0x12_3456_789A, RAW, v),
                        None => Entry::new_shared(key, expire, 0x12_3456_789A, RAW, big.clone()),
                    };
                    assert_eq!(e.key(), key);
                    assert_eq!(e.expire(), expire);
                    assert_eq!(e.access(), 0x12_3456_789A);
                    assert!(e.is_raw());
                    assert!(e.obj().is_none());
                    match (value, e.stored()) {
                        (Some(NewValue::Inline(a)), Stored::Inline(b)) => assert_eq!(a, b),
                        (Some(NewValue::Int(a)), Stored::Int(b)) => assert_eq!(a, b),
                        (None, Stored::Heap(b)) => assert_eq!(b.as_ptr(), big.as_ptr()),
                        other => panic!("mismatch {other:?}"),
                    }
                    let before = format!("{:?}", e.stored());
                    e.set_access(5);
                    e.set_visited(true);
                    assert_eq!(e.access(), 5);
                    assert!(e.visited());
                    // Writing the access clock and flags in place leaves the rest alone.
                    assert_eq!((e.key(), e.expire()), (key, expire));
                    assert_eq!(format!("{:?}", e.stored()), before);
                    e.set_expire(Some(77));
                    assert_eq!(e.expire(), Some(77));
                    assert_eq!(e.key(), key);
                    assert_eq!(format!("{:?}", e.stored()), before);
                    assert_eq!(e.value_type(), ValueType::String);
                    assert!(e.is_raw() && e.visited());
                }
            }
        }
    }

    /// A large string's `Bytes` lies aligned at the end of its entry, whatever the key and TTL
    /// (the padding around a length field's switch from 1 to 5 bytes included); it is never
    /// copied: it moves with a new expire, is swapped in place, and taken out. Under Miri this
    /// also checks that each `Bytes` is dropped exactly once.
    #[test]
    fn an_entry_owns_its_large_string() {
        let big = Bytes::from(vec![7u8; 100]);
        for klen in (0..20).chain(195..260) {
            let key = vec![b'k'; klen];
            for expire in [None, Some(5)] {
                let mut e = Entry::new_shared(&key, expire, 3, 0, big.clone());
                assert_eq!(e.len() % ALIGN, 0);
                assert_eq!((e.key(), e.expire(), e.access()), (&key[..], expire, 3));
                assert!(matches!(e.stored(), Stored::Heap(b) if b.as_ptr() == big.as_ptr()));
                assert!(!e.same_layout(expire, NewValue::Int(1)), "never overwritten as bytes");
                e.set_tag(0x4321);
                e.set_expire(Some(9));
                assert_eq!((e.key(), e.expire(), e.tag()), (&key[..], Some(9), 0x4321));
                assert_eq!(e.shared().map(|b| b.as_ptr()), Some(big.as_ptr()));
                // Another string in place: same allocation, new header fields.
                let other = Bytes::from(vec![8u8; 60]);
                let at = e.base();
                let old = e.replace_shared(Some(10), 4, RAW, other.clone());
                assert_eq!(old.map(|b| b.as_ptr()), Ok(big.as_ptr()));
                assert_eq!((e.base(), e.expire(), e.access(), e.is_raw()), (at, Some(10), 4, true));
                assert_eq!(e.shared(), Some(&other));
                // Refused when the TTL field would come or go; `b` comes back.
                assert!(e.takes_shared(Some(1)) && !e.takes_shared(None));
                assert_eq!(e.replace_shared(None, 4, 0, big.clone()).err(), Some(big.clone()));
                if let Some(b) = e.shared_mut() {
                    *b = b.slice(1..);
                }
                assert_eq!(e.into_shared().map(|b| b.len()), Some(59));
            }
        }
        let s = Entry::new(b"k", None, 0, 0, NewValue::Int(1));
        assert!(s.shared().is_none());
        let mut s = s;
        assert!(!s.takes_shared(None));
        assert!(s.replace_shared(None, 0, 0, big.clone()).is_err());
        assert!(s.into_shared().is_none());
    }

    /// One collection of each type, with something in it (so that dropping it frees memory
    /// Miri would report leaked or freed twice).
    fn collections() -> Vec<Obj> {
        let lim = crate::types::EncodingLimits::default();
        let mut h = Hash::default();
        h.set(b"field", b"value", &lim);
        let mut l = List::default();
        l.push(
            crate::types::list::End::Tail,
            crate::types::list::Elem::of(b"x"),
            Default::default(),
        );
        let mut s = Set::default();
        s.add(b"member", &lim);
        let mut z = ZSet::default();
        z.add(b"m", 1.5, Default::default(), &lim);
        vec![Obj::Hash(h), Obj::List(l), Obj::Set(s), Obj::ZSet(z)]
    }

    /// A collection's entry is never written over in place, even by a string value of the
    /// pointer's length: the pointer owns the collection (Miri reports the leak otherwise).
    #[test]
    fn a_collection_entry_is_never_overwritten_in_place() {
        for o in collections() {
            let e = Entry::new_obj(b"k", None, 7, o);
            assert!(!e.same_layout(None, NewValue::Int(5)));
            assert!(!e.same_layout(None, NewValue::Inline(b"12345678")));
            let mut e = e;
            e.overwrite(None, 9, 0, NewValue::Int(5));
            assert!(e.obj().is_some(), "the collection is still there");
        }
        let s = Entry::new(b"k", None, 7, 0, NewValue::Int(1));
        assert!(s.same_layout(None, NewValue::Int(5)), "strings of one layout still are");
    }

    #[test]
    fn an_entry_owns_its_collection() {
        for key in [&b"k"[..], &[b'x'; 300]] {
            for expire in [None, Some(-5)] {
                for o in collections() {
                    let want = match &o {
                        Obj::Hash(_) => ValueType::Hash,
                        Obj::List(_) => ValueType::List,
                        Obj::Set(_) => ValueType::Set,
                        Obj::ZSet(_) => ValueType::ZSet,
                    };
                    // Dropped with the entry.
                    let e = Entry::new_obj(key, expire, 7, o.clone());
                    assert_eq!((e.value_type(), e.key(), e.expire()), (want, key, expire));
                    assert!(matches!(e.stored(), Stored::Obj(r) if Some(r) == e.obj()));
                    assert_eq!(e.obj().map(|r| r.len()), Some(1));
                    drop(e);
                    // Changed in place, moved by a new expire, then taken out.
                    let mut e = Entry::new_obj(key, expire, 7, o);
                    e.set_tag(0x1234);
                    match e.obj_mut() {
                        Some(ObjMut::Hash(h)) => {
                            h.set(b"f2", b"v", &Default::default());
                        }
                        Some(ObjMut::List(l)) => {
                            let y = crate::types::list::Elem::of(b"y");
                            l.push(crate::types::list::End::Head, y, Default::default());
                        }
                        Some(ObjMut::Set(s)) => {
                            s.add(b"m2", &Default::default());
                        }
                        Some(ObjMut::ZSet(z)) => {
                            z.add(b"m2", 2.0, Default::default(), &Default::default());
                        }
                        None => panic!("no collection"),
                    }
                    e.set_expire(Some(99));
                    assert_eq!((e.expire(), e.tag(), e.access()), (Some(99), 0x1234, 7));
                    assert_eq!(e.value_type(), want);
                    assert_eq!(e.obj().map(|r| r.len()), Some(2));
                    let o = e.into_obj();
                    assert!(matches!(o, Some(ref o) if ObjRef::len(match o {
                        Obj::Hash(v) => ObjRef::Hash(v),
                        Obj::List(v) => ObjRef::List(v),
                        Obj::Set(v) => ObjRef::Set(v),
                        Obj::ZSet(v) => ObjRef::ZSet(v),
                    }) == 2));
                }
            }
        }
        let e = Entry::new(b"k", None, 0, 0, NewValue::Int(1));
        assert!(e.into_obj().is_none());
    }
}
