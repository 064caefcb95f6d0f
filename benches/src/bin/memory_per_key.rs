//! Memory per key: one million 16-byte keys with 32-byte values, loaded into an embedded karst
//! Store and into redis-server in the same run. Reports the RSS growth and each engine's own
//! accounting per key, and karst's ratio to Redis.
//!
//! `cargo run --release -p karst-benches --bin memory_per_key [-- KEYS]`

use karst_benches::{RedisServer, key, rss_bytes};
use karst_store::Store;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn value(i: usize) -> String {
    format!("value:{i:026}")
}

fn main() -> std::io::Result<()> {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    assert_eq!(key(0).len(), 16);
    assert_eq!(value(0).len(), 32);

    // karst, embedded, with the allocator karst-server uses.
    let rss_before = rss_bytes("self");
    let store = Store::new();
    let base_accounted = store.used_memory();
    for i in 0..n {
        store.execute(["SET", &key(i), &value(i)]);
    }
    let karst_rss = rss_bytes("self").saturating_sub(rss_before) as f64 / n as f64;
    let karst_accounted = store.used_memory().saturating_sub(base_accounted) as f64 / n as f64;
    assert_eq!(store.dbsize(0), n);

    // redis-server, same data, loaded with pipelined MSETs.
    let redis = RedisServer::start(&[])?;
    let mut conn = redis.connect()?;
    let pid = redis.pid().to_string();
    let redis_rss_before = rss_bytes(&pid);
    let used_before = conn.info_field("memory", "used_memory")?;
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let mut args = vec!["MSET".to_string()];
        for &i in chunk {
            args.push(key(i));
            args.push(value(i));
        }
        conn.queue(&args);
        conn.flush()?;
    }
    let redis_rss = rss_bytes(&pid).saturating_sub(redis_rss_before) as f64 / n as f64;
    let redis_used =
        conn.info_field("memory", "used_memory")?.saturating_sub(used_before) as f64 / n as f64;

    println!("memory per key, {n} keys of 16 B with 32 B values");
    println!();
    println!("| engine | RSS growth / key | accounted / key |");
    println!("|---|---|---|");
    println!("| redis-server (INFO used_memory) | {redis_rss:.1} B | {redis_used:.1} B |");
    println!("| karst Store (Store::used_memory) | {karst_rss:.1} B | {karst_accounted:.1} B |");
    println!(
        "| karst / redis | {:.2}× | {:.2}× |",
        karst_rss / redis_rss,
        karst_accounted / redis_used
    );
    Ok(())
}
