//! A capped pool of large buffers that are received into, frozen into [`Bytes`], and come back
//! to the pool when the last clone of that `Bytes` drops.
//!
//! Why: a fresh 32 MB allocation is a fresh mapping, and the first write of each of its 8192
//! pages is a page fault (plus the zeroing the kernel does for it). Reusing a buffer that was
//! already written skips both; see `docs/memory.md` for the measured difference.
//!
//! Size classes: [`MIN_CLASS`] (16 KiB), then four classes per doubling (1.25, 1.5, 1.75 and 2
//! times a power of two), up to [`MAX_CLASS`] (1 GiB). A request is served by the smallest class
//! that holds it, so a buffer wastes less than 25% of its length (exactly 0% for powers of two,
//! the usual chunk sizes), and a returned buffer serves every later request of its class.
//! Requests below `MIN_CLASS` or above the cap or `MAX_CLASS` get a buffer of their exact size
//! that is freed, not pooled, when dropped.

use std::collections::TryReserveError;
use std::convert::Infallible;
use std::fmt;
use std::io;
use std::mem::MaybeUninit;

use bytes::buf::UninitSlice;
use bytes::{BufMut, Bytes};

use crate::alloc::RawBuf;
use crate::sync::{Arc, AtomicUsize, Mutex, Ordering, lock};

/// The smallest pooled size class, in bytes.
pub const MIN_CLASS: usize = 16 * 1024;
/// The largest pooled size class, in bytes (above Redis's 512 MB bulk limit).
pub const MAX_CLASS: usize = 1 << 30;

const MIN_SHIFT: u32 = MIN_CLASS.trailing_zeros();
const _: () = assert!(MIN_CLASS.is_power_of_two() && MAX_CLASS.is_power_of_two());
const _: () = assert!(MIN_SHIFT >= 2, "four classes per doubling need a step of 2^(k-2)");

/// Index of the smallest class that holds `len` bytes (`len <= MAX_CLASS`).
fn class_index(len: usize) -> usize {
    if len <= MIN_CLASS {
        return 0;
    }
    // 2^k < len <= 2^(k+1); the classes of that octave are 5, 6, 7 and 8 steps of 2^(k-2).
    let k = usize::BITS - 1 - (len - 1).leading_zeros();
    let steps = (len - 1) >> (k - 2); // 4..=7
    1 + (k - MIN_SHIFT) as usize * 4 + (steps - 4)
}

/// Size in bytes of class `index`.
fn class_size(index: usize) -> usize {
    if index == 0 {
        return MIN_CLASS;
    }
    let (octave, step) = ((index - 1) / 4, (index - 1) % 4);
    (5 + step) << (MIN_SHIFT as usize + octave - 2)
}

/// The class a buffer of exactly `capacity` bytes belongs to, if it is a class size.
fn class_of_capacity(capacity: usize) -> Option<usize> {
    if capacity == 0 || capacity > MAX_CLASS {
        return None;
    }
    let i = class_index(capacity);
    (class_size(i) == capacity).then_some(i)
}

/// A snapshot of a pool's counters. Each field is read on its own (relaxed), so a snapshot
/// taken while other threads take and return buffers is approximate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStats {
    /// Bytes of the buffers lent out (as `PooledBuf` or frozen `Bytes`), pooled or not,
    /// counted at their capacity.
    pub in_use_bytes: usize,
    /// Bytes of the buffers waiting in the pool; never more than `cap_bytes`.
    pub idle_bytes: usize,
    /// The cap on idle bytes.
    pub cap_bytes: usize,
    /// Takes served by a pooled buffer.
    pub hits: usize,
    /// Takes of a poolable size that had to allocate.
    pub misses: usize,
}

/// A capped pool of large buffers. Cloning it is cheap and shares the pool; it is `Send + Sync`.
///
/// The cap bounds the bytes kept idle in the pool, not the bytes lent out: memory in use is
/// the business of maxmemory ([`crate::MemCounter`]).
#[derive(Clone)]
pub struct LargePool {
    inner: Arc<Inner>,
}

struct Inner {
    cap: usize,
    /// One free list per size class not larger than `cap`.
    classes: Box<[Mutex<Vec<RawBuf>>]>,
    /// INVARIANT: `idle <= cap`, and `idle` is at least the total capacity of the buffers in
    /// `classes` (equal when no `put` or `take` is under way): a return reserves its bytes here
    /// before pushing, a take pops before releasing them.
    idle: AtomicUsize,
    in_use: AtomicUsize,
    hits: AtomicUsize,
    misses: AtomicUsize,
}

impl LargePool {
    /// A pool that keeps at most `cap_bytes` of idle buffers. `0` disables pooling (every
    /// buffer is freed when dropped) while keeping the same API and counters.
    pub fn new(cap_bytes: usize) -> LargePool {
        let classes = (0..).take_while(|&i| class_size(i) <= cap_bytes.min(MAX_CLASS)).count();
        LargePool {
            inner: Arc::new(Inner {
                cap: cap_bytes,
                classes: (0..classes).map(|_| Mutex::new(Vec::new())).collect(),
                idle: AtomicUsize::new(0),
                in_use: AtomicUsize::new(0),
                hits: AtomicUsize::new(0),
                misses: AtomicUsize::new(0),
            }),
        }
    }

    /// A writable buffer for exactly `len` bytes, empty (nothing filled yet).
    ///
    /// Its contents are not zeroed: it can only be read back after it has been written.
    ///
    /// Aborts the process if the allocation fails, as `Vec` does; see [`LargePool::try_take`].
    pub fn take(&self, len: usize) -> PooledBuf {
        match self.take_with(len, |cap| Ok::<_, Infallible>(RawBuf::new(cap))) {
            Ok(buf) => buf,
            Err(never) => match never {},
        }
    }

    /// Like [`take`](Self::take), but an allocation failure is an error, not an abort: what a
    /// server wants when a client announces a 512 MB bulk.
    pub fn try_take(&self, len: usize) -> Result<PooledBuf, TryReserveError> {
        self.take_with(len, RawBuf::try_new)
    }

    fn take_with<E>(
        &self,
        len: usize,
        alloc: impl FnOnce(usize) -> Result<RawBuf, E>,
    ) -> Result<PooledBuf, E> {
        let inner = &*self.inner;
        let raw = match len {
            MIN_CLASS..=MAX_CLASS if class_index(len) < inner.classes.len() => {
                let class = class_index(len);
                let popped = lock(&inner.classes[class]).pop();
                match popped {
                    Some(raw) => {
                        inner.idle.fetch_sub(raw.capacity(), Ordering::Relaxed);
                        inner.hits.fetch_add(1, Ordering::Relaxed);
                        raw
                    }
                    None => {
                        inner.misses.fetch_add(1, Ordering::Relaxed);
                        alloc(class_size(class))?
                    }
                }
            }
            _ => alloc(len)?,
        };
        inner.in_use.fetch_add(raw.capacity(), Ordering::Relaxed);
        Ok(PooledBuf { lease: Lease { raw, pool: Arc::clone(&self.inner) }, len, filled: 0 })
    }

    /// Frees every idle buffer; returns the bytes released.
    pub fn trim(&self) -> usize {
        let mut freed = 0;
        for list in self.inner.classes.iter() {
            let bufs = std::mem::take(&mut *lock(list));
            let bytes: usize = bufs.iter().map(RawBuf::capacity).sum();
            self.inner.idle.fetch_sub(bytes, Ordering::Relaxed);
            freed += bytes;
            drop(bufs); // outside the lock
        }
        freed
    }

    /// The pool's counters.
    pub fn stats(&self) -> PoolStats {
        let i = &*self.inner;
        PoolStats {
            in_use_bytes: i.in_use.load(Ordering::Relaxed),
            idle_bytes: i.idle.load(Ordering::Relaxed),
            cap_bytes: i.cap,
            hits: i.hits.load(Ordering::Relaxed),
            misses: i.misses.load(Ordering::Relaxed),
        }
    }
}

impl fmt::Debug for LargePool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("LargePool").field(&self.stats()).finish()
    }
}

impl Inner {
    /// Takes back a buffer: pooled if it is a class size and fits under the cap, else freed.
    fn put(&self, raw: RawBuf) {
        let capacity = raw.capacity();
        self.in_use.fetch_sub(capacity, Ordering::Relaxed);
        let Some(list) = class_of_capacity(capacity).and_then(|i| self.classes.get(i)) else {
            return;
        };
        let reserved = self.idle.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |idle| {
            idle.checked_add(capacity).filter(|&sum| sum <= self.cap)
        });
        if reserved.is_ok() {
            lock(list).push(raw);
        }
    }
}

/// A buffer lent by the pool; returns itself to the pool when dropped.
struct Lease {
    raw: RawBuf,
    pool: Arc<Inner>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.pool.put(std::mem::replace(&mut self.raw, RawBuf::empty()));
    }
}

/// A buffer of a fixed length `len()` being filled front to back; [`freeze`](Self::freeze)
/// turns it into [`Bytes`] without copying. Dropping it returns the memory to the pool.
///
/// Ways to fill it, all safe:
/// - [`fill_from_slice`](Self::fill_from_slice): copy bytes already at hand (the part of a
///   payload that was already in the connection's read buffer);
/// - as a [`BufMut`]: `tokio::io::AsyncReadExt::read_buf(&mut buf)` reads from a socket
///   straight into the uninitialised memory, with no zeroing;
/// - [`read_from`](Self::read_from) / [`read_to_end_from`](Self::read_to_end_from) with any
///   [`io::Read`], or [`spare_zeroed_mut`](Self::spare_zeroed_mut) + [`commit`](Self::commit):
///   these need `&mut [u8]`, so the spare part is zeroed the first time only; a buffer that
///   comes back from the pool keeps its bytes initialised and is not zeroed again.
///
/// With `unsafe`, [`spare_mut`](Self::spare_mut) + [`assume_filled`](Self::assume_filled) gives
/// the raw `&mut [MaybeUninit<u8>]` (e.g. for `tokio::io::ReadBuf::uninit`).
pub struct PooledBuf {
    lease: Lease,
    /// INVARIANT: `filled <= len <= lease.raw.capacity()` and `filled <= lease.raw.init_len()`.
    len: usize,
    filled: usize,
}

impl PooledBuf {
    /// The length this buffer was taken for: what a full buffer freezes into.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether `len() == 0`.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes of memory behind the buffer (its size class); what a stored value really costs.
    pub fn capacity(&self) -> usize {
        self.lease.raw.capacity()
    }

    /// The bytes written so far.
    pub fn filled(&self) -> &[u8] {
        self.lease.raw.bytes(0..self.filled)
    }

    /// How many bytes have been written.
    pub fn filled_len(&self) -> usize {
        self.filled
    }

    /// How many bytes are left to write.
    pub fn remaining(&self) -> usize {
        self.len - self.filled
    }

    /// Whether all `len()` bytes have been written.
    pub fn is_full(&self) -> bool {
        self.filled == self.len
    }

    /// Copies as much of `src` as fits; returns how many bytes were copied.
    pub fn fill_from_slice(&mut self, src: &[u8]) -> usize {
        let n = src.len().min(self.remaining());
        let start = self.filled;
        self.lease.raw.uninit_slice(start..start + n).copy_from_slice(&src[..n]);
        // SAFETY: `[start, start + n)` was just written, and `[..start]` is initialised
        // (`filled <= init_len()`), so `[..start + n]` is.
        unsafe { self.lease.raw.assume_init(start + n) };
        self.filled += n;
        n
    }

    /// The unwritten part, `[filled_len(), len())`, as initialised bytes: zeroed now where it
    /// never was written before. Write into a prefix of it, then [`commit`](Self::commit).
    pub fn spare_zeroed_mut(&mut self) -> &mut [u8] {
        self.lease.raw.ensure_init(self.len);
        self.lease.raw.bytes_mut(self.filled..self.len)
    }

    /// Marks the first `n` bytes of [`spare_zeroed_mut`](Self::spare_zeroed_mut) as filled.
    ///
    /// Panics if `n > remaining()` or if those bytes were never initialised (that is, without a
    /// `spare_zeroed_mut` since the last [`spare_mut`](Self::spare_mut)).
    pub fn commit(&mut self, n: usize) {
        assert!(n <= self.remaining(), "commit past the end of the buffer");
        let end = self.filled + n;
        assert!(end <= self.lease.raw.init_len(), "commit of bytes that were never written");
        self.filled = end;
    }

    /// One `read` call into the unwritten part; returns what it returned (0: end of stream or
    /// a full buffer).
    pub fn read_from<R: io::Read + ?Sized>(&mut self, reader: &mut R) -> io::Result<usize> {
        if self.is_full() {
            return Ok(0);
        }
        let n = reader.read(self.spare_zeroed_mut())?;
        // A reader that claims more than it was given is buggy, but must not make us panic
        // or expose stale bytes: clamp.
        self.commit(n.min(self.remaining()));
        Ok(n)
    }

    /// Reads until the buffer is full. An early end of stream is `UnexpectedEof`; what was read
    /// stays filled.
    pub fn read_to_end_from<R: io::Read + ?Sized>(&mut self, reader: &mut R) -> io::Result<()> {
        while !self.is_full() {
            match self.read_from(reader) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The unwritten part, `[filled_len(), len())`, possibly uninitialised. Fill a prefix of it,
    /// then call [`assume_filled`](Self::assume_filled).
    pub fn spare_mut(&mut self) -> &mut [MaybeUninit<u8>] {
        let (filled, len) = (self.filled, self.len);
        &mut self.lease.raw.uninit_mut(filled)[..len - filled]
    }

    /// Marks the first `n` bytes of the unwritten part as filled.
    ///
    /// # Safety
    ///
    /// Those `n` bytes have been initialised (e.g. through [`spare_mut`](Self::spare_mut)), and
    /// `n <= remaining()`.
    pub unsafe fn assume_filled(&mut self, n: usize) {
        assert!(n <= self.remaining(), "assume_filled past the end of the buffer");
        let end = self.filled + n;
        // SAFETY: `[..filled]` is initialised (field invariant) and the caller promises
        // `[filled, end)` is.
        unsafe { self.lease.raw.assume_init(end) };
        self.filled = end;
    }

    /// The filled bytes as [`Bytes`], without a copy. When the last clone of it drops, the
    /// memory goes back to the pool. Normally called on a full buffer; a partly filled one
    /// freezes into its filled part.
    pub fn freeze(self) -> Bytes {
        if self.filled == 0 {
            return Bytes::new(); // dropping `self` returns the buffer now
        }
        Bytes::from_owner(Frozen { len: self.filled, lease: self.lease })
    }
}

impl fmt::Debug for PooledBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PooledBuf")
            .field("len", &self.len)
            .field("filled", &self.filled)
            .field("capacity", &self.capacity())
            .finish()
    }
}

// SAFETY: `remaining_mut` is the unwritten length; `chunk_mut` returns exactly that region of
// the buffer's own memory, which stays valid for the borrow; `advance_mut` is only sound when
// its caller initialised `cnt` bytes of that chunk (the trait's contract), which is what
// `assume_filled` requires, and `UninitSlice` cannot be used to de-initialise bytes.
unsafe impl BufMut for PooledBuf {
    fn remaining_mut(&self) -> usize {
        self.remaining()
    }

    unsafe fn advance_mut(&mut self, cnt: usize) {
        // SAFETY: the caller of `advance_mut` promises the next `cnt` bytes of `chunk_mut`,
        // i.e. of the unwritten part, are initialised, and `cnt <= remaining_mut()`.
        unsafe { self.assume_filled(cnt) }
    }

    fn chunk_mut(&mut self) -> &mut UninitSlice {
        let (filled, len) = (self.filled, self.len);
        self.lease.raw.uninit_slice(filled..len)
    }
}

/// The owner inside a frozen `Bytes`.
struct Frozen {
    /// INVARIANT: `len <= lease.raw.init_len()`, and nothing writes to the buffer any more.
    len: usize,
    lease: Lease,
}

impl AsRef<[u8]> for Frozen {
    fn as_ref(&self) -> &[u8] {
        self.lease.raw.bytes(0..self.len)
    }
}

#[cfg(all(test, not(karst_loom)))]
mod tests {
    use super::*;

    const KIB: usize = 1024;

    #[test]
    fn classes_are_monotone_tight_and_cover_every_length() {
        let mut prev = 0;
        for i in 0..=class_index(MAX_CLASS) {
            let size = class_size(i);
            assert!(size > prev, "class {i}");
            assert_eq!(class_index(size), i);
            assert_eq!(class_index(size + 1), i + 1);
            assert_eq!(class_of_capacity(size), Some(i));
            if i > 0 {
                assert_eq!(class_index(prev + 1), i);
                assert!((size - prev) * 5 <= size, "waste under 25% at class {i}");
                assert_eq!(class_of_capacity(size - 1), None);
            }
            prev = size;
        }
        assert_eq!(class_size(class_index(MAX_CLASS)), MAX_CLASS);
        assert_eq!(class_size(class_index(4 << 20)), 4 << 20);
        assert_eq!(class_size(class_index(32 << 20)), 32 << 20);
        assert_eq!(class_size(class_index(17 << 20)), 20 << 20);
        assert_eq!(class_index(1), 0);
        assert_eq!(class_of_capacity(0), None);
    }

    fn full(pool: &LargePool, len: usize, byte: u8) -> PooledBuf {
        let mut b = pool.take(len);
        assert_eq!(b.fill_from_slice(&vec![byte; len + 3]), len);
        assert!(b.is_full());
        b
    }

    #[test]
    fn freeze_then_last_drop_returns_the_buffer() {
        let pool = LargePool::new(64 * KIB);
        let b = full(&pool, 20 * KIB, 7);
        assert_eq!(b.capacity(), 20 * KIB);
        let bytes = b.freeze();
        let clone = bytes.slice(10..20);
        assert_eq!(pool.stats().in_use_bytes, 20 * KIB);
        drop(bytes);
        assert_eq!(clone, vec![7u8; 10]);
        assert_eq!(pool.stats().idle_bytes, 0);
        drop(clone);
        let s = pool.stats();
        assert_eq!((s.in_use_bytes, s.idle_bytes, s.misses, s.hits), (0, 20 * KIB, 1, 0));
        // The next take of that class reuses it, and reads only what it writes.
        let mut b = pool.take(17 * KIB);
        assert_eq!(pool.stats().hits, 1);
        assert_eq!(b.filled(), b"");
        assert_eq!(b.spare_zeroed_mut()[0], 7, "recycled bytes are not zeroed again");
        b.fill_from_slice(&[1; 17 * KIB]);
        assert_eq!(&b.freeze()[..], &[1; 17 * KIB][..]);
    }

    #[test]
    fn the_cap_bounds_idle_bytes_and_trim_releases_them() {
        let pool = LargePool::new(40 * KIB);
        let (a, b, c) = (pool.take(16 * KIB), pool.take(16 * KIB), pool.take(16 * KIB));
        assert_eq!(pool.stats().in_use_bytes, 48 * KIB);
        drop((a, b, c));
        assert_eq!(pool.stats().idle_bytes, 32 * KIB, "the third one does not fit");
        assert_eq!(pool.stats().in_use_bytes, 0);
        assert_eq!(pool.trim(), 32 * KIB);
        assert_eq!(pool.stats().idle_bytes, 0);
    }

    #[test]
    fn sizes_outside_the_classes_are_exact_and_not_pooled() {
        let pool = LargePool::new(64 * KIB);
        for len in [0, 1, 100, MIN_CLASS - 1, 65 * KIB] {
            let b = pool.take(len);
            assert_eq!(b.capacity(), len);
            drop(b);
            assert_eq!(pool.stats().idle_bytes, 0, "len {len}");
        }
        let off = LargePool::new(0);
        drop(off.take(MIN_CLASS));
        assert_eq!(off.stats().idle_bytes, 0);
    }

    #[test]
    fn io_read_paths() {
        let pool = LargePool::new(64 * KIB);
        let src: Vec<u8> = (0..MIN_CLASS).map(|i| i as u8).collect();
        let mut b = pool.take(MIN_CLASS);
        b.fill_from_slice(&src[..100]);
        let mut rest = &src[100..];
        b.read_to_end_from(&mut rest).unwrap();
        assert_eq!(b.read_from(&mut &b"more"[..]).unwrap(), 0, "full");
        assert_eq!(&b.freeze()[..], &src[..]);

        let mut short = pool.take(MIN_CLASS);
        let err = short.read_to_end_from(&mut &src[..10]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(short.filled(), &src[..10]);
        assert_eq!(short.freeze(), &src[..10], "a partial buffer freezes into what it holds");
    }

    #[test]
    fn bufmut_and_raw_spare() {
        let pool = LargePool::new(64 * KIB);
        let mut b = pool.take(MIN_CLASS);
        b.put_slice(b"head");
        b.put_u8(b'-');
        assert_eq!(b.remaining_mut(), MIN_CLASS - 5);
        let spare = b.spare_mut();
        assert_eq!(spare.len(), MIN_CLASS - 5);
        for s in spare.iter_mut() {
            s.write(b'x');
        }
        // SAFETY: the whole spare part was just written.
        unsafe { b.assume_filled(MIN_CLASS - 5) };
        let bytes = b.freeze();
        assert_eq!(&bytes[..6], b"head-x");
        assert_eq!(bytes.len(), MIN_CLASS);
    }

    #[test]
    #[should_panic(expected = "never written")]
    fn commit_of_unwritten_bytes_panics() {
        let pool = LargePool::new(0);
        let mut b = pool.take(100);
        let _ = b.spare_mut(); // lowers the watermark
        b.commit(1);
    }

    #[test]
    fn spare_mut_lowers_the_watermark_of_a_recycled_buffer() {
        let pool = LargePool::new(64 * KIB);
        drop(full(&pool, MIN_CLASS, 3).freeze());
        let mut b = pool.take(MIN_CLASS);
        b.spare_mut()[0] = MaybeUninit::uninit();
        // The byte just de-initialised must not be committable without zeroing first.
        assert!(std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| b.commit(1))).is_err());
        assert_eq!(b.spare_zeroed_mut()[0], 0);
        b.commit(1);
        assert_eq!(b.filled(), &[0]);
    }

    #[test]
    fn buffers_outlive_the_pool_handle() {
        let pool = LargePool::new(64 * KIB);
        let bytes = full(&pool, MIN_CLASS, 9).freeze();
        drop(pool);
        assert_eq!(bytes[MIN_CLASS - 1], 9);
    }

    #[test]
    fn concurrent_take_and_drop() {
        let pool = LargePool::new(128 * KIB);
        let iters = if cfg!(miri) { 4 } else { 200 };
        std::thread::scope(|s| {
            for t in 0..2u8 {
                let pool = pool.clone();
                s.spawn(move || {
                    for i in 0..iters {
                        let len = MIN_CLASS + (i % 3) * 1000;
                        let b = full(&pool, len, t).freeze();
                        let other = b.clone();
                        std::thread::scope(|s| {
                            s.spawn(move || drop(other));
                        });
                        assert!(b.iter().all(|&x| x == t));
                    }
                });
            }
        });
        let s = pool.stats();
        assert_eq!(s.in_use_bytes, 0);
        assert!(s.idle_bytes <= s.cap_bytes);
    }

    #[test]
    fn try_take_reports_an_impossible_size() {
        let pool = LargePool::new(64 * KIB);
        assert!(pool.try_take(usize::MAX).is_err());
        assert_eq!(pool.try_take(20 * KIB).unwrap().capacity(), 20 * KIB);
        assert_eq!(pool.stats().in_use_bytes, 0);
    }

    #[test]
    fn handles_stay_small() {
        // A pointer + length + watermark, the pool's `Arc`, and two lengths.
        assert_eq!(size_of::<PooledBuf>(), 6 * size_of::<usize>());
        assert_eq!(size_of::<Frozen>(), 5 * size_of::<usize>());
    }

    #[test]
    fn send_sync() {
        fn assert<T: Send + Sync>() {}
        assert::<LargePool>();
        assert::<PooledBuf>();
    }
}

#[cfg(all(test, karst_loom))]
mod loom_tests {
    //! The return path under loom: the refcount of a frozen buffer shared by two threads, and
    //! two returns racing for the last bytes under the cap.

    use super::*;

    fn frozen(pool: &LargePool, byte: u8) -> Frozen {
        let mut b = pool.take(MIN_CLASS);
        b.fill_from_slice(&[byte; MIN_CLASS]);
        Frozen { len: b.filled, lease: b.lease }
    }

    #[test]
    fn loom_last_of_two_clones_returns_the_buffer_once() {
        loom::model(|| {
            let pool = LargePool::new(2 * MIN_CLASS);
            // `Bytes` counts its clones with std atomics that loom cannot see, so the model
            // shares the same owner through loom's `Arc`: the last drop runs `Frozen::drop`.
            let shared = Arc::new(frozen(&pool, 5));
            let other = Arc::clone(&shared);
            let t = loom::thread::spawn(move || {
                assert_eq!(AsRef::<[u8]>::as_ref(&*other)[MIN_CLASS - 1], 5);
                drop(other);
            });
            drop(shared);
            t.join().unwrap();
            let s = pool.stats();
            assert_eq!((s.in_use_bytes, s.idle_bytes), (0, MIN_CLASS));
            assert_eq!(pool.take(MIN_CLASS).capacity(), MIN_CLASS);
            assert_eq!(pool.stats().hits, 1, "the returned buffer is reused");
        });
    }

    #[test]
    fn loom_racing_returns_never_exceed_the_cap() {
        loom::model(|| {
            let pool = LargePool::new(MIN_CLASS); // room for one buffer
            let (a, b) = (frozen(&pool, 1), frozen(&pool, 2));
            let p2 = pool.clone();
            let t = loom::thread::spawn(move || {
                drop(b);
                let taken = p2.take(MIN_CLASS);
                assert!(p2.stats().idle_bytes <= MIN_CLASS);
                drop(taken);
            });
            drop(a);
            assert!(pool.stats().idle_bytes <= MIN_CLASS);
            t.join().unwrap();
            let s = pool.stats();
            assert_eq!((s.in_use_bytes, s.idle_bytes), (0, MIN_CLASS));
            assert_eq!(pool.trim(), MIN_CLASS, "exactly one buffer is pooled");
        });
    }
}
