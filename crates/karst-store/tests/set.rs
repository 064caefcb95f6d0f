//! Set commands through `Store::execute`: replies, encodings and their thresholds (Redis 7.2's
//! listpack sets included), randomness properties, SSCAN, memory accounting, atomic SMOVE.

mod common;

use std::collections::BTreeSet;

use common::{raw, run, store};
use karst_resp::Protocol;
use karst_store::{EncodingLimits, Frame, Store};

/// The members of an array or set reply, sorted.
fn members(f: &Frame) -> Vec<String> {
    let mut v: Vec<String> = match f {
        Frame::Array(v) | Frame::Set(v) => v
            .iter()
            .map(|e| match e {
                Frame::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
                other => panic!("not a bulk: {other:?}"),
            })
            .collect(),
        other => panic!("not an array: {other:?}"),
    };
    v.sort();
    v
}

fn smembers(s: &Store, key: &str) -> Vec<String> {
    members(&s.execute(["SMEMBERS", key]))
}

fn enc(s: &Store, key: &str) -> String {
    run(s, &format!("OBJECT ENCODING {key}"))
}

#[test]
fn basic_commands() {
    let (s, _) = store();
    assert_eq!(run(&s, "SADD s a b c a"), ":3");
    assert_eq!(run(&s, "SADD s c d"), ":1");
    assert_eq!(run(&s, "SCARD s"), ":4");
    assert_eq!(run(&s, "SCARD nosuch"), ":0");
    assert_eq!(run(&s, "SISMEMBER s a"), ":1");
    assert_eq!(run(&s, "SISMEMBER s z"), ":0");
    assert_eq!(run(&s, "SISMEMBER nosuch a"), ":0");
    assert_eq!(run(&s, "SMISMEMBER s a z d"), "[:1,:0,:1]");
    assert_eq!(run(&s, "SMISMEMBER nosuch a z"), "[:0,:0]");
    assert_eq!(smembers(&s, "s"), ["a", "b", "c", "d"]);
    assert_eq!(run(&s, "SREM s a z"), ":1");
    assert_eq!(run(&s, "SREM nosuch a"), ":0");
    assert_eq!(run(&s, "TYPE s"), "+set");
    assert_eq!(run(&s, "SREM s b c d"), ":3");
    assert_eq!(run(&s, "EXISTS s"), ":0", "an emptied set disappears");
    assert_eq!(run(&s, "SMEMBERS nosuch"), "[]");
}

#[test]
fn wrong_type_everywhere() {
    let (s, _) = store();
    run(&s, "SET str x");
    run(&s, "SADD s a");
    let wt = "-WRONGTYPE Operation against a key holding the wrong kind of value";
    for cmd in [
        "SADD str a",
        "SREM str a",
        "SCARD str",
        "SISMEMBER str a",
        "SMISMEMBER str a",
        "SMEMBERS str",
        "SRANDMEMBER str",
        "SRANDMEMBER str 2",
        "SPOP str",
        "SPOP str 2",
        "SMOVE str s a",
        "SMOVE s str a",
        "SINTER s str",
        "SINTER nosuch str",
        "SINTERCARD 2 nosuch str",
        "SUNION s str",
        "SDIFF s str",
        "SINTERSTORE d nosuch str",
        "SUNIONSTORE d s str",
        "SDIFFSTORE d s str",
        "SSCAN str 0",
    ] {
        assert_eq!(run(&s, cmd), wt, "{cmd}");
    }
    assert_eq!(run(&s, "GET s"), wt);
    assert_eq!(run(&s, "SMOVE nosuch str a"), ":0", "a missing source wins");
    // A STORE overwrites any type.
    assert_eq!(run(&s, "SUNIONSTORE str s"), ":1");
    assert_eq!(run(&s, "TYPE str"), "+set");
}

#[test]
fn encodings_and_thresholds() {
    let (s, _) = store();
    let ints: Vec<String> = (0..512).map(|i| i.to_string()).collect();
    s.execute(["SADD", "i"].into_iter().map(String::from).chain(ints.iter().cloned()));
    assert_eq!(enc(&s, "i"), "$intset");
    run(&s, "SADD i 512");
    assert_eq!(enc(&s, "i"), "$hashtable");
    run(&s, "SREM i 512 511 510");
    assert_eq!(enc(&s, "i"), "$hashtable", "never converts back");

    run(&s, "SADD m 1 2 3");
    assert_eq!(enc(&s, "m"), "$intset");
    run(&s, "SADD m x");
    assert_eq!(enc(&s, "m"), "$listpack");
    for i in 4..128 {
        run(&s, &format!("SADD m v{i}"));
    }
    assert_eq!(run(&s, "SCARD m"), ":128");
    assert_eq!(enc(&s, "m"), "$listpack");
    run(&s, "SADD m one-more");
    assert_eq!(enc(&s, "m"), "$hashtable");

    run(&s, &format!("SADD long a {}", "x".repeat(64)));
    assert_eq!(enc(&s, "long"), "$listpack");
    run(&s, &format!("SADD long {}", "y".repeat(65)));
    assert_eq!(enc(&s, "long"), "$hashtable");

    // Non-canonical integers are strings.
    run(&s, "SADD nc 01");
    assert_eq!(enc(&s, "nc"), "$listpack");
    run(&s, "SADD neg -5 9223372036854775807 -9223372036854775808");
    assert_eq!(enc(&s, "neg"), "$intset");
    assert_eq!(run(&s, "SMEMBERS neg"), "[$-9223372036854775808,$-5,$9223372036854775807]");
    run(&s, "SADD neg 9223372036854775808");
    assert_eq!(enc(&s, "neg"), "$listpack");

    // An intset too long for a listpack goes to the hash table on a string member.
    let many: Vec<String> = (0..200).map(|i| i.to_string()).collect();
    s.execute(["SADD", "big"].into_iter().map(String::from).chain(many.iter().cloned()));
    assert_eq!(enc(&s, "big"), "$intset");
    run(&s, "SADD big a");
    assert_eq!(enc(&s, "big"), "$hashtable");

    // SADD with more arguments than a listpack holds starts as a hash table (Redis 7.2).
    let strs: Vec<String> = (0..129).map(|_| "same".to_string()).collect();
    s.execute(["SADD", "dup"].into_iter().map(String::from).chain(strs.iter().cloned()));
    assert_eq!(run(&s, "SCARD dup"), ":1");
    assert_eq!(enc(&s, "dup"), "$hashtable");

    // Limits follow the store's settings.
    let lim = EncodingLimits {
        set_max_intset_entries: 2,
        set_max_listpack_entries: 3,
        ..EncodingLimits::default()
    };
    s.set_encoding_limits(lim);
    run(&s, "SADD small 1 2");
    assert_eq!(enc(&s, "small"), "$intset");
    run(&s, "SADD small 3");
    assert_eq!(enc(&s, "small"), "$hashtable");
    run(&s, "SADD sl a b c");
    assert_eq!(enc(&s, "sl"), "$listpack");
    run(&s, "SADD sl d");
    assert_eq!(enc(&s, "sl"), "$hashtable");
}

#[test]
fn intset_members_come_sorted() {
    let (s, _) = store();
    run(&s, "SADD s 5 -1 100000 3 -70000");
    assert_eq!(run(&s, "SMEMBERS s"), "[$-70000,$-1,$3,$5,$100000]");
    assert_eq!(run(&s, "SSCAN s 0"), "[$0,[$-70000,$-1,$3,$5,$100000]]");
    assert_eq!(run(&s, "SSCAN s 0 MATCH -*"), "[$0,[$-70000,$-1]]");
}

#[test]
fn replies_in_resp2_and_resp3() {
    let (s, _) = store();
    run(&s, "SADD s a");
    assert_eq!(raw(&s, Protocol::Resp3, "SMEMBERS s"), "~1\r\n$1\r\na\r\n");
    assert_eq!(raw(&s, Protocol::Resp2, "SMEMBERS s"), "*1\r\n$1\r\na\r\n");
    assert_eq!(raw(&s, Protocol::Resp3, "SINTER s"), "~1\r\n$1\r\na\r\n");
    assert_eq!(raw(&s, Protocol::Resp3, "SRANDMEMBER s 1"), "*1\r\n$1\r\na\r\n");
    assert_eq!(raw(&s, Protocol::Resp3, "SRANDMEMBER nosuch"), "_\r\n");
    assert_eq!(raw(&s, Protocol::Resp2, "SRANDMEMBER nosuch"), "$-1\r\n");
    assert_eq!(raw(&s, Protocol::Resp2, "SPOP nosuch"), "$-1\r\n");
    assert_eq!(raw(&s, Protocol::Resp3, "SPOP nosuch 2"), "~0\r\n");
    assert_eq!(raw(&s, Protocol::Resp2, "SPOP nosuch 2"), "*0\r\n");
    assert_eq!(raw(&s, Protocol::Resp3, "SPOP s 0"), "~0\r\n");
    assert_eq!(raw(&s, Protocol::Resp3, "SSCAN nosuch 0"), "*2\r\n$1\r\n0\r\n*0\r\n");
    assert_eq!(raw(&s, Protocol::Resp3, "SPOP s 5"), "~1\r\n$1\r\na\r\n");
    assert_eq!(run(&s, "EXISTS s"), ":0");
}

#[test]
fn argument_errors() {
    let (s, _) = store();
    run(&s, "SADD s a b c");
    let cases = [
        ("SPOP s -1", "-ERR value is out of range, must be positive"),
        ("SPOP s x", "-ERR value is out of range, must be positive"),
        ("SPOP s 1 2", "-ERR syntax error"),
        ("SRANDMEMBER s x", "-ERR value is not an integer or out of range"),
        ("SRANDMEMBER s 1 2", "-ERR syntax error"),
        (
            "SRANDMEMBER s -9223372036854775808",
            "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ),
        ("SINTERCARD 0 s", "-ERR numkeys should be greater than 0"),
        ("SINTERCARD x s", "-ERR numkeys should be greater than 0"),
        ("SINTERCARD 3 s", "-ERR Number of keys can't be greater than number of args"),
        ("SINTERCARD 1 s LIMIT -1", "-ERR LIMIT can't be negative"),
        ("SINTERCARD 1 s LIMIT x", "-ERR LIMIT can't be negative"),
        ("SINTERCARD 1 s LIMIT", "-ERR syntax error"),
        ("SINTERCARD 1 s FOO 1", "-ERR syntax error"),
        ("SSCAN s x", "-ERR invalid cursor"),
        ("SSCAN s 18446744073709551616", "-ERR invalid cursor"),
        ("SSCAN s 0 COUNT 0", "-ERR syntax error"),
        ("SSCAN s 0 COUNT x", "-ERR value is not an integer or out of range"),
        ("SSCAN s 0 MATCH", "-ERR syntax error"),
        ("SSCAN s 0 TYPE set", "-ERR syntax error"),
        ("SADD s", "-ERR wrong number of arguments for 'sadd' command"),
        ("SMOVE a b", "-ERR wrong number of arguments for 'smove' command"),
    ];
    for (cmd, want) in cases {
        assert_eq!(run(&s, cmd), want, "{cmd}");
    }
    // The huge negative count Redis 7.0 dies on is refused.
    assert!(run(&s, "SRANDMEMBER s -9223372036854775807").starts_with("-ERR count is too large"));
    assert_eq!(run(&s, "SCARD s"), ":3");
}

#[test]
fn random_members_and_pops() {
    let (s, _) = store();
    for (key, added) in [
        ("ints", (0..300).map(|i| i.to_string()).collect::<Vec<_>>()),
        ("pack", (0..100).map(|i| format!("m{i}")).collect()),
        ("table", (0..1000).map(|i| format!("m{i}")).collect()),
    ] {
        s.execute(["SADD", key].into_iter().map(String::from).chain(added.iter().cloned()));
        let all: BTreeSet<String> = added.iter().cloned().collect();
        for count in [1usize, 5, added.len() / 2 + 1, added.len() - 1] {
            let got = members(&s.execute(["SRANDMEMBER", key, &count.to_string()]));
            let uniq: BTreeSet<String> = got.iter().cloned().collect();
            assert_eq!(uniq.len(), count, "{key} {count}: distinct");
            assert!(uniq.is_subset(&all));
        }
        let got = members(&s.execute(["SRANDMEMBER", key, "100000"]));
        assert_eq!(got.len(), added.len());
        let got = members(&s.execute(["SRANDMEMBER", key, "-3000"]));
        assert_eq!(got.len(), 3000);
        assert!(got.iter().all(|m| all.contains(m)));
        // Negative counts repeat: 3000 draws from a few hundred members must.
        let uniq: BTreeSet<&String> = got.iter().collect();
        assert!(uniq.len() < 3000);
        assert_eq!(run(&s, &format!("SRANDMEMBER {key} 0")), "[]");

        // SPOP: distinct, removed, and the rest intact.
        let mut left = all.clone();
        let popped = members(&s.execute(["SPOP", key, "7"]));
        assert_eq!(popped.len(), 7);
        for m in &popped {
            assert!(left.remove(m), "{key}: {m} popped twice or unknown");
        }
        let one = s.execute(["SPOP", key]);
        let Frame::Bulk(one) = one else { panic!("{one:?}") };
        assert!(left.remove(&*String::from_utf8_lossy(&one)));
        assert_eq!(smembers(&s, key), left.iter().cloned().collect::<Vec<_>>());
        let rest = members(&s.execute(["SPOP", key, &left.len().to_string()]));
        assert_eq!(rest.len(), left.len());
        assert_eq!(run(&s, &format!("EXISTS {key}")), ":0");
    }
}

#[test]
fn smove_cases() {
    let (s, _) = store();
    run(&s, "SADD a 1 2 x");
    assert_eq!(run(&s, "SMOVE a b 1"), ":1");
    assert_eq!(smembers(&s, "b"), ["1"]);
    assert_eq!(enc(&s, "b"), "$intset");
    assert_eq!(run(&s, "SMOVE a b x"), ":1");
    assert_eq!(enc(&s, "b"), "$listpack");
    assert_eq!(run(&s, "SMOVE a b nope"), ":0");
    assert_eq!(run(&s, "SMOVE a a 2"), ":1");
    assert_eq!(run(&s, "SMOVE a a nope"), ":0");
    assert_eq!(run(&s, "SMOVE a b 2"), ":1");
    assert_eq!(run(&s, "EXISTS a"), ":0");
    assert_eq!(smembers(&s, "b"), ["1", "2", "x"]);
    run(&s, "SADD c 2");
    assert_eq!(run(&s, "SMOVE c b 2"), ":1", "already in the destination");
    assert_eq!(run(&s, "EXISTS c"), ":0");
    assert_eq!(run(&s, "SCARD b"), ":3");
}

#[test]
fn algebra() {
    let (s, _) = store();
    run(&s, "SADD {t}a 1 2 3 4 x y");
    run(&s, "SADD {t}b 2 3 x z");
    run(&s, "SADD {t}c 3 x 9");
    assert_eq!(members(&s.execute(["SINTER", "{t}a", "{t}b", "{t}c"])), ["3", "x"]);
    assert_eq!(members(&s.execute(["SINTER", "{t}a", "nosuch"])), Vec::<String>::new());
    assert_eq!(
        members(&s.execute(["SUNION", "{t}a", "{t}b", "nosuch"])),
        ["1", "2", "3", "4", "x", "y", "z"]
    );
    assert_eq!(members(&s.execute(["SDIFF", "{t}a", "{t}b", "{t}c"])), ["1", "4", "y"]);
    assert_eq!(members(&s.execute(["SDIFF", "nosuch", "{t}a"])), Vec::<String>::new());
    assert_eq!(run(&s, "SINTERCARD 2 {t}a {t}b"), ":3");
    assert_eq!(run(&s, "SINTERCARD 2 {t}a {t}b LIMIT 2"), ":2");
    assert_eq!(run(&s, "SINTERCARD 2 {t}a {t}b LIMIT 0"), ":3");
    assert_eq!(run(&s, "SINTERCARD 1 {t}a LIMIT 4"), ":4");
    assert_eq!(run(&s, "SINTERCARD 3 {t}a {t}b {t}c"), ":2");
    assert_eq!(run(&s, "SINTERCARD 2 {t}a nosuch"), ":0");
    assert_eq!(run(&s, "SINTERSTORE d {t}a {t}b"), ":3");
    assert_eq!(smembers(&s, "d"), ["2", "3", "x"]);
    assert_eq!(enc(&s, "d"), "$listpack");
    assert_eq!(run(&s, "SINTERSTORE d {t}a nosuch"), ":0");
    assert_eq!(run(&s, "EXISTS d"), ":0");
    run(&s, "SET d str");
    assert_eq!(run(&s, "SDIFFSTORE d {t}a {t}b"), ":3");
    assert_eq!(smembers(&s, "d"), ["1", "4", "y"]);
    assert_eq!(run(&s, "SUNIONSTORE d {t}c"), ":3");
    assert_eq!(smembers(&s, "d"), ["3", "9", "x"]);
    // The destination may be a source.
    assert_eq!(run(&s, "SUNIONSTORE d d {t}b"), ":5");
    assert_eq!(run(&s, "SDIFFSTORE d d d"), ":0");
    assert_eq!(run(&s, "EXISTS d"), ":0");
    // An integer intersection is an intset again.
    run(&s, "SADD n1 1 2 3 a");
    run(&s, "SADD n2 1 2 b");
    assert_eq!(run(&s, "SINTERSTORE n n1 n2"), ":2");
    assert_eq!(enc(&s, "n"), "$intset");
    // A TTL on the destination goes.
    run(&s, "SADD e 1");
    run(&s, "EXPIRE e 100");
    run(&s, "SUNIONSTORE e n1");
    assert_eq!(run(&s, "TTL e"), ":-1");
}

#[test]
fn sscan_walks_a_table_whole() {
    let (s, _) = store();
    let all: BTreeSet<String> = (0..2000).map(|i| format!("member:{i}")).collect();
    s.execute(["SADD", "s"].into_iter().map(String::from).chain(all.iter().cloned()));
    assert_eq!(enc(&s, "s"), "$hashtable");
    let mut seen = BTreeSet::new();
    let mut cursor = "0".to_string();
    let mut calls = 0;
    loop {
        let Frame::Array(r) = s.execute(["SSCAN", "s", &cursor, "COUNT", "100"]) else { panic!() };
        let [Frame::Bulk(c), page] = &r[..] else { panic!("{r:?}") };
        for m in members(page) {
            seen.insert(m);
        }
        // Removals between calls must not hide members that stay.
        run(&s, &format!("SREM s member:{}", calls * 7));
        calls += 1;
        cursor = String::from_utf8_lossy(c).into_owned();
        if cursor == "0" {
            break;
        }
    }
    assert!((20..=22).contains(&calls), "{calls} calls");
    let removed: BTreeSet<String> = (0..calls).map(|c| format!("member:{}", c * 7)).collect();
    for m in all.difference(&removed) {
        assert!(seen.contains(m), "{m}");
    }
    let Frame::Array(r) = s.execute(["SSCAN", "s", "0", "MATCH", "member:1?", "COUNT", "5000"])
    else {
        panic!()
    };
    assert_eq!(members(&r[1]).len(), 9, "member:10 to member:19 but member:14, removed");
}

#[test]
fn memory_follows_the_sets() {
    let (s, _) = store();
    run(&s, "SADD s x");
    run(&s, "SADD i 1");
    run(&s, "DEL s i");
    let base = s.used_memory();
    let members: Vec<String> = (0..5000).map(|i| format!("member:{i}")).collect();
    for chunk in members.chunks(100) {
        s.execute(["SADD", "s"].into_iter().map(String::from).chain(chunk.iter().cloned()));
    }
    let grown = s.used_memory() - base;
    // Redis 7.0 spends ~56 bytes per short member of a hashtable set (dictEntry, sds, bucket).
    assert!(grown / 5000 < 56, "{} bytes per member", grown / 5000);
    for m in members.iter().take(4990) {
        run(&s, &format!("SREM s {m}"));
    }
    assert!(s.used_memory() - base < grown / 10, "memory given back on removal");
    run(&s, "DEL s");
    assert_eq!(s.used_memory(), base);
    // Compact sets: a few bytes per member.
    let ints: Vec<String> = (0..500).map(|i| i.to_string()).collect();
    s.execute(["SADD", "i"].into_iter().map(String::from).chain(ints.iter().cloned()));
    let per = (s.used_memory() - base) / 500;
    assert!(per < 8, "{per} bytes per intset member");
    run(&s, "DEL i");
    assert_eq!(s.used_memory(), base);
}

#[test]
fn concurrent_smoves_conserve_members() {
    let (s, _) = store();
    let members: Vec<String> = (0..200).map(|i| format!("m{i}")).collect();
    s.execute(["SADD", "a"].into_iter().map(String::from).chain(members.iter().cloned()));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let s = s.clone();
            std::thread::spawn(move || {
                for i in 0..2000 {
                    let m = format!("m{}", (i * 7 + t) % 200);
                    let (from, to) = if (i + t) % 2 == 0 { ("a", "b") } else { ("b", "a") };
                    s.execute(["SMOVE", from, to, &m]);
                    if i % 50 == 0 {
                        let a = run(&s, "SCARD a");
                        let b = run(&s, "SCARD b");
                        let n = |x: String| x[1..].parse::<i64>().unwrap();
                        // SCARDs are two reads, so only their bounds hold here.
                        assert!(n(a) <= 200 && n(b) <= 200);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut all = smembers(&s, "a");
    all.extend(smembers(&s, "b"));
    all.sort();
    let mut want = members.clone();
    want.sort();
    assert_eq!(all, want);
}
