//! String commands through `Store::execute`, against replies recorded from redis-server 7.0.

mod common;

use bytes::Bytes;
use common::{replay, run, store};
use karst_store::{Frame, Policy, SetOptions, Store};

#[test]
fn replies_match_redis() {
    let (s, _clock) = store();
    let diffs = replay(&s, include_str!("data/string.txt"));
    assert!(diffs.is_empty(), "{} differences:\n{}", diffs.len(), diffs.join("\n"));
}

#[test]
fn set_expire_options_follow_the_clock() {
    let (s, clock) = store();
    assert_eq!(run(&s, "SET k v PX 1500"), "+OK");
    assert_eq!(run(&s, "PTTL k"), ":1500");
    clock.advance(1499);
    assert_eq!(run(&s, "GET k"), "$v");
    clock.advance(1);
    assert_eq!(run(&s, "GET k"), "_");
    let now = clock_ms(&s);
    assert_eq!(run(&s, &format!("SET k v PXAT {}", now + 10)), "+OK");
    assert_eq!(run(&s, "PTTL k"), ":10");
    assert_eq!(run(&s, &format!("SET k v EXAT {}", now / 1000 + 100)), "+OK");
    assert_eq!(run(&s, "SET k v2 KEEPTTL"), "+OK");
    assert!(run(&s, "TTL k").starts_with(":10"));
    assert_eq!(run(&s, "SET k v3"), "+OK");
    assert_eq!(run(&s, "TTL k"), ":-1");
    // INCR, APPEND and SETRANGE keep the TTL.
    assert_eq!(run(&s, "SET n 1 EX 100"), "+OK");
    run(&s, "INCR n");
    run(&s, "APPEND n 0");
    run(&s, "SETRANGE n 0 5");
    run(&s, "INCRBYFLOAT n 1.5");
    assert_eq!(run(&s, "TTL n"), ":100");
    assert_eq!(run(&s, "GET n"), "$51.5");
}

fn clock_ms(s: &Store) -> i64 {
    match s.execute(["TIME"]) {
        Frame::Array(v) => match (&v[0], &v[1]) {
            (Frame::Bulk(a), Frame::Bulk(b)) => {
                let a: i64 = std::str::from_utf8(a).unwrap().parse().unwrap();
                let b: i64 = std::str::from_utf8(b).unwrap().parse().unwrap();
                a * 1000 + b / 1000
            }
            _ => panic!(),
        },
        _ => panic!(),
    }
}

#[test]
fn large_values_are_shared_not_copied() {
    let (s, _) = store();
    let big = Bytes::from(vec![b'x'; 1 << 20]);
    s.set("big", big.clone()).unwrap();
    let got = s.get("big").unwrap().unwrap();
    assert_eq!(got.as_ptr(), big.as_ptr(), "GET must hand out the stored buffer");
    assert_eq!(run(&s, "STRLEN big"), ":1048576");
    assert_eq!(run(&s, "OBJECT ENCODING big"), "$raw");
    // APPEND to a large value extends it; the old handle is unchanged.
    assert_eq!(run(&s, "APPEND big yz"), ":1048578");
    assert_eq!(got.len(), 1 << 20);
    assert_eq!(&s.get("big").unwrap().unwrap()[(1 << 20)..], b"yz");
}

#[test]
fn binary_safe_keys_and_values() {
    let (s, _) = store();
    let key = [0u8, 255, b'\r', b'\n', 7];
    let val = vec![0u8, 1, 2, 255, b'\r', b'\n'];
    // An unknown binary command name is an error reply, not a panic.
    let unknown = s.execute([&key[..], &val[..]]);
    assert!(matches!(unknown, Frame::Error(_)), "{unknown:?}");
    assert_eq!(s.execute([&b"SET"[..], &key, &val]), Frame::Simple(Bytes::from("OK")));
    assert_eq!(s.execute([&b"GET"[..], &key]), Frame::Bulk(Bytes::from(val.clone())));
    let long_key = vec![b'k'; 300];
    assert_eq!(s.execute([&b"SET"[..], &long_key, b"1"]), Frame::Simple(Bytes::from("OK")));
    assert_eq!(s.execute([&b"INCR"[..], &long_key]), Frame::Integer(2));
}

#[test]
fn typed_api() {
    let (s, clock) = store();
    assert_eq!(s.get("nope").unwrap(), None);
    s.set("a", "1").unwrap();
    assert_eq!(s.incr("a").unwrap(), 2);
    assert_eq!(s.get("a").unwrap().unwrap(), "2");
    assert!(!s.set_with("a", "x", SetOptions::new().nx()).unwrap());
    assert!(s.set_with("b", "x", SetOptions::new().nx().ex(10)).unwrap());
    assert_eq!(s.ttl_ms("b").unwrap(), 10_000);
    assert!(s.set_with("b", "y", SetOptions::new().xx().keep_ttl()).unwrap());
    assert_eq!(s.ttl_ms("b").unwrap(), 10_000);
    assert!(s.persist("b"));
    assert_eq!(s.ttl_ms("b").unwrap(), -1);
    assert!(s.expire_ms("b", 5).unwrap());
    clock.advance(5);
    assert!(!s.exists("b"));
    s.mset(&[("m1", "1"), ("m2", "2")]).unwrap();
    assert_eq!(
        s.mget(&["m1", "m2", "m3"]),
        vec![Some(Bytes::from("1")), Some(Bytes::from("2")), None]
    );
    assert_eq!(s.del(&["m1", "m2", "m3"]), 2);
    s.set("x", "abc").unwrap();
    assert_eq!(s.incr("x").unwrap_err().to_string(), "ERR value is not an integer or out of range");
    s.set("max", i64::MAX.to_string()).unwrap();
    assert_eq!(s.incr("max").unwrap_err().to_string(), "ERR increment or decrement would overflow");
    assert!(s.set_with("z", "v", SetOptions::new().px(0)).is_err());
}

#[test]
fn noeviction_refuses_denyoom_writes_but_not_deletes() {
    let (s, _) = store();
    s.set_maxmemory(1);
    assert_eq!(s.policy(), Policy::NoEviction);
    assert_eq!(run(&s, "SET k v"), "-OOM command not allowed when used memory > 'maxmemory'.");
    assert_eq!(run(&s, "GET k"), "_");
    assert_eq!(run(&s, "DEL k"), ":0");
    assert!(s.set("k", "v").is_err());
    s.set_maxmemory(0);
    assert_eq!(run(&s, "SET k v"), "+OK");
}

#[test]
fn edge_cases_match_redis() {
    let (s, _clock) = store();
    let diffs = replay(&s, include_str!("data/edge.txt"));
    assert!(diffs.is_empty(), "{} differences:\n{}", diffs.len(), diffs.join("\n"));
}

#[test]
fn incrbyfloat_matches_redis_long_double_digits() {
    let (s, _) = store();
    let mut diffs = Vec::new();
    for line in include_str!("data/incrbyfloat.txt").lines().filter(|l| !l.starts_with('#')) {
        let mut it = line.split('\t');
        let (a, b, want) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
        s.execute(["SET", "x", a]);
        let got = common::canon(&s.execute(["INCRBYFLOAT", "x", b]));
        if got != want {
            diffs.push(format!("{a} + {b}: want {want} got {got}"));
        }
    }
    assert!(diffs.is_empty(), "{} differences:\n{}", diffs.len(), diffs.join("\n"));
}

/// MEMORY USAGE counts what a key holds: its entry, a large value's bytes and shared header, a
/// collection's box and contents, and its TTL slot.
#[test]
fn memory_usage_counts_the_value_and_the_ttl() {
    let (s, _) = store();
    let usage = |key: &str| -> i64 {
        let r = run(&s, &format!("MEMORY USAGE {key}"));
        r.trim_start_matches(':').parse().unwrap_or_else(|_| panic!("{key}: {r}"))
    };
    assert_eq!(run(&s, "MEMORY USAGE nothing"), "_");
    run(&s, "SET small v");
    s.execute(["SET", "large", &"v".repeat(4000)]);
    let (small, large) = (usage("small"), usage("large"));
    assert!(large >= small + 4000, "{small} {large}");
    run(&s, "EXPIRE small 100");
    assert!(usage("small") > small, "a TTL costs its index slot");
    run(&s, "HSET h f v");
    let one = usage("h");
    for i in 0..200 {
        run(&s, &format!("HSET h field:{i} value:{i}"));
    }
    assert!(usage("h") > one + 200 * 10, "{one} {}", usage("h"));
}

/// What Redis counts as a command's `rejected_calls` comes back as `Outcome::Rejected` with the
/// error written: an unknown name, a wrong number of arguments, a write refused over
/// maxmemory. A command that runs and fails (WRONGTYPE, not an integer) is `Done`.
#[test]
fn refusals_before_running_are_rejected() {
    use karst_resp::{Args, Output, Protocol};
    use karst_store::{Outcome, Session};
    let (s, _) = store();
    let dispatch = |line: &str| {
        let args: Vec<Bytes> =
            line.split(' ').map(|a| Bytes::copy_from_slice(a.as_bytes())).collect();
        let mut out = Output::new(Protocol::Resp2);
        let outcome = s.dispatch(&mut Session::new(), Args::from_slice(&args), &mut out);
        (matches!(outcome, Outcome::Rejected), String::from_utf8_lossy(&out.take()).into_owned())
    };
    assert_eq!(dispatch("SET k v"), (false, "+OK\r\n".into()));
    let (rejected, reply) = dispatch("NOSUCH k");
    assert!(rejected && reply.starts_with("-ERR unknown command 'NOSUCH'"), "{reply}");
    assert_eq!(
        dispatch("GET"),
        (true, "-ERR wrong number of arguments for 'get' command\r\n".into())
    );
    assert_eq!(
        dispatch("INCR k"),
        (false, "-ERR value is not an integer or out of range\r\n".into())
    );
    assert!(dispatch("LPUSH k x").1.starts_with("-WRONGTYPE"));
    assert!(!dispatch("LPUSH k x").0);
    s.set_maxmemory(1);
    let (rejected, reply) = dispatch("SET k2 v");
    assert!(rejected && reply.starts_with("-OOM"), "{reply}");
    assert_eq!(dispatch("GET k"), (false, "$1\r\nv\r\n".into()));
}
