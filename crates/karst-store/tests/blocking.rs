//! Blocking commands through the embedded API: `Store::execute` blocks the calling thread until
//! another thread serves it or its timeout passes; `Store::dispatch` hands back a ticket.
//! (The network side, with real sockets, is `tests/tests/blocking.rs`.)

mod common;

use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::canon;
use karst_resp::{Args, Output, Protocol};
use karst_store::{Frame, MockClock, Outcome, Session, Store};

fn store() -> Store {
    Store::builder().shards(16).build()
}

fn run(s: &Store, line: &str) -> String {
    canon(&s.execute(line.split(' ')))
}

/// Waits until `n` clients are blocked (the threads below block in the order they are started).
fn wait_blocked(s: &Store, n: usize) {
    let start = Instant::now();
    while s.blocked_clients() != n {
        assert!(start.elapsed() < Duration::from_secs(20), "never {n} blocked clients");
        thread::sleep(Duration::from_millis(1));
    }
}

/// Runs `line` on a new thread (it blocks there) and waits until it has blocked.
fn spawn_blocked(s: &Store, line: &str) -> thread::JoinHandle<String> {
    let n = s.blocked_clients();
    let (s2, line) = (s.clone(), line.to_string());
    let t = thread::spawn(move || run(&s2, &line));
    wait_blocked(s, n + 1);
    t
}

fn dispatch(s: &Store, session: &mut Session, out: &mut Output, line: &str) -> Outcome {
    let args: Vec<Bytes> = line.split(' ').map(|a| Bytes::copy_from_slice(a.as_bytes())).collect();
    s.dispatch(session, Args::from_slice(&args), out)
}

#[test]
fn a_blocked_execute_is_served_by_a_write_from_another_thread() {
    let s = store();
    let t = spawn_blocked(&s, "BZPOPMIN z 0");
    assert_eq!(run(&s, "ZADD z 1 a 2 b"), ":2");
    assert_eq!(t.join().unwrap(), "[$z,$a,,1]");
    assert_eq!(s.blocked_clients(), 0);
    assert_eq!(run(&s, "ZRANGE z 0 -1"), "[$b]");
}

#[test]
fn clients_are_served_in_the_order_they_blocked() {
    let s = store();
    let waiters: Vec<_> = (0..3).map(|_| spawn_blocked(&s, "BZPOPMIN z 0")).collect();
    assert_eq!(run(&s, "ZADD z 1 a 2 b 3 c 4 d"), ":4");
    let got: Vec<String> = waiters.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(got, ["[$z,$a,,1]", "[$z,$b,,2]", "[$z,$c,,3]"]);
    assert_eq!(run(&s, "ZCARD z"), ":1");
}

#[test]
fn one_element_serves_one_client_the_others_keep_waiting() {
    let s = store();
    let first = spawn_blocked(&s, "BZPOPMAX z 0");
    let second = spawn_blocked(&s, "BZPOPMAX z 0");
    run(&s, "ZADD z 1 a");
    assert_eq!(first.join().unwrap(), "[$z,$a,,1]");
    assert_eq!(s.blocked_clients(), 1);
    run(&s, "ZADD z 2 b");
    assert_eq!(second.join().unwrap(), "[$z,$b,,2]");
    assert_eq!(run(&s, "EXISTS z"), ":0");
}

#[test]
fn a_client_blocked_on_several_keys_is_served_from_the_one_written() {
    let s = store();
    let t = spawn_blocked(&s, "BZPOPMIN k1 k2 k3 0");
    run(&s, "ZADD k2 5 x");
    assert_eq!(t.join().unwrap(), "[$k2,$x,,5]");
    assert_eq!(s.blocked_clients(), 0);
    // It left the queues of k1 and k3 too: a write there serves nobody.
    run(&s, "ZADD k1 1 y");
    assert_eq!(run(&s, "ZCARD k1"), ":1");
}

#[test]
fn timeouts_reply_null_in_both_protocols() {
    let s = store();
    assert_eq!(s.execute(["BZPOPMIN", "z", "0.01"]), Frame::Null);
    assert_eq!(s.blocked_clients(), 0);
    for (proto, reply) in [(Protocol::Resp2, &b"*-1\r\n"[..]), (Protocol::Resp3, b"_\r\n")] {
        let mut session = Session::new();
        session.set_may_block(true);
        let mut out = Output::new(proto);
        assert!(matches!(dispatch(&s, &mut session, &mut out, "BZPOPMIN z 5"), Outcome::Blocked));
        assert!(out.is_empty());
        let ticket = session.take_blocked().expect("a ticket");
        assert!(ticket.remaining().is_some_and(|d| d <= Duration::from_secs(5)));
        assert_eq!(&ticket.time_out()[..], reply);
        assert_eq!(s.blocked_clients(), 0);
    }
}

#[test]
fn timeout_zero_waits_forever() {
    let s = store();
    let mut session = Session::new();
    session.set_may_block(true);
    let mut out = Output::new(Protocol::Resp2);
    dispatch(&s, &mut session, &mut out, "BZPOPMIN z 0");
    let ticket = session.take_blocked().expect("a ticket");
    assert_eq!(ticket.remaining(), None);
    run(&s, "ZADD z 1 a");
    assert_eq!(
        ticket.try_reply().as_deref(),
        Some(&b"*3\r\n$1\r\nz\r\n$1\r\na\r\n$1\r\n1\r\n"[..])
    );
}

#[test]
fn dropping_a_ticket_unblocks_and_loses_nothing() {
    let s = store();
    let mut session = Session::new();
    session.set_may_block(true);
    let mut out = Output::new(Protocol::Resp2);
    dispatch(&s, &mut session, &mut out, "BZPOPMIN z 0");
    assert_eq!(s.blocked_clients(), 1);
    drop(session.take_blocked());
    assert_eq!(s.blocked_clients(), 0);
    run(&s, "ZADD z 1 a");
    assert_eq!(run(&s, "ZCARD z"), ":1");
}

#[test]
fn a_key_with_elements_replies_at_once_and_bad_timeouts_are_errors() {
    let s = store();
    run(&s, "ZADD z 1 a");
    assert_eq!(run(&s, "BZPOPMIN z 0"), "[$z,$a,,1]");
    assert_eq!(run(&s, "BZPOPMIN z abc"), "-ERR timeout is not a float or out of range");
    assert_eq!(run(&s, "BZPOPMIN z -1"), "-ERR timeout is negative");
    assert_eq!(s.blocked_clients(), 0);
}

#[test]
fn a_session_that_may_not_block_gets_the_timeout_reply_at_once() {
    let s = store();
    let mut session = Session::new();
    session.set_may_block(false);
    assert_eq!(s.execute_in(&mut session, ["BZPOPMIN", "z", "0"]), Frame::Null);
    assert_eq!(s.blocked_clients(), 0);
    // A plain dispatch in a new session (a caller that knows nothing of tickets) does the same.
    let mut out = Output::new(Protocol::Resp2);
    let outcome = dispatch(&s, &mut Session::new(), &mut out, "BLPOP l 0");
    assert!(matches!(outcome, Outcome::Done));
    assert_eq!(&out.take()[..], b"*-1\r\n");
}

#[test]
fn a_key_of_another_type_keeps_the_client_blocked_as_redis_7_0() {
    let s = store();
    let t = spawn_blocked(&s, "BZPOPMIN k 0");
    run(&s, "SET k v");
    thread::sleep(Duration::from_millis(20));
    assert_eq!(s.blocked_clients(), 1);
    run(&s, "DEL k");
    run(&s, "ZADD k 1 a");
    assert_eq!(t.join().unwrap(), "[$k,$a,,1]");
}

#[test]
fn waiters_wait_in_their_own_database_and_move_reaches_them() {
    let s = store();
    let s2 = s.clone();
    let waiter = thread::spawn(move || {
        let mut session = Session::new();
        s2.execute_in(&mut session, ["SELECT", "1"]);
        canon(&s2.execute_in(&mut session, ["BZPOPMIN", "k", "0"]))
    });
    wait_blocked(&s, 1);
    run(&s, "ZADD k 1 a");
    thread::sleep(Duration::from_millis(20));
    assert_eq!(s.blocked_clients(), 1, "served from database 0");
    assert_eq!(run(&s, "MOVE k 1"), ":1");
    assert_eq!(waiter.join().unwrap(), "[$k,$a,,1]");
}

#[test]
fn a_write_racing_a_timeout_never_loses_an_element() {
    let s = store();
    for i in 0..300 {
        let s2 = s.clone();
        let popper = thread::spawn(move || s2.execute(["BZPOPMIN", "z", "0.001"]));
        if i % 2 == 0 {
            thread::yield_now();
        }
        run(&s, "ZADD z 1 m");
        let got = popper.join().unwrap();
        let left = run(&s, "ZCARD z");
        match got {
            Frame::Null => assert_eq!(left, ":1", "round {i}: timed out and the element is gone"),
            f => {
                assert_eq!(canon(&f), "[$z,$m,,1]");
                assert_eq!(left, ":0", "round {i}");
            }
        }
        run(&s, "DEL z");
        assert_eq!(s.blocked_clients(), 0);
    }
}

#[test]
fn a_mock_clock_times_out_once_moved_past_the_deadline() {
    let clock = MockClock::default();
    let s = Store::builder().shards(4).clock(clock.clone()).build();
    let t = spawn_blocked(&s, "BZPOPMIN z 0.05");
    clock.advance(1000);
    assert_eq!(t.join().unwrap(), "_");
    assert_eq!(s.blocked_clients(), 0);
}

#[test]
fn many_clients_on_many_keys_each_get_exactly_one_element() {
    let s = store();
    let keys = ["a", "b", "c", "d"];
    let mut waiters = Vec::new();
    for i in 0..16 {
        // Four clients per key, each also on a key nobody writes.
        let line = format!("BZPOPMIN none{i} {} 0", keys[i % 4]);
        waiters.push(spawn_blocked(&s, &line));
    }
    let writers: Vec<_> = keys
        .iter()
        .map(|k| {
            let (s2, k) = (s.clone(), k.to_string());
            thread::spawn(move || {
                for j in 0..4 {
                    s2.execute(["ZADD", &k, &j.to_string(), &format!("{k}{j}")]);
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let mut got: Vec<String> = waiters.into_iter().map(|t| t.join().unwrap()).collect();
    got.sort();
    got.dedup();
    assert_eq!(got.len(), 16, "every client got its own element");
    for k in keys {
        assert_eq!(run(&s, &format!("EXISTS {k}")), ":0");
    }
}
