//! Real clients against karst-server: redis-rs (RESP2 and RESP3), redis-cli and redis-benchmark.
//! The command-line tools are skipped, with a printed reason, when they are not installed.

use std::process::Command;

use karst_tests::{TestServer, tool};
use redis::Value;

fn redis_rs(server: &TestServer, resp3: bool) -> redis::Connection {
    let url = if resp3 {
        format!("redis://127.0.0.1:{}/?protocol=resp3", server.port())
    } else {
        format!("redis://127.0.0.1:{}/", server.port())
    };
    redis::Client::open(url).expect("url").get_connection().expect("connect")
}

fn exercise(con: &mut redis::Connection) {
    let pong: String = redis::cmd("PING").query(con).expect("PING");
    assert_eq!(pong, "PONG");
    let echo: Vec<u8> = redis::cmd("ECHO").arg(&b"bin\x00ary"[..]).query(con).expect("ECHO");
    assert_eq!(echo, b"bin\x00ary");
    let () = redis::cmd("CLIENT").arg("SETNAME").arg("rs").query(con).expect("SETNAME");
    let name: Option<String> = redis::cmd("CLIENT").arg("GETNAME").query(con).expect("GETNAME");
    assert_eq!(name.as_deref(), Some("rs"));
    let id: i64 = redis::cmd("CLIENT").arg("ID").query(con).expect("ID");
    assert!(id > 0);
    let cfg: std::collections::HashMap<String, String> =
        redis::cmd("CONFIG").arg("GET").arg("maxmemory*").query(con).expect("CONFIG GET");
    assert_eq!(cfg.get("maxmemory-policy").map(String::as_str), Some("noeviction"));
    let info: String = redis::cmd("INFO").arg("replication").query(con).expect("INFO");
    assert!(info.contains("role:master"));
    // A pipeline.
    let (a, b): (String, String) =
        redis::pipe().cmd("ECHO").arg("a").cmd("ECHO").arg("b").query(con).expect("pipeline");
    assert_eq!((a.as_str(), b.as_str()), ("a", "b"));
    // An error reply keeps the connection usable.
    let err = redis::cmd("NOSUCHCOMMAND").query::<Value>(con).expect_err("unknown command");
    assert!(err.to_string().contains("unknown command"), "{err}");
    let pong: String = redis::cmd("PING").query(con).expect("PING after error");
    assert_eq!(pong, "PONG");
    // Strings, once the engine has them.
    if karst_store::lookup(b"set").is_some() && karst_store::lookup(b"get").is_some() {
        let () = redis::cmd("SET").arg("rs:key").arg("value").query(con).expect("SET");
        let v: Option<String> = redis::cmd("GET").arg("rs:key").query(con).expect("GET");
        assert_eq!(v.as_deref(), Some("value"));
        let missing: Option<String> = redis::cmd("GET").arg("rs:missing").query(con).expect("GET");
        assert_eq!(missing, None);
    }
}

#[test]
fn redis_rs_resp2() {
    let server = TestServer::start();
    let mut con = redis_rs(&server, false);
    exercise(&mut con);
}

#[test]
fn redis_rs_resp3() {
    let server = TestServer::start();
    let mut con = redis_rs(&server, true);
    exercise(&mut con);
    let hello: Value = redis::cmd("HELLO").arg("3").query(&mut con).expect("HELLO");
    assert!(matches!(hello, Value::Map(_)), "{hello:?}");
    let null: Value = redis::cmd("CLIENT").arg("GETNAME").query(&mut con).expect("GETNAME");
    assert!(matches!(null, Value::BulkString(_) | Value::Nil));
}

#[test]
fn redis_rs_with_a_password() {
    let server = TestServer::with(|c| c.requirepass = "pw".into());
    let bad = redis::Client::open(format!("redis://127.0.0.1:{}/", server.port())).unwrap();
    let mut con = bad.get_connection().expect("connects");
    let err = redis::cmd("PING").query::<String>(&mut con).expect_err("NOAUTH");
    assert!(err.to_string().contains("Authentication required"), "{err}");
    for resp3 in [false, true] {
        let proto = if resp3 { "?protocol=resp3" } else { "" };
        let client =
            redis::Client::open(format!("redis://:pw@127.0.0.1:{}/{proto}", server.port()))
                .unwrap();
        let mut con = client.get_connection().expect("AUTH with the right password");
        let pong: String = redis::cmd("PING").query(&mut con).unwrap();
        assert_eq!(pong, "PONG");
    }
    let wrong = redis::Client::open(format!("redis://:nope@127.0.0.1:{}/", server.port())).unwrap();
    assert!(wrong.get_connection().is_err());
}

fn cli(server: &TestServer, args: &[&str]) -> Option<String> {
    let Some(path) = tool("redis-cli") else {
        eprintln!("skipped: redis-cli is not installed");
        return None;
    };
    let out = Command::new(path)
        .arg("-p")
        .arg(server.port().to_string())
        .args(args)
        .output()
        .expect("redis-cli runs");
    assert!(out.status.success(), "redis-cli {args:?} failed");
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn redis_cli() {
    let server = TestServer::start();
    let Some(pong) = cli(&server, &["PING"]) else { return };
    assert_eq!(pong.trim(), "PONG");
    assert_eq!(cli(&server, &["ECHO", "hi there"]).unwrap().trim(), "hi there");
    assert!(cli(&server, &["INFO", "server"]).unwrap().contains("redis_version:7.0.15"));
    assert!(cli(&server, &["-3", "HELLO", "3"]).unwrap().contains("standalone"));
    assert_eq!(cli(&server, &["CONFIG", "SET", "maxmemory", "1gb"]).unwrap().trim(), "OK");
    assert_eq!(
        cli(&server, &["CONFIG", "GET", "maxmemory"]).unwrap().trim(),
        "maxmemory\n1073741824"
    );
    assert!(cli(&server, &["NOSUCH"]).unwrap().contains("ERR unknown command 'NOSUCH'"));
    // redis-cli's own checks at connect time (COMMAND DOCS for hints) must not break it.
    assert!(cli(&server, &["--no-raw", "CLIENT", "LIST"]).unwrap().contains("cmd="));
}

#[test]
fn redis_benchmark_short_run() {
    let server = TestServer::start();
    let Some(path) = tool("redis-benchmark") else {
        eprintln!("skipped: redis-benchmark is not installed");
        return;
    };
    let has_strings =
        ["set", "get", "incr"].iter().all(|c| karst_store::lookup(c.as_bytes()).is_some());
    let tests = if has_strings { "set,get,incr,ping" } else { "ping" };
    if !has_strings {
        eprintln!("note: the engine has no SET/GET/INCR yet; benchmarking PING only");
    }
    let out = Command::new(path)
        .args(["-p", &server.port().to_string(), "-n", "20000", "-t", tests, "-q"])
        .output()
        .expect("redis-benchmark runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "redis-benchmark failed: {stdout}");
    let lines: Vec<&str> =
        stdout.split(['\n', '\r']).filter(|l| l.contains("requests per second")).collect();
    assert!(lines.iter().any(|l| l.starts_with("PING_INLINE")), "{stdout}");
    assert!(lines.iter().any(|l| l.starts_with("PING_MBULK")), "{stdout}");
    if has_strings {
        for t in ["SET", "GET", "INCR"] {
            assert!(lines.iter().any(|l| l.starts_with(t)), "no {t} in {stdout}");
        }
    }
    // Pipelined.
    let out = Command::new(tool("redis-benchmark").unwrap())
        .args(["-p", &server.port().to_string(), "-n", "20000", "-t", "ping", "-P", "16", "-q"])
        .output()
        .expect("redis-benchmark runs");
    assert!(out.status.success());
}
