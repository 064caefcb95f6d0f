//! Where the bytes of a `memory_per_element` case go: every allocation the load makes, by the
//! allocator's size class, live at the end and made-then-freed on the way, next to the RSS
//! growth and the store's own accounting. The difference between RSS and the live classes is
//! what the allocator holds beyond the blocks in use (freed blocks in pages still in use, page
//! slack).
//!
//! `cargo run --release -p karst-benches --example alloc_census -- CASE [ELEMENTS]`
//! (CASE as in memory_per_element: `hash-small`, `intset-small`, `zset-large`…)

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use karst_benches::{collection_commands, rss_bytes};
use karst_store::Store;

/// mimalloc's size classes as the build karst uses hands them out (measured by the distance
/// between consecutive blocks: 16-byte steps up to 128 bytes, then four classes per power of
/// two, its `mi_bin`), up to 32 MiB; larger blocks are counted in one last bin.
fn bin_of(n: usize) -> usize {
    let w = n.div_ceil(8).max(1);
    if w <= 8 {
        return if w <= 1 { 1 } else { (w + 1) & !1 };
    }
    let w = w - 1;
    let b = usize::BITS as usize - 1 - w.leading_zeros() as usize;
    (((b << 2) + ((w >> (b - 2)) & 3)) - 3).min(BINS - 1)
}

/// The block size of bin `i` (the largest request it serves).
fn bin_size(i: usize) -> usize {
    if i <= 8 {
        return i * 8;
    }
    let (b, q) = ((i + 3) >> 2, (i + 3) & 3);
    ((q + 5) << (b - 2)) * 8
}

const BINS: usize = 96;

struct Counting {
    allocs: [AtomicU64; BINS],
    frees: [AtomicU64; BINS],
}

impl Counting {
    fn snapshot(&self) -> [(u64, u64); BINS] {
        std::array::from_fn(|i| (self.allocs[i].load(Relaxed), self.frees[i].load(Relaxed)))
    }
}

// SAFETY: every call is forwarded to mimalloc unchanged; the counters only observe sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        self.allocs[bin_of(l.size())].fetch_add(1, Relaxed);
        // SAFETY: the caller's contract, forwarded.
        unsafe { mimalloc::MiMalloc.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        self.allocs[bin_of(l.size())].fetch_add(1, Relaxed);
        // SAFETY: the caller's contract, forwarded.
        unsafe { mimalloc::MiMalloc.alloc_zeroed(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        self.frees[bin_of(l.size())].fetch_add(1, Relaxed);
        // SAFETY: the caller's contract, forwarded.
        unsafe { mimalloc::MiMalloc.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        self.frees[bin_of(l.size())].fetch_add(1, Relaxed);
        self.allocs[bin_of(new)].fetch_add(1, Relaxed);
        // SAFETY: the caller's contract, forwarded.
        unsafe { mimalloc::MiMalloc.realloc(p, l, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting {
    allocs: [const { AtomicU64::new(0) }; BINS],
    frees: [const { AtomicU64::new(0) }; BINS],
};

fn main() {
    let mut args = std::env::args().skip(1);
    let case = args.next().unwrap_or_else(|| "intset-small".into());
    let total: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let cmds = collection_commands(&case, total);
    let keys = cmds.iter().filter_map(|c| c.get(1)).collect::<std::collections::HashSet<_>>();
    let keys = keys.len();
    let store = Store::new();
    let (rss0, acc0, before) = (rss_bytes("self"), store.used_memory(), GLOBAL.snapshot());
    for c in &cmds {
        store.execute(c);
    }
    let after = GLOBAL.snapshot();
    let rss = rss_bytes("self").saturating_sub(rss0);
    let acc = store.used_memory().saturating_sub(acc0);
    drop(cmds);
    println!("{case}: {total} elements in {keys} keys");
    println!();
    println!("| size class | live blocks | live bytes / key | made and freed during the load |");
    println!("|---|---|---|---|");
    let mut live_sum = 0u64;
    for i in 1..BINS {
        let (a, f) = (after[i].0 - before[i].0, after[i].1 - before[i].1);
        let live = a as i64 - f as i64;
        if live == 0 && a == 0 {
            continue;
        }
        let bytes = live * bin_size(i) as i64;
        live_sum = live_sum.wrapping_add_signed(bytes);
        if bytes.unsigned_abs() < keys as u64 / 2 && a.min(f) * (bin_size(i) as u64) < keys as u64 {
            continue; // under half a byte a key live, and under a byte a key made and freed
        }
        println!(
            "| {} | {live} | {:.1} B | {} blocks |",
            bin_size(i),
            bytes as f64 / keys as f64,
            a.min(f)
        );
    }
    let per = |b: u64| b as f64 / keys as f64;
    println!();
    println!(
        "per key: live blocks {:.1} B, accounted {:.1} B, RSS growth {:.1} B",
        per(live_sum),
        per(acc),
        per(rss)
    );
}
