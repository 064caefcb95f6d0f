//! loom models (run with `RUSTFLAGS="--cfg karst_loom" LOOM_MAX_PREEMPTIONS=2
//! cargo test -p karst-store --release --lib loom`). Tiny on purpose: two threads, two shards.

use loom::thread;

use crate::policy::Policy;
use crate::shard::{Expire, Val};
use crate::store::Store;

fn store() -> Store {
    Store::builder().shards(2).databases(1).hash_seed(7).build()
}

/// Two keys in different shards (with this seed).
fn two_keys(s: &Store) -> (&'static [u8], &'static [u8]) {
    let names: [&'static [u8]; 8] = [b"a", b"b", b"c", b"d", b"e", b"f", b"g", b"h"];
    let a = names[0];
    let sa = s.shard_of(s.hash(a));
    let b = names.iter().copied().find(|k| s.shard_of(s.hash(k)) != sa).unwrap_or(names[1]);
    (a, b)
}

/// lock_many in ascending order: two threads locking the same two shards in opposite argument
/// order never deadlock, and each multi-key write is seen whole (MSET atomicity).
#[test]
fn loom_lock_many_is_atomic_and_deadlock_free() {
    loom::model(|| {
        let s = store();
        let (a, b) = two_keys(&s);
        let (ha, hb) = (s.hash(a), s.hash(b));
        let (sa, sb) = (s.shard_of(ha), s.shard_of(hb));
        let s2 = s.clone();
        let t = thread::spawn(move || {
            let cx = s2.ctx(&crate::Session::new());
            let mut m = s2.lock_many(vec![sb, sa]);
            if let Some(g) = m.shard(sa) {
                g.put(&cx, ha, a, Val::Int(1), Expire::Set(None), 0);
            }
            if let Some(g) = m.shard(sb) {
                g.put(&cx, hb, b, Val::Int(1), Expire::Set(None), 0);
            }
        });
        let seen = {
            let mut m = s.lock_many(vec![sa, sb]);
            let x = m.shard(sa).map(|g| g.find(0, ha, a, 0).is_some());
            let y = m.shard(sb).map(|g| g.find(0, hb, b, 0).is_some());
            (x, y)
        };
        assert!(seen.0 == seen.1, "MSET seen half done: {seen:?}");
        t.join().unwrap();
    });
}

/// The store's byte count equals the sum of the shards' counts after concurrent SETs and
/// evictions.
#[test]
fn loom_byte_accounting_under_set_and_eviction() {
    loom::model(|| {
        let s = store();
        s.set_maxmemory_policy(Policy::AllKeysRandom);
        let (a, b) = two_keys(&s);
        let s1 = s.clone();
        let t1 = thread::spawn(move || {
            let cx = s1.ctx(&crate::Session::new());
            let h = s1.hash(a);
            s1.lock(h).put(&cx, h, a, Val::Slice(&[1u8; 40]), Expire::Set(None), 0);
        });
        let s2 = s.clone();
        let t2 = thread::spawn(move || {
            let cx = s2.ctx(&crate::Session::new());
            let h = s2.hash(b);
            s2.lock(h).put(
                &cx,
                h,
                b,
                Val::Owned(bytes::Bytes::from(vec![2u8; 600])),
                Expire::Set(None),
                0,
            );
            s2.lock(s2.hash(a)).evict(Policy::AllKeysRandom, 0, 5);
        });
        t1.join().unwrap();
        t2.join().unwrap();
        let sum: usize = (0..s.shard_count()).map(|i| s.lock_index(i).bytes()).sum();
        let recount: usize = (0..s.shard_count()).map(|i| s.lock_index(i).recount()).sum();
        assert_eq!(sum, recount);
        assert_eq!(s.used_memory(), sum as u64 + s.fixed_bytes());
    });
}
