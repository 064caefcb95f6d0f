//! The karst-server binary: flags, the TOML file, the start-up line, SIGTERM and SHUTDOWN.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_karst-server");

/// Starts the binary with `args` (plus `--port 0`) and returns it with its address, read from the
/// start-up line.
fn start(args: &[&str]) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(["--port", "0", "--threads", "2"])
        .args(args)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("karst-server starts");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines.next().expect("a start-up line").expect("utf-8");
        if let Some(rest) = line.split("address=").nth(1) {
            break rest.split_whitespace().next().unwrap_or_default().to_string();
        }
    };
    // Keep draining the log so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, addr)
}

fn roundtrip(addr: &str, request: &[u8], expect: &[u8]) -> TcpStream {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(request).unwrap();
    let mut got = vec![0u8; expect.len()];
    s.read_exact(&mut got).unwrap();
    assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(expect));
    s
}

fn wait_exit(child: &mut Child) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        assert!(Instant::now() < deadline, "karst-server did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigterm_stops_with_exit_code_0() {
    let (mut child, addr) = start(&[]);
    let _conn = roundtrip(&addr, b"PING\r\n", b"+PONG\r\n");
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    assert_eq!(wait_exit(&mut child), 0);
}

#[test]
fn sigint_stops_with_exit_code_0() {
    let (mut child, addr) = start(&["--thread-model", "shared"]);
    roundtrip(&addr, b"PING\r\n", b"+PONG\r\n");
    Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert_eq!(wait_exit(&mut child), 0);
}

#[test]
fn shutdown_command_flushes_and_exits_0() {
    let (mut child, addr) = start(&[]);
    let mut s = roundtrip(&addr, b"PING\r\nSHUTDOWN NOW\r\n", b"+PONG\r\n");
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    assert!(rest.is_empty());
    assert_eq!(wait_exit(&mut child), 0);
}

#[test]
fn config_file_and_flags() {
    let dir = std::env::temp_dir().join(format!("karst-conf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("karst.toml");
    std::fs::write(
        &path,
        "requirepass = \"pw\"\nmaxmemory = \"100mb\"\nmaxclients = 50\nprotected-mode = true\n",
    )
    .unwrap();
    let (mut child, addr) = start(&["--config", path.to_str().unwrap(), "--maxclients", "60"]);
    roundtrip(&addr, b"PING\r\n", b"-NOAUTH Authentication required.\r\n");
    let mut s = roundtrip(
        &addr,
        b"AUTH pw\r\nCONFIG GET maxmemory\r\n",
        b"+OK\r\n*2\r\n$9\r\nmaxmemory\r\n$9\r\n104857600\r\n",
    );
    s.write_all(b"CONFIG GET maxclients\r\n").unwrap();
    let mut got = [0u8; 32];
    let n = s.read(&mut got).unwrap();
    assert!(String::from_utf8_lossy(&got[..n]).contains("60"), "flags win over the file");
    // REWRITE writes a file the server can start from.
    s.write_all(b"CONFIG SET timeout 7\r\nCONFIG REWRITE\r\n").unwrap();
    let mut got = [0u8; 10];
    s.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"+OK\r\n+OK\r\n");
    let written = std::fs::read_to_string(&path).unwrap();
    assert!(
        written.contains("timeout = 7") && written.contains("requirepass = \"pw\""),
        "{written}"
    );
    s.write_all(b"SHUTDOWN\r\n").unwrap();
    assert_eq!(wait_exit(&mut child), 0);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn bad_configuration_fails_to_start() {
    let out = Command::new(BIN).args(["--maxmemory", "lots"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("maxmemory"));
}

#[test]
fn help_lists_every_option() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for o in [
        "--port",
        "--bind",
        "--requirepass",
        "--maxmemory",
        "--maxmemory-policy",
        "--maxclients",
        "--timeout",
        "--tcp-keepalive",
        "--databases",
        "--protected-mode",
        "--loglevel",
        "--logfile",
        "--proto-max-bulk-len",
        "--client-query-buffer-limit",
        "--client-output-buffer-limit",
        "--threads",
        "--shards",
        "--config",
    ] {
        assert!(help.contains(o), "--help lacks {o}");
    }
}

#[test]
fn configuration_doc_covers_every_option() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/configuration.md"
    ))
    .expect("docs/configuration.md");
    for o in karst_net::OPTIONS {
        assert!(doc.contains(&format!("`{}`", o.name)), "docs/configuration.md lacks `{}`", o.name);
    }
}

/// The names of a process's threads, from /proc (empty elsewhere than Linux).
fn thread_names(pid: u32) -> Vec<String> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return Vec::new() };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|name| name.trim().to_string())
        .collect()
}

#[test]
fn freed_memory_is_purged_by_a_thread_of_its_own_unless_configured_off() {
    let (mut on, addr) = start(&[]);
    roundtrip(
        &addr,
        b"CONFIG GET jemalloc-bg-thread\r\n",
        b"*2\r\n$18\r\njemalloc-bg-thread\r\n$3\r\nyes\r\n",
    );
    let (mut off, addr_off) = start(&["--jemalloc-bg-thread", "no"]);
    roundtrip(&addr_off, b"PING\r\n", b"+PONG\r\n");
    if cfg!(target_os = "linux") {
        assert!(
            thread_names(on.id()).iter().any(|n| n == "karst-purge"),
            "{:?}",
            thread_names(on.id())
        );
        assert!(!thread_names(off.id()).iter().any(|n| n == "karst-purge"));
    }
    for child in [&mut on, &mut off] {
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

/// The process's "THP_enabled" line in /proc (Linux 5.0 and later), if there is one.
fn thp_enabled(pid: u32) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("THP_enabled:"))?;
    Some(line.split_whitespace().nth(1)?.to_string())
}

#[test]
fn transparent_huge_pages_are_off_unless_configured_on() {
    let (mut off, addr) = start(&[]);
    roundtrip(&addr, b"CONFIG GET disable-thp\r\n", b"*2\r\n$11\r\ndisable-thp\r\n$3\r\nyes\r\n");
    let (mut on, addr_on) = start(&["--disable-thp", "no"]);
    roundtrip(&addr_on, b"PING\r\n", b"+PONG\r\n");
    match (thp_enabled(off.id()), thp_enabled(on.id())) {
        (Some(a), Some(b)) => assert_eq!((a.as_str(), b.as_str()), ("0", "1")),
        _ => eprintln!("skipped the /proc check: this kernel shows no THP_enabled line"),
    }
    for child in [&mut off, &mut on] {
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
