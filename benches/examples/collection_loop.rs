//! Single-element writes and reads of small collections in an embedded store, for A/B runs of
//! the engine's collection paths: HSET, SADD, ZADD and RPUSH of one element to one of 20 000
//! keys (each ends with 50 elements: the compact encodings), then HGET, SISMEMBER, ZSCORE and
//! LINDEX of them. Prints nanoseconds per command.
//!
//! `cargo run --release -p karst-benches --example collection_loop`
use std::time::Instant;

use karst_benches::Rng;

fn main() {
    const KEYS: usize = 20_000;
    const PER_KEY: usize = 50;
    let s = karst_store::Store::new();
    let mut rng = Rng(7);
    // Every key gets its elements in a random order of keys, as a real workload would.
    let order: Vec<usize> = (0..KEYS * PER_KEY).map(|_| rng.next_u64() as usize % KEYS).collect();
    for (kind, write, read) in [
        ("hash", "HSET", "HGET"),
        ("set", "SADD", "SISMEMBER"),
        ("zset", "ZADD", "ZSCORE"),
        ("list", "RPUSH", "LINDEX"),
    ] {
        let mut n = vec![0usize; KEYS];
        let t = Instant::now();
        for &k in &order {
            let key = format!("{kind}:{k:08}");
            let e = format!("e{k:05}:{:09}", n[k]);
            n[k] += 1;
            match kind {
                "hash" => s.execute([write, &key, &e, "value"]),
                "zset" => s.execute([write, &key, &n[k].to_string(), &e]),
                _ => s.execute([write, &key, &e]),
            };
        }
        let w = t.elapsed().as_nanos() as f64 / order.len() as f64;
        let t = Instant::now();
        for (i, &k) in order.iter().enumerate() {
            let key = format!("{kind}:{k:08}");
            let e = format!("e{k:05}:{:09}", i % PER_KEY);
            match kind {
                "list" => s.execute([read, &key, &(i % PER_KEY).to_string()]),
                _ => s.execute([read, &key, &e]),
            };
        }
        let r = t.elapsed().as_nanos() as f64 / order.len() as f64;
        println!("{write}: {w:.0} ns  {read}: {r:.0} ns");
    }
}
