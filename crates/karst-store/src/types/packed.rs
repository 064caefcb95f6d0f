//! A packed run of byte strings: the role of Redis's listpack for small hashes and sets.
//!
//! ```text
//! element  = len as LEB128 (1 byte up to 127, 2 up to 16383…) bytes
//! ```
//!
//! Walks go forwards only (a small hash or set is only ever searched or listed from its start),
//! so an element costs its bytes plus 1 where Redis's listpack spends 2 (a length at each end,
//! for backward walks). Measured on hashes of 50 pairs of 16-byte strings: 1 700 bytes, in a
//! 1 792-byte size class, where two bytes a string made 1 800 and a 2 048-byte class (Redis
//! 7.0: 1 807, 2 048). Elements are addressed by byte offset; offsets stay valid until the next
//! change.

/// A packed run of byte strings. See the [module docs](self).
#[derive(Clone, Default, Debug, PartialEq, Eq)]
pub(crate) struct Packed {
    buf: Vec<u8>,
    count: usize,
}

/// Bytes of the length of an element of `n` bytes.
#[inline]
fn overhead(mut n: usize) -> usize {
    let mut k = 1;
    while n >= 0x80 {
        n >>= 7;
        k += 1;
    }
    k
}

fn encode(dst: &mut Vec<u8>, v: &[u8]) {
    let mut n = v.len();
    while n >= 0x80 {
        dst.push((n as u8 & 0x7F) | 0x80);
        n >>= 7;
    }
    dst.push(n as u8);
    dst.extend_from_slice(v);
}

impl Packed {
    /// An empty run.
    pub(crate) fn new() -> Packed {
        Packed::default()
    }

    /// Number of elements.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.count
    }

    /// Bytes of the encoded elements.
    #[inline]
    pub(crate) fn encoded_len(&self) -> usize {
        self.buf.len()
    }

    /// What the run costs in memory: its buffer's allocation, in the allocator's size class.
    #[inline]
    pub(crate) fn cost(&self) -> usize {
        if self.buf.capacity() == 0 { 0 } else { crate::entry::size_class(self.buf.capacity()) }
    }

    /// Gives back capacity past the size class of the length (after removals).
    pub(crate) fn trim(&mut self) {
        let fit = crate::entry::size_class(self.buf.len().max(1));
        if self.buf.capacity() > fit + fit / 4 {
            self.buf.shrink_to(fit);
        }
    }

    /// Offset of the first element.
    #[inline]
    pub(crate) fn start(&self) -> usize {
        0
    }

    /// The element at `at` and the offset of the next one; None at the end.
    #[inline]
    pub(crate) fn get(&self, at: usize) -> Option<(&[u8], usize)> {
        let b = &self.buf;
        let (mut n, mut i, mut shift) = (0usize, at, 0u32);
        loop {
            let c = *b.get(i)?;
            i += 1;
            n |= usize::from(c & 0x7F).checked_shl(shift)?;
            if c & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        let end = i.checked_add(n)?;
        Some((b.get(i..end)?, end))
    }

    /// The offset of element number `i`.
    pub(crate) fn offset_of(&self, i: usize) -> Option<usize> {
        if i >= self.count {
            return None;
        }
        let mut at = 0;
        for _ in 0..i {
            at = self.get(at)?.1;
        }
        Some(at)
    }

    /// Every element, first to last.
    pub(crate) fn iter(&self) -> Iter<'_> {
        Iter { p: self, at: 0, end: self.buf.len() }
    }

    /// Appends `v`.
    pub(crate) fn push_back(&mut self, v: &[u8]) {
        let need = v.len() + overhead(v.len());
        if self.buf.capacity() - self.buf.len() < need {
            // Grow to the allocator's size class of the new length (classes are an eighth to a
            // quarter apart, which amortizes the growth): a run costs about its bytes, as a
            // listpack does, with no copy to shrink it after a write.
            let len = self.buf.len();
            self.buf.reserve_exact(crate::entry::size_class(len + need) - len);
        }
        encode(&mut self.buf, v);
        self.count += 1;
    }

    /// Removes the element at `at`; returns `at` (now the offset of the element after it).
    pub(crate) fn remove(&mut self, at: usize) -> usize {
        self.remove_run(at, 1);
        at
    }

    /// Removes `n` elements from `at` on; returns how many were removed.
    pub(crate) fn remove_run(&mut self, at: usize, n: usize) -> usize {
        let mut end = at;
        let mut k = 0;
        while k < n {
            match self.get(end) {
                Some((_, next)) => end = next,
                None => break,
            }
            k += 1;
        }
        self.buf.drain(at..end);
        self.count -= k;
        k
    }

    /// Replaces the element at `at` with `v`; returns the offset of the element after it.
    pub(crate) fn replace(&mut self, at: usize, v: &[u8]) -> usize {
        let Some((old, next)) = self.get(at) else { return at };
        if old.len() == v.len() {
            self.buf[next - v.len()..next].copy_from_slice(v);
            return next;
        }
        let mut enc = Vec::with_capacity(v.len() + overhead(v.len()));
        encode(&mut enc, v);
        let new_next = at + enc.len();
        self.buf.splice(at..next, enc);
        new_next
    }
}

/// Iterator over a [`Packed`] run.
#[derive(Clone, Debug)]
pub(crate) struct Iter<'a> {
    p: &'a Packed,
    at: usize,
    end: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.at >= self.end {
            return None;
        }
        let (v, next) = self.p.get(self.at)?;
        self.at = next;
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model_check(p: &Packed, m: &[Vec<u8>]) {
        assert_eq!(p.len(), m.len());
        assert_eq!(p.iter().collect::<Vec<_>>(), m.iter().map(|v| &v[..]).collect::<Vec<_>>());
        for (i, v) in m.iter().enumerate() {
            let at = p.offset_of(i).unwrap();
            assert_eq!(p.get(at).unwrap().0, &v[..]);
        }
    }

    #[test]
    fn edits_match_a_vec_model_around_each_length_size() {
        let mut p = Packed::new();
        let mut m: Vec<Vec<u8>> = Vec::new();
        let sizes = [0usize, 1, 7, 127, 128, 253, 255, 300, 16383, 16384, 3];
        for (i, &n) in sizes.iter().enumerate() {
            let v = vec![i as u8; n];
            p.push_back(&v);
            m.push(v);
            model_check(&p, &m);
        }
        // Replace with every size combination, then remove runs from the middle and the end.
        for (i, &n) in sizes.iter().enumerate() {
            let at = p.offset_of(i).unwrap();
            let v = vec![0xAB; n];
            p.replace(at, &v);
            m[i] = v;
            model_check(&p, &m);
        }
        let at = p.offset_of(2).unwrap();
        assert_eq!(p.remove_run(at, 3), 3);
        m.drain(2..5);
        model_check(&p, &m);
        let at = p.offset_of(m.len() - 2).unwrap();
        assert_eq!(p.remove_run(at, 5), 2);
        m.truncate(m.len() - 2);
        model_check(&p, &m);
        let at = p.offset_of(1).unwrap();
        assert_eq!(p.remove(at), at);
        m.remove(1);
        model_check(&p, &m);
        assert_eq!(p.offset_of(m.len()), None);
        p.trim();
        assert!(p.cost() >= p.encoded_len());
        model_check(&p, &m);
        let at = p.offset_of(0).unwrap();
        assert_eq!(p.remove_run(at, m.len()), m.len());
        assert_eq!((p.len(), p.encoded_len()), (0, 0));
    }

    /// Truncated or corrupt input never panics.
    #[test]
    fn a_broken_run_reads_as_its_end() {
        let mut p = Packed::new();
        p.push_back(&[7; 300]);
        p.push_back(b"x");
        p.buf.truncate(p.buf.len() - 3);
        assert_eq!(p.iter().count(), 0);
        let p = Packed { buf: vec![0xFF; 12], count: 1 };
        assert_eq!(p.get(0), None);
    }
}
