//! Longest single SET while loading N keys into a Store of S shards, and how many took over
//! 100 µs and over 1 ms: the pause a table's growth costs (until the fifteenth session every key
//! of the shard was rehashed at once; now a grown table moves its keys over a few per write).
//! `cargo run --release -p karst-benches --example resize_pause -- [N [S]]` (N 4,000,000 keys
//! and S 1,024 shards by default; S a power of two).
use bytes::Bytes;
use std::time::Instant;

fn main() {
    let [n, shards] =
        karst_benches::numeric_args("resize_pause [KEYS [SHARDS]]", [4_000_000, 1024]);
    let s = karst_store::Store::builder().shards(shards).build();
    let v = Bytes::from_static(&[b'v'; 32]);
    let mut worst = 0u128;
    let (mut over_100us, mut over_1ms) = (0, 0);
    let t0 = Instant::now();
    for i in 0..n {
        let k = karst_benches::key(i);
        let t = Instant::now();
        s.set(k.as_bytes(), v.clone()).unwrap();
        let d = t.elapsed().as_micros();
        worst = worst.max(d);
        over_100us += usize::from(d > 100);
        over_1ms += usize::from(d > 1000);
    }
    println!(
        "{n} keys, {shards} shards: longest SET {worst} µs, {over_100us} over 100 µs, {over_1ms} \
         over 1 ms, load {:.2} s",
        t0.elapsed().as_secs_f64()
    );
}
