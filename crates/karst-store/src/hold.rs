//! Consecutive commands of a pipeline on one shard take its lock once.
//!
//! A connection opens a [`Hold`](crate::Hold) around the commands of a batch that it runs
//! without awaiting. While the hold is open, the guard of a plain single-key command does not
//! unlock its shard when it is dropped: the thread *keeps* the lock, and the next command of the
//! batch on the same shard reuses it instead of locking again. When two loop threads write one
//! hot key (redis-benchmark's LPUSH, SADD…), locking for every command moved the lock's and the
//! shard's cache lines between the cores once per command; now it is once per batch.
//!
//! The rules that keep this free of deadlocks and fair, whatever the commands:
//! - at most one shard is kept per thread, and it is *idle* (no guard on it exists) whenever the
//!   thread is outside a command that locked it;
//! - locking any other shard gives the idle kept one back first, so a thread never waits for a
//!   lock while keeping a shard that it is not using: the lock order is the same as with no hold;
//! - the dispatcher gives it back before anything that is not a plain single-key command
//!   (connection commands, keyless and multi-key commands, blocking commands and the waking of
//!   blocked clients, which take the blocking registry's lock), and guards dropped meanwhile are
//!   not kept;
//! - a shard is kept for at most [`MAX_USES`] commands in a row, then handed to a waiting thread;
//! - closing the hold gives it back; the connection closes it before every await.
//!
//! Byte accounting: a kept shard's change of size is added to the store's total when it is
//! given back, or as soon as it reaches [`PUBLISH_BYTES`], so the total lags by at most that
//! much per loop thread.
//!
//! The time: commands under a hold read the clock once and reuse that reading for the next
//! [`NOW_REUSES`] reads, as long as only FAST commands (O(1), no waiting) run in between; any
//! other command, and the hold's closing, end the reuse. A reading of the time-stamp counter was
//! 4% of the server's user time at 16 requests a batch. The time a command sees is then at most
//! a few microseconds old, as it already was with the clock's own reuse (see `clock`).
//!
//! This module is the bookkeeping (a thread-local record); `store.rs` does the locking. Under
//! loom nothing is ever kept: the models check the locks themselves.

/// Commands in a row for which one shard stays locked.
#[cfg_attr(karst_loom, allow(dead_code))]
pub(crate) const MAX_USES: u32 = 32;
/// Reads of the time under a hold that reuse the one before (see the module docs).
#[cfg_attr(karst_loom, allow(dead_code))]
pub(crate) const NOW_REUSES: u32 = 16;
/// A kept shard's change of size that is added to the store's total at once.
#[cfg_attr(karst_loom, allow(dead_code))]
pub(crate) const PUBLISH_BYTES: usize = 64 << 10;

/// What to do with a shard's lock when its guard is dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OnDrop {
    /// Unlock it and add the change of size since `start` to the total (`fair`: hand it to a
    /// waiting thread).
    Unlock { start: usize, fair: bool },
    /// Keep it locked; when `publish` is set, add the change of size since that start now.
    #[cfg_attr(karst_loom, allow(dead_code))]
    Keep { publish: Option<usize> },
}

/// What [`before_lock`] found.
#[cfg_attr(karst_loom, allow(dead_code))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Before {
    /// Nothing kept: lock.
    Lock,
    /// The shard is kept and now in use, its byte count started at this.
    Reuse(usize),
    /// Another shard is kept idle: give it back, then lock.
    GiveBack,
}

#[cfg(not(karst_loom))]
pub(crate) use imp::*;

#[cfg(not(karst_loom))]
mod imp {
    use std::cell::Cell;

    use super::{Before, MAX_USES, NOW_REUSES, OnDrop, PUBLISH_BYTES};

    /// The shard a thread keeps locked.
    #[derive(Clone, Copy, Debug)]
    struct Kept {
        shard: usize,
        /// A guard on it exists (a command is using it).
        live: bool,
        /// Commands that used it since it was locked.
        uses: u32,
        /// The shard's bytes when its change was last added to the store's total.
        start: usize,
    }

    #[derive(Clone, Copy, Debug)]
    struct State {
        /// The store whose hold is open on this thread (its address; 0: none).
        store: usize,
        /// Whether a guard dropped now may keep its shard (set by the dispatcher per command).
        allow: bool,
        kept: Option<Kept>,
    }

    thread_local! {
        static STATE: Cell<State> = const { Cell::new(State { store: 0, allow: false, kept: None }) };
        /// The store whose hold is open (0: none), the time last read under it and how many
        /// more reads may reuse it.
        static NOW: Cell<(usize, i64, u32)> = const { Cell::new((0, 0, 0)) };
    }

    /// The time for a command of `store`: the reading before, while the open hold allows its
    /// reuse (see the module docs), else `read()`.
    #[inline]
    pub(crate) fn now(store: usize, read: impl FnOnce() -> i64) -> i64 {
        NOW.with(|c| {
            let (open, ms, left) = c.get();
            if open != store {
                return read();
            }
            if left > 0 {
                c.set((open, ms, left - 1));
                return ms;
            }
            let ms = read();
            c.set((open, ms, NOW_REUSES));
            ms
        })
    }

    /// The next read of the time under `store`'s hold reads the clock.
    #[inline]
    pub(crate) fn forget_now(store: usize) {
        NOW.with(|c| {
            if c.get().0 == store {
                c.set((store, 0, 0));
            }
        })
    }

    /// Opens a hold of `store` on this thread. False when one is open already (a nested hold
    /// does nothing).
    pub(crate) fn open(store: usize) -> bool {
        STATE.with(|s| {
            let mut st = s.get();
            if st.store != 0 {
                return false;
            }
            st = State { store, allow: false, kept: None };
            s.set(st);
            NOW.with(|c| c.set((store, 0, 0)));
            true
        })
    }

    /// Closes the hold; the caller must have given back the kept shard ([`take_idle`]).
    pub(crate) fn close(store: usize) {
        STATE.with(|s| {
            let st = s.get();
            debug_assert!(st.kept.is_none(), "hold closed with a shard kept");
            if st.store == store {
                s.set(State { store: 0, allow: false, kept: None });
                NOW.with(|c| c.set((0, 0, 0)));
            }
        })
    }

    /// Whether guards dropped from now on may keep their shard.
    pub(crate) fn allow(store: usize, allow: bool) {
        STATE.with(|s| {
            let mut st = s.get();
            if st.store == store {
                st.allow = allow;
                s.set(st);
            }
        })
    }

    /// Before `shard` of `store` is locked: whether this thread keeps it idle already (then it
    /// is marked in use and the answer is the start of its byte count: the caller holds the lock
    /// without locking), or keeps another one idle (the caller must give it back first).
    #[inline]
    pub(crate) fn before_lock(store: usize, shard: usize) -> Before {
        STATE.with(|s| {
            let mut st = s.get();
            match &mut st.kept {
                Some(k) if st.store == store && !k.live => {
                    if k.shard == shard {
                        k.live = true;
                        let start = k.start;
                        s.set(st);
                        Before::Reuse(start)
                    } else {
                        Before::GiveBack
                    }
                }
                _ => Before::Lock,
            }
        })
    }

    /// Whether this thread keeps `shard` of `store` locked with no guard on it.
    #[inline]
    pub(crate) fn keeps_idle(store: usize, shard: usize) -> bool {
        STATE.with(|s| {
            let st = s.get();
            st.store == store && st.kept.is_some_and(|k| k.shard == shard && !k.live)
        })
    }

    /// Takes the idle kept shard of `store` (its index and byte start): the caller unlocks it.
    /// None when nothing is kept or a command is using it.
    #[inline]
    pub(crate) fn take_idle(store: usize) -> Option<(usize, usize)> {
        STATE.with(|s| {
            let mut st = s.get();
            match st.kept {
                Some(k) if st.store == store && !k.live => {
                    st.kept = None;
                    s.set(st);
                    Some((k.shard, k.start))
                }
                _ => None,
            }
        })
    }

    /// Decides the fate of `shard`'s lock as its guard (locked at `start` bytes) is dropped with
    /// the shard at `now` bytes.
    #[inline]
    pub(crate) fn on_drop(store: usize, shard: usize, start: usize, now: usize) -> OnDrop {
        STATE.with(|s| {
            let mut st = s.get();
            if st.store != store {
                return OnDrop::Unlock { start, fair: false };
            }
            let verdict = match &mut st.kept {
                Some(k) if k.shard == shard => {
                    // The kept shard's guard: `start` is the kept one's.
                    if st.allow && k.uses < MAX_USES {
                        k.live = false;
                        k.uses += 1;
                        OnDrop::Keep { publish: republish(k, now) }
                    } else {
                        let fair = k.uses >= MAX_USES;
                        let start = k.start;
                        st.kept = None;
                        OnDrop::Unlock { start, fair }
                    }
                }
                Some(_) => OnDrop::Unlock { start, fair: false },
                None if st.allow => {
                    let mut k = Kept { shard, live: false, uses: 1, start };
                    let publish = republish(&mut k, now);
                    st.kept = Some(k);
                    OnDrop::Keep { publish }
                }
                None => OnDrop::Unlock { start, fair: false },
            };
            s.set(st);
            verdict
        })
    }

    /// When the kept shard's unpublished change has grown past [`PUBLISH_BYTES`]: its start,
    /// which moves to `now`.
    fn republish(k: &mut Kept, now: usize) -> Option<usize> {
        if now.abs_diff(k.start) < PUBLISH_BYTES {
            return None;
        }
        Some(std::mem::replace(&mut k.start, now))
    }
}

/// Under loom nothing is kept.
#[cfg(karst_loom)]
pub(crate) use never::*;

#[cfg(karst_loom)]
mod never {
    use super::OnDrop;

    pub(crate) fn open(_store: usize) -> bool {
        false
    }
    pub(crate) fn close(_store: usize) {}
    pub(crate) fn allow(_store: usize, _allow: bool) {}
    pub(crate) fn now(_store: usize, read: impl FnOnce() -> i64) -> i64 {
        read()
    }
    pub(crate) fn forget_now(_store: usize) {}
    pub(crate) fn on_drop(_store: usize, _shard: usize, start: usize, _now: usize) -> OnDrop {
        OnDrop::Unlock { start, fair: false }
    }
}

#[cfg(all(test, not(karst_loom)))]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{Arc, Barrier};

    use bytes::Bytes;
    use karst_resp::{Args, Output, Protocol};

    use crate::{MockClock, Session, Store};

    /// Runs one command as a connection would, under whatever hold is open.
    fn run(store: &Store, session: &mut Session, args: &[&str]) -> Vec<u8> {
        let args: Vec<Bytes> = args.iter().map(|a| Bytes::copy_from_slice(a.as_bytes())).collect();
        let mut out = Output::new(Protocol::Resp2);
        let _ = store.dispatch(session, Args::from_slice(&args), &mut out);
        out.take().to_vec()
    }

    /// A store of `shards` shards (on a mock clock: the system clock is out of Miri's reach).
    fn store(shards: usize) -> Store {
        Store::builder().shards(shards).clock(MockClock::new(1)).build()
    }

    fn shard_of(store: &Store, key: &str) -> usize {
        store.shard_of(store.hash(key.as_bytes()))
    }

    /// Whether another thread could lock `shard` now.
    fn free_elsewhere(store: &Store, shard: usize) -> bool {
        let store = store.clone();
        std::thread::spawn(move || store.inner.shards[shard].try_lock().is_some()).join().unwrap()
    }

    fn total_matches_recount(store: &Store) {
        let recount: usize = (0..store.shard_count()).map(|i| store.lock_index(i).recount()).sum();
        assert_eq!(store.used_memory(), recount as u64 + store.fixed_bytes());
    }

    /// A single-key command leaves its shard locked for the next one while the hold is open;
    /// the next command on that shard reuses the lock, and closing the hold gives it back.
    #[test]
    fn a_single_key_command_keeps_its_shard_until_the_hold_closes() {
        let store = store(8);
        let mut s = Session::new();
        let shard = shard_of(&store, "list");
        let hold = store.hold();
        assert_eq!(run(&store, &mut s, &["RPUSH", "list", "a"]), b":1\r\n");
        assert!(!free_elsewhere(&store, shard), "kept after the first command");
        assert_eq!(run(&store, &mut s, &["RPUSH", "list", "b"]), b":2\r\n");
        assert_eq!(run(&store, &mut s, &["LLEN", "list"]), b":2\r\n");
        assert!(!free_elsewhere(&store, shard));
        drop(hold);
        assert!(free_elsewhere(&store, shard), "given back with the hold");
        // Without a hold nothing is kept.
        assert_eq!(run(&store, &mut s, &["RPUSH", "list", "c"]), b":3\r\n");
        assert!(free_elsewhere(&store, shard));
        total_matches_recount(&store);
    }

    /// `Store::prefetch` acts only on the shard this thread keeps idle, for the commands it
    /// knows, and leaves the shard kept and every reply as it was.
    #[test]
    fn prefetch_reads_only_the_kept_shard_and_changes_nothing() {
        use crate::Prefetch;
        let store = store(8);
        let mut s = Session::new();
        let n = if cfg!(miri) { 300 } else { 2_000 };
        let key = |prefix: &str, same: bool| {
            let home = shard_of(&store, "h");
            let k = (0..)
                .map(|i| format!("{prefix}{i}"))
                .find(|k| (shard_of(&store, k) == home) == same);
            k.unwrap()
        };
        let (set, missing, other) = (key("s", true), key("x", true), key("o", false));
        for i in 0..n {
            run(&store, &mut s, &["HSET", "h", &format!("f{i}"), &format!("v{i}")]);
            run(&store, &mut s, &["SADD", &set, &format!("m{i}")]);
        }
        run(&store, &mut s, &["SADD", &set, &"long".repeat(20)]);
        let prefetch = |s: &Session, args: &[&str]| {
            let args: Vec<Bytes> =
                args.iter().map(|a| Bytes::copy_from_slice(a.as_bytes())).collect();
            [Prefetch::Slot, Prefetch::Item, Prefetch::Behind]
                .map(|stage| store.prefetch(s, Args::from_slice(&args), stage))
        };
        assert_eq!(prefetch(&s, &["HGET", "h", "f1"]), [false; 3], "no hold open");
        let hold = store.hold();
        assert_eq!(prefetch(&s, &["HGET", "h", "f1"]), [false; 3], "nothing kept yet");
        assert_eq!(run(&store, &mut s, &["HGET", "h", "f1"]), b"$2\r\nv1\r\n");
        for args in [
            ["HSET", "h", "f2", "x"],
            ["hget", "h", "f3", ""],
            ["HDEL", "h", "nothing", ""],
            ["SISMEMBER", &set, "m7", ""],
            ["SADD", &set, &"long".repeat(20), ""],
            ["HGET", &missing, "f", ""],
        ] {
            let args = if args[3].is_empty() { &args[..3] } else { &args[..] };
            assert_eq!(prefetch(&s, args), [true; 3], "{args:?}");
        }
        assert_eq!(prefetch(&s, &["HGET", &other, "f1"]), [false; 3], "another shard");
        assert_eq!(prefetch(&s, &["LPUSH", "h", "x"]), [false; 3], "a command it does not know");
        assert_eq!(prefetch(&s, &["HGET", "h"]), [false; 3], "no member");
        assert!(!free_elsewhere(&store, shard_of(&store, "h")), "still kept");
        assert_eq!(run(&store, &mut s, &["HGET", "h", "f3"]), b"$2\r\nv3\r\n");
        assert_eq!(run(&store, &mut s, &["SISMEMBER", &set, "m7"]), b":1\r\n");
        assert_eq!(run(&store, &mut s, &["HLEN", "h"]), format!(":{n}\r\n").as_bytes());
        drop(hold);
        assert!(free_elsewhere(&store, shard_of(&store, "h")), "given back with the hold");
        total_matches_recount(&store);
    }

    /// The kept shard is given back before a command on another shard, a keyless or multi-key
    /// command, and a connection command, so no lock is ever awaited while one is kept.
    #[test]
    fn the_kept_shard_is_given_back_before_anything_else() {
        let store = store(64);
        let mut s = Session::new();
        let a = "a";
        let b = (0..).map(|i| format!("b{i}")).find(|k| shard_of(&store, k) != shard_of(&store, a));
        let b = b.unwrap();
        let _hold = store.hold();
        let kept_after = |s: &mut Session, args: &[&str], key: &str| {
            run(&store, s, &["SET", key, "1"]);
            assert!(!free_elsewhere(&store, shard_of(&store, key)));
            run(&store, s, args);
            free_elsewhere(&store, shard_of(&store, key))
        };
        assert!(kept_after(&mut s, &["SET", &b, "2"], a), "another shard");
        assert!(kept_after(&mut s, &["DBSIZE"], a), "a keyless command");
        assert!(kept_after(&mut s, &["MSET", a, "1", &b, "2"], a), "a multi-key command");
        assert!(kept_after(&mut s, &["PING"], a), "a keyless command on no shard");
        assert!(kept_after(&mut s, &["CLIENT", "ID"], a), "a connection command");
        assert!(kept_after(&mut s, &["BLPOP", "nothing", "0"], a), "a blocking command");
        // A multi-key command keeps nothing afterwards either.
        run(&store, &mut s, &["MSET", a, "1", &b, "2"]);
        assert!(free_elsewhere(&store, shard_of(&store, a)));
        assert!(free_elsewhere(&store, shard_of(&store, &b)));
    }

    /// A thread waiting for a shard that another keeps through a long pipeline on it gets it
    /// within a bounded number of commands, and the byte total stays exact.
    #[test]
    fn a_waiting_thread_gets_a_kept_shard() {
        let store = store(4);
        let shard = shard_of(&store, "n");
        let got = Arc::new(AtomicBool::new(false));
        let ran = Arc::new(AtomicUsize::new(0));
        let start = Arc::new(Barrier::new(2));
        let waiter = {
            let (store, got, start) = (store.clone(), got.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                let g = store.lock_index(shard);
                got.store(true, Ordering::SeqCst);
                drop(g);
            })
        };
        let mut s = Session::new();
        let hold = store.hold();
        run(&store, &mut s, &["SET", "n", "0"]);
        start.wait();
        // The waiter must get the shard while this thread keeps running commands on it.
        let limit = if cfg!(miri) { 2_000 } else { 200_000 };
        while !got.load(Ordering::SeqCst) && ran.load(Ordering::Relaxed) < limit {
            run(&store, &mut s, &["INCR", "n"]);
            ran.fetch_add(1, Ordering::Relaxed);
        }
        let in_time = got.load(Ordering::SeqCst);
        drop(hold);
        waiter.join().unwrap();
        assert!(in_time, "still waiting after {limit} commands");
        total_matches_recount(&store);
    }

    /// Two threads running pipelines under holds over shared keys, single-key and multi-key
    /// commands mixed, finish (no deadlock) with the byte total equal to a recount.
    #[test]
    fn holds_on_two_threads_neither_deadlock_nor_lose_bytes() {
        let store = store(4);
        let n = if cfg!(miri) { 60 } else { 20_000 };
        let threads: Vec<_> = (0..2u64)
            .map(|t| {
                let store = store.clone();
                std::thread::spawn(move || {
                    use rand::{Rng, SeedableRng};
                    let mut s = Session::new();
                    let mut rng = rand::rngs::SmallRng::seed_from_u64(t);
                    let mut hold = Some(store.hold());
                    for i in 0..n {
                        let x: u64 = rng.random();
                        let k = format!("k{}", x % 8);
                        let k2 = format!("k{}", (x >> 8) % 8);
                        let cmd: Vec<String> = match x % 7 {
                            0 => vec!["MSET".into(), k, "v".into(), k2, "w".into()],
                            1 => vec!["DEL".into(), k, k2],
                            2 => vec!["RPUSH".into(), format!("l{k}"), i.to_string()],
                            3 => vec!["LPOP".into(), format!("l{k}")],
                            4 => {
                                vec!["SMOVE".into(), format!("s{k}"), format!("s{k2}"), "m".into()]
                            }
                            5 => vec!["SADD".into(), format!("s{k}"), "m".into()],
                            _ => vec!["APPEND".into(), k, "tail".repeat((x % 50) as usize)],
                        };
                        let args: Vec<&str> = cmd.iter().map(String::as_str).collect();
                        run(&store, &mut s, &args);
                        if i % 16 == 15 {
                            // A batch ends: close the hold before opening the next one (a
                            // hold opened while another is open does nothing).
                            drop(hold.take());
                            hold = Some(store.hold());
                        }
                    }
                    drop(hold);
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        total_matches_recount(&store);
    }

    /// Under a hold, FAST commands reuse the time read before them, at most `NOW_REUSES`
    /// times; any other command, and a new hold, read the clock again.
    #[test]
    fn fast_commands_under_a_hold_reuse_the_time_read_before() {
        let clock = MockClock::new(1_000_000);
        let store = Store::builder().shards(8).clock(clock.clone()).build();
        let mut s = Session::new();
        run(&store, &mut s, &["SET", "k", "v", "PX", "100000"]);
        let pttl = |s: &mut Session| run(&store, s, &["PTTL", "k"]);
        let hold = store.hold();
        assert_eq!(pttl(&mut s), b":100000\r\n");
        clock.advance(1_000);
        assert_eq!(pttl(&mut s), b":100000\r\n", "a FAST command reuses the reading");
        run(&store, &mut s, &["KEYS", "nothing"]);
        assert_eq!(pttl(&mut s), b":99000\r\n", "read again after a command that is not FAST");
        clock.advance(1_000);
        for _ in 0..super::NOW_REUSES {
            assert_eq!(pttl(&mut s), b":99000\r\n");
        }
        assert_eq!(pttl(&mut s), b":98000\r\n", "read again after NOW_REUSES reuses");
        drop(hold);
        clock.advance(1_000);
        let again = store.hold();
        assert_eq!(pttl(&mut s), b":97000\r\n", "a new hold reads the clock");
        clock.advance(1_000);
        drop(again);
        assert_eq!(pttl(&mut s), b":96000\r\n", "no hold: every command reads the clock");
    }
}
