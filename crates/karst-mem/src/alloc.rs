//! The only module of karst that allocates raw memory and reinterprets it.
//!
//! A [`RawBuf`] is a heap block of possibly uninitialised bytes that remembers how long its
//! initialised prefix is. That watermark survives trips through the pool: a recycled buffer
//! whose bytes were all written once can be lent out as `&mut [u8]` again without zeroing it.

use std::collections::TryReserveError;
use std::mem::MaybeUninit;
use std::ops::Range;

use bytes::buf::UninitSlice;

/// A heap block of `capacity()` bytes, of which a prefix is known to be initialised.
pub(crate) struct RawBuf {
    /// Allocated once at its final size, never reallocated, so the address of its bytes is
    /// stable while the `RawBuf` moves (into a `Bytes` owner, back into the pool).
    mem: Box<[MaybeUninit<u8>]>,
    /// INVARIANT: `init <= mem.len()` and `mem[..init]` is initialised.
    init: usize,
}

// The buffer is plain bytes: no padding, no alignment beyond one, so any prefix may be viewed
// as `[u8]` once initialised.
const _: () = assert!(size_of::<MaybeUninit<u8>>() == 1 && align_of::<MaybeUninit<u8>>() == 1);

impl RawBuf {
    /// Allocates `capacity` uninitialised bytes (no page is touched, so no page fault yet).
    #[expect(clippy::disallowed_methods, reason = "this is the one place that allocates")]
    pub(crate) fn new(capacity: usize) -> RawBuf {
        RawBuf { mem: Box::new_uninit_slice(capacity), init: 0 }
    }

    /// Like [`RawBuf::new`], but reports an allocation failure instead of aborting.
    pub(crate) fn try_new(capacity: usize) -> Result<RawBuf, TryReserveError> {
        let mut mem: Vec<MaybeUninit<u8>> = Vec::new();
        mem.try_reserve_exact(capacity)?;
        #[expect(clippy::disallowed_methods, reason = "this is the one place that allocates")]
        // SAFETY: the capacity is at least `capacity` (reserved above), and `MaybeUninit<u8>`
        // needs no initialisation.
        unsafe {
            mem.set_len(capacity)
        };
        // `into_boxed_slice` reallocates only if the capacity exceeds the length, which
        // `try_reserve_exact` avoids in practice (it is a hint, so this stays correct either way).
        Ok(RawBuf { mem: mem.into_boxed_slice(), init: 0 })
    }

    /// A buffer of capacity zero; it does not allocate.
    pub(crate) fn empty() -> RawBuf {
        RawBuf::new(0)
    }

    pub(crate) fn capacity(&self) -> usize {
        self.mem.len()
    }

    /// Length of the prefix known to be initialised.
    pub(crate) fn init_len(&self) -> usize {
        self.init
    }

    /// Zero-fills `[init_len(), end)` if needed, so that `[..end]` is initialised.
    ///
    /// Panics if `end > capacity()`.
    pub(crate) fn ensure_init(&mut self, end: usize) {
        if end > self.init {
            let part = &mut self.mem[self.init..end];
            // SAFETY: `part` is a valid, uniquely borrowed region of `part.len()` bytes, and
            // zero is a valid `MaybeUninit<u8>`. (A `fill` loop compiles to the same memset in
            // release, but not in debug builds or under Miri, where it is very slow.)
            unsafe { part.as_mut_ptr().write_bytes(0, part.len()) };
            self.init = end;
        }
    }

    /// The initialised bytes of `range`.
    ///
    /// Panics if `range` is not within the initialised prefix.
    pub(crate) fn bytes(&self, range: Range<usize>) -> &[u8] {
        assert!(range.start <= range.end && range.end <= self.init);
        let part = &self.mem[range];
        // SAFETY: `part` lies within `mem[..init]` (checked above), which is initialised by the
        // field's invariant; `MaybeUninit<u8>` and `u8` have the same size and alignment (const
        // assert above).
        unsafe { &*(part as *const [MaybeUninit<u8>] as *const [u8]) }
    }

    /// The initialised bytes of `range`, writable.
    ///
    /// Panics if `range` is not within the initialised prefix. Writing `u8`s cannot
    /// de-initialise anything, so the watermark stays.
    pub(crate) fn bytes_mut(&mut self, range: Range<usize>) -> &mut [u8] {
        assert!(range.start <= range.end && range.end <= self.init);
        let part = &mut self.mem[range];
        // SAFETY: `part` lies within `mem[..init]` (checked above), initialised by the field's
        // invariant; same layout as `[u8]` (const assert above); the borrow of `self` is unique.
        unsafe { &mut *(part as *mut [MaybeUninit<u8>] as *mut [u8]) }
    }

    /// `[from..]` as possibly uninitialised bytes. Because safe code may store
    /// `MaybeUninit::uninit()` through the returned slice, the watermark drops to `from`.
    ///
    /// Panics if `from > capacity()`.
    pub(crate) fn uninit_mut(&mut self, from: usize) -> &mut [MaybeUninit<u8>] {
        let part = &mut self.mem[from..];
        self.init = self.init.min(from);
        part
    }

    /// `range` as an [`UninitSlice`], which can only be written with initialised bytes, so
    /// the watermark stays.
    pub(crate) fn uninit_slice(&mut self, range: Range<usize>) -> &mut UninitSlice {
        UninitSlice::uninit(&mut self.mem[range])
    }

    /// Declares `[..end]` initialised.
    ///
    /// # Safety
    ///
    /// Every byte of `[init_len(), end)` has been written with an initialised value since the
    /// watermark was last lowered, and `end <= capacity()`.
    pub(crate) unsafe fn assume_init(&mut self, end: usize) {
        debug_assert!(end <= self.mem.len());
        self.init = self.init.max(end);
    }
}

impl std::fmt::Debug for RawBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawBuf")
            .field("capacity", &self.mem.len())
            .field("init", &self.init)
            .finish()
    }
}

#[cfg(all(test, not(karst_loom)))]
mod tests {
    use super::*;

    #[test]
    fn watermark_tracks_writes() {
        let mut b = RawBuf::new(64);
        assert_eq!(b.init_len(), 0);
        b.ensure_init(10);
        assert_eq!(b.bytes(0..10), &[0; 10]);
        b.bytes_mut(2..4).copy_from_slice(b"hi");
        assert_eq!(b.bytes(0..5), b"\0\0hi\0");
        b.uninit_slice(10..12).copy_from_slice(b"ab");
        // SAFETY: [10, 12) was just written through the UninitSlice and [..10] was initialised.
        unsafe { b.assume_init(12) };
        assert_eq!(b.bytes(10..12), b"ab");
        let spare = b.uninit_mut(5);
        spare[0] = MaybeUninit::uninit();
        assert_eq!(b.init_len(), 5);
    }

    #[test]
    #[should_panic]
    fn reading_past_the_watermark_panics() {
        let b = RawBuf::new(16);
        let _ = b.bytes(0..1);
    }

    #[test]
    fn try_new_reports_failure() {
        assert_eq!(RawBuf::try_new(100).unwrap().capacity(), 100);
        assert!(RawBuf::try_new(usize::MAX).is_err());
    }

    #[test]
    fn empty_does_not_allocate_and_is_usable() {
        let b = RawBuf::empty();
        assert_eq!(b.capacity(), 0);
        assert_eq!(b.bytes(0..0), b"");
    }
}
