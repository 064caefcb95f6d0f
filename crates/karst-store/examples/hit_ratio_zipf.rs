//! Quick hit ratio of the eviction policies on a Zipf(0.99) workload over 100k keys, embedded.
//! `cargo run --release -p karst-store --example hit_ratio_zipf` (the side-by-side with Redis
//! lives in `benches/`).

use karst_store::{Policy, Store};
use rand::{Rng, SeedableRng, rngs::SmallRng};
fn main() {
    let n_keys = 100_000usize;
    // Zipf(0.99) by inverse CDF over a precomputed table.
    let s = 0.99f64;
    let mut cdf = Vec::with_capacity(n_keys);
    let mut acc = 0.0;
    for i in 1..=n_keys {
        acc += 1.0 / (i as f64).powf(s);
        cdf.push(acc);
    }
    for p in [Policy::AllKeysLru, Policy::AllKeysLfu, Policy::AllKeysRandom, Policy::AllKeysSieve] {
        let store = Store::builder().shards(64).policy(p).build();
        store.set_maxmemory(store.used_memory() + 1_500_000);
        let mut rng = SmallRng::seed_from_u64(1);
        let (mut hits, mut total) = (0u64, 0u64);
        for i in 0..1_000_000 {
            let r = rng.random::<f64>() * acc;
            let k = cdf.partition_point(|&c| c < r);
            let key = format!("key:{k}");
            let hit = store.get(&key).unwrap().is_some();
            if !hit {
                let _ = store.set(&key, "x".repeat(64));
            }
            if i > 200_000 {
                total += 1;
                hits += u64::from(hit);
            }
        }
        println!("{p}: hit ratio {:.3}, keys {}", hits as f64 / total as f64, store.dbsize(0));
    }
}
