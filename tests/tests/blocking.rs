//! Blocking commands over real sockets against an in-process karst-server: wake-up order,
//! timeouts in RESP2 and RESP3, other clients of the same loop thread keep being served,
//! pipelines after a blocked command, disconnection, CLIENT UNBLOCK, BLMOVE chains and the race
//! of a timeout with a push.

use std::thread;
use std::time::{Duration, Instant};

use karst_resp::Frame;
use karst_tests::{TestServer, Wire, encode, text};

/// INFO's `blocked_clients`.
fn blocked_clients(w: &mut Wire) -> usize {
    let info = text(&w.call(&["INFO", "clients"]));
    info.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("blocked_clients in INFO")
}

/// Waits until `n` clients are blocked.
fn wait_blocked(w: &mut Wire, n: usize) {
    let start = Instant::now();
    while blocked_clients(w) != n {
        assert!(start.elapsed() < Duration::from_secs(20), "never {n} blocked clients");
        thread::sleep(Duration::from_millis(2));
    }
}

fn bulk(s: &str) -> Frame {
    Frame::bulk(s)
}

/// A client sends `cmd` and is blocked (checked through `admin`).
fn blocked(server: &TestServer, admin: &mut Wire, cmd: &[&str]) -> Wire {
    let n = blocked_clients(admin);
    let mut w = server.wire();
    w.cmd(cmd);
    wait_blocked(admin, n + 1);
    w
}

#[test]
fn three_blocked_clients_are_served_in_the_order_they_blocked() {
    let server = TestServer::start();
    let mut admin = server.wire();
    let mut clients: Vec<Wire> =
        (0..3).map(|_| blocked(&server, &mut admin, &["BLPOP", "q", "0"])).collect();
    assert_eq!(admin.call(&["RPUSH", "q", "a", "b", "c"]), Frame::Integer(3));
    for (c, e) in clients.iter_mut().zip(["a", "b", "c"]) {
        assert_eq!(c.frame(), Frame::Array(vec![bulk("q"), bulk(e)]));
    }
    assert_eq!(blocked_clients(&mut admin), 0);
    assert_eq!(admin.call(&["EXISTS", "q"]), Frame::Integer(0));
}

#[test]
fn timeouts_reply_null_in_resp2_and_resp3() {
    let server = TestServer::start();
    let mut w = server.wire();
    w.cmd(&["BLPOP", "nosuch", "0.01"]);
    w.expect(b"*-1\r\n");
    // As redis-server 7.0: a null array for every blocked client whose time runs out, BLMOVE's
    // too (whose immediate reply, where it may not block, is a null bulk).
    w.cmd(&["BLMOVE", "nosuch", "d", "LEFT", "LEFT", "0.01"]);
    w.expect(b"*-1\r\n");
    w.cmd(&["BZPOPMIN", "nosuch", "0.01"]);
    w.expect(b"*-1\r\n");
    w.call(&["HELLO", "3"]);
    for cmd in [
        &["BLPOP", "nosuch", "0.01"][..],
        &["BRPOPLPUSH", "nosuch", "d", "0.01"],
        &["BZMPOP", "0.01", "1", "nosuch", "MIN"],
    ] {
        w.cmd(cmd);
        w.expect(b"_\r\n");
    }
    w.cmd(&["BLPOP", "k", "-1"]);
    w.expect(b"-ERR timeout is negative\r\n");
    w.cmd(&["BLPOP", "k", "abc"]);
    w.expect(b"-ERR timeout is not a float or out of range\r\n");
}

/// As redis-server 7.0 serves them: from the key that became ready, whatever the other keys
/// hold; a key of another type leaves the client blocked; BLMOVE's destination of the wrong
/// type is the client's error, at once, and the element stays.
#[test]
fn a_waiter_is_served_from_the_key_that_became_ready() {
    let server = TestServer::start();
    let mut admin = server.wire();
    let mut list =
        blocked(&server, &mut admin, &["BLMPOP", "0", "2", "k1", "k2", "LEFT", "COUNT", "2"]);
    let mut zset = blocked(&server, &mut admin, &["BZPOPMIN", "z1", "z2", "0"]);
    // The first keys change type while they wait (a call would have failed on them).
    admin.call(&["SET", "k1", "s"]);
    admin.call(&["SADD", "z1", "a"]);
    // A string at k2 serves nobody; the list that replaces it does.
    admin.call(&["SET", "k2", "s"]);
    admin.call(&["DEL", "k2"]);
    assert_eq!(admin.call(&["RPUSH", "k2", "x", "y", "z"]), Frame::Integer(3));
    let popped = Frame::Array(vec![bulk("x"), bulk("y")]);
    assert_eq!(list.frame(), Frame::Array(vec![bulk("k2"), popped]));
    admin.call(&["ZADD", "z2", "1", "m"]);
    assert_eq!(zset.frame(), Frame::Array(vec![bulk("z2"), bulk("m"), bulk("1")]));

    let mut mover = blocked(&server, &mut admin, &["BLMOVE", "src", "dst", "LEFT", "LEFT", "0"]);
    admin.call(&["SET", "dst", "s"]);
    admin.call(&["RPUSH", "src", "e"]);
    assert_eq!(
        mover.frame(),
        Frame::Error("WRONGTYPE Operation against a key holding the wrong kind of value".into())
    );
    assert_eq!(admin.call(&["LRANGE", "src", "0", "-1"]), Frame::Array(vec![bulk("e")]));
    assert_eq!(blocked_clients(&mut admin), 0);
}

#[test]
fn a_blocked_client_does_not_stall_the_other_clients_of_its_thread() {
    // One loop thread: both connections live on it.
    let server = TestServer::with(|c| c.threads = 1);
    let mut admin = server.wire();
    let mut waiter = blocked(&server, &mut admin, &["BLPOP", "q", "0"]);
    let mut other = server.wire();
    for i in 0..100 {
        assert_eq!(other.call(&["SET", "k", &i.to_string()]), Frame::simple("OK"));
        assert_eq!(other.call(&["GET", "k"]), bulk(&i.to_string()));
    }
    assert_eq!(other.call(&["LPUSH", "q", "x"]), Frame::Integer(1));
    assert_eq!(waiter.frame(), Frame::Array(vec![bulk("q"), bulk("x")]));
    // The waiter's connection goes on as usual.
    assert_eq!(waiter.call(&["PING"]), Frame::simple("PONG"));
}

#[test]
fn a_pipeline_runs_in_order_around_a_blocked_command() {
    let server = TestServer::start();
    let mut admin = server.wire();
    let mut w = server.wire();
    let mut req = encode(&["PING"]);
    req.extend(encode(&["BLPOP", "q", "0"]));
    req.extend(encode(&["ECHO", "after"]));
    req.extend(encode(&["LLEN", "q"]));
    w.send(&req);
    // The reply before the blocked command arrives at once.
    w.expect(b"+PONG\r\n");
    wait_blocked(&mut admin, 1);
    // Requests sent while blocked run after it, in order.
    w.cmd(&["ECHO", "later"]);
    thread::sleep(Duration::from_millis(20));
    assert_eq!(admin.call(&["RPUSH", "q", "v1", "v2"]), Frame::Integer(2));
    assert_eq!(w.frame(), Frame::Array(vec![bulk("q"), bulk("v1")]));
    assert_eq!(w.frame(), bulk("after"));
    assert_eq!(w.frame(), Frame::Integer(1));
    assert_eq!(w.frame(), bulk("later"));
}

#[test]
fn a_client_that_disconnects_while_blocked_is_forgotten() {
    let server = TestServer::start();
    let mut admin = server.wire();
    let w = blocked(&server, &mut admin, &["BLPOP", "q", "0"]);
    drop(w);
    wait_blocked(&mut admin, 0);
    assert_eq!(admin.call(&["RPUSH", "q", "x"]), Frame::Integer(1));
    assert_eq!(admin.call(&["LLEN", "q"]), Frame::Integer(1));
}

#[test]
fn client_unblock_with_timeout_or_error() {
    let server = TestServer::start();
    let mut admin = server.wire();
    let mut w = server.wire();
    let Frame::Integer(id) = w.call(&["CLIENT", "ID"]) else { panic!("CLIENT ID") };
    let id = id.to_string();
    assert_eq!(admin.call(&["CLIENT", "UNBLOCK", &id]), Frame::Integer(0));
    w.cmd(&["BLPOP", "q", "0"]);
    wait_blocked(&mut admin, 1);
    let list = text(&admin.call(&["CLIENT", "LIST"]));
    assert!(list.lines().any(|l| l.contains(&format!("id={id} ")) && l.contains("flags=b")));
    assert_eq!(admin.call(&["CLIENT", "UNBLOCK", &id, "TIMEOUT"]), Frame::Integer(1));
    w.expect(b"*-1\r\n");
    w.cmd(&["BLMOVE", "q", "d", "LEFT", "LEFT", "0"]);
    wait_blocked(&mut admin, 1);
    assert_eq!(admin.call(&["CLIENT", "UNBLOCK", &id, "ERROR"]), Frame::Integer(1));
    w.expect(b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n");
    assert_eq!(blocked_clients(&mut admin), 0);
    assert_eq!(
        admin.call(&["CLIENT", "UNBLOCK", &id, "FOO"]),
        Frame::Error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR".into())
    );
    assert_eq!(
        admin.call(&["CLIENT", "UNBLOCK", "abc"]),
        Frame::Error("ERR value is not an integer or out of range".into())
    );
}

#[test]
fn a_blmove_chain_wakes_the_client_waiting_on_its_destination() {
    let server = TestServer::start();
    let mut admin = server.wire();
    // A moves q1 -> q2, B moves q2 -> q3, C pops q3.
    let mut a = blocked(&server, &mut admin, &["BLMOVE", "q1", "q2", "LEFT", "RIGHT", "0"]);
    let mut b = blocked(&server, &mut admin, &["BRPOPLPUSH", "q2", "q3", "0"]);
    let mut c = blocked(&server, &mut admin, &["BLPOP", "q3", "0"]);
    assert_eq!(admin.call(&["LPUSH", "q1", "job"]), Frame::Integer(1));
    assert_eq!(a.frame(), bulk("job"));
    assert_eq!(b.frame(), bulk("job"));
    assert_eq!(c.frame(), Frame::Array(vec![bulk("q3"), bulk("job")]));
    for k in ["q1", "q2", "q3"] {
        assert_eq!(admin.call(&["EXISTS", k]), Frame::Integer(0));
    }
}

#[test]
fn blocked_on_several_keys_with_zsets_and_lists() {
    let server = TestServer::start();
    let mut admin = server.wire();
    let mut w = blocked(&server, &mut admin, &["BZPOPMAX", "z1", "z2", "0"]);
    admin.call(&["ZADD", "z2", "1", "a", "2", "b"]);
    assert_eq!(w.frame(), Frame::Array(vec![bulk("z2"), bulk("b"), bulk("2")]));
    w.call(&["HELLO", "3"]);
    w.cmd(&["BLMPOP", "0", "2", "l1", "l2", "RIGHT", "COUNT", "2"]);
    wait_blocked(&mut admin, 1);
    admin.call(&["RPUSH", "l2", "x", "y", "z"]);
    assert_eq!(w.frame(), Frame::Array(vec![bulk("l2"), Frame::Array(vec![bulk("z"), bulk("y")])]));
}

#[test]
fn a_push_racing_a_timeout_never_loses_an_element() {
    let server = TestServer::start();
    let mut popper = server.wire();
    let mut pusher = server.wire();
    for i in 0..300 {
        popper.cmd(&["BLPOP", "q", "0.001"]);
        if i % 3 == 0 {
            thread::yield_now();
        }
        pusher.call(&["RPUSH", "q", "m"]);
        let got = popper.frame();
        let left = pusher.call(&["LLEN", "q"]);
        match got {
            Frame::NullArray => assert_eq!(left, Frame::Integer(1), "round {i}: element lost"),
            f => {
                assert_eq!(f, Frame::Array(vec![bulk("q"), bulk("m")]), "round {i}");
                assert_eq!(left, Frame::Integer(0), "round {i}");
            }
        }
        pusher.call(&["DEL", "q"]);
    }
    assert_eq!(blocked_clients(&mut pusher), 0);
}
