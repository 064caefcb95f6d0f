//! Bytes per key of an embedded store for N keys of 16 B with 32 B values, by shard count.
//! `cargo run --release -p karst-store --example memory_per_key -- [KEYS] [SHARDS]`

use karst_store::Store;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn rss() -> usize {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    s.split(' ').nth(1).and_then(|p| p.parse::<usize>().ok()).unwrap_or(0) * 4096
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let shards: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1024);
    let before = rss();
    let store = Store::builder().shards(shards).build();
    let base = store.used_memory();
    for i in 0..n {
        let key = format!("key:{i:012}");
        let value = format!("value:{i:026}");
        store.set(key.as_bytes(), bytes::Bytes::from(value)).ok();
    }
    let per_key = |b: usize| b as f64 / n as f64;
    println!(
        "{n} keys, {shards} shards: RSS {:.1} B/key, accounted {:.1} B/key",
        per_key(rss() - before),
        per_key((store.used_memory() - base) as usize)
    );
}
