//! Embedded throughput: karst's `Store` against dashmap, moka and quick_cache, in one run.
//!
//! 1M keys of 16 bytes with 64-byte values, loaded first; then GET/SET mixes of 90/10 and
//! 50/50 over uniformly random keys, with 1 and 2 threads. Throughput is operations per second
//! over all threads (divide by the thread count for per-thread figures).
//!
//! Every map owns its keys and values, as a cache does: a SET hands the map fresh copies. (Given
//! clones of the benchmark's own `Bytes`, dashmap and the others would compare keys in memory the
//! benchmark has just read and share one value allocation among all keys, which no real cache
//! gets to do; karst copies small keys and values into its entries either way.)
//!
//! `cargo bench -p karst-benches --bench embedded`

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use karst_benches::Rng;

const KEYS: usize = 1_000_000;

/// What every contender offers: get a value, set a value, from any thread.
trait Map: Sync {
    fn get(&self, key: &Bytes) -> Option<Bytes>;
    fn set(&self, key: &Bytes, value: &Bytes);
    /// Reads the value in place where the API allows it (its length stands for any use); the
    /// others fall back to `get`.
    fn read(&self, key: &Bytes) -> Option<usize> {
        self.get(key).map(|v| v.len())
    }
}

impl Map for karst_store::Store {
    fn get(&self, key: &Bytes) -> Option<Bytes> {
        karst_store::Store::get(self, key).ok().flatten()
    }
    fn set(&self, key: &Bytes, value: &Bytes) {
        let _ = karst_store::Store::set(self, key, Bytes::copy_from_slice(value));
    }
    fn read(&self, key: &Bytes) -> Option<usize> {
        self.get_with(key, <[u8]>::len).ok().flatten()
    }
}

impl Map for dashmap::DashMap<Bytes, Bytes> {
    fn get(&self, key: &Bytes) -> Option<Bytes> {
        dashmap::DashMap::get(self, key).map(|v| v.value().clone())
    }
    fn set(&self, key: &Bytes, value: &Bytes) {
        self.insert(Bytes::copy_from_slice(key), Bytes::copy_from_slice(value));
    }
    fn read(&self, key: &Bytes) -> Option<usize> {
        dashmap::DashMap::get(self, key).map(|v| v.value().len())
    }
}

impl Map for moka::sync::Cache<Bytes, Bytes> {
    fn get(&self, key: &Bytes) -> Option<Bytes> {
        moka::sync::Cache::get(self, key)
    }
    fn set(&self, key: &Bytes, value: &Bytes) {
        self.insert(Bytes::copy_from_slice(key), Bytes::copy_from_slice(value));
    }
}

impl Map for quick_cache::sync::Cache<Bytes, Bytes> {
    fn get(&self, key: &Bytes) -> Option<Bytes> {
        quick_cache::sync::Cache::get(self, key)
    }
    fn set(&self, key: &Bytes, value: &Bytes) {
        self.insert(Bytes::copy_from_slice(key), Bytes::copy_from_slice(value));
    }
}

fn keys() -> Vec<Bytes> {
    (0..KEYS).map(|i| Bytes::from(format!("key:{i:012}"))).collect()
}

/// Runs `iters` operations on each of `threads` threads; returns the wall time of the slowest.
fn run(
    map: &dyn Map,
    keys: &[Bytes],
    value: &Bytes,
    threads: usize,
    set_percent: u64,
    in_place: bool,
    iters: u64,
) -> Duration {
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let mut rng = Rng(0x1234_5678 + t as u64 * 7919);
                    let start = Instant::now();
                    for _ in 0..iters {
                        let r = rng.next_u64();
                        let key = &keys[(r >> 8) as usize % keys.len()];
                        if r % 100 < set_percent {
                            map.set(key, value);
                        } else if in_place {
                            black_box(map.read(key));
                        } else {
                            black_box(map.get(key));
                        }
                    }
                    start.elapsed()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_default()).max().unwrap_or_default()
    })
}

fn embedded(c: &mut Criterion) {
    let keys = keys();
    let value = Bytes::from(vec![b'v'; 64]);
    let contenders: Vec<(&str, Box<dyn Map>)> = vec![
        ("karst", Box::new(karst_store::Store::new())),
        ("dashmap", Box::new(dashmap::DashMap::<Bytes, Bytes>::new())),
        ("moka", Box::new(moka::sync::Cache::<Bytes, Bytes>::new(2 * KEYS as u64))),
        ("quick_cache", Box::new(quick_cache::sync::Cache::<Bytes, Bytes>::new(2 * KEYS))),
    ];
    for (_, map) in &contenders {
        for key in &keys {
            map.set(key, &value);
        }
    }
    for threads in [1, 2] {
        for set_percent in [10, 50] {
            let name = format!("embedded/{threads}-thread/{}-{set_percent}", 100 - set_percent);
            let mut group = c.benchmark_group(name);
            group.throughput(Throughput::Elements(threads as u64));
            for (name, map) in &contenders {
                group.bench_function(*name, |b| {
                    b.iter_custom(|iters| {
                        run(map.as_ref(), &keys, &value, threads, set_percent, false, iters)
                    });
                });
            }
            group.finish();
        }
        // GETs that read the value in place instead of taking an owned copy, where the API
        // offers it (karst's `get_with`, dashmap's guard).
        let mut group = c.benchmark_group(format!("embedded-read-in-place/{threads}-thread/90-10"));
        group.throughput(Throughput::Elements(threads as u64));
        for (name, map) in contenders.iter().filter(|(n, _)| matches!(*n, "karst" | "dashmap")) {
            group.bench_function(*name, |b| {
                b.iter_custom(|iters| run(map.as_ref(), &keys, &value, threads, 10, true, iters));
            });
        }
        group.finish();
    }
}

criterion_group!(benches, embedded);
criterion_main!(benches);
