//! One map alone in a plain loop of GET/SET over random keys, for profiling and for A/B runs of
//! the engine (criterion's `--bench embedded` runs all maps in one process; this runs one, so
//! `perf record` sees only it). Prints nanoseconds per operation on each thread.
//!
//! `cargo run --release -p karst-benches --example embedded_loop -- MODE` where MODE is `karst`
//! (GET takes an owned value), `karst-read` (GET reads its length in place), `karst-touch` and
//! `karst-touch0` (read its last or first byte in place), `karst-vec` (copy it into a `Vec` in
//! place), and `dashmap`, `dashmap-read`, `dashmap-touch`, `dashmap-vec` likewise; the
//! environment sets NKEYS (1000000), VALUE (64, bytes), THREADS (1), SETPCT (10, the share of SETs), SHARDS
//! (karst's shard count, 1024), ITERS (10000000 over all threads). Besides wall time it prints each thread's time on a CPU (from
//! `/proc/thread-self/schedstat`), which other processes on a busy machine disturb less.
use bytes::Bytes;
use karst_benches::Rng;
use std::hint::black_box;
use std::time::Instant;

fn env(name: &str, d: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(d)
}

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "karst".into());
    let nkeys = env("NKEYS", 1_000_000) as usize;
    let threads = env("THREADS", 1);
    let setpct = env("SETPCT", 10);
    let iters = env("ITERS", 10_000_000) / threads;
    let keys: Vec<Bytes> = (0..nkeys).map(|i| Bytes::from(format!("key:{i:012}"))).collect();
    let value = Bytes::from(vec![b'v'; env("VALUE", 64) as usize]);
    let s = karst_store::Store::builder().shards(env("SHARDS", 1024) as usize).build();
    let m = dashmap::DashMap::<Bytes, Bytes>::new();
    let karst = mode.starts_with("karst");
    for k in &keys {
        if karst {
            s.set(k, Bytes::copy_from_slice(&value)).unwrap();
        } else {
            m.insert(Bytes::copy_from_slice(k), Bytes::copy_from_slice(&value));
        }
    }
    let t = Instant::now();
    let on_cpu: u64 = std::thread::scope(|sc| {
        let handles: Vec<_> = (0..threads)
            .map(|th| {
                let (s, m, keys, value, mode) = (&s, &m, &keys, &value, &mode);
                sc.spawn(move || {
                    let cpu0 = on_cpu_ns();
                    let mut rng = Rng(0x1234_5678 + th * 7919);
                    for _ in 0..iters {
                        let r = rng.next_u64();
                        let key = &keys[(r >> 8) as usize % keys.len()];
                        let set = r % 100 < setpct;
                        match (mode.as_str(), set) {
                            (
                                "dashmap" | "dashmap-read" | "dashmap-vec" | "dashmap-touch",
                                true,
                            ) => {
                                m.insert(
                                    Bytes::copy_from_slice(key),
                                    Bytes::copy_from_slice(value),
                                );
                            }
                            ("dashmap", false) => {
                                black_box(m.get(key).map(|v| v.value().clone()));
                            }
                            ("dashmap-vec", false) => {
                                black_box(m.get(key).map(|v| v.value().to_vec()));
                            }
                            ("dashmap-touch", false) => {
                                black_box(m.get(key).map(|v| v.value()[63]));
                            }
                            ("dashmap-read", false) => {
                                black_box(m.get(key).map(|v| v.value().len()));
                            }
                            (_, true) => {
                                let _ = s.set(key, Bytes::copy_from_slice(value));
                            }
                            ("karst", false) => {
                                black_box(s.get(key).ok().flatten());
                            }
                            ("karst-touch", false) => {
                                black_box(s.get_with(key, |v| v[v.len() - 1]).ok().flatten());
                            }
                            ("karst-touch0", false) => {
                                black_box(s.get_with(key, |v| v[0]).ok().flatten());
                            }
                            ("karst-vec", false) => {
                                black_box(s.get_with(key, <[u8]>::to_vec).ok().flatten());
                            }
                            _ => {
                                black_box(s.get_with(key, <[u8]>::len).ok().flatten());
                            }
                        }
                    }
                    on_cpu_ns() - cpu0
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_default()).max().unwrap_or_default()
    });
    let wall = t.elapsed().as_nanos() as f64 / iters as f64;
    println!("{mode}: {wall:.1} ns/op, {:.1} ns/op on a CPU", on_cpu as f64 / iters as f64);
}

/// Nanoseconds this thread has run on a CPU (0 where the kernel does not say).
fn on_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}
