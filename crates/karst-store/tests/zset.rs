//! Sorted-set commands through `Store::execute`: encodings and their thresholds, memory
//! accounting, a model check across the conversion, multi-shard stores, and ZSCAN's guarantee.
//! (Replies are compared with redis-server by `tests/differential/zset.redis`.)

mod common;

use std::collections::BTreeMap;

use common::{run, store};
use karst_store::{EncodingLimits, Store};

fn zadd_many(s: &Store, key: &str, n: usize, member: impl Fn(usize) -> String) {
    let mut cmd = vec!["ZADD".to_string(), key.to_string()];
    for i in 0..n {
        cmd.push(i.to_string());
        cmd.push(member(i));
    }
    s.execute(cmd);
}

#[test]
fn encoding_follows_the_listpack_limits_and_never_goes_back() {
    let (s, _) = store();
    zadd_many(&s, "z", 128, |i| format!("m{i}"));
    assert_eq!(run(&s, "OBJECT ENCODING z"), "$listpack");
    assert_eq!(run(&s, "ZADD z 1 m0"), ":0");
    assert_eq!(run(&s, "OBJECT ENCODING z"), "$listpack");
    assert_eq!(run(&s, "ZADD z 1 one-more"), ":1");
    assert_eq!(run(&s, "OBJECT ENCODING z"), "$skiplist");
    assert_eq!(run(&s, "ZREMRANGEBYRANK z 0 -2"), ":128");
    assert_eq!(run(&s, "OBJECT ENCODING z"), "$skiplist");
    assert_eq!(run(&s, "ZCARD z"), ":1");

    // A member of 64 bytes stays compact; 65 converts.
    let m64 = "x".repeat(64);
    assert_eq!(run(&s, &format!("ZADD v 1 {m64}")), ":1");
    assert_eq!(run(&s, "OBJECT ENCODING v"), "$listpack");
    assert_eq!(run(&s, &format!("ZADD v 1 {m64}y")), ":1");
    assert_eq!(run(&s, "OBJECT ENCODING v"), "$skiplist");

    // The thresholds are read per command; results of *STORE are compact when they fit.
    s.set_encoding_limits(EncodingLimits {
        zset_max_listpack_entries: 2,
        ..EncodingLimits::default()
    });
    assert_eq!(run(&s, "ZADD w 1 a 2 b"), ":2");
    assert_eq!(run(&s, "OBJECT ENCODING w"), "$listpack");
    assert_eq!(run(&s, "ZADD w 3 c"), ":1");
    assert_eq!(run(&s, "OBJECT ENCODING w"), "$skiplist");
    assert_eq!(run(&s, "ZRANGESTORE w2 w 0 1"), ":2");
    assert_eq!(run(&s, "OBJECT ENCODING w2"), "$listpack");
    assert_eq!(run(&s, "ZUNIONSTORE w3 2 w w2"), ":3");
    assert_eq!(run(&s, "OBJECT ENCODING w3"), "$skiplist");
    s.set_encoding_limits(EncodingLimits {
        zset_max_listpack_entries: 0,
        ..EncodingLimits::default()
    });
    assert_eq!(run(&s, "ZADD zero 1 a"), ":1");
    assert_eq!(run(&s, "OBJECT ENCODING zero"), "$skiplist");
}

#[test]
fn emptied_sets_disappear_and_other_types_say_wrongtype() {
    let (s, _) = store();
    run(&s, "ZADD z 1 a 2 b");
    assert_eq!(run(&s, "ZREM z a b"), ":2");
    assert_eq!(run(&s, "EXISTS z"), ":0");
    run(&s, "ZADD z 1 a");
    assert_eq!(run(&s, "ZPOPMIN z"), "[$a,,1]");
    assert_eq!(run(&s, "EXISTS z"), ":0");
    assert_eq!(run(&s, "ZADD z XX 1 a"), ":0");
    assert_eq!(run(&s, "EXISTS z"), ":0");
    assert_eq!(run(&s, "ZADD z INCR -inf a"), ",-inf");
    assert_eq!(run(&s, "ZADD z INCR +inf a"), "-ERR resulting score is not a number (NaN)");
    assert_eq!(run(&s, "ZSCORE z a"), ",-inf");
    run(&s, "SET str v");
    let wrong = "-WRONGTYPE Operation against a key holding the wrong kind of value";
    for cmd in ["ZADD str 1 a", "ZSCORE str a", "ZRANGE str 0 -1", "ZUNIONSTORE d 1 str"] {
        assert_eq!(run(&s, cmd), wrong, "{cmd}");
    }
    assert_eq!(run(&s, "TYPE z"), "+zset");
    assert_eq!(run(&s, "GET z"), wrong);
    // A failed NaN increment on a new key leaves no empty key behind.
    assert_eq!(run(&s, "ZINCRBY fresh 1 a"), ",1");
    assert_eq!(run(&s, "DEL fresh"), ":1");
}

#[test]
fn memory_accounting_follows_adds_and_removals_and_beats_redis_per_element() {
    let (s, _) = store();
    // The shards' key tables grow on first use: warm them with the same keys first.
    run(&s, "MSET small 1 big 1");
    run(&s, "DEL small big");
    let base = s.used_memory();
    // Compact: 100 pairs of a 10-byte member and a small integer score.
    zadd_many(&s, "small", 100, |i| format!("member:{i:03}"));
    let small = s.used_memory() - base;
    // Redis 7.0 listpack: 14 bytes per pair here (12 for the member entry, 2 for the score).
    assert!(small < 100 * 14 + 600, "compact set costs {small} bytes");
    // Large: 20,000 members of 16 bytes.
    zadd_many(&s, "big", 20_000, |i| format!("member:{i:08}"));
    let big = s.used_memory() - base - small;
    let per = big / 20_000;
    eprintln!("zset memory: compact {small} bytes for 100 pairs, large {per} bytes per element");
    // Redis: dictEntry 24 + bucket 8 + skiplist node ~48 + sds of 16 bytes (24) = ~104.
    assert!(per < 104, "large set costs {per} bytes per element");
    assert!(per > 40, "large set cost {per} looks dishonest");
    assert_eq!(run(&s, "ZREMRANGEBYRANK big 0 17999"), ":18000");
    let after = s.used_memory() - base - small;
    assert!(after < big / 4, "removals gave back too little: {after} of {big}");
    run(&s, "DEL big small");
    assert_eq!(s.used_memory(), base);
}

#[test]
fn both_encodings_match_a_model_under_random_commands() {
    let (s, _) = store();
    s.set_encoding_limits(EncodingLimits {
        zset_max_listpack_entries: 8,
        ..EncodingLimits::default()
    });
    let mut model: BTreeMap<String, f64> = BTreeMap::new();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut rnd = |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    for step in 0..4000 {
        let m = format!("m{}", rnd(24));
        let score = rnd(10) as f64 - 4.5;
        match rnd(6) {
            0 | 1 => {
                let fresh = !model.contains_key(&m);
                assert_eq!(
                    run(&s, &format!("ZADD z {score} {m}")),
                    format!(":{}", i64::from(fresh))
                );
                model.insert(m, score);
            }
            2 => {
                let had = model.remove(&m).is_some();
                assert_eq!(run(&s, &format!("ZREM z {m}")), format!(":{}", i64::from(had)));
            }
            3 => {
                let v = model.get(&m).copied().unwrap_or(0.0) + score;
                assert_eq!(run(&s, &format!("ZINCRBY z {score} {m}")), format!(",{v}"));
                model.insert(m, v);
            }
            4 => {
                let n = 1 + rnd(3);
                let got = run(&s, &format!("ZPOPMAX z {n}"));
                let mut sorted = sorted_model(&model);
                sorted.reverse();
                sorted.truncate(n as usize);
                for (k, _) in &sorted {
                    model.remove(k);
                }
                let want: Vec<String> =
                    sorted.iter().map(|(k, v)| format!("[${k},,{v}]")).collect();
                assert_eq!(got, format!("[{}]", want.join(",")));
            }
            _ => {
                let (lo, hi) = (rnd(6) as f64 - 3.0, rnd(6) as f64 - 1.0);
                let want: Vec<String> = sorted_model(&model)
                    .into_iter()
                    .filter(|(_, v)| *v > lo && *v <= hi)
                    .map(|(k, _)| format!("${k}"))
                    .collect();
                let got = run(&s, &format!("ZRANGEBYSCORE z ({lo} {hi}"));
                assert_eq!(got, format!("[{}]", want.join(",")), "step {step}");
            }
        }
        if step % 50 == 0 {
            let sorted = sorted_model(&model);
            let want: Vec<String> = sorted.iter().map(|(k, v)| format!("[${k},,{v}]")).collect();
            let got = run(&s, "ZRANGE z 0 -1 WITHSCORES");
            assert_eq!(got, format!("[{}]", want.join(",")), "step {step}");
            for (i, (k, _)) in sorted.iter().enumerate() {
                assert_eq!(run(&s, &format!("ZRANK z {k}")), format!(":{i}"));
            }
        }
    }
}

fn sorted_model(m: &BTreeMap<String, f64>) -> Vec<(String, f64)> {
    let mut v: Vec<(String, f64)> = m.iter().map(|(k, v)| (k.clone(), *v)).collect();
    v.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    v
}

#[test]
fn stores_across_shards_see_every_source() {
    let s = Store::builder().shards(64).build();
    // Keys spread over shards (64 shards, so most land apart).
    for (i, k) in ["a", "b", "c", "d"].iter().enumerate() {
        run(&s, &format!("ZADD {k} {i} x {} y{i}", i * 10));
    }
    assert_eq!(run(&s, "ZUNIONSTORE out 4 a b c d"), ":5");
    assert_eq!(run(&s, "ZSCORE out x"), ",6");
    assert_eq!(run(&s, "ZINTERSTORE out 4 a b c d AGGREGATE MAX"), ":1");
    assert_eq!(run(&s, "ZRANGE out 0 -1 WITHSCORES"), "[[$x,,3]]");
    assert_eq!(run(&s, "ZDIFFSTORE out 2 d a"), ":1");
    assert_eq!(run(&s, "ZRANGE out 0 -1"), "[$y3]");
    assert_eq!(run(&s, "ZRANGESTORE other d 0 -1 REV"), ":2");
    assert_eq!(run(&s, "ZRANGE other 0 -1"), "[$x,$y3]");
    assert_eq!(run(&s, "ZINTERCARD 2 a b"), ":1");
    assert_eq!(run(&s, "ZMPOP 3 nokey c d MAX COUNT 9"), "[$c,[[$y2,,20],[$x,,2]]]");
    assert_eq!(run(&s, "EXISTS c"), ":0");
    assert_eq!(run(&s, "BZPOPMIN nokey d 0"), "[$d,$x,,3]");
    assert_eq!(run(&s, "BZPOPMIN nokey 0.01"), "_");
}

#[test]
fn zscan_returns_every_member_that_stays_while_scores_and_others_change() {
    let (s, _) = store();
    zadd_many(&s, "z", 1000, |i| format!("m{i:04}"));
    // Ties in score: 50 members on one score are returned together.
    for i in 0..50 {
        run(&s, &format!("ZADD z 500 tie{i}"));
    }
    let mut seen = std::collections::HashSet::new();
    let mut cursor = "0".to_string();
    let mut rounds = 0;
    loop {
        let reply = s.execute(["ZSCAN", "z", &cursor, "COUNT", "20"]);
        let karst_store::Frame::Array(parts) = reply else { panic!("{reply:?}") };
        let [karst_store::Frame::Bulk(next), karst_store::Frame::Array(items)] = &parts[..] else {
            panic!("{parts:?}")
        };
        for pair in items.chunks(2) {
            if let karst_store::Frame::Bulk(m) = &pair[0] {
                seen.insert(String::from_utf8_lossy(m).into_owned());
            }
        }
        // Churn: remove members scanned or not, add new ones, and move a member that is
        // still there to a score below every other (a score-ordered cursor would skip it).
        run(&s, &format!("ZREM z m{:04}", 999 - rounds));
        run(&s, &format!("ZADD z {} new{rounds}", rounds * 7));
        run(&s, &format!("ZADD z -{} m{:04}", rounds + 1, 499 - rounds));
        rounds += 1;
        cursor = String::from_utf8_lossy(next).into_owned();
        if cursor == "0" {
            break;
        }
        assert!(rounds < 1000, "scan does not end");
    }
    for i in 0..50 {
        assert!(seen.contains(&format!("tie{i}")));
    }
    // Every member present from start to end was returned.
    for i in 0..1000 - rounds {
        assert!(seen.contains(&format!("m{i:04}")), "m{i:04} missed");
    }
    assert!(rounds > 10, "a large set is scanned in several rounds");
}

/// A set operation reads each source once, as Redis counts it: one keyspace hit or miss each.
#[test]
fn set_operations_count_one_keyspace_read_per_source() {
    let s = karst_store::Store::builder().shards(8).build();
    s.execute(["ZADD", "a", "1", "x"]);
    s.execute(["SADD", "b", "y"]);
    let before = s.stats();
    s.execute(["ZUNIONSTORE", "d", "3", "a", "b", "missing"]);
    s.execute(["ZINTER", "2", "a", "b"]);
    let after = s.stats();
    assert_eq!(after.keyspace_hits - before.keyspace_hits, 4);
    assert_eq!(after.keyspace_misses - before.keyspace_misses, 1);
}
