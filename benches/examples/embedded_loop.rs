//! One map alone in a plain loop of GET/SET over random keys, for profiling and for A/B runs of
//! the engine (criterion's `--bench embedded` runs all maps in one process; this runs one, so
//! `perf record` sees only it). Prints nanoseconds per operation on each thread.
//!
//! `cargo run --release -p karst-benches --example embedded_loop -- MODE` where MODE is `karst`
//! (GET copies the value), `karst-read` (GET reads it in place) or `dashmap`; the environment
//! sets NKEYS (1000000), THREADS (1) and SETPCT (10, the share of SETs).
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
    let iters = 10_000_000u64 / threads;
    let keys: Vec<Bytes> = (0..nkeys).map(|i| Bytes::from(format!("key:{i:012}"))).collect();
    let value = Bytes::from(vec![b'v'; 64]);
    let s = karst_store::Store::new();
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
    std::thread::scope(|sc| {
        for th in 0..threads {
            let (s, m, keys, value, mode) = (&s, &m, &keys, &value, &mode);
            sc.spawn(move || {
                let mut rng = Rng(0x1234_5678 + th * 7919);
                for _ in 0..iters {
                    let r = rng.next_u64();
                    let key = &keys[(r >> 8) as usize % keys.len()];
                    let set = r % 100 < setpct;
                    match (mode.as_str(), set) {
                        ("dashmap", true) => {
                            m.insert(Bytes::copy_from_slice(key), Bytes::copy_from_slice(value));
                        }
                        ("dashmap", false) => {
                            black_box(m.get(key).map(|v| v.value().clone()));
                        }
                        (_, true) => {
                            let _ = s.set(key, Bytes::copy_from_slice(value));
                        }
                        ("karst", false) => {
                            black_box(s.get(key).ok().flatten());
                        }
                        _ => {
                            black_box(s.get_with(key, <[u8]>::len).ok().flatten());
                        }
                    }
                }
            });
        }
    });
    println!("{mode}: {:.1} ns/op", t.elapsed().as_nanos() as f64 / iters as f64);
}
