//! The client against a real redis-server (and karst-server when it is built).

mod common;

use std::sync::Arc;
use std::time::Duration;

use karst_client::{Client, Config, Error, Frame, Pipeline, Protocol};

/// Runs `f` against each available server.
fn each_server(f: impl Fn(&str, Client)) {
    if let Some(s) = common::redis(&[]) {
        f("redis", Client::connect(Config::new("127.0.0.1", s.port)).expect("connects"));
        let resp3 = Config::new("127.0.0.1", s.port).protocol(Protocol::Resp3);
        f("redis-resp3", Client::connect(resp3).expect("connects with HELLO 3"));
    }
    if let Some(s) = common::karst() {
        match Client::connect(Config::new("127.0.0.1", s.port)) {
            Ok(c) => f("karst", c),
            Err(e) => eprintln!("SKIP: karst-server does not answer PING yet: {e}"),
        }
    }
}

#[test]
fn get_set_exists_del() {
    each_server(|name, c| {
        let k = format!("gsed:{name}");
        c.del(&k).unwrap();
        assert_eq!(c.get(&k).unwrap(), None, "{name}");
        assert!(!c.exists(&k).unwrap());
        c.set(&k, b"hello").unwrap();
        assert_eq!(c.get(&k).unwrap().as_deref(), Some(&b"hello"[..]));
        assert!(c.exists(&k).unwrap());
        assert!(c.del(&k).unwrap());
        assert!(!c.del(&k).unwrap());
        // Empty values are values.
        c.set(&k, b"").unwrap();
        assert_eq!(c.get(&k).unwrap().as_deref(), Some(&b""[..]));
    });
}

#[test]
fn get_into_large_values_and_buffer_too_small() {
    each_server(|name, c| {
        for (i, len) in
            [0usize, 1, 100, 65_000, 70_000, 1 << 20, (4 << 20) + 3].into_iter().enumerate()
        {
            let k = format!("big:{name}:{i}");
            let v = common::pattern(len, i as u8);
            c.set(&k, &v).unwrap();
            let mut buf = vec![0u8; len + 10];
            assert_eq!(c.get_into(&k, &mut buf).unwrap(), Some(len), "{name} len {len}");
            assert!(buf[..len] == v[..], "{name}: payload of {len} bytes differs");
            if len > 0 {
                let mut small = vec![0u8; len - 1];
                match c.get_into(&k, &mut small) {
                    Err(Error::BufferTooSmall { needed, capacity }) => {
                        assert_eq!((needed, capacity), (len, len - 1));
                    }
                    other => panic!("{name}: wanted BufferTooSmall, got {other:?}"),
                }
            }
            // The connection stayed in sync after the drain.
            assert_eq!(c.get(&k).unwrap().map(|v| v.len()), Some(len));
        }
        let mut buf = [0u8; 4];
        assert_eq!(c.get_into(format!("missing:{name}"), &mut buf).unwrap(), None);
    });
}

#[test]
fn one_connection_drains_after_too_small() {
    // With one connection, every call reuses the connection that drained the payload.
    let Some(s) = common::redis(&[]) else { return };
    let c = Client::connect(Config::new("127.0.0.1", s.port).connections(1)).unwrap();
    let v = common::pattern(3 << 20, 9);
    c.set("d", &v).unwrap();
    c.set("e", b"after").unwrap();
    let mut small = vec![0u8; 1000];
    for _ in 0..3 {
        assert!(matches!(c.get_into("d", &mut small), Err(Error::BufferTooSmall { .. })));
        assert_eq!(c.get("e").unwrap().as_deref(), Some(&b"after"[..]));
    }
    let keys = ["e", "d", "nope", "e"];
    let mut a = vec![0u8; 16];
    let mut b = vec![0u8; 16];
    let mut d = vec![0u8; 16];
    let mut e = vec![0u8; 16];
    let mut bufs: Vec<&mut [u8]> = vec![&mut a, &mut b, &mut d, &mut e];
    let r = c.get_many_into(&keys, &mut bufs).unwrap();
    assert!(matches!(r[0], Ok(Some(5))));
    assert!(matches!(r[1], Err(Error::BufferTooSmall { needed, .. }) if needed == 3 << 20));
    assert!(matches!(r[2], Ok(None)));
    assert!(matches!(r[3], Ok(Some(5))));
    assert_eq!(&a[..5], b"after");
}

#[test]
fn batches_keep_order_and_report_misses() {
    each_server(|name, c| {
        let keys: Vec<String> = (0..300).map(|i| format!("batch:{name}:{i}")).collect();
        let values: Vec<Vec<u8>> =
            (0..300).map(|i| common::pattern(512 + i * 37, i as u8)).collect();
        c.del_many(&keys).unwrap();
        let even: Vec<&String> = keys.iter().step_by(2).collect();
        let even_vals: Vec<&Vec<u8>> = values.iter().step_by(2).collect();
        c.set_many(&even, &even_vals).unwrap();
        let got = c.get_many(&keys).unwrap();
        assert_eq!(got.len(), 300);
        for (i, g) in got.iter().enumerate() {
            if i % 2 == 0 {
                assert!(g.as_deref() == Some(&values[i][..]), "{name}: key {i}");
            } else {
                assert!(g.is_none(), "{name}: key {i} should miss");
            }
        }
        let ex = c.exists_many(&keys).unwrap();
        assert!(ex.iter().enumerate().all(|(i, &e)| e == (i % 2 == 0)));
        let mut bufs: Vec<Vec<u8>> = (0..300).map(|_| vec![0u8; 16 << 10]).collect();
        let mut refs: Vec<&mut [u8]> = bufs.iter_mut().map(|b| &mut b[..]).collect();
        let lens = c.get_many_into(&keys, &mut refs).unwrap();
        for (i, l) in lens.iter().enumerate() {
            let l = l.as_ref().unwrap();
            if i % 2 == 0 {
                assert_eq!(*l, Some(values[i].len()));
                assert!(bufs[i][..values[i].len()] == values[i][..]);
            } else {
                assert_eq!(*l, None);
            }
        }
        let del = c.del_many(&keys).unwrap();
        assert!(del.iter().enumerate().all(|(i, &d)| d == (i % 2 == 0)));
        assert!(matches!(c.set_many(&keys[..2], &values[..1]), Err(Error::InvalidArgument(_))));
    });
}

#[test]
fn large_batches_tile_over_connections() {
    let Some(s) = common::redis(&[]) else { return };
    let c = Client::connect(Config::new("127.0.0.1", s.port).connections(4)).unwrap();
    let keys: Vec<String> = (0..16).map(|i| format!("tile:{i}")).collect();
    let values: Vec<Vec<u8>> = (0..16).map(|i| common::pattern((2 << 20) + i, i as u8)).collect();
    c.set_many(&keys, &values).unwrap();
    let mut bufs: Vec<Vec<u8>> = (0..16).map(|_| vec![0u8; 3 << 20]).collect();
    let mut refs: Vec<&mut [u8]> = bufs.iter_mut().map(|b| &mut b[..]).collect();
    let lens = c.get_many_into(&keys, &mut refs).unwrap();
    for i in 0..16 {
        assert_eq!(*lens[i].as_ref().unwrap(), Some(values[i].len()));
        assert!(bufs[i][..values[i].len()] == values[i][..], "value {i}");
    }
    // Several connections were used at once.
    let clients = c.command(&["CLIENT", "LIST"]).unwrap();
    let text = String::from_utf8_lossy(clients.as_bytes().unwrap()).into_owned();
    assert!(text.lines().count() >= 2, "{} connections", text.lines().count());
}

#[test]
fn pipeline_and_errors() {
    each_server(|name, c| {
        let k = format!("pipe:{name}");
        let word = format!("word:{name}");
        let mut p = Pipeline::new();
        p.cmd(["SET", &k, "1"])
            .cmd(["INCR", &k])
            .cmd(["SET", &word, "abc"])
            .cmd(["INCR", &word])
            .cmd(["GET", &k]);
        let r = c.pipeline(&p).unwrap();
        assert_eq!(r.len(), 5);
        assert!(matches!(&r[0], Frame::Simple(s) if &s[..] == b"OK"));
        assert_eq!(r[1], Frame::Integer(2));
        assert!(matches!(&r[3], Frame::Error(e) if e.starts_with(b"ERR")), "{name}: {:?}", r[3]);
        assert_eq!(r[4], Frame::bulk("2"));
        // A server error is typed and leaves the connection usable.
        match c.command(&["INCR", word.as_str()]) {
            Err(e @ Error::Server(_)) => assert_eq!(e.server_code(), Some("ERR")),
            other => panic!("{name}: {other:?}"),
        }
        assert_eq!(c.command(&["PING"]).unwrap(), Frame::simple("PONG"));
        // A GET of a key of another type is a per-key server error (where lists exist).
        let list = format!("list:{name}");
        match c.command(&["LPUSH", list.as_str(), "x"]) {
            Ok(_) => match c.get(&list) {
                Err(e) => assert_eq!(e.server_code(), Some("WRONGTYPE")),
                other => panic!("{name}: {other:?}"),
            },
            Err(e) => eprintln!("SKIP: {name} has no LPUSH yet: {e}"),
        }
        assert_eq!(c.get(&k).unwrap().as_deref(), Some(&b"2"[..]));
    });
}

#[test]
fn auth_password_and_acl_user() {
    let Some(s) = common::redis(&["--requirepass", "sekret"]) else { return };
    assert!(Client::connect(Config::new("127.0.0.1", s.port)).is_err());
    match Client::connect(Config::new("127.0.0.1", s.port).password("wrong")) {
        Err(Error::Server(text)) => {
            assert!(text.starts_with("WRONGPASS") || text.starts_with("ERR"), "{text}")
        }
        other => panic!("{other:?}"),
    }
    let c = Client::connect(Config::new("127.0.0.1", s.port).password("sekret")).unwrap();
    c.set("a", b"1").unwrap();
    c.command(&["ACL", "SETUSER", "bob", "on", ">pw", "~*", "+@all"]).unwrap();
    for proto in [Protocol::Resp2, Protocol::Resp3] {
        let bob =
            Client::connect(Config::new("127.0.0.1", s.port).user("bob", "pw").protocol(proto))
                .unwrap();
        assert_eq!(bob.get("a").unwrap().as_deref(), Some(&b"1"[..]));
        let who = bob.command(&["ACL", "WHOAMI"]).unwrap();
        assert_eq!(who.as_bytes().map(|b| &b[..]), Some(&b"bob"[..]));
    }
}

#[test]
fn reconnects_after_the_server_drops_connections() {
    let Some(s) = common::redis(&[]) else { return };
    let c = Client::connect(Config::new("127.0.0.1", s.port).connections(2)).unwrap();
    c.set("r", b"1").unwrap();
    // Kill every client connection, ours included, from a separate raw connection.
    let admin = Client::connect(Config::new("127.0.0.1", s.port).connections(1)).unwrap();
    admin.command(&["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"]).unwrap();
    for _ in 0..4 {
        assert_eq!(c.get("r").unwrap().as_deref(), Some(&b"1"[..]));
    }
}

#[test]
fn read_timeout_is_an_io_error_and_the_pool_recovers() {
    let Some(s) = common::redis(&["--enable-debug-command", "yes"]) else { return };
    let cfg =
        Config::new("127.0.0.1", s.port).connections(1).timeouts(Some(Duration::from_millis(200)));
    let c = Client::connect(cfg).unwrap();
    match c.command(&["DEBUG", "SLEEP", "1"]) {
        Err(Error::Io(e)) => assert!(matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        )),
        Err(Error::Server(e)) => {
            eprintln!("SKIP: DEBUG is disabled here: {e}");
            return;
        }
        other => panic!("{other:?}"),
    }
    // Once the server is done sleeping, the pool serves again (on a new connection).
    let mut pong = None;
    for _ in 0..50 {
        std::thread::sleep(Duration::from_millis(100));
        if let Ok(f) = c.command(&["PING"]) {
            pong = Some(f);
            break;
        }
    }
    assert_eq!(pong, Some(Frame::simple("PONG")));
}

#[test]
fn many_threads_share_one_pool() {
    let Some(s) = common::redis(&[]) else { return };
    let c = Arc::new(Client::connect(Config::new("127.0.0.1", s.port).connections(3)).unwrap());
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let c = c.clone();
            std::thread::spawn(move || {
                for i in 0..200 {
                    let k = format!("t{t}:{i}");
                    let v = common::pattern(100 + i, t as u8);
                    c.set(&k, &v).unwrap();
                    let mut buf = vec![0u8; 400];
                    assert_eq!(c.get_into(&k, &mut buf).unwrap(), Some(v.len()));
                    assert!(buf[..v.len()] == v[..]);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn connect_failure_is_io() {
    let port = common::free_port();
    assert!(matches!(Client::connect(Config::new("127.0.0.1", port)), Err(Error::Io(_))));
}

#[test]
fn large_gets_on_one_connection_go_in_windows() {
    // 12 GETs into 3 MB buffers: several windows of ~8 MB on one connection, with a miss and a
    // value too large for its buffer in the middle.
    let Some(s) = common::redis(&[]) else { return };
    let c = Client::connect(Config::new("127.0.0.1", s.port).connections(1)).unwrap();
    let keys: Vec<String> = (0..12).map(|i| format!("win:{i}")).collect();
    let values: Vec<Vec<u8>> =
        (0..12).map(|i| common::pattern((2 << 20) + i * 1000, i as u8)).collect();
    c.set_many(&keys, &values).unwrap();
    c.del(&keys[4]).unwrap();
    c.set(&keys[7], &common::pattern(4 << 20, 1)).unwrap();
    let mut bufs: Vec<Vec<u8>> = (0..12).map(|_| vec![0u8; 3 << 20]).collect();
    let mut refs: Vec<&mut [u8]> = bufs.iter_mut().map(|b| &mut b[..]).collect();
    let r = c.get_many_into(&keys, &mut refs).unwrap();
    for i in 0..12 {
        match i {
            4 => assert!(matches!(r[i], Ok(None))),
            7 => assert!(
                matches!(r[i], Err(Error::BufferTooSmall { needed, .. }) if needed == 4 << 20)
            ),
            _ => {
                assert_eq!(*r[i].as_ref().unwrap(), Some(values[i].len()), "key {i}");
                assert!(bufs[i][..values[i].len()] == values[i][..], "key {i}");
            }
        }
    }
    assert_eq!(c.get(&keys[0]).unwrap().map(|v| v.len()), Some(values[0].len()));
}
