//! Wire tests: raw RESP bytes against a karst-server started in-process on a free port.

use std::io::Write;
use std::thread;
use std::time::{Duration, Instant};

use karst_resp::Frame;
use karst_tests::{TestServer, Wire, encode, never_reading_client, text};

#[test]
fn pipeline_of_a_thousand_pings_is_answered_in_order() {
    let server = TestServer::start();
    let mut w = server.wire();
    let mut req = Vec::new();
    for i in 0..1000 {
        if i % 2 == 0 {
            req.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
        } else {
            req.extend_from_slice(&encode(&["ECHO", &i.to_string()]));
        }
    }
    w.send(&req);
    for i in 0..1000 {
        if i % 2 == 0 {
            w.expect(b"+PONG\r\n");
        } else {
            let s = i.to_string();
            w.expect(format!("${}\r\n{s}\r\n", s.len()).as_bytes());
        }
    }
}

#[test]
fn a_request_split_at_every_byte_is_reassembled() {
    let server = TestServer::start();
    let mut w = server.wire();
    let req = b"*2\r\n$4\r\nECHO\r\n$11\r\nhello world\r\n";
    for split in 1..req.len() {
        w.send(&req[..split]);
        thread::sleep(Duration::from_millis(2));
        w.send(&req[split..]);
        w.expect(b"$11\r\nhello world\r\n");
    }
    // And one byte per write.
    for b in req.iter() {
        w.send(&[*b]);
    }
    w.expect(b"$11\r\nhello world\r\n");
}

#[test]
fn inline_commands() {
    let server = TestServer::start();
    let mut w = server.wire();
    w.send(b"PING\r\n");
    w.expect(b"+PONG\r\n");
    w.send(b"ECHO hello\n");
    w.expect(b"$5\r\nhello\r\n");
    w.send(b"ECHO \"a b\\x41\"\r\n");
    w.expect(b"$4\r\na bA\r\n");
    w.send(b"\r\nPING\r\n");
    w.expect(b"+PONG\r\n");
}

/// Sends `request` and expects exactly `reply`, then the connection to close.
fn protocol_error(request: &[u8], reply: &[u8]) {
    let server = TestServer::start();
    let mut w = server.wire();
    w.send(request);
    w.expect(reply);
    assert!(w.closed_within(Duration::from_secs(5)), "connection stays open after {reply:?}");
    // The server is fine.
    let mut other = server.wire();
    other.send(b"PING\r\n");
    other.expect(b"+PONG\r\n");
}

#[test]
fn every_protocol_error_replies_and_closes() {
    protocol_error(b"*1\r\n+PING\r\n", b"-ERR Protocol error: expected '$', got '+'\r\n");
    protocol_error(b"*abc\r\n", b"-ERR Protocol error: invalid multibulk length\r\n");
    protocol_error(b"*1\r\n$abc\r\n", b"-ERR Protocol error: invalid bulk length\r\n");
    protocol_error(b"*1\r\n$-5\r\n", b"-ERR Protocol error: invalid bulk length\r\n");
    protocol_error(b"ECHO \"abc\r\n", b"-ERR Protocol error: unbalanced quotes in request\r\n");
    protocol_error(&[b'a'; 70 * 1024], b"-ERR Protocol error: too big inline request\r\n");
    let mut count = b"*".to_vec();
    count.extend_from_slice(&[b'1'; 70 * 1024]);
    protocol_error(&count, b"-ERR Protocol error: too big mbulk count string\r\n");
    let mut bulk = b"*1\r\n$".to_vec();
    bulk.extend_from_slice(&[b'1'; 70 * 1024]);
    protocol_error(&bulk, b"-ERR Protocol error: too big bulk count string\r\n");
}

#[test]
fn a_two_gigabyte_bulk_header_is_refused() {
    protocol_error(
        b"*2\r\n$3\r\nSET\r\n$2147483648\r\n",
        b"-ERR Protocol error: invalid bulk length\r\n",
    );
}

#[test]
fn good_requests_before_a_protocol_error_are_answered_first() {
    protocol_error(
        b"PING\r\n*1\r\n$4\r\nPING\r\n*1\r\n+x\r\n",
        b"+PONG\r\n+PONG\r\n-ERR Protocol error: expected '$', got '+'\r\n",
    );
}

#[test]
fn proto_max_bulk_len_is_configurable() {
    let server = TestServer::with(|c| c.proto_max_bulk_len = 1024 * 1024);
    let mut w = server.wire();
    w.send(b"*2\r\n$4\r\nECHO\r\n$1048577\r\n");
    w.expect(b"-ERR Protocol error: invalid bulk length\r\n");
}

#[test]
fn large_payloads_are_received_out_of_line() {
    let server = TestServer::start();
    let mut w = server.wire();
    for len in [32 * 1024, 100_000, 3 * 1024 * 1024] {
        let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let mut req = format!("*2\r\n$4\r\nECHO\r\n${len}\r\n").into_bytes();
        req.extend_from_slice(&payload);
        req.extend_from_slice(b"\r\n*1\r\n$4\r\nPING\r\n");
        // In pieces, so the payload arrives partly buffered and partly from the socket.
        for chunk in req.chunks(7919) {
            w.send(chunk);
        }
        let reply = w.frame();
        assert_eq!(reply.as_bytes().map(|b| b.len()), Some(len));
        assert_eq!(reply.as_bytes().map(|b| b[..] == payload[..]), Some(true));
        w.expect(b"+PONG\r\n");
    }
}

#[test]
fn hello_3_switches_to_resp3() {
    let server = TestServer::start();
    let mut w = server.wire();
    w.cmd(&["HELLO", "3"]);
    let Frame::Map(pairs) = w.frame() else { panic!("HELLO 3 must reply with a map") };
    let get = |k: &str| pairs.iter().find(|(key, _)| text(key) == k).map(|(_, v)| v.clone());
    assert_eq!(get("server").map(|v| text(&v)), Some("redis".into()));
    assert_eq!(get("version").map(|v| text(&v)), Some("7.0.15".into()));
    assert_eq!(get("proto"), Some(Frame::Integer(3)));
    assert_eq!(get("mode").map(|v| text(&v)), Some("standalone".into()));
    assert_eq!(get("role").map(|v| text(&v)), Some("master".into()));
    assert_eq!(get("modules"), Some(Frame::Array(vec![])));
    assert!(matches!(get("id"), Some(Frame::Integer(_))));
    // RESP3 null and map.
    w.cmd(&["CLIENT", "GETNAME"]);
    w.expect(b"_\r\n");
    w.cmd(&["CONFIG", "GET", "timeout"]);
    w.expect(b"%1\r\n$7\r\ntimeout\r\n$1\r\n0\r\n");
    // Back to RESP2.
    w.cmd(&["HELLO", "2"]);
    assert!(matches!(w.frame(), Frame::Array(a) if a.len() == 14));
    w.cmd(&["CLIENT", "GETNAME"]);
    w.expect(b"$-1\r\n");
    w.cmd(&["CONFIG", "GET", "timeout"]);
    w.expect(b"*2\r\n$7\r\ntimeout\r\n$1\r\n0\r\n");
    w.cmd(&["HELLO", "4"]);
    w.expect(b"-NOPROTO unsupported protocol version\r\n");
    w.cmd(&["HELLO", "x"]);
    w.expect(b"-ERR Protocol version is not an integer or out of range\r\n");
    w.cmd(&["HELLO", "3", "SETNAME", "app1"]);
    assert!(matches!(w.frame(), Frame::Map(_)));
    w.cmd(&["CLIENT", "GETNAME"]);
    w.expect(b"$4\r\napp1\r\n");
    w.cmd(&["HELLO", "3", "BOGUS"]);
    w.expect(b"-ERR Syntax error in HELLO option 'BOGUS'\r\n");
}

#[test]
fn auth_and_noauth() {
    let server = TestServer::with(|c| c.requirepass = "s3cret".into());
    let mut w = server.wire();
    w.send(b"PING\r\n");
    w.expect(b"-NOAUTH Authentication required.\r\n");
    w.cmd(&["CONFIG", "GET", "*"]);
    w.expect(b"-NOAUTH Authentication required.\r\n");
    w.cmd(&["HELLO", "3"]);
    w.expect(b"-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n");
    w.cmd(&["AUTH", "wrong"]);
    w.expect(b"-WRONGPASS invalid username-password pair or user is disabled.\r\n");
    w.cmd(&["AUTH", "bob", "s3cret"]);
    w.expect(b"-WRONGPASS invalid username-password pair or user is disabled.\r\n");
    w.cmd(&["AUTH", "s3cret"]);
    w.expect(b"+OK\r\n");
    w.send(b"PING\r\n");
    w.expect(b"+PONG\r\n");

    // HELLO with AUTH authenticates and switches at once.
    let mut h = server.wire();
    h.cmd(&["HELLO", "3", "AUTH", "default", "s3cret"]);
    assert!(matches!(h.frame(), Frame::Map(_)));
    h.send(b"PING\r\n");
    h.expect(b"+PONG\r\n");
    h.cmd(&["RESET"]);
    h.expect(b"+RESET\r\n");
    h.send(b"PING\r\n");
    h.expect(b"-NOAUTH Authentication required.\r\n");

    // Redis's tighter limits before authentication.
    let mut u = server.wire();
    u.send(b"*11\r\n");
    u.expect(b"-ERR Protocol error: unauthenticated multibulk length\r\n");
    let mut u = server.wire();
    u.send(b"*2\r\n$4\r\nECHO\r\n$16385\r\n");
    u.expect(b"-ERR Protocol error: unauthenticated bulk length\r\n");
}

#[test]
fn auth_without_a_password_configured() {
    let server = TestServer::start();
    let mut w = server.wire();
    w.cmd(&["AUTH", "x"]);
    w.expect(b"-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n");
    w.cmd(&["AUTH", "default", "anything"]);
    w.expect(b"+OK\r\n");
}

#[test]
fn client_subcommands() {
    let server = TestServer::start();
    let mut a = server.wire();
    let mut b = server.wire();
    let Frame::Integer(a_id) = a.call(&["CLIENT", "ID"]) else { panic!("CLIENT ID") };
    let Frame::Integer(b_id) = b.call(&["CLIENT", "ID"]) else { panic!("CLIENT ID") };
    assert_ne!(a_id, b_id);
    a.cmd(&["CLIENT", "SETNAME", "alpha"]);
    a.expect(b"+OK\r\n");
    a.cmd(&["CLIENT", "GETNAME"]);
    a.expect(b"$5\r\nalpha\r\n");
    a.cmd(&["CLIENT", "SETNAME", "a b"]);
    a.expect(b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n");
    a.cmd(&["CLIENT", "SETINFO", "LIB-NAME", "redis-py"]);
    a.expect(b"+OK\r\n");
    a.cmd(&["CLIENT", "SETINFO", "lib-ver", "5.0"]);
    a.expect(b"+OK\r\n");
    a.cmd(&["CLIENT", "SETINFO", "color", "blue"]);
    a.expect(b"-ERR Unrecognized option 'color'\r\n");
    let list = text(&a.call(&["CLIENT", "LIST"]));
    assert_eq!(list.lines().count(), 2, "{list}");
    assert!(
        list.contains(&format!("id={a_id} "))
            && list.contains("name=alpha")
            && list.contains("lib-name=redis-py")
    );
    let info = text(&a.call(&["CLIENT", "INFO"]));
    assert!(info.starts_with(&format!("id={a_id} ")), "{info}");
    let one = text(&a.call(&["CLIENT", "LIST", "ID", &b_id.to_string()]));
    assert_eq!(one.lines().count(), 1);
    a.cmd(&["CLIENT", "FOO"]);
    a.expect(b"-ERR unknown subcommand 'FOO'. Try CLIENT HELP.\r\n");
    a.cmd(&["CLIENT", "SETNAME"]);
    a.expect(b"-ERR wrong number of arguments for 'client|setname' command\r\n");
    a.cmd(&["CLIENT", "NO-EVICT", "on"]);
    a.expect(b"+OK\r\n");
    a.cmd(&["CLIENT", "NO-TOUCH", "maybe"]);
    a.expect(b"-ERR syntax error\r\n");
    a.cmd(&["CLIENT", "KILL", "1.2.3.4:5"]);
    a.expect(b"-ERR No such client\r\n");

    // REPLY OFF / SKIP / ON.
    a.cmd(&["CLIENT", "REPLY", "OFF"]);
    a.send(b"PING\r\nPING\r\n");
    a.cmd(&["CLIENT", "REPLY", "ON"]);
    a.expect(b"+OK\r\n");
    a.cmd(&["CLIENT", "REPLY", "SKIP"]);
    a.cmd(&["ECHO", "skipped"]);
    a.cmd(&["ECHO", "seen"]);
    a.expect(b"$4\r\nseen\r\n");

    // KILL by id closes the other connection only.
    a.cmd(&["CLIENT", "KILL", "ID", &b_id.to_string()]);
    a.expect(b":1\r\n");
    assert!(b.closed_within(Duration::from_secs(5)));
    a.cmd(&["CLIENT", "KILL", "ID", &a_id.to_string()]);
    a.expect(b":0\r\n"); // SKIPME yes by default
    a.cmd(&["CLIENT", "KILL", "ID", &a_id.to_string(), "SKIPME", "no"]);
    a.expect(b":1\r\n");
    assert!(a.closed_within(Duration::from_secs(5)));

    // The old form, by address.
    let mut c = server.wire();
    let mut d = server.wire();
    // A roundtrip first: the server registers a client when it accepts it, which may be after
    // connect() returns.
    d.send(b"PING\r\n");
    d.expect(b"+PONG\r\n");
    let addr = d.stream.local_addr().unwrap().to_string();
    c.cmd(&["CLIENT", "KILL", &addr]);
    c.expect(b"+OK\r\n");
    assert!(d.closed_within(Duration::from_secs(5)));
}

#[test]
fn config_get_set() {
    let server = TestServer::start();
    let mut w = server.wire();
    w.cmd(&["CONFIG", "GET", "maxmemory"]);
    w.expect(b"*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n");
    w.cmd(&["CONFIG", "SET", "maxmemory", "100mb", "maxmemory-policy", "allkeys-lru"]);
    w.expect(b"+OK\r\n");
    w.cmd(&["CONFIG", "GET", "maxmemory", "maxmemory-policy"]);
    w.expect(b"*4\r\n$9\r\nmaxmemory\r\n$9\r\n104857600\r\n$16\r\nmaxmemory-policy\r\n$11\r\nallkeys-lru\r\n");
    let Frame::Array(all) = w.call(&["CONFIG", "GET", "*"]) else { panic!() };
    // Every option and every old alias, as Redis lists them.
    assert_eq!(all.len(), 2 * (karst_net::OPTIONS.len() + karst_net::ALIASES.len()));
    let Frame::Array(max) = w.call(&["CONFIG", "GET", "max*"]) else { panic!() };
    assert_eq!(max.len(), 8); // maxmemory, -policy, -samples, maxclients
    w.cmd(&["CONFIG", "SET", "port", "1"]);
    w.expect(b"-ERR CONFIG SET failed (possibly related to argument 'port') - can't set immutable config\r\n");
    w.cmd(&["CONFIG", "SET", "nosuch", "1"]);
    w.expect(b"-ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'\r\n");
    w.cmd(&["CONFIG", "SET", "timeout", "5", "maxmemory", "lots"]);
    w.expect(b"-ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value\r\n");
    // Nothing changed: the pairs apply all or none.
    w.cmd(&["CONFIG", "GET", "timeout"]);
    w.expect(b"*2\r\n$7\r\ntimeout\r\n$1\r\n0\r\n");
    w.cmd(&["CONFIG", "SET", "timeout"]);
    w.expect(b"-ERR wrong number of arguments for 'config|set' command\r\n");
    w.cmd(&["CONFIG", "SET", "client-output-buffer-limit", "normal 1mb 512kb 10"]);
    w.expect(b"+OK\r\n");
    let v = text(&w.call(&["CONFIG", "GET", "client-output-buffer-limit"]));
    let _ = v;
    w.cmd(&["CONFIG", "RESETSTAT"]);
    w.expect(b"+OK\r\n");
    w.cmd(&["CONFIG", "REWRITE"]);
    w.expect(b"-ERR The server is running without a config file\r\n");
    w.cmd(&["CONFIG", "BOGUS"]);
    w.expect(b"-ERR unknown subcommand 'BOGUS'. Try CONFIG HELP.\r\n");
    // As redis-server 7.0: an exact name is echoed as spelled, once; a pattern lists names.
    w.cmd(&["CONFIG", "GET", "MaxMemory", "maxmemory"]);
    w.expect(b"*2\r\n$9\r\nMaxMemory\r\n$9\r\n104857600\r\n");
    w.cmd(&["CONFIG", "SET", "timeout", "5", "maxmemory"]);
    w.expect(b"-ERR syntax error\r\n");
    w.cmd(&["CONFIG", "SET", "hash-max-listpack-entries", "-1"]);
    w.expect(b"-ERR CONFIG SET failed (possibly related to argument 'hash-max-listpack-entries') - argument must be between 0 and 9223372036854775807 inclusive\r\n");
}

#[test]
fn server_commands() {
    let server = TestServer::start();
    let mut w = server.wire();
    let info = text(&w.call(&["INFO"]));
    for needle in [
        "# Server",
        "redis_version:7.0.15",
        "karst_version:",
        "# Clients",
        "connected_clients:1",
        "# Memory",
        "# Persistence",
        "# Stats",
        "# Replication",
        "role:master",
        "# CPU",
        "# Keyspace",
    ] {
        assert!(info.contains(needle), "INFO lacks {needle}");
    }
    // As Redis: commandstats only when asked for, by name or with `all`.
    assert!(!info.contains("# Commandstats"));
    for args in
        [&["INFO", "commandstats"][..], &["INFO", "all"], &["INFO", "default", "commandstats"]]
    {
        assert!(text(&w.call(args)).contains("# Commandstats"), "{args:?}");
    }
    let repl = text(&w.call(&["INFO", "replication"]));
    assert!(repl.starts_with("# Replication\r\nrole:master\r\n"), "{repl}");
    assert!(!repl.contains("# Server"));
    let Frame::Array(t) = w.call(&["TIME"]) else { panic!("TIME") };
    assert_eq!(t.len(), 2);
    assert!(matches!(w.call(&["LASTSAVE"]), Frame::Integer(n) if n > 0));
    assert!(matches!(w.call(&["DBSIZE"]), Frame::Integer(_)));
    w.cmd(&["FUNCTION", "FLUSH"]);
    w.expect(b"+OK\r\n");
    w.cmd(&["QUIT", "now"]);
    w.expect(b"+OK\r\n");
    assert!(w.closed_within(Duration::from_secs(5)));

    let mut w = server.wire();
    let Frame::Integer(n) = w.call(&["COMMAND", "COUNT"]) else { panic!() };
    assert_eq!(n as usize, karst_store::commands().len());
    let Frame::Array(all) = w.call(&["COMMAND"]) else { panic!() };
    assert_eq!(all.len(), n as usize);
    let Frame::Array(info) = w.call(&["COMMAND", "INFO", "ping", "nosuch"]) else { panic!() };
    assert_eq!(info.len(), 2);
    assert!(
        matches!(&info[0], Frame::Array(e) if e.len() == 10 && text(&e[0]) == "ping" && e[1] == Frame::Integer(-1))
    );
    assert!(info[1].is_null());
    // Replies and their order of checks as redis-server 7.0 gives them: the command, whether it
    // has keys, its arity (GETKEYS itself takes at least the command and one argument).
    w.cmd(&["COMMAND", "GETKEYS", "nosuch", "a"]);
    w.expect(b"-ERR Invalid command specified\r\n");
    w.cmd(&["COMMAND", "GETKEYS", "ping", "x"]);
    w.expect(b"-ERR The command has no key arguments\r\n");
    w.cmd(&["COMMAND", "GETKEYS", "get", "a", "b"]);
    w.expect(b"-ERR Invalid number of arguments specified for command\r\n");
    w.cmd(&["COMMAND", "GETKEYS", "get"]);
    w.expect(b"-ERR wrong number of arguments for 'command|getkeys' command\r\n");
    let keys = w.call(&["COMMAND", "GETKEYSANDFLAGS", "get", "a"]);
    let flags = Frame::Array(vec![Frame::simple("RO"), Frame::simple("access")]);
    assert_eq!(keys, Frame::Array(vec![Frame::Array(vec![Frame::bulk("a"), flags])]));
    if karst_store::lookup(b"mset").is_some() {
        let keys = w.call(&["COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"]);
        assert_eq!(keys, Frame::Array(vec![Frame::bulk("a"), Frame::bulk("b")]));
    }
    // Movable keys, located by their numkeys argument (replies as redis-server 7.0 gives them).
    let keys =
        w.call(&["COMMAND", "GETKEYS", "ZUNIONSTORE", "d", "2", "a", "b", "WEIGHTS", "1", "2"]);
    assert_eq!(keys, Frame::Array(vec![Frame::bulk("d"), Frame::bulk("a"), Frame::bulk("b")]));
    let keys = w.call(&["COMMAND", "GETKEYS", "BLMPOP", "0", "1", "k", "LEFT"]);
    assert_eq!(keys, Frame::Array(vec![Frame::bulk("k")]));
    w.cmd(&["COMMAND", "GETKEYS", "ZUNION", "3", "a", "b"]);
    w.expect(b"-ERR Invalid arguments specified for command\r\n");
    let Frame::Array(list) = w.call(&["COMMAND", "LIST"]) else { panic!() };
    assert_eq!(list.len(), n as usize);
    assert!(matches!(w.call(&["COMMAND", "DOCS", "ping"]), Frame::Array(a) if a.len() == 2));

    // INFO commandstats counts every command, the store's and the connection's.
    w.cmd(&["CONFIG", "RESETSTAT"]);
    w.expect(b"+OK\r\n");
    for _ in 0..3 {
        w.cmd(&["ECHO", "x"]);
        w.expect(b"$1\r\nx\r\n");
    }
    w.cmd(&["ECHO"]);
    w.expect(b"-ERR wrong number of arguments for 'echo' command\r\n");
    let stats = text(&w.call(&["INFO", "commandstats"]));
    // As Redis 7: the wrong arity is a rejected call, not a call that failed.
    assert!(stats.contains("cmdstat_echo:calls=3,"), "{stats}");
    assert!(stats.contains("rejected_calls=1,failed_calls=0"), "{stats}");
    assert!(stats.contains("cmdstat_config:calls=1,"), "{stats}");
    let errors = text(&w.call(&["INFO", "errorstats"]));
    assert!(errors.contains("errorstat_ERR:count=1"), "{errors}");
    // After RESETSTAT, as Redis counts.
    w.cmd(&["CONFIG", "RESETSTAT"]);
    w.expect(b"+OK\r\n");
    for _ in 0..2 {
        w.cmd(&["PING"]);
        w.expect(b"+PONG\r\n");
    }
    // As Redis 7.0 counts: neither the unknown command nor INCR's wrong arity (rejected before
    // running), but PING's (PING takes any number of arguments and fails as it runs).
    w.cmd(&["NOSUCH"]);
    w.expect(b"-ERR unknown command 'NOSUCH', with args beginning with: \r\n");
    w.cmd(&["PING", "a", "b"]);
    w.expect(b"-ERR wrong number of arguments for 'ping' command\r\n");
    w.cmd(&["INCR", "nope", "x"]);
    w.expect(b"-ERR wrong number of arguments for 'incr' command\r\n");
    let stats = text(&w.call(&["INFO", "stats"]));
    assert!(stats.contains("total_commands_processed:4\r\n"), "{stats}");
    let stats = text(&w.call(&["INFO", "commandstats"]));
    let ping = stats.lines().find(|l| l.starts_with("cmdstat_ping:")).unwrap_or_default();
    assert!(ping.starts_with("cmdstat_ping:calls=3,"), "{stats}");
    assert!(ping.ends_with(",rejected_calls=0,failed_calls=1"), "{stats}");
    assert!(
        stats.contains("cmdstat_incr:calls=0,usec=0,usec_per_call=0.00,rejected_calls=1,"),
        "{stats}"
    );
    assert!(!stats.contains("cmdstat_echo"), "{stats}");
    let list = text(&w.call(&["CLIENT", "LIST"]));
    assert!(list.contains("cmd=client"), "{list}");

    // SLOWLOG: everything is slow at a threshold of 0.
    w.cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
    w.expect(b"+OK\r\n");
    w.cmd(&["SLOWLOG", "RESET"]);
    w.expect(b"+OK\r\n");
    w.cmd(&["ECHO", "slow"]);
    w.expect(b"$4\r\nslow\r\n");
    assert!(matches!(w.call(&["SLOWLOG", "LEN"]), Frame::Integer(n) if n >= 1));
    let Frame::Array(entries) = w.call(&["SLOWLOG", "GET", "-1"]) else { panic!() };
    assert!(entries.iter().any(|e| matches!(e, Frame::Array(f) if f.len() == 6 && f[3] == Frame::Array(vec![Frame::bulk("ECHO"), Frame::bulk("slow")]))));
    w.cmd(&["SLOWLOG", "NOPE"]);
    w.expect(b"-ERR unknown subcommand 'NOPE'. Try SLOWLOG HELP.\r\n");
}

#[test]
fn unknown_commands_get_redis_errors() {
    let server = TestServer::start();
    let mut w = server.wire();
    w.cmd(&["NOSUCH", "a", "b"]);
    w.expect(b"-ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' \r\n");
    w.cmd(&["ECHO"]);
    w.expect(b"-ERR wrong number of arguments for 'echo' command\r\n");
    // As Redis: the quoted arguments stop once they reach 128 bytes, the last one cut to fit.
    let long = "x".repeat(125);
    w.cmd(&["NOSUCH", &long, "yyyy", "z"]);
    w.expect(
        format!("-ERR unknown command 'NOSUCH', with args beginning with: '{long}' \r\n")
            .as_bytes(),
    );
    let first = "a".repeat(100);
    w.cmd(&["NOSUCH", &first, "bcdefghijklmnopqrstuvwxyz0123456789"]);
    w.expect(format!("-ERR unknown command 'NOSUCH', with args beginning with: '{first}' 'bcdefghijklmnopqrstuvwxyz' \r\n").as_bytes());
    // A subcommand is cut to 128 bytes.
    let sub = "S".repeat(200);
    w.cmd(&["CLIENT", &sub]);
    w.expect(format!("-ERR unknown subcommand '{}'. Try CLIENT HELP.\r\n", &sub[..128]).as_bytes());
}

/// Polls CLIENT LIST for client `id` until its line satisfies `what` (described by `told`).
fn wait_for_client(w: &mut Wire, id: i64, told: &str, what: impl Fn(&str) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let line = text(&w.call(&["CLIENT", "LIST", "ID", &id.to_string()]));
        if what(&line) {
            return;
        }
        assert!(Instant::now() < deadline, "client {id} never {told}: {line}");
        thread::sleep(Duration::from_millis(10));
    }
}

fn client_id(w: &mut Wire) -> i64 {
    let Frame::Integer(id) = w.call(&["CLIENT", "ID"]) else { panic!("CLIENT ID") };
    id
}

/// CLIENT KILL and SHUTDOWN reach a connection wherever it waits: for its next request, in a
/// blocking command, or for its client to take replies it does not read.
#[test]
fn kill_and_shutdown_reach_a_connection_wherever_it_waits() {
    let server = TestServer::start();
    let mut a = server.wire();
    a.cmd(&["SET", "big", &"x".repeat(1 << 20)]);
    a.expect(b"+OK\r\n");

    let mut blocked = server.wire();
    let blocked_id = client_id(&mut blocked);
    blocked.cmd(&["BLPOP", "nothing", "0"]);
    wait_for_client(&mut a, blocked_id, "blocked", |l| l.contains("flags=b"));

    // 64 MB of replies the client does not read: the connection waits for its socket.
    let mut stalled = server.wire();
    let stalled_id = client_id(&mut stalled);
    for _ in 0..64 {
        stalled.cmd(&["GET", "big"]);
    }
    // (Its CLIENT LIST line names the last command of a finished batch: not the GETs yet.)
    wait_for_client(&mut a, stalled_id, "had output pending", |l| !l.contains("omem=0 "));

    for id in [blocked_id, stalled_id] {
        a.cmd(&["CLIENT", "KILL", "ID", &id.to_string()]);
        a.expect(b":1\r\n");
    }
    assert!(blocked.closed_within(Duration::from_secs(5)));
    assert!(stalled.closed_within(Duration::from_secs(5)));

    // SHUTDOWN from one client closes one waiting for requests and one blocked.
    let mut idle = server.wire();
    idle.cmd(&["PING"]);
    idle.expect(b"+PONG\r\n");
    let mut blocked = server.wire();
    let blocked_id = client_id(&mut blocked);
    blocked.cmd(&["BLPOP", "nothing", "0"]);
    wait_for_client(&mut a, blocked_id, "blocked", |l| l.contains("flags=b"));
    a.cmd(&["SHUTDOWN", "NOSAVE"]);
    assert!(idle.closed_within(Duration::from_secs(5)));
    assert!(blocked.closed_within(Duration::from_secs(5)));
    assert!(a.closed_within(Duration::from_secs(5)));
    server.wait();
}

#[test]
fn shutdown_flushes_pending_replies_and_stops() {
    let server = TestServer::start();
    let mut w = server.wire();
    w.send(b"PING\r\nECHO bye\r\nSHUTDOWN NOSAVE\r\n");
    w.expect(b"+PONG\r\n$3\r\nbye\r\n");
    assert!(w.closed_within(Duration::from_secs(5)));
    let addr = server.addr;
    server.wait();
    assert!(std::net::TcpStream::connect(addr).is_err(), "still accepting after SHUTDOWN");
}

#[test]
fn maxclients_refuses_with_redis_error() {
    let server = TestServer::with(|c| c.maxclients = 2);
    let mut a = server.wire();
    let mut b = server.wire();
    a.send(b"PING\r\n");
    a.expect(b"+PONG\r\n");
    b.send(b"PING\r\n");
    b.expect(b"+PONG\r\n");
    let mut c = server.wire();
    c.expect(b"-ERR max number of clients reached\r\n");
    assert!(c.closed_within(Duration::from_secs(5)));
    drop(a);
    thread::sleep(Duration::from_millis(200));
    let mut d = server.wire();
    d.send(b"PING\r\n");
    d.expect(b"+PONG\r\n");
}

#[test]
fn idle_timeout_closes_clients() {
    let server = TestServer::start();
    let mut w = server.wire();
    w.cmd(&["CONFIG", "SET", "timeout", "1"]);
    w.expect(b"+OK\r\n");
    let mut idle = server.wire();
    idle.send(b"PING\r\n");
    idle.expect(b"+PONG\r\n");
    assert!(idle.closed_within(Duration::from_secs(6)), "idle client not closed");
}

#[test]
fn query_buffer_limit_closes_the_client() {
    let server = TestServer::with(|c| c.client_query_buffer_limit = 1024 * 1024);
    // Many small arguments that never complete the request.
    let mut w = server.wire();
    let mut req = b"*200000\r\n".to_vec();
    for _ in 0..150_000 {
        req.extend_from_slice(b"$10\r\n0123456789\r\n");
    }
    let _ = w.stream.write_all(&req);
    assert!(w.closed_within(Duration::from_secs(10)));
    // One bulk larger than the limit.
    let mut w = server.wire();
    w.send(b"*2\r\n$4\r\nECHO\r\n$2000000\r\n");
    assert!(w.closed_within(Duration::from_secs(10)));
    let mut ok = server.wire();
    ok.send(b"PING\r\n");
    ok.expect(b"+PONG\r\n");
}

#[test]
fn ten_megabytes_of_garbage() {
    let server = TestServer::start();
    let mut w = server.wire();
    let mut x: u32 = 12345;
    let garbage: Vec<u8> = (0..10 * 1024 * 1024)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            match (x >> 16) as u8 {
                b'\n' | b'*' => b'x',
                c => c,
            }
        })
        .collect();
    let garbage_sender = {
        let mut s = w.stream.try_clone().unwrap();
        thread::spawn(move || {
            let _ = s.write_all(&garbage);
        })
    };
    assert!(w.closed_within(Duration::from_secs(10)), "garbage client not closed");
    let _ = garbage_sender.join();
    let mut ok = server.wire();
    ok.send(b"PING\r\n");
    ok.expect(b"+PONG\r\n");
}

#[test]
fn slowloris_does_not_stall_other_clients() {
    let server = TestServer::start();
    let mut slow = server.wire();
    let mut fast = server.wire();
    let req = encode(&["ECHO", "drip"]);
    for (i, b) in req.iter().enumerate() {
        slow.send(&[*b]);
        if i % 3 == 0 {
            fast.send(b"PING\r\n");
            fast.expect(b"+PONG\r\n");
        }
        thread::sleep(Duration::from_millis(20));
    }
    slow.expect(b"$4\r\ndrip\r\n");
}

#[test]
fn a_client_that_never_reads_is_disconnected_at_the_output_limit() {
    let server = TestServer::with(|c| {
        c.client_output_buffer_limit[0] =
            karst_net::OutputLimit { hard: 4 << 20, soft: 2 << 20, soft_seconds: 1 };
    });
    let (mut w, writer) = never_reading_client(&server, 20_000, 10_000);
    let mut other = server.wire();
    let mut disconnected = false;
    for _ in 0..100 {
        other.send(b"PING\r\n");
        other.expect(b"+PONG\r\n");
        let info = text(&other.call(&["INFO", "stats"]));
        if info.contains("client_output_buffer_limit_disconnections:1") {
            disconnected = true;
            break;
        }
        thread::sleep(Duration::from_millis(100));
    }
    assert!(disconnected, "the client that never reads was not disconnected");
    let _ = w.closed_within(Duration::from_secs(1));
    let _ = writer.join();
}

/// The first address of this machine that is not loopback, if any.
fn non_loopback_ip() -> Option<std::net::IpAddr> {
    // Routing a UDP socket (nothing is sent) tells which local address reaches the outside.
    let s = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("192.0.2.1:9").or_else(|_| s.connect("10.255.255.1:9")).ok()?;
    let ip = s.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[test]
fn protected_mode_refuses_remote_clients_without_a_password() {
    let Some(ip) = non_loopback_ip() else {
        eprintln!("skipped: no non-loopback address on this machine");
        return;
    };
    let server = TestServer::with(|c| c.bind = vec!["0.0.0.0".into()]);
    let remote = std::net::SocketAddr::new(ip, server.port());
    let mut w = Wire::connect(remote);
    let reply = w.read_exact(b"-DENIED Redis is running in protected mode".len());
    assert_eq!(&reply[..], b"-DENIED Redis is running in protected mode");
    assert!(w.closed_within(Duration::from_secs(5)));
    // Loopback clients are served.
    let mut local = Wire::connect(std::net::SocketAddr::new([127, 0, 0, 1].into(), server.port()));
    local.send(b"PING\r\n");
    local.expect(b"+PONG\r\n");
    // With protected mode off, the remote client is served too.
    local.cmd(&["CONFIG", "SET", "protected-mode", "no"]);
    local.expect(b"+OK\r\n");
    let mut w = Wire::connect(remote);
    w.send(b"PING\r\n");
    w.expect(b"+PONG\r\n");
    // And with a password set, remote clients get NOAUTH rather than DENIED.
    local.cmd(&["CONFIG", "SET", "protected-mode", "yes", "requirepass", "pw"]);
    local.expect(b"+OK\r\n");
    let mut w = Wire::connect(remote);
    w.send(b"PING\r\n");
    w.expect(b"-NOAUTH Authentication required.\r\n");
}

#[test]
fn random_bytes_never_break_the_server() {
    let server = TestServer::start();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    // Fragments of valid requests mixed with noise, on many short connections.
    let pieces: [&[u8]; 12] = [
        b"*",
        b"$",
        b"\r\n",
        b"3",
        b"-1",
        b"PING",
        b"ECHO",
        b"\"",
        b"\\x4",
        b"*2\r\n$4\r\nECHO\r\n",
        b"\0",
        b"CLIENT",
    ];
    for _ in 0..200 {
        let mut w = server.wire();
        let mut req = Vec::new();
        for _ in 0..(next() % 40) {
            if next() % 3 == 0 {
                req.push(next() as u8);
            } else {
                req.extend_from_slice(pieces[(next() % pieces.len() as u64) as usize]);
            }
        }
        let _ = w.stream.write_all(&req);
    }
    let mut ok = server.wire();
    ok.send(b"PING\r\n");
    ok.expect(b"+PONG\r\n");
}

#[test]
fn many_concurrent_connections() {
    let server = TestServer::start();
    let mut conns: Vec<Wire> = (0..300).map(|_| server.wire()).collect();
    for (i, w) in conns.iter_mut().enumerate() {
        w.cmd(&["ECHO", &i.to_string()]);
    }
    for (i, w) in conns.iter_mut().enumerate() {
        let s = i.to_string();
        w.expect(format!("${}\r\n{s}\r\n", s.len()).as_bytes());
    }
    let info = text(&conns[0].call(&["INFO", "clients"]));
    assert!(info.contains("connected_clients:300"), "{info}");
}

#[test]
fn large_values_set_and_get() {
    let server = TestServer::start();
    let mut w = server.wire();
    for (i, len) in [16 * 1024 - 1, 32 * 1024, 1_000_003, 8 * 1024 * 1024].into_iter().enumerate() {
        let key = format!("big:{i}");
        let value: Vec<u8> = (0..len).map(|j| (j * 7 + i) as u8).collect();
        let mut req =
            format!("*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${len}\r\n", key.len()).into_bytes();
        req.extend_from_slice(&value);
        req.extend_from_slice(b"\r\n");
        for chunk in req.chunks(65_521) {
            w.send(chunk);
        }
        w.expect(b"+OK\r\n");
        // Two GETs in one pipeline: both replies go out by reference in one vectored write.
        w.send(&[encode(&["GET", &key]), encode(&["GET", &key])].concat());
        for _ in 0..2 {
            let reply = w.frame();
            assert_eq!(reply.as_bytes().map(|b| b.len()), Some(len), "GET {key}");
            assert!(reply.as_bytes().is_some_and(|b| b[..] == value[..]), "GET {key} differs");
        }
    }
}

#[test]
fn the_loops_run_active_expiry() {
    let server = TestServer::start();
    let mut w = server.wire();
    for i in 0..50 {
        w.cmd(&["SET", &format!("ttl:{i}"), "v", "PX", "20"]);
        w.expect(b"+OK\r\n");
    }
    w.cmd(&["SET", "kept", "v"]);
    w.expect(b"+OK\r\n");
    // Nobody reads the keys: only the periodic cycle can delete them (DBSIZE counts keys past
    // their TTL until they are deleted).
    let mut left = 0;
    for _ in 0..100 {
        thread::sleep(Duration::from_millis(50));
        let Frame::Integer(n) = w.call(&["DBSIZE"]) else { panic!("DBSIZE") };
        left = n;
        if n == 1 {
            break;
        }
    }
    assert_eq!(left, 1, "expired keys were not deleted by the active cycle");
    let info = text(&w.call(&["INFO", "stats"]));
    assert!(info.contains("expired_keys:50"), "{info}");
}
