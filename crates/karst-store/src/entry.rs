//! The packed entry: one allocation per key holding its metadata, the key and a small value.
//!
//! ```text
//! byte 0      flags: kind (2 bits: inline string, integer, heap string), RAW, TTL, VISITED
//! bytes 1..4  access clock, 24 bits (LRU: seconds; LFU: 16-bit minutes + 8-bit log counter)
//! bytes 4..8  the low 32 bits of the key's hash (rehashing, SCAN order, TTL index)
//! klen        1 byte, or 0xFF and 4 bytes little-endian for keys of 255 bytes or more
//! expire      8 bytes (i64 ms, little-endian), only when the TTL flag is set
//! key
//! value       inline bytes | i64 little-endian | u32 index into the shard's heap
//! ```
//!
//! The table holds the `Box<[u8]>` itself (16 bytes a slot): a 16-byte key with a 32-byte value
//! costs 9 + 48 bytes in one allocation. Why not a struct with fields: a `Bytes` alone is 32
//! bytes and an `Option<i64>` 16; in the table those would cost 1.5 to 2 times their size again
//! because a hash table is never full.

/// Values up to this length live in the entry; longer ones are shared `Bytes` in the shard's heap.
pub(crate) const INLINE_MAX: usize = 512;

const KIND_MASK: u8 = 0b11;
const KIND_INLINE: u8 = 0;
const KIND_INT: u8 = 1;
const KIND_HEAP: u8 = 2;
/// Redis would report `raw` (APPEND/SETRANGE made it) even when short.
pub(crate) const RAW: u8 = 1 << 2;
const TTL: u8 = 1 << 3;
/// SIEVE's visited bit.
pub(crate) const VISITED: u8 = 1 << 4;

/// How the value is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stored<'a> {
    Inline(&'a [u8]),
    Int(i64),
    Heap(u32),
}

/// A value to store (the shard turns it into an inline value or a heap value).
#[derive(Clone, Copy, Debug)]
pub(crate) enum NewValue<'a> {
    Inline(&'a [u8]),
    Int(i64),
    Heap(u32),
}

/// One key and its value. See the [module docs](self).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    buf: Box<[u8]>,
}

const _: () = assert!(std::mem::size_of::<Entry>() == 16);

impl Entry {
    pub(crate) fn new(
        hash32: u32,
        key: &[u8],
        expire: Option<i64>,
        access: u32,
        flags: u8,
        value: NewValue<'_>,
    ) -> Entry {
        let (kind, vlen) = match value {
            NewValue::Inline(v) => (KIND_INLINE, v.len()),
            NewValue::Int(_) => (KIND_INT, 8),
            NewValue::Heap(_) => (KIND_HEAP, 4),
        };
        let klen_len = if key.len() < 255 { 1 } else { 5 };
        let len = 8 + klen_len + if expire.is_some() { 8 } else { 0 } + key.len() + vlen;
        let mut buf = Vec::with_capacity(len);
        let mut f = (flags & (RAW | VISITED)) | kind;
        if expire.is_some() {
            f |= TTL;
        }
        buf.push(f);
        buf.extend_from_slice(&access.to_le_bytes()[..3]);
        buf.extend_from_slice(&hash32.to_le_bytes());
        if key.len() < 255 {
            buf.push(key.len() as u8);
        } else {
            buf.push(0xFF);
            buf.extend_from_slice(&(key.len() as u32).to_le_bytes());
        }
        if let Some(at) = expire {
            buf.extend_from_slice(&at.to_le_bytes());
        }
        buf.extend_from_slice(key);
        match value {
            NewValue::Inline(v) => buf.extend_from_slice(v),
            NewValue::Int(i) => buf.extend_from_slice(&i.to_le_bytes()),
            NewValue::Heap(ix) => buf.extend_from_slice(&ix.to_le_bytes()),
        }
        Entry { buf: buf.into_boxed_slice() }
    }

    /// The same key with another value, keeping the expire and access clock.
    pub(crate) fn with_value(&self, flags: u8, value: NewValue<'_>) -> Entry {
        Entry::new(self.hash32(), self.key(), self.expire(), self.access(), flags, value)
    }

    /// The same key and value with another expire.
    pub(crate) fn with_expire(&self, expire: Option<i64>) -> Entry {
        Entry::new(self.hash32(), self.key(), expire, self.access(), self.flags(), self.new_value())
    }

    fn new_value(&self) -> NewValue<'_> {
        match self.stored() {
            Stored::Inline(v) => NewValue::Inline(v),
            Stored::Int(i) => NewValue::Int(i),
            Stored::Heap(ix) => NewValue::Heap(ix),
        }
    }

    #[inline]
    fn flags(&self) -> u8 {
        self.buf.first().copied().unwrap_or(0)
    }

    #[inline]
    pub(crate) fn hash32(&self) -> u32 {
        let mut b = [0u8; 4];
        b.copy_from_slice(self.buf.get(4..8).unwrap_or(&[0; 4]));
        u32::from_le_bytes(b)
    }

    /// (start of key, end of key).
    #[inline]
    fn key_span(&self) -> (usize, usize) {
        let b = &self.buf;
        let (klen, mut at) = match b.get(8).copied() {
            Some(0xFF) => {
                let mut k = [0u8; 4];
                k.copy_from_slice(b.get(9..13).unwrap_or(&[0; 4]));
                (u32::from_le_bytes(k) as usize, 13)
            }
            Some(n) => (n as usize, 9),
            None => (0, 9),
        };
        if self.flags() & TTL != 0 {
            at += 8;
        }
        (at, at + klen)
    }

    #[inline]
    pub(crate) fn key(&self) -> &[u8] {
        let (s, e) = self.key_span();
        self.buf.get(s..e).unwrap_or_default()
    }

    #[inline]
    pub(crate) fn expire(&self) -> Option<i64> {
        if self.flags() & TTL == 0 {
            return None;
        }
        let at = if self.buf.get(8) == Some(&0xFF) { 13 } else { 9 };
        let mut b = [0u8; 8];
        b.copy_from_slice(self.buf.get(at..at + 8)?);
        Some(i64::from_le_bytes(b))
    }

    #[inline]
    pub(crate) fn is_expired(&self, now: i64) -> bool {
        matches!(self.expire(), Some(at) if at <= now)
    }

    #[inline]
    pub(crate) fn stored(&self) -> Stored<'_> {
        let (_, e) = self.key_span();
        let v = self.buf.get(e..).unwrap_or_default();
        match self.flags() & KIND_MASK {
            KIND_INT => {
                let mut b = [0u8; 8];
                b.copy_from_slice(v.get(..8).unwrap_or(&[0; 8]));
                Stored::Int(i64::from_le_bytes(b))
            }
            KIND_HEAP => {
                let mut b = [0u8; 4];
                b.copy_from_slice(v.get(..4).unwrap_or(&[0; 4]));
                Stored::Heap(u32::from_le_bytes(b))
            }
            _ => Stored::Inline(v),
        }
    }

    #[inline]
    pub(crate) fn is_raw(&self) -> bool {
        self.flags() & RAW != 0
    }

    #[inline]
    pub(crate) fn access(&self) -> u32 {
        let b = &self.buf;
        u32::from_le_bytes([
            b.get(1).copied().unwrap_or(0),
            b.get(2).copied().unwrap_or(0),
            b.get(3).copied().unwrap_or(0),
            0,
        ])
    }

    #[inline]
    pub(crate) fn set_access(&mut self, access: u32) {
        if let Some(dst) = self.buf.get_mut(1..4) {
            dst.copy_from_slice(&access.to_le_bytes()[..3]);
        }
    }

    #[inline]
    pub(crate) fn visited(&self) -> bool {
        self.flags() & VISITED != 0
    }

    #[inline]
    pub(crate) fn set_visited(&mut self, on: bool) {
        if let Some(f) = self.buf.first_mut() {
            if on {
                *f |= VISITED;
            } else {
                *f &= !VISITED;
            }
        }
    }

    /// What the allocation costs: its length rounded up to the allocator's 16-byte classes.
    #[inline]
    pub(crate) fn cost(&self) -> usize {
        (self.buf.len() + 15) & !15
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_pinned() {
        assert_eq!(std::mem::size_of::<Entry>(), 16);
        assert_eq!(std::mem::size_of::<Option<Entry>>(), 16);
        // 16-byte key, 32-byte value, no TTL: 9 bytes of header, one 64-byte allocation.
        let e = Entry::new(7, &[b'k'; 16], None, 0, 0, NewValue::Inline(&[b'v'; 32]));
        assert_eq!(e.buf.len(), 57);
        assert_eq!(e.cost(), 64);
    }

    #[test]
    fn fields_round_trip() {
        for key in [&b""[..], b"k", &[b'x'; 300]] {
            for expire in [None, Some(0), Some(-5), Some(i64::MAX)] {
                for value in [NewValue::Inline(b"hello"), NewValue::Int(-42), NewValue::Heap(9)] {
                    let mut e = Entry::new(0xDEAD_BEEF, key, expire, 0x00AB_CDEF, RAW, value);
                    assert_eq!(e.key(), key);
                    assert_eq!(e.expire(), expire);
                    assert_eq!(e.hash32(), 0xDEAD_BEEF);
                    assert_eq!(e.access(), 0x00AB_CDEF);
                    assert!(e.is_raw());
                    match (value, e.stored()) {
                        (NewValue::Inline(a), Stored::Inline(b)) => assert_eq!(a, b),
                        (NewValue::Int(a), Stored::Int(b)) => assert_eq!(a, b),
                        (NewValue::Heap(a), Stored::Heap(b)) => assert_eq!(a, b),
                        other => panic!("mismatch {other:?}"),
                    }
                    e.set_access(5);
                    e.set_visited(true);
                    assert_eq!(e.access(), 5);
                    assert!(e.visited());
                    let e2 = e.with_expire(Some(77));
                    assert_eq!(e2.expire(), Some(77));
                    assert_eq!(e2.key(), key);
                    assert_eq!(e2.stored(), e.stored());
                }
            }
        }
    }
}
