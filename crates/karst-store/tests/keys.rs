//! Keyspace commands through `Store::execute`, against replies recorded from redis-server 7.0.

mod common;

use std::collections::BTreeSet;

use common::{replay, run, store};
use karst_store::{Policy, Session, Store};

#[test]
fn replies_match_redis() {
    let (s, _clock) = store();
    let diffs = replay(&s, include_str!("data/keys.txt"));
    assert!(diffs.is_empty(), "{} differences:\n{}", diffs.len(), diffs.join("\n"));
}

#[test]
fn keys_glob_and_randomkey() {
    let (s, _) = store();
    for k in ["hello", "hallo", "hxllo", "hllo", "heeeello", "h*llo", "other"] {
        s.set(k, "v").unwrap();
    }
    let keys = |p: &str| {
        let mut v: Vec<String> = match s.execute(["KEYS", p]) {
            karst_store::Frame::Array(v) => v.iter().map(common::canon).collect(),
            f => panic!("{f:?}"),
        };
        v.sort();
        v.join(" ")
    };
    assert_eq!(keys("h?llo"), "$h*llo $hallo $hello $hxllo");
    assert_eq!(keys("h*llo"), "$h*llo $hallo $heeeello $hello $hllo $hxllo");
    assert_eq!(keys("h[ae]llo"), "$hallo $hello");
    assert_eq!(keys("h[^e]llo"), "$h*llo $hallo $hxllo");
    assert_eq!(keys("h[a-b]llo"), "$hallo");
    assert_eq!(keys("h\\*llo"), "$h*llo");
    assert_eq!(keys("*").split(' ').count(), 7);
    let r = run(&s, "RANDOMKEY");
    assert!(r.starts_with('$'), "{r}");
}

#[test]
fn expired_keys_vanish_lazily_and_actively() {
    let (s, clock) = store();
    for i in 0..100 {
        s.execute(["SET", &format!("k{i}"), "v", "PX", &format!("{}", 100 + i)]);
    }
    s.set("forever", "v").unwrap();
    assert_eq!(s.stats().expires[0], 100);
    clock.advance(150);
    // Lazy: an access deletes the expired key.
    assert_eq!(run(&s, "GET k0"), "_");
    assert_eq!(s.stats().expired_keys, 1);
    // Active: bounded work per call, all gone eventually, live keys untouched.
    let mut removed = 0;
    for _ in 0..100 {
        let n = s.active_expire_cycle(10);
        assert!(n <= 10);
        removed += n;
    }
    // k0..k50 expired at +150 ms; GET removed k0.
    assert_eq!(removed, 50);
    assert_eq!(s.dbsize(0), 50);
    clock.advance(1000);
    assert_eq!(s.active_expire_for(std::time::Duration::from_secs(3600), 7), 49);
    assert_eq!(s.active_expire_cycle(1000), 0);
    assert_eq!(s.dbsize(0), 1);
    let st = s.stats();
    assert_eq!(st.expired_keys, 100);
    assert_eq!(st.expires[0], 0);
    assert_eq!(st.keys[0], 1);
}

#[test]
fn stats_count_hits_and_misses() {
    let (s, _) = store();
    s.set("a", "1").unwrap();
    run(&s, "GET a");
    run(&s, "GET b");
    run(&s, "MGET a b c");
    let st = s.stats();
    assert_eq!((st.keyspace_hits, st.keyspace_misses), (2, 3));
}

fn full_scan(s: &Store, db: usize, count: usize, mut between: impl FnMut(usize)) -> Vec<Vec<u8>> {
    let mut seen = Vec::new();
    let mut cursor = 0;
    let mut step = 0;
    loop {
        let (next, keys) = s.scan(db, cursor, count, None);
        seen.extend(keys.iter().map(|k| k.to_vec()));
        between(step);
        step += 1;
        if next == 0 {
            return seen;
        }
        cursor = next;
    }
}

#[test]
fn scan_returns_every_stable_key_while_tables_grow_and_shrink() {
    let s = Store::builder().shards(4).hash_seed(11).build();
    let stable: BTreeSet<Vec<u8>> = (0..2000).map(|i| format!("stable:{i}").into_bytes()).collect();
    for k in &stable {
        s.set(k, "v").unwrap();
    }
    // Between SCAN calls: grow the tables a lot, then delete most of what was added (tables
    // rehash as they grow; deleted slots change the layout).
    let seen = full_scan(&s, 0, 25, |step| {
        if step % 2 == 0 {
            for i in 0..500 {
                s.set(format!("churn:{step}:{i}"), "v").unwrap();
            }
        } else {
            let keys: Vec<String> = (0..500).map(|i| format!("churn:{}:{i}", step - 1)).collect();
            s.del(&keys);
        }
    });
    let seen_set: BTreeSet<Vec<u8>> = seen.iter().cloned().collect();
    for k in &stable {
        assert!(seen_set.contains(k), "SCAN missed {}", String::from_utf8_lossy(k));
    }
    // And each stable key exactly once.
    let stable_seen = seen.iter().filter(|k| k.starts_with(b"stable:")).count();
    assert_eq!(stable_seen, stable.len());
}

#[test]
fn scan_command_match_count_type() {
    let (s, _) = store();
    for i in 0..50 {
        s.set(format!("user:{i}"), "v").unwrap();
        s.set(format!("item:{i}"), "v").unwrap();
    }
    let mut cursor = "0".to_string();
    let mut found = BTreeSet::new();
    loop {
        let f = s.execute(["SCAN", &cursor, "MATCH", "user:*", "COUNT", "7", "TYPE", "string"]);
        let karst_store::Frame::Array(v) = f else { panic!() };
        let karst_store::Frame::Bulk(c) = &v[0] else { panic!() };
        let karst_store::Frame::Array(keys) = &v[1] else { panic!() };
        for k in keys {
            let k = common::canon(k);
            assert!(k.starts_with("$user:"));
            found.insert(k);
        }
        cursor = String::from_utf8(c.to_vec()).unwrap();
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(found.len(), 50);
    assert_eq!(run(&s, "SCAN 0 TYPE list COUNT 1000"), "[$0,[]]");
}

#[test]
fn select_move_swapdb_flush() {
    let (s, _) = store();
    let mut sess = Session::new();
    let mut run_in = |c: &str| common::canon(&s.execute_in(&mut sess, common::split(c)));
    assert_eq!(run_in("SET k v0"), "+OK");
    assert_eq!(run_in("SELECT 3"), "+OK");
    assert_eq!(run_in("GET k"), "_");
    assert_eq!(run_in("SET k v3 EX 100"), "+OK");
    assert_eq!(run_in("MOVE k 0"), ":0");
    assert_eq!(run_in("MOVE k 5"), ":1");
    assert_eq!(run_in("SELECT 5"), "+OK");
    assert_eq!(run_in("TTL k"), ":100");
    assert_eq!(run_in("SWAPDB 5 0"), "+OK");
    assert_eq!(run_in("GET k"), "$v0");
    assert_eq!(run_in("SELECT 0"), "+OK");
    assert_eq!(run_in("GET k"), "$v3");
    assert_eq!(run_in("DBSIZE"), ":1");
    assert_eq!(run_in("FLUSHDB"), "+OK");
    assert_eq!(run_in("DBSIZE"), ":0");
    assert_eq!(run_in("SELECT 5"), "+OK");
    assert_eq!(run_in("DBSIZE"), ":1");
    assert_eq!(run_in("FLUSHALL ASYNC"), "+OK");
    assert_eq!(run_in("DBSIZE"), ":0");
}

#[test]
fn object_freq_and_idletime_follow_the_policy() {
    let (s, clock) = store();
    s.set("k", "v").unwrap();
    clock.advance(5_000);
    assert_eq!(run(&s, "OBJECT IDLETIME k"), ":5");
    s.set_maxmemory_policy(Policy::AllKeysLfu);
    s.set("f", "v").unwrap();
    assert_eq!(run(&s, "OBJECT FREQ f"), ":5");
    assert!(run(&s, "OBJECT IDLETIME f").starts_with("-ERR An LFU maxmemory policy is selected"));
    assert!(run(&s, "OBJECT HELP").starts_with("[+OBJECT <subcommand>"));
}

#[test]
fn eviction_keeps_memory_under_the_limit_for_every_policy() {
    for policy in Policy::ALL {
        if policy == Policy::NoEviction {
            continue;
        }
        let s = Store::builder().shards(8).policy(policy).build();
        let base = s.used_memory();
        s.set_maxmemory(base + 200_000);
        for i in 0..5000 {
            let r = s.execute(["SET", &format!("key:{i}"), &"x".repeat(100), "EX", "1000"]);
            assert_eq!(common::canon(&r), "+OK", "{policy}");
        }
        let used = s.used_memory();
        assert!(used <= base + 200_000 + 4096, "{policy}: {used} over the limit");
        let st = s.stats();
        assert!(st.evicted_keys > 0, "{policy}");
        assert_eq!(st.keys[0] + st.evicted_keys, 5000, "{policy}");
    }
}

#[test]
fn volatile_policies_refuse_when_nothing_has_a_ttl() {
    let s = Store::builder().shards(4).policy(Policy::VolatileLru).build();
    s.set_maxmemory(s.used_memory() + 10_000);
    let mut refused = false;
    for i in 0..1000 {
        if common::canon(&s.execute([
            "SET",
            &format!("k{i}"),
            "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv",
        ]))
        .starts_with("-OOM")
        {
            refused = true;
            break;
        }
    }
    assert!(refused);
    assert_eq!(s.stats().evicted_keys, 0);
}
