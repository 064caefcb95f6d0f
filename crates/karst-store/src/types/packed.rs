//! A packed run of byte strings: the role of Redis's listpack for small collections.
//!
//! ```text
//! element  = head bytes tail
//! head     = len as 1 byte (< 255) | 0xFF and len as 4 bytes little-endian
//! tail     = len as 1 byte (< 255) | len as 4 bytes little-endian and 0xFF
//! ```
//!
//! The length at both ends lets a walk go either way, so both ends of a list chunk are O(1).
//! An element costs its bytes plus 2 (up to 254 bytes) or 10; Redis's listpack costs 2 to 10
//! too. Elements are addressed by byte offset; offsets stay valid until the next change. The hash
//! type's compact form is built on it.

/// A packed run of byte strings. See the [module docs](self).
#[derive(Clone, Default, Debug, PartialEq, Eq)]
pub(crate) struct Packed {
    buf: Vec<u8>,
    count: usize,
}

#[inline]
fn overhead(n: usize) -> usize {
    if n < 255 { 2 } else { 10 }
}

fn encode(dst: &mut Vec<u8>, v: &[u8]) {
    let n = v.len();
    if n < 255 {
        dst.push(n as u8);
        dst.extend_from_slice(v);
        dst.push(n as u8);
    } else {
        dst.push(0xFF);
        dst.extend_from_slice(&(n as u32).to_le_bytes());
        dst.extend_from_slice(v);
        dst.extend_from_slice(&(n as u32).to_le_bytes());
        dst.push(0xFF);
    }
}

fn u32_at(b: &[u8], at: usize) -> usize {
    let mut k = [0u8; 4];
    if let Some(s) = b.get(at..at + 4) {
        k.copy_from_slice(s);
    }
    u32::from_le_bytes(k) as usize
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

    /// What the run costs in memory (its buffer's capacity).
    #[inline]
    pub(crate) fn cost(&self) -> usize {
        self.buf.capacity()
    }

    /// Gives back spare capacity beyond a quarter of the length (after removals).
    pub(crate) fn trim(&mut self) {
        if self.buf.capacity() > self.buf.len() + self.buf.len() / 4 + 16 {
            self.buf.shrink_to(self.buf.len() + self.buf.len() / 8);
        }
    }

    /// Offset of the first element (equal to [`Packed::end`] when empty).
    #[inline]
    pub(crate) fn start(&self) -> usize {
        0
    }

    /// The element at `at` and the offset of the next one; None at the end.
    #[inline]
    pub(crate) fn get(&self, at: usize) -> Option<(&[u8], usize)> {
        let b = &self.buf;
        let (n, from) = match *b.get(at)? {
            0xFF => (u32_at(b, at + 1), at + 5),
            n => (n as usize, at + 1),
        };
        let v = b.get(from..from + n)?;
        Some((v, from + n + if n < 255 { 1 } else { 5 }))
    }

    /// The offset of the element before the one at `at` (`at` may be [`Packed::end`]).
    #[inline]
    pub(crate) fn prev(&self, at: usize) -> Option<usize> {
        if at == 0 || at > self.buf.len() {
            return None;
        }
        let b = &self.buf;
        let n = match *b.get(at - 1)? {
            0xFF => u32_at(b, at.checked_sub(5)?),
            n => n as usize,
        };
        at.checked_sub(n + overhead(n))
    }

    /// The offset of element number `i` (walking from the nearer end).
    pub(crate) fn offset_of(&self, i: usize) -> Option<usize> {
        if i >= self.count {
            return None;
        }
        if i <= self.count / 2 {
            let mut at = 0;
            for _ in 0..i {
                at = self.get(at)?.1;
            }
            Some(at)
        } else {
            let mut at = self.buf.len();
            for _ in i..self.count {
                at = self.prev(at)?;
            }
            Some(at)
        }
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
            let from = next - v.len() - if v.len() < 255 { 1 } else { 5 };
            self.buf[from..from + v.len()].copy_from_slice(v);
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
    fn edits_match_a_vec_model_around_the_long_length_form() {
        let mut p = Packed::new();
        let mut m: Vec<Vec<u8>> = Vec::new();
        let sizes = [0usize, 1, 7, 253, 254, 255, 256, 300, 1000, 3];
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
        let at = p.offset_of(0).unwrap();
        assert_eq!(p.remove_run(at, m.len()), m.len());
        assert_eq!((p.len(), p.encoded_len()), (0, 0));
    }
}
