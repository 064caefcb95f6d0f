//! How long FLUSHALL holds an embedded store of one million keys, SYNC against ASYNC (which
//! empties the shards under their locks and frees the memory on a thread of its own).
//!
//! `cargo run --release -p karst-benches --example flush_time`
use std::time::Instant;
fn main() {
    let s = karst_store::Store::new();
    for mode in ["SYNC", "ASYNC", "SYNC", "ASYNC"] {
        for i in 0..1_000_000 {
            s.execute(["SET", &format!("key:{i:012}"), &format!("value:{i:026}")]);
        }
        let t = Instant::now();
        s.execute(["FLUSHALL", mode]);
        println!("FLUSHALL {mode}: {:.1} ms", t.elapsed().as_secs_f64() * 1e3);
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}
