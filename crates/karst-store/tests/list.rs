//! List commands through `Store::execute`: encodings and their thresholds, RESP2 reply shapes,
//! memory accounting, TTLs across moves, and a model check of a long random command sequence.
//! (Replies against redis-server are compared in `tests/differential/list.redis`.)

mod common;

use std::collections::VecDeque;

use common::{raw, run, store};
use karst_resp::Protocol;
use karst_store::{EncodingLimits, Store};

fn with_list_size(s: &Store, size: i64) {
    let limits = EncodingLimits { list_max_listpack_size: size, ..s.encoding_limits() };
    s.set_encoding_limits(limits);
}

#[test]
fn encoding_is_listpack_within_one_node_then_quicklist_for_good() {
    let (s, _) = store();
    assert_eq!(run(&s, "RPUSH l a b c"), ":3");
    assert_eq!(run(&s, "OBJECT ENCODING l"), "$listpack");
    // The default node is 8 KiB: after a, b, c (3 bytes each packed), 80 elements of 100
    // bytes (102 packed) fit.
    let v = "x".repeat(100);
    for _ in 0..80 {
        run(&s, &format!("RPUSH l {v}"));
    }
    assert_eq!(run(&s, "LLEN l"), ":83");
    assert_eq!(run(&s, "OBJECT ENCODING l"), "$listpack");
    run(&s, &format!("RPUSH l {v}"));
    assert_eq!(run(&s, "OBJECT ENCODING l"), "$quicklist");
    // Redis 7.0 never converts back (7.2 does below half the limit).
    assert_eq!(run(&s, "LTRIM l 0 0"), "+OK");
    assert_eq!(run(&s, "OBJECT ENCODING l"), "$quicklist");
    assert_eq!(run(&s, "LRANGE l 0 -1"), "[$a]");
    // One element past the node size is a quicklist at once.
    run(&s, &format!("RPUSH big {}", "y".repeat(9000)));
    assert_eq!(run(&s, "OBJECT ENCODING big"), "$listpack");
    run(&s, "RPUSH big z");
    assert_eq!(run(&s, "OBJECT ENCODING big"), "$quicklist");
}

#[test]
fn list_max_listpack_size_counts_elements_or_bytes() {
    let (s, _) = store();
    with_list_size(&s, 4);
    run(&s, "RPUSH l 1 2 3 4");
    assert_eq!(run(&s, "OBJECT ENCODING l"), "$listpack");
    run(&s, "LPUSH l 0");
    assert_eq!(run(&s, "OBJECT ENCODING l"), "$quicklist");
    assert_eq!(run(&s, "LRANGE l 0 -1"), "[$0,$1,$2,$3,$4]");
    // Inserts and sets in full nodes split them; the order stays.
    assert_eq!(run(&s, "LINSERT l AFTER 2 x"), ":6");
    assert_eq!(run(&s, "LSET l 1 longer-than-before"), "+OK");
    assert_eq!(run(&s, "LRANGE l 0 -1"), "[$0,$longer-than-before,$2,$x,$3,$4]");
    // -1: 4 KiB nodes.
    with_list_size(&s, -1);
    let v = "x".repeat(1000);
    run(&s, &format!("RPUSH k {v} {v} {v} {v}"));
    assert_eq!(run(&s, "OBJECT ENCODING k"), "$listpack");
    run(&s, &format!("RPUSH k {v}"));
    assert_eq!(run(&s, "OBJECT ENCODING k"), "$quicklist");
}

#[test]
fn resp2_shapes_of_pops_and_nulls() {
    let (s, _) = store();
    run(&s, "RPUSH l a b c");
    assert_eq!(raw(&s, Protocol::Resp2, "LPOP nosuch"), "$-1\r\n");
    assert_eq!(raw(&s, Protocol::Resp2, "LPOP nosuch 2"), "*-1\r\n");
    assert_eq!(raw(&s, Protocol::Resp2, "LPOP l 0"), "*0\r\n");
    assert_eq!(raw(&s, Protocol::Resp2, "RPOP l 2"), "*2\r\n$1\r\nc\r\n$1\r\nb\r\n");
    assert_eq!(raw(&s, Protocol::Resp2, "LINDEX l 5"), "$-1\r\n");
    assert_eq!(raw(&s, Protocol::Resp2, "LPOS l z"), "$-1\r\n");
    assert_eq!(raw(&s, Protocol::Resp2, "LMPOP 1 nosuch LEFT"), "*-1\r\n");
    assert_eq!(raw(&s, Protocol::Resp2, "BLPOP nosuch 0.01"), "*-1\r\n");
    assert_eq!(raw(&s, Protocol::Resp2, "BLMOVE nosuch d LEFT LEFT 0.01"), "$-1\r\n");
    assert_eq!(
        raw(&s, Protocol::Resp2, "LMPOP 1 l LEFT COUNT 3"),
        "*2\r\n$1\r\nl\r\n*1\r\n$1\r\na\r\n"
    );
    assert_eq!(raw(&s, Protocol::Resp2, "EXISTS l"), ":0\r\n");
    // RESP3: nulls are `_`.
    assert_eq!(run(&s, "LPOP nosuch 2"), "_");
    assert_eq!(run(&s, "LMPOP 1 nosuch LEFT"), "_");
}

#[test]
fn moves_keep_the_destination_ttl_and_work_across_shards() {
    let (s, _) = store();
    run(&s, "RPUSH src a b c");
    run(&s, "RPUSH dst x");
    run(&s, "EXPIRE dst 100");
    run(&s, "EXPIRE src 100");
    // Many keys land in other shards than `src`: move through all of them.
    let order = ["$a", "$b", "$c"];
    for i in 0..40 {
        let head = order[i % 3];
        assert_eq!(run(&s, &format!("LMOVE src k{i} LEFT RIGHT")), head);
        assert_eq!(run(&s, &format!("LMOVE k{i} src LEFT RIGHT")), head);
        assert_eq!(run(&s, &format!("EXISTS k{i}")), ":0");
    }
    assert_eq!(run(&s, "LRANGE src 0 -1"), "[$b,$c,$a]");
    assert_eq!(run(&s, "RPOPLPUSH src dst"), "$a");
    assert_eq!(run(&s, "TTL dst"), ":100");
    // Rotating a one-element list keeps the key (and its TTL).
    run(&s, "RPUSH one v");
    run(&s, "EXPIRE one 50");
    assert_eq!(run(&s, "LMOVE one one LEFT RIGHT"), "$v");
    assert_eq!(run(&s, "TTL one"), ":50");
    // The last element moved away deletes the source.
    assert_eq!(run(&s, "LMOVE one two RIGHT LEFT"), "$v");
    assert_eq!(run(&s, "EXISTS one"), ":0");
    // A long element moves whole.
    let long = "L".repeat(5000);
    run(&s, &format!("RPUSH src {long}"));
    assert_eq!(run(&s, "RPOPLPUSH src far"), format!("${long}"));
}

#[test]
fn memory_follows_pushes_and_pops() {
    let (s, _) = store();
    // The shards' object slabs keep the room of the first collection: measure after it.
    run(&s, "RPUSH l x");
    run(&s, "DEL l");
    let empty = s.used_memory();
    let v = "v".repeat(20);
    for i in 0..1000 {
        run(&s, &format!("RPUSH l {v}{i}"));
    }
    let full = s.used_memory();
    // 1000 elements of 23-24 bytes packed (+2): about 26 KB, within a few nodes' slack.
    let grown = full - empty;
    assert!((25_000..40_000).contains(&grown), "{grown}");
    run(&s, "LPOP l 990");
    assert!(s.used_memory() - empty < 2_000, "{}", s.used_memory() - empty);
    run(&s, "DEL l");
    assert_eq!(s.used_memory(), empty);
    // Emptied by a pop: the key and all its memory go.
    run(&s, "RPUSH l a b");
    run(&s, "RPOP l 2");
    assert_eq!(run(&s, "EXISTS l"), ":0");
    assert_eq!(s.used_memory(), empty);
}

#[test]
fn pops_hand_out_every_element_once_across_nodes() {
    let (s, _) = store();
    with_list_size(&s, 3);
    for i in 0..50 {
        run(&s, &format!("RPUSH q {i}"));
    }
    let mut got = Vec::new();
    while let karst_store::Frame::Array(v) = s.execute(["LMPOP", "1", "q", "LEFT", "COUNT", "7"]) {
        let items = match v.get(1) {
            Some(karst_store::Frame::Array(items)) => items.clone(),
            other => panic!("{other:?}"),
        };
        got.extend(items.iter().map(common::canon));
    }
    let want: Vec<String> = (0..50).map(|i| format!("${i}")).collect();
    assert_eq!(got, want);
}

/// A small deterministic generator.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

fn canon_list(m: &VecDeque<String>) -> String {
    if m.is_empty() {
        return "[]".into();
    }
    format!("[{}]", m.iter().map(|v| format!("${v}")).collect::<Vec<_>>().join(","))
}

#[test]
fn random_commands_match_a_deque_model() {
    for size in [-2i64, 2, 5] {
        let (s, _) = store();
        with_list_size(&s, size);
        let mut r = Rng(0x1234_5678 ^ size as u64);
        let mut m: VecDeque<String> = VecDeque::new();
        let vals = ["a", "b", "12", "-7", "007", "", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"];
        for _ in 0..3000 {
            let v = vals[r.below(vals.len() as u64) as usize].to_string();
            let q = if v.is_empty() { "\"\"".to_string() } else { v.clone() };
            let len = m.len() as i64;
            match r.below(9) {
                0 => {
                    run(&s, &format!("LPUSH l {q}"));
                    m.push_front(v);
                }
                1 | 2 => {
                    run(&s, &format!("RPUSH l {q} {q}"));
                    m.push_back(v.clone());
                    m.push_back(v);
                }
                3 => {
                    let got = run(&s, "RPOP l");
                    let want = m.pop_back().map_or("_".into(), |v| format!("${v}"));
                    assert_eq!(got, want);
                }
                4 if len > 0 => {
                    let i = r.below(len as u64) as i64 - if r.below(2) == 0 { len } else { 0 };
                    run(&s, &format!("LSET l {i} {q}x"));
                    let at = if i < 0 { len + i } else { i } as usize;
                    m[at] = format!("{v}x");
                }
                5 if len > 0 => {
                    let pivot = m[r.below(len as u64) as usize].clone();
                    let pq = if pivot.is_empty() { "\"\"".to_string() } else { pivot.clone() };
                    let at = m.iter().position(|x| *x == pivot).unwrap_or(0);
                    run(&s, &format!("LINSERT l AFTER {pq} {q}"));
                    m.insert(at + 1, v);
                }
                6 => {
                    let count = r.below(5) as i64 - 2;
                    let got = run(&s, &format!("LREM l {count} {q}"));
                    let mut removed = 0;
                    let limit = if count == 0 { usize::MAX } else { count.unsigned_abs() as usize };
                    let mut idx: Vec<usize> = (0..m.len()).collect();
                    if count < 0 {
                        idx.reverse();
                    }
                    let mut drop = Vec::new();
                    for i in idx {
                        if removed < limit && m[i] == v {
                            drop.push(i);
                            removed += 1;
                        }
                    }
                    drop.sort_unstable();
                    for i in drop.into_iter().rev() {
                        m.remove(i);
                    }
                    assert_eq!(got, format!(":{removed}"));
                }
                7 if len > 10 => {
                    run(&s, "LTRIM l 1 -2");
                    m.pop_front();
                    m.pop_back();
                }
                _ => {
                    let (a, b) = (r.below(20) as i64 - 10, r.below(20) as i64 - 5);
                    let got = run(&s, &format!("LRANGE l {a} {b}"));
                    let ua = if a < 0 { (len + a).max(0) } else { a };
                    let ub = if b < 0 { len + b } else { b.min(len - 1) };
                    let part: VecDeque<String> = if ua > ub || ua >= len {
                        VecDeque::new()
                    } else {
                        m.range(ua as usize..=ub as usize).cloned().collect()
                    };
                    assert_eq!(got, canon_list(&part));
                }
            }
            assert_eq!(run(&s, "LRANGE l 0 -1"), canon_list(&m));
        }
    }
}
