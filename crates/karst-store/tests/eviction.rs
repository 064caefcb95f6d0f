//! Eviction under maxmemory through the typed API, for every policy that may evict any key.

use bytes::Bytes;
use karst_store::{Policy, Store};

/// Writes far more distinct keys than fit; every write must succeed by evicting older keys,
/// and the store must stay within its limit.
fn fill_past_maxmemory(policy: Policy) {
    let maxmemory = 4 << 20;
    let store = Store::builder().shards(64).maxmemory(maxmemory).policy(policy).build();
    let value = Bytes::from(vec![b'v'; 64]);
    for i in 0..200_000u32 {
        let key = format!("key:{i:012}");
        if let Err(e) = store.set(&key, value.clone()) {
            panic!("{}: SET of key {i} failed: {e}", policy.name());
        }
        // Read back some keys so that access-based policies have something to rank.
        if i % 3 == 0 {
            let _ = store.get(format!("key:{:012}", i / 2));
        }
    }
    // As in Redis, room is made before a write, so the write itself may overshoot a little.
    let slack = 64 << 10;
    let used = store.used_memory();
    assert!(used <= maxmemory + slack, "{}: {used} > {maxmemory} + {slack}", policy.name());
    let held = store.dbsize(0);
    assert!(held > 10_000 && held < 200_000, "{}: {held} keys held", policy.name());
}

#[test]
fn allkeys_policies_always_make_room() {
    for policy in
        [Policy::AllKeysLru, Policy::AllKeysLfu, Policy::AllKeysRandom, Policy::AllKeysSieve]
    {
        fill_past_maxmemory(policy);
    }
}

/// Regression: under allkeys-sieve, SET failed with -OOM once the cache filled (found by the
/// Zipf miss-ratio benchmark). Each shard builds its SIEVE queue at its first eviction, so the
/// first round of evictions added more bytes (the queues of 1024 shards) than one call's budget
/// of evictions freed, and the write was refused although eviction was making progress.
#[test]
fn regression_sieve_keeps_making_room_while_its_queues_are_built() {
    let maxmemory = 8 << 20;
    let store = Store::builder().maxmemory(maxmemory).policy(Policy::AllKeysSieve).build();
    let value = Bytes::from(vec![b'v'; 64]);
    for i in 0..300_000u32 {
        let key = format!("key:{i:012}");
        store.set(&key, value.clone()).unwrap_or_else(|e| panic!("SET {key}: {e}"));
    }
    assert!(store.dbsize(0) < 300_000, "eviction happened");
}

/// Collections count toward maxmemory like strings: filling past the limit with hashes, lists,
/// sets and sorted sets evicts whole keys and keeps the store near its limit.
#[test]
fn collections_are_evicted_and_accounted() {
    let maxmemory = 4 << 20;
    let store = Store::builder().shards(64).maxmemory(maxmemory).policy(Policy::AllKeysLru).build();
    for i in 0..20_000u32 {
        let key = format!("key:{i:08}");
        let fields: Vec<String> = (0..20).map(|f| format!("field-{f:04}-{i}")).collect();
        let cmd: Vec<&str> = match i % 4 {
            0 => ["HSET", &key]
                .into_iter()
                .chain(fields.iter().flat_map(|f| [&f[..], "v"]))
                .collect(),
            1 => ["RPUSH", &key].into_iter().chain(fields.iter().map(|f| &f[..])).collect(),
            2 => ["SADD", &key].into_iter().chain(fields.iter().map(|f| &f[..])).collect(),
            _ => ["ZADD", &key]
                .into_iter()
                .chain(fields.iter().flat_map(|f| ["1", &f[..]]))
                .collect(),
        };
        let reply = store.execute(&cmd);
        assert!(matches!(reply, karst_store::Frame::Integer(20)), "{cmd:?}: {reply:?}");
    }
    let slack = 64 << 10;
    let used = store.used_memory();
    assert!(used <= maxmemory + slack, "{used} > {maxmemory} + {slack}");
    let held = store.dbsize(0);
    assert!(held > 500 && held < 20_000, "{held} keys held");
    assert!(store.stats().evicted_keys > 0);
}
