//! What one SCAN call costs: loads N keys into a Store, then walks the whole keyspace with
//! SCAN COUNT C and prints the mean and longest call and the keys returned.
//! `cargo run --release -p karst-benches --example scan_cost -- [N [C]]` (N 4,000,000 keys and
//! C 10 by default).
use bytes::Bytes;
use std::time::Instant;

fn main() {
    let [n, count] = karst_benches::numeric_args("scan_cost [KEYS [COUNT]]", [4_000_000, 10]);
    let s = karst_store::Store::new();
    let v = Bytes::from_static(&[b'v'; 32]);
    for i in 0..n {
        s.set(karst_benches::key(i), v.clone()).unwrap();
    }
    let (mut calls, mut keys, mut worst) = (0u64, 0usize, 0u128);
    let mut cursor = 0;
    let t0 = Instant::now();
    loop {
        let t = Instant::now();
        let (next, got) = s.scan(0, cursor, count, None);
        worst = worst.max(t.elapsed().as_nanos());
        calls += 1;
        keys += got.len();
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    let total = t0.elapsed();
    println!(
        "{n} keys, COUNT {count}: {calls} calls, {keys} keys returned, mean {:.1} µs a call, \
         longest {:.1} µs, whole scan {:.2} s",
        total.as_nanos() as f64 / calls as f64 / 1e3,
        worst as f64 / 1e3,
        total.as_secs_f64()
    );
}
