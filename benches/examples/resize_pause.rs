//! Longest single SET while loading N keys into a Store of S shards, then longest single DEL
//! while deleting them again, and how many took over 100 µs and over 1 ms: the pauses a table's
//! growth and shrinking cost. (Until the fifteenth session every key of the shard was rehashed
//! at once as its table grew, until the sixteenth as it shrank; now a resized table moves its
//! keys over a few per write.)
//! `cargo run --release -p karst-benches --example resize_pause -- [N [S [PURGER]]]` (N
//! 4,000,000 keys and S 1,024 shards by default; S a power of two; PURGER 0 to leave mimalloc's
//! purges to the thread that allocates).
//!
//! It runs as karst-server does: on mimalloc, with transparent huge pages off, and with
//! karst-mem's purger thread (`jemalloc-bg-thread yes`). Without them there are pauses that
//! are not the table's. On glibc's allocator a DEL pauses 30–41 ms now and
//! then: freeing a large block (a slot array) after millions of small frees makes glibc
//! consolidate its fast bins, every freed entry at once (`GLIBC_TUNABLES=glibc.malloc.mxfast=0`
//! makes it go away). On mimalloc with huge pages allowed, about a hundred SETs take over 1 ms
//! (up to 30 ms): mimalloc asks for huge pages, and the kernel zeroes (and may compact) 2 MiB
//! on a fault.
use bytes::Bytes;
use std::time::Instant;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The longest of the timed calls and how many took over 100 µs and over 1 ms.
#[derive(Default)]
struct Pauses {
    worst: u128,
    over_100us: usize,
    over_1ms: usize,
}

impl Pauses {
    fn time(&mut self, f: impl FnOnce()) {
        let t = Instant::now();
        f();
        let d = t.elapsed().as_micros();
        self.worst = self.worst.max(d);
        self.over_100us += usize::from(d > 100);
        self.over_1ms += usize::from(d > 1000);
    }

    fn report(&self, what: &str, t0: Instant) {
        println!(
            "  {what}: longest {} µs, {} over 100 µs, {} over 1 ms, {:.2} s",
            self.worst,
            self.over_100us,
            self.over_1ms,
            t0.elapsed().as_secs_f64()
        );
    }
}

fn main() {
    let [n, shards, purger] =
        karst_benches::numeric_args("resize_pause [KEYS [SHARDS [PURGER]]]", [4_000_000, 1024, 1]);
    if let Err(e) = karst_mem::disable_transparent_huge_pages() {
        eprintln!("resize_pause: huge pages stay on: {e}");
    }
    if purger != 0 {
        karst_mem::start_purger().expect("a thread for the purger");
    }
    let s = karst_store::Store::builder().shards(shards).build();
    let v = Bytes::from_static(&[b'v'; 32]);
    println!(
        "{n} keys, {shards} shards, purger thread {}:",
        if purger != 0 { "on" } else { "off" }
    );
    let (mut sets, t0) = (Pauses::default(), Instant::now());
    for i in 0..n {
        let k = karst_benches::key(i);
        sets.time(|| drop(s.set(k.as_bytes(), v.clone())));
    }
    sets.report("SET", t0);
    let (mut dels, t0) = (Pauses::default(), Instant::now());
    for i in 0..n {
        let k = karst_benches::key(i);
        dels.time(|| {
            s.del(&[k.as_bytes()]);
        });
    }
    dels.report("DEL", t0);
}
