//! A sequence of string, key, hash, list, set and sorted-set operations on the store matches a
//! model built from std collections, reply by reply: type errors, emptied collections that
//! disappear, and the conversions between compact and large encodings (members come in many
//! sizes and up to 200 distinct ones per key, past every default threshold).
#![no_main]

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use karst_resp::Frame;
use karst_store::Store;
use libfuzzer_sys::fuzz_target;

#[derive(Clone, Debug)]
enum V {
    Str(Vec<u8>),
    Hash(BTreeMap<Vec<u8>, Vec<u8>>),
    List(VecDeque<Vec<u8>>),
    Set(BTreeSet<Vec<u8>>),
    ZSet(BTreeMap<Vec<u8>, i64>),
}

fn int(v: &[u8]) -> Option<i64> {
    karst_resp::num::parse_i64(v)
}

fn wrongtype() -> Frame {
    Frame::Error("WRONGTYPE Operation against a key holding the wrong kind of value".into())
}

fn cmd(parts: &[&[u8]]) -> Vec<Vec<u8>> {
    parts.iter().map(|p| p.to_vec()).collect()
}

impl V {
    fn is_empty_collection(&self) -> bool {
        match self {
            V::Str(_) => false,
            V::Hash(t) => t.is_empty(),
            V::List(t) => t.is_empty(),
            V::Set(t) => t.is_empty(),
            V::ZSet(t) => t.is_empty(),
        }
    }
}

/// Runs `f` on the collection at `key` as `get` sees it, creating it with `wrap` if missing and
/// `create`; WRONGTYPE for another type; drops the key if the collection ends empty.
fn with<T: Default>(
    model: &mut HashMap<Vec<u8>, V>,
    key: &[u8],
    create: bool,
    get: fn(&mut V) -> Option<&mut T>,
    wrap: fn(T) -> V,
    f: impl FnOnce(Option<&mut T>) -> Frame,
) -> Frame {
    if !model.contains_key(key) {
        if !create {
            return f(None);
        }
        model.insert(key.to_vec(), wrap(T::default()));
    }
    let Some(v) = model.get_mut(key) else { return f(None) };
    let Some(t) = get(v) else { return wrongtype() };
    let reply = f(Some(t));
    if model.get(key).is_some_and(V::is_empty_collection) {
        model.remove(key);
    }
    reply
}

macro_rules! accessor {
    ($name:ident, $variant:ident, $t:ty) => {
        fn $name(v: &mut V) -> Option<&mut $t> {
            match v {
                V::$variant(t) => Some(t),
                _ => None,
            }
        }
    };
}

accessor!(hash, Hash, BTreeMap<Vec<u8>, Vec<u8>>);
accessor!(list, List, VecDeque<Vec<u8>>);
accessor!(set, Set, BTreeSet<Vec<u8>>);
accessor!(zset, ZSet, BTreeMap<Vec<u8>, i64>);

macro_rules! coll {
    ($model:expr, $key:expr, $create:expr, $variant:ident, $get:ident, $f:expr) => {
        with($model, $key, $create, $get, V::$variant, $f)
    };
}

fuzz_target!(|data: &[u8]| {
    let store = Store::builder().shards(2).build();
    let mut model: HashMap<Vec<u8>, V> = HashMap::new();
    for op in data.chunks(3) {
        let [code, k, v] = match op {
            [a, b, c] => [*a, *b, *c],
            _ => return,
        };
        let key = vec![b'k', k % 8];
        let value = match v % 4 {
            0 => v.to_string().into_bytes(),
            1 => vec![b'x'; usize::from(v) * 3],
            2 => format!("-{v}").into_bytes(),
            _ => vec![v],
        };
        // Up to 200 distinct members per key; a few of them longer than 64 bytes.
        let member = if v % 16 == 1 {
            vec![b'm'; 70 + usize::from(k)]
        } else {
            (usize::from(k) * 31 + usize::from(v) % 200).to_string().into_bytes()
        };
        let score = i64::from(v % 32) - 8;
        let m = &mut model;
        let (args, want): (Vec<Vec<u8>>, Frame) = match code % 28 {
            0 => {
                m.insert(key.clone(), V::Str(value.clone()));
                (cmd(&[b"SET", &key, &value]), Frame::simple("OK"))
            }
            1 => {
                let want = match m.get(&key) {
                    None => Frame::Null,
                    Some(V::Str(s)) => Frame::bulk(s),
                    Some(_) => wrongtype(),
                };
                (cmd(&[b"GET", &key]), want)
            }
            2 => {
                let n = i64::from(m.remove(&key).is_some());
                (cmd(&[b"DEL", &key]), Frame::Integer(n))
            }
            3 => {
                let want = match m.entry(key.clone()).or_insert_with(|| V::Str(Vec::new())) {
                    V::Str(s) => {
                        s.extend_from_slice(&value);
                        Frame::Integer(s.len() as i64)
                    }
                    _ => wrongtype(),
                };
                (cmd(&[b"APPEND", &key, &value]), want)
            }
            4 => {
                let want = match m.get(&key) {
                    Some(V::Str(s)) => match int(s).map(|n| n.checked_add(1)) {
                        None => Frame::Error("ERR value is not an integer or out of range".into()),
                        Some(Some(n)) => {
                            m.insert(key.clone(), V::Str(n.to_string().into_bytes()));
                            Frame::Integer(n)
                        }
                        Some(None) => {
                            Frame::Error("ERR increment or decrement would overflow".into())
                        }
                    },
                    None => {
                        m.insert(key.clone(), V::Str(b"1".to_vec()));
                        Frame::Integer(1)
                    }
                    Some(_) => wrongtype(),
                };
                (cmd(&[b"INCR", &key]), want)
            }
            5 => {
                let want = match m.get(&key) {
                    None => Frame::Integer(0),
                    Some(V::Str(s)) => Frame::Integer(s.len() as i64),
                    Some(_) => wrongtype(),
                };
                (cmd(&[b"STRLEN", &key]), want)
            }
            6 => {
                let want = match m.get(&key) {
                    None => Frame::Null,
                    Some(V::Str(_)) => match m.remove(&key) {
                        Some(V::Str(s)) => Frame::bulk(s),
                        _ => Frame::Null,
                    },
                    Some(_) => wrongtype(),
                };
                (cmd(&[b"GETDEL", &key]), want)
            }
            7 => {
                let want = Frame::simple(match m.get(&key) {
                    None => "none",
                    Some(V::Str(_)) => "string",
                    Some(V::Hash(_)) => "hash",
                    Some(V::List(_)) => "list",
                    Some(V::Set(_)) => "set",
                    Some(V::ZSet(_)) => "zset",
                });
                (cmd(&[b"TYPE", &key]), want)
            }
            8 => {
                let want = coll!(m, &key, true, Hash, hash, |h| {
                    let h = h.expect("created");
                    Frame::Integer(i64::from(h.insert(member.clone(), value.clone()).is_none()))
                });
                (cmd(&[b"HSET", &key, &member, &value]), want)
            }
            9 => {
                let want = coll!(m, &key, false, Hash, hash, |h| {
                    h.and_then(|h| h.get(&member)).map_or(Frame::Null, Frame::bulk)
                });
                (cmd(&[b"HGET", &key, &member]), want)
            }
            10 => {
                let want = coll!(m, &key, false, Hash, hash, |h| {
                    Frame::Integer(h.map_or(0, |h| i64::from(h.remove(&member).is_some())))
                });
                (cmd(&[b"HDEL", &key, &member]), want)
            }
            11 => {
                let want = coll!(m, &key, false, Hash, hash, |h| Frame::Integer(
                    h.map_or(0, |h| h.len() as i64)
                ));
                (cmd(&[b"HLEN", &key]), want)
            }
            12 | 13 => {
                let left = code % 28 == 12;
                let want = coll!(m, &key, true, List, list, |l| {
                    let l = l.expect("created");
                    if left {
                        l.push_front(value.clone());
                    } else {
                        l.push_back(value.clone());
                    }
                    Frame::Integer(l.len() as i64)
                });
                (cmd(&[if left { b"LPUSH" } else { b"RPUSH" }, &key, &value]), want)
            }
            14 | 15 => {
                let left = code % 28 == 14;
                let want = coll!(m, &key, false, List, list, |l| {
                    let popped = l.and_then(|l| if left { l.pop_front() } else { l.pop_back() });
                    popped.map_or(Frame::Null, Frame::bulk)
                });
                (cmd(&[if left { b"LPOP" } else { b"RPOP" }, &key]), want)
            }
            16 => {
                let i = i64::from(v % 16) - 8;
                let want = coll!(m, &key, false, List, list, |l| {
                    let Some(l) = l else { return Frame::Null };
                    let at = if i < 0 { l.len() as i64 + i } else { i };
                    usize::try_from(at)
                        .ok()
                        .and_then(|at| l.get(at))
                        .map_or(Frame::Null, Frame::bulk)
                });
                (cmd(&[b"LINDEX", &key, i.to_string().as_bytes()]), want)
            }
            17 => {
                let want = coll!(m, &key, true, Set, set, |s| {
                    Frame::Integer(i64::from(s.expect("created").insert(member.clone())))
                });
                (cmd(&[b"SADD", &key, &member]), want)
            }
            18 => {
                let want = coll!(m, &key, false, Set, set, |s| {
                    Frame::Integer(s.map_or(0, |s| i64::from(s.remove(&member))))
                });
                (cmd(&[b"SREM", &key, &member]), want)
            }
            19 => {
                let want = coll!(m, &key, false, Set, set, |s| {
                    Frame::Integer(s.map_or(0, |s| i64::from(s.contains(&member))))
                });
                (cmd(&[b"SISMEMBER", &key, &member]), want)
            }
            20 => {
                let want = coll!(m, &key, false, Set, set, |s| Frame::Integer(
                    s.map_or(0, |s| s.len() as i64)
                ));
                (cmd(&[b"SCARD", &key]), want)
            }
            21 => {
                let want = coll!(m, &key, true, ZSet, zset, |z| {
                    Frame::Integer(i64::from(
                        z.expect("created").insert(member.clone(), score).is_none(),
                    ))
                });
                (cmd(&[b"ZADD", &key, score.to_string().as_bytes(), &member]), want)
            }
            22 => {
                let want = coll!(m, &key, false, ZSet, zset, |z| {
                    z.and_then(|z| z.get(&member)).map_or(Frame::Null, |s| Frame::Double(*s as f64))
                });
                (cmd(&[b"ZSCORE", &key, &member]), want)
            }
            23 => {
                let want = coll!(m, &key, false, ZSet, zset, |z| {
                    Frame::Integer(z.map_or(0, |z| i64::from(z.remove(&member).is_some())))
                });
                (cmd(&[b"ZREM", &key, &member]), want)
            }
            24 => {
                let want = coll!(m, &key, false, ZSet, zset, |z| {
                    let Some(z) = z else { return Frame::Null };
                    let Some(&s) = z.get(&member) else { return Frame::Null };
                    let rank = z.iter().filter(|(m2, s2)| (**s2, *m2) < (s, &member)).count();
                    Frame::Integer(rank as i64)
                });
                (cmd(&[b"ZRANK", &key, &member]), want)
            }
            25 => {
                let want = coll!(m, &key, false, ZSet, zset, |z| {
                    let Some(z) = z else { return Frame::Array(vec![]) };
                    let mut all: Vec<(i64, &Vec<u8>)> = z.iter().map(|(m, s)| (*s, m)).collect();
                    all.sort();
                    Frame::Array(all.iter().take(3).map(|(_, m)| Frame::bulk(m)).collect())
                });
                (cmd(&[b"ZRANGE", &key, b"0", b"2"]), want)
            }
            26 => {
                let want = coll!(m, &key, false, List, list, |l| Frame::Integer(
                    l.map_or(0, |l| l.len() as i64)
                ));
                (cmd(&[b"LLEN", &key]), want)
            }
            _ => {
                let n = i64::from(m.contains_key(&key));
                (cmd(&[b"EXISTS", &key]), Frame::Integer(n))
            }
        };
        let got = store.execute(&args);
        assert_eq!(
            got,
            want,
            "{:?}",
            args.iter().map(|a| String::from_utf8_lossy(a)).collect::<Vec<_>>()
        );
    }
    assert_eq!(store.dbsize(0), model.len());
});
