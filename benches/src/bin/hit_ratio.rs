//! Miss ratio of each eviction policy on a Zipf(0.99) trace over a key space ten times what the
//! memory holds, karst's policies next to redis-server's allkeys-lru at the same maxmemory, in the
//! same run.
//!
//! The workload is a cache: GET the key; on a miss, SET it (64-byte value). Requests go in
//! batches of 1000 (GETs, then SETs of the misses) on both engines, so both see the same
//! sequence of operations.
//!
//! `cargo run --release -p karst-benches --bin hit_ratio [-- REQUESTS]`

use karst_benches::{RedisServer, Rng, Zipf, key};
use karst_resp::Frame;
use karst_store::{Policy, Store};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const MAXMEMORY: u64 = 32 << 20;
/// Ten times the keys redis-server holds at this maxmemory (about 190 000 with 64-byte values).
const KEYS: usize = 1_900_000;
const BATCH: usize = 1000;

fn trace(requests: usize) -> Vec<u32> {
    let zipf = Zipf::new(KEYS, 0.99);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    // Scatter ranks over the key space so popularity is not tied to key order.
    (0..requests)
        .map(|_| (zipf.sample(rng.next_f64()) as u64 * 2_654_435_761 % KEYS as u64) as u32)
        .collect()
}

/// A cache under test: GET a batch of keys (which hit?), SET a batch of keys.
trait Cache {
    fn get_batch(&mut self, keys: &[u32]) -> Vec<bool>;
    fn set_batch(&mut self, keys: &[u32]);
}

struct Redis {
    conn: karst_benches::Conn,
    value: Vec<u8>,
}

impl Cache for Redis {
    fn get_batch(&mut self, keys: &[u32]) -> Vec<bool> {
        for &k in keys {
            self.conn.queue(&["GET".as_bytes(), key(k as usize).as_bytes()]);
        }
        self.conn.flush().expect("redis GET").iter().map(|f| !f.is_null()).collect()
    }
    fn set_batch(&mut self, keys: &[u32]) {
        for &k in keys {
            self.conn.queue(&["SET".as_bytes(), key(k as usize).as_bytes(), &self.value]);
        }
        self.conn.flush().expect("redis SET");
    }
}

struct Karst {
    store: Store,
    value: bytes::Bytes,
}

impl Cache for Karst {
    fn get_batch(&mut self, keys: &[u32]) -> Vec<bool> {
        keys.iter().map(|&k| matches!(self.store.get(key(k as usize)), Ok(Some(_)))).collect()
    }
    fn set_batch(&mut self, keys: &[u32]) {
        for &k in keys {
            // Under maxmemory the store evicts to make room; an error means it could not.
            if let Err(e) = self.store.set(key(k as usize), self.value.clone()) {
                panic!(
                    "karst SET under {}: {e} (used {} of {}, {} keys)",
                    self.store.policy().name(),
                    self.store.used_memory(),
                    self.store.maxmemory(),
                    self.store.dbsize(0)
                );
            }
        }
    }
}

/// Runs the trace in batches and returns (misses, requests measured after the warm-up).
fn replay(trace: &[u32], warmup: usize, cache: &mut impl Cache) -> (usize, usize) {
    let mut misses = 0;
    let mut measured = 0;
    for (b, batch) in trace.chunks(BATCH).enumerate() {
        let hits = cache.get_batch(batch);
        let missed: Vec<u32> =
            batch.iter().zip(&hits).filter(|(_, h)| !**h).map(|(k, _)| *k).collect();
        if b * BATCH >= warmup {
            misses += missed.len();
            measured += batch.len();
        }
        cache.set_batch(&missed);
    }
    (misses, measured)
}

fn main() -> std::io::Result<()> {
    let requests: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(4_000_000);
    let warmup = requests / 4;
    let trace = trace(requests);
    let mut rows = Vec::new();

    let redis = RedisServer::start(&[
        "--maxmemory",
        &MAXMEMORY.to_string(),
        "--maxmemory-policy",
        "allkeys-lru",
    ])?;
    let mut cache = Redis { conn: redis.connect()?, value: vec![b'v'; 64] };
    let (misses, measured) = replay(&trace, warmup, &mut cache);
    let held = match cache.conn.call(&["DBSIZE"])? {
        Frame::Integer(n) => n,
        _ => 0,
    };
    let redis_ratio = misses as f64 / measured as f64;
    rows.push(("redis-server allkeys-lru".to_string(), redis_ratio, held));
    drop(cache);
    drop(redis);

    for policy in
        [Policy::AllKeysLru, Policy::AllKeysLfu, Policy::AllKeysRandom, Policy::AllKeysSieve]
    {
        let store = Store::builder().maxmemory(MAXMEMORY).policy(policy).build();
        let mut cache = Karst { store, value: bytes::Bytes::from(vec![b'v'; 64]) };
        let (misses, measured) = replay(&trace, warmup, &mut cache);
        rows.push((
            format!("karst {}", policy.name()),
            misses as f64 / measured as f64,
            cache.store.dbsize(0) as i64,
        ));
    }

    println!(
        "miss ratio, Zipf(0.99) over {KEYS} keys, {requests} requests ({warmup} warm-up), 64 B values, maxmemory {} MB",
        MAXMEMORY >> 20
    );
    println!();
    println!("| engine and policy | miss ratio | vs redis allkeys-lru | keys held at the end |");
    println!("|---|---|---|---|");
    for (name, ratio, held) in &rows {
        println!("| {name} | {:.4} | {:.3}× | {held} |", ratio, ratio / redis_ratio);
    }
    Ok(())
}
