//! Small entries: would a size-classed slab beat the allocator? One million 64-byte entries,
//! allocated, written and freed, under the system allocator (glibc), mimalloc, and a minimal
//! slab (64 KiB chunks of 64-byte slots, a free list of `u32` handles).
//!
//! Reports allocation throughput (criterion, elements/s) and, before that, resident bytes per
//! entry, each measured in a fresh child process (`/proc/self/statm`) so one allocator's
//! retained memory does not blur another's. Run:
//! `cargo bench -p karst-mem --bench small_alloc -- --warm-up-time 1 --measurement-time 3`

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::process::Command;

use criterion::{Criterion, Throughput, criterion_group};
use mimalloc::MiMalloc;

const ENTRIES: usize = 1_000_000;
const ENTRY: usize = 64;
const CHILD_ENV: &str = "KARST_MEM_RSS_CHILD";

/// The slab candidate: all safe code, `u32` handles instead of pointers.
struct Slab64 {
    chunks: Vec<Box<[[u8; ENTRY]]>>,
    free: Vec<u32>,
    next: u32,
}

const SLOTS_PER_CHUNK: usize = 64 * 1024 / ENTRY;

impl Slab64 {
    fn new() -> Slab64 {
        Slab64 { chunks: Vec::new(), free: Vec::new(), next: 0 }
    }

    fn alloc(&mut self, value: &[u8; ENTRY]) -> u32 {
        let h = match self.free.pop() {
            Some(h) => h,
            None => {
                let h = self.next;
                if h as usize % SLOTS_PER_CHUNK == 0 {
                    self.chunks.push(vec![[0u8; ENTRY]; SLOTS_PER_CHUNK].into_boxed_slice());
                }
                self.next += 1;
                h
            }
        };
        *self.get_mut(h) = *value;
        h
    }

    fn get_mut(&mut self, h: u32) -> &mut [u8; ENTRY] {
        let h = h as usize;
        &mut self.chunks[h / SLOTS_PER_CHUNK][h % SLOTS_PER_CHUNK]
    }

    fn free(&mut self, h: u32) {
        self.free.push(h);
    }
}

const LAYOUT: Layout = match Layout::from_size_align(ENTRY, 8) {
    Ok(l) => l,
    Err(_) => panic!("bad layout"),
};

/// Allocates and writes `ptrs.len()` entries with `alloc`.
fn fill_with<A: GlobalAlloc>(alloc: &A, ptrs: &mut [*mut u8], value: &[u8; ENTRY]) {
    for p in ptrs.iter_mut() {
        // SAFETY: `LAYOUT` has a non-zero size.
        let q = unsafe { alloc.alloc(LAYOUT) };
        assert!(!q.is_null());
        // SAFETY: `q` is a fresh, live allocation of `ENTRY` bytes, disjoint from `value`.
        unsafe { q.copy_from_nonoverlapping(value.as_ptr(), ENTRY) };
        *p = q;
    }
}

fn free_with<A: GlobalAlloc>(alloc: &A, ptrs: &[*mut u8]) {
    for &p in ptrs {
        // SAFETY: `p` came from `alloc.alloc(LAYOUT)` in `fill_with` and is freed once.
        unsafe { alloc.dealloc(p, LAYOUT) };
    }
}

fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("statm");
    let pages: usize = statm.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("rss");
    pages * 4096
}

/// In the child: allocate ENTRIES entries with `which`, print resident bytes per entry.
fn child(which: &str) {
    let value = [7u8; ENTRY];
    // The handle arrays are allocated and touched before the baseline: they are the caller's.
    // (Filled with non-zero values: a zeroed `vec!` is calloc'd pages, not resident until written.)
    let mut ptrs = vec![std::ptr::dangling_mut::<u8>(); ENTRIES];
    let mut handles = vec![u32::MAX; ENTRIES];
    let mut slab = Slab64::new();
    let before = resident_bytes();
    match which {
        "system" => fill_with(&System, &mut ptrs, &value),
        "mimalloc" => fill_with(&MiMalloc, &mut ptrs, &value),
        "slab" => handles.iter_mut().for_each(|h| *h = slab.alloc(&value)),
        _ => panic!("unknown allocator {which}"),
    }
    let after = resident_bytes();
    black_box((&ptrs, &handles, &slab.chunks.len()));
    println!(
        "rss/{which}: {:.1} bytes per {ENTRY}-byte entry ({ENTRIES} entries, +{} MiB; handle {} bytes)",
        (after - before) as f64 / ENTRIES as f64,
        (after - before) >> 20,
        if which == "slab" { 4 } else { 8 },
    );
}

fn rss_in_children() {
    let exe = std::env::current_exe().expect("current_exe");
    for which in ["system", "mimalloc", "slab"] {
        let out = Command::new(&exe).env(CHILD_ENV, which).output().expect("spawn");
        print!("{}", String::from_utf8_lossy(&out.stdout));
    }
}

fn throughput(c: &mut Criterion) {
    let value = [7u8; ENTRY];
    let mut g = c.benchmark_group("small/1M_x_64B_alloc_write_free");
    g.throughput(Throughput::Elements(ENTRIES as u64));
    g.sample_size(10);
    let mut ptrs = vec![std::ptr::null_mut::<u8>(); ENTRIES];
    g.bench_function("system", |b| {
        b.iter(|| {
            fill_with(&System, &mut ptrs, &value);
            free_with(&System, &ptrs);
        })
    });
    g.bench_function("mimalloc", |b| {
        b.iter(|| {
            fill_with(&MiMalloc, &mut ptrs, &value);
            free_with(&MiMalloc, &ptrs);
        })
    });
    let mut slab = Slab64::new();
    let mut handles = vec![0u32; ENTRIES];
    g.bench_function("slab", |b| {
        b.iter(|| {
            handles.iter_mut().for_each(|h| *h = slab.alloc(&value));
            handles.iter().for_each(|&h| slab.free(h));
        })
    });
    g.finish();
}

criterion_group!(benches, throughput);

fn main() {
    if let Ok(which) = std::env::var(CHILD_ENV) {
        child(&which);
        return;
    }
    rss_in_children();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
