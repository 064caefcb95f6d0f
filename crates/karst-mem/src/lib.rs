//! Memory for karst: the one crate that allocates raw memory.
//!
//! # Components
//!
//! - [`LargePool`] lends buffers for large values ([`LargePool::take`] → [`PooledBuf`]), which
//!   are received into with no copy and no zeroing ([`PooledBuf`] is a [`bytes::BufMut`], so
//!   `tokio::io::AsyncReadExt::read_buf` fills it from a socket), then frozen into
//!   [`bytes::Bytes`] ([`PooledBuf::freeze`]). When the last clone of that `Bytes` drops, the
//!   buffer goes back to the pool, so a 32 MB SET does not fault in a fresh mapping each time.
//!   Buffers come in size classes (16 KiB, then four per doubling); idle buffers are capped.
//! - [`MemCounter`] counts bytes for maxmemory: per-slot cache-padded counters that publish to
//!   a global one in batches, so the check on every write is one relaxed load.
//! - Small entries use the global allocator: a size-classed slab did not beat mimalloc enough to
//!   be worth its unsafe code (`docs/memory.md` has the numbers and the command).
//! - [`disable_transparent_huge_pages`] turns THP off for the process, as redis-server's
//!   `disable-thp yes` does (karst-server calls it at start unless configured not to).
//! - [`prefetch_read`] asks the CPU to start loading a cache line that will be read soon.
//! - `start_purger` (feature `mimalloc`) hands mimalloc's freed pages back to the kernel from a
//!   thread of its own, as Redis's `jemalloc-bg-thread` does for jemalloc, so that no thread
//!   serving clients spends milliseconds in `madvise` after a burst of deletions.
//! - [`bytes_eq`] compares the short keys and command names of a request without `memcmp`.
//!
//! # Guarantees
//!
//! - Uninitialised memory is never visible as `&[u8]`: a buffer exposes only what was written
//!   to it, or zeroes its spare part before lending it as `&mut [u8]` (once per buffer: a
//!   recycled buffer remembers that its bytes are initialised).
//! - The bytes idle in a pool never exceed its cap; buffers of other sizes are freed on return.
//! - The pool is thread-safe: a buffer taken on one thread may be frozen, cloned and dropped on
//!   any; a frozen buffer outlives the `LargePool` handle that lent it.
//! - [`LargePool::try_take`] reports an allocation failure as an error instead of aborting (a
//!   client may announce a 512 MB bulk).
//! - Raw allocation and raw views are in `alloc.rs` only (the crate's `clippy.toml` enforces
//!   it); the pool adds only the `unsafe` that declares bytes written (`BufMut`,
//!   [`PooledBuf::assume_filled`]), `thp.rs` its two `prctl` calls, `prefetch.rs` its one
//!   prefetch instruction and `purge.rs` its call into mimalloc. The crate runs under Miri
//!   (`cargo +nightly miri test -p karst-mem`) and the return path has loom models
//!   (`RUSTFLAGS="--cfg karst_loom" cargo test -p karst-mem --release --lib loom`).
//!
//! # Example
//!
//! ```
//! use karst_mem::{LargePool, MemCounter};
//!
//! let pool = LargePool::new(256 << 20); // keep up to 256 MiB of idle buffers
//! let used = MemCounter::new(16);
//!
//! // A 64 KiB payload: 5 bytes were already in the read buffer, the rest comes from a reader.
//! let payload = vec![b'v'; 64 << 10];
//! let mut buf = pool.take(payload.len());
//! buf.fill_from_slice(&payload[..5]);
//! buf.read_to_end_from(&mut &payload[5..]).unwrap();
//! assert!(buf.is_full());
//! used.add(3, buf.capacity());
//! let value: bytes::Bytes = buf.freeze();
//! assert_eq!(value, payload);
//!
//! drop(value); // the last clone: the buffer is idle in the pool now
//! used.sub(3, 64 << 10);
//! assert_eq!(pool.stats().idle_bytes, 64 << 10);
//! assert_eq!(pool.take(64 << 10).capacity(), 64 << 10); // reused, not allocated
//! assert_eq!(used.total(), 0);
//! ```

#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

mod accounting;
mod alloc;
mod cmp;
mod pool;
mod prefetch;
#[cfg(feature = "mimalloc")]
mod purge;
mod sync;
mod thp;

pub use accounting::{DEFAULT_BATCH, MemCounter};
pub use cmp::bytes_eq;
pub use pool::{LargePool, MAX_CLASS, MIN_CLASS, PoolStats, PooledBuf};
pub use prefetch::prefetch_read;
#[cfg(feature = "mimalloc")]
pub use purge::{PURGE_PERIOD, purge, start_purger};
pub use thp::{disable_transparent_huge_pages, transparent_huge_pages_disabled};
