//! Random command sequences against a `HashMap` model: every reply and the final contents must
//! agree, with time moving (TTLs) and values crossing the inline/shared size boundary.

mod common;

use std::collections::HashMap;

use bytes::Bytes;
use karst_store::{Frame, MockClock, Store};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

#[derive(Default)]
struct Model {
    map: HashMap<Vec<u8>, (Vec<u8>, Option<i64>)>,
}

impl Model {
    fn live(&mut self, k: &[u8], now: i64) -> Option<&mut (Vec<u8>, Option<i64>)> {
        if matches!(self.map.get(k), Some((_, Some(at))) if *at <= now) {
            self.map.remove(k);
        }
        self.map.get_mut(k)
    }
}

fn bulk(v: Option<&Vec<u8>>) -> Frame {
    match v {
        Some(v) => Frame::Bulk(Bytes::from(v.clone())),
        None => Frame::Null,
    }
}

fn ok() -> Frame {
    Frame::Simple(Bytes::from("OK"))
}

#[test]
fn random_operations_match_a_hashmap() {
    for seed in 0..8u64 {
        run(seed, 4000);
    }
}

fn run(seed: u64, steps: usize) {
    let clock = MockClock::default();
    let store = Store::builder().shards(8).clock(clock.clone()).build();
    let mut model = Model::default();
    let mut rng = SmallRng::seed_from_u64(seed);
    let keys: Vec<Vec<u8>> = (0..40).map(|i| format!("key{i}").into_bytes()).collect();
    for step in 0..steps {
        let now = clock_now(&clock);
        let k = keys[rng.random_range(0..keys.len())].clone();
        let k2 = keys[rng.random_range(0..keys.len())].clone();
        let len = if rng.random_bool(0.1) {
            rng.random_range(500..2000)
        } else {
            rng.random_range(0..40)
        };
        let v: Vec<u8> = (0..len).map(|_| rng.random_range(b'a'..=b'z')).collect();
        let op = rng.random_range(0..13);
        let (args, want): (Vec<Vec<u8>>, Frame) = match op {
            0 => {
                model.map.insert(k.clone(), (v.clone(), None));
                (vec![b"SET".to_vec(), k, v], ok())
            }
            1 => {
                let got = model.live(&k, now).map(|e| e.0.clone());
                (vec![b"GET".to_vec(), k], bulk(got.as_ref()))
            }
            2 => {
                let n = i64::from(model.live(&k, now).is_some());
                model.map.remove(&k);
                (vec![b"DEL".to_vec(), k], Frame::Integer(n))
            }
            3 => {
                let e = model.live(&k, now).map(|e| e.0.clone()).unwrap_or_default();
                let mut new = e.clone();
                new.extend_from_slice(&v);
                let ttl = model.live(&k, now).and_then(|e| e.1);
                let n = new.len() as i64;
                model.map.insert(k.clone(), (new, ttl));
                (vec![b"APPEND".to_vec(), k, v], Frame::Integer(n))
            }
            4 => {
                let cur = model.live(&k, now).map(|e| e.0.clone());
                let parsed = match &cur {
                    None => Some(0i64),
                    Some(c) => std::str::from_utf8(c)
                        .ok()
                        .and_then(|s| s.parse::<i64>().ok())
                        .filter(|n| n.to_string().as_bytes() == &c[..]),
                };
                match parsed.and_then(|p| p.checked_add(7)) {
                    Some(n) => {
                        let ttl = model.live(&k, now).and_then(|e| e.1);
                        model.map.insert(k.clone(), (n.to_string().into_bytes(), ttl));
                        (vec![b"INCRBY".to_vec(), k, b"7".to_vec()], Frame::Integer(n))
                    }
                    None => (
                        vec![b"INCRBY".to_vec(), k, b"7".to_vec()],
                        Frame::Error(Bytes::from("ERR value is not an integer or out of range")),
                    ),
                }
            }
            5 => {
                let ms = rng.random_range(1..50);
                let n = match model.live(&k, now) {
                    Some(e) => {
                        e.1 = Some(now + ms);
                        1
                    }
                    None => 0,
                };
                (vec![b"PEXPIRE".to_vec(), k, ms.to_string().into_bytes()], Frame::Integer(n))
            }
            6 => {
                let n = model.live(&k, now).map_or(0, |e| e.0.len() as i64);
                (vec![b"STRLEN".to_vec(), k], Frame::Integer(n))
            }
            7 => {
                let want = match model.live(&k, now).cloned() {
                    None => Frame::Error(Bytes::from("ERR no such key")),
                    Some(e) => {
                        model.map.remove(&k);
                        model.map.insert(k2.clone(), e);
                        ok()
                    }
                };
                (vec![b"RENAME".to_vec(), k, k2], want)
            }
            8 => {
                let got = model.live(&k, now).map(|e| e.0.clone());
                model.map.remove(&k);
                (vec![b"GETDEL".to_vec(), k], bulk(got.as_ref()))
            }
            9 => {
                let off = rng.random_range(0..30usize);
                let mut cur = model.live(&k, now).map(|e| e.0.clone()).unwrap_or_default();
                let ttl = model.live(&k, now).and_then(|e| e.1);
                if !v.is_empty() {
                    if cur.len() < off + v.len() {
                        cur.resize(off + v.len(), 0);
                    }
                    cur[off..off + v.len()].copy_from_slice(&v);
                    model.map.insert(k.clone(), (cur.clone(), ttl));
                }
                (
                    vec![b"SETRANGE".to_vec(), k, off.to_string().into_bytes(), v],
                    Frame::Integer(cur.len() as i64),
                )
            }
            10 => {
                model.map.insert(k.clone(), (v.clone(), None));
                model.map.insert(k2.clone(), (b"second".to_vec(), None));
                (vec![b"MSET".to_vec(), k, v, k2, b"second".to_vec()], ok())
            }
            11 => {
                let n = [&k, &k2].iter().filter(|x| model.live(x, now).is_some()).count();
                (vec![b"EXISTS".to_vec(), k, k2], Frame::Integer(n as i64))
            }
            _ => {
                clock.advance(rng.random_range(0..20));
                if step % 97 == 0 {
                    store.active_expire_cycle(5);
                }
                continue;
            }
        };
        let got = store.execute(&args);
        assert_eq!(
            common::canon(&got),
            common::canon(&want),
            "seed {seed} step {step}: {:?}",
            args.iter()
                .map(|a| String::from_utf8_lossy(&a[..a.len().min(40)]).into_owned())
                .collect::<Vec<_>>()
        );
    }
    // Final contents agree.
    let now = clock_now(&clock);
    let live: usize = keys.iter().filter(|k| model.live(k, now).is_some()).count();
    let mut n = 0;
    for k in &keys {
        if let Some((v, _)) = model.live(k, now) {
            assert_eq!(store.get(k).unwrap().as_deref(), Some(&v[..]));
            n += 1;
        } else {
            assert_eq!(store.get(k).unwrap(), None);
        }
    }
    assert_eq!(n, live);
}

fn clock_now(c: &MockClock) -> i64 {
    use karst_store::Clock;
    c.now_ms()
}

/// Arbitrary argument vectors built from command names, options and awkward values never panic
/// and always produce a reply.
#[test]
fn random_argv_never_panics() {
    let tokens: Vec<&[u8]> = vec![
        b"0",
        b"-1",
        b"1",
        b"9223372036854775807",
        b"-9223372036854775808",
        b"99999999999999999999",
        b"1.5",
        b"inf",
        b"nan",
        b"",
        b"k",
        b"k2",
        b"EX",
        b"PX",
        b"EXAT",
        b"PXAT",
        b"NX",
        b"XX",
        b"GT",
        b"LT",
        b"GET",
        b"KEEPTTL",
        b"PERSIST",
        b"MATCH",
        b"COUNT",
        b"TYPE",
        b"*",
        b"[",
        b"\\",
        b"DB",
        b"REPLACE",
        b"IDX",
        b"LEN",
        b"MINMATCHLEN",
        b"WITHMATCHLEN",
        b"ASYNC",
        b"SAMPLES",
        b"\xff\x00",
    ];
    let store = Store::builder().shards(4).build();
    // Blocking commands with nothing to pop give their timeout reply at once (as in MULTI)
    // instead of parking this thread.
    let mut session = karst_store::Session::new();
    session.set_may_block(false);
    let mut rng = SmallRng::seed_from_u64(99);
    let names: Vec<&str> = karst_store::commands().iter().map(|c| c.name).collect();
    for _ in 0..20_000 {
        let mut args: Vec<Vec<u8>> =
            vec![names[rng.random_range(0..names.len())].as_bytes().to_vec()];
        for _ in 0..rng.random_range(0..6) {
            args.push(tokens[rng.random_range(0..tokens.len())].to_vec());
        }
        if args[0] == b"flushall" || args[0] == b"shutdown" {
            continue;
        }
        let _ = store.execute_in(&mut session, &args);
    }
}
