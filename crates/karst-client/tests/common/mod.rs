//! Servers started by the tests themselves, on free ports, stopped when dropped.

#![allow(dead_code, reason = "each test file uses part of this module")]

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A server process; killed on drop.
pub struct Server {
    pub port: u16,
    pub child: Child,
    pub dir: Option<PathBuf>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(d) = &self.dir {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A free port P with P + 10000 (the cluster bus) free too: Redis Cluster needs P <= 55535.
pub fn cluster_port() -> u16 {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(7);
    let mut x = seed ^ std::process::id();
    for _ in 0..1000 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let port = 20_000 + (x >> 8) as u16 % 35_000;
        let free = |p: u16| TcpListener::bind(("127.0.0.1", p)).is_ok();
        if free(port) && free(port + 10_000) {
            return port;
        }
    }
    panic!("no free port pair for a cluster node");
}

pub fn have(bin: &str) -> bool {
    Command::new(bin).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok()
}

pub fn wait_listening(port: u16) {
    assert!(listening(port, None), "server on port {port} did not start");
}

/// Waits until something accepts on `port`; false if `child` exits first (its port was taken).
fn listening(port: u16, mut child: Option<&mut Child>) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Some(c) = child.as_deref_mut() {
            if !matches!(c.try_wait(), Ok(None)) {
                return false;
            }
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            // The port may have been handed to two tests at once, and what answered may be the
            // other test's server while ours is failing to bind it: ours must still be running
            // a moment later (a server that cannot bind exits at once).
            if let Some(c) = child.as_deref_mut() {
                std::thread::sleep(Duration::from_millis(100));
                return matches!(c.try_wait(), Ok(None));
            }
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// A redis-server with `extra` arguments, or `None` (with the reason printed) when it is not
/// installed.
pub fn redis(extra: &[&str]) -> Option<Server> {
    if !have("redis-server") {
        eprintln!("SKIP: redis-server is not installed");
        return None;
    }
    // Tests start servers in parallel: a port found free may be taken before the server binds
    // it, so a server that exits at once is started again on another port.
    for _ in 0..5 {
        let port = free_port();
        let mut args = vec![
            "--port".to_string(),
            port.to_string(),
            "--save".into(),
            "".into(),
            "--appendonly".into(),
            "no".into(),
            "--bind".into(),
            "127.0.0.1".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut child = Command::new("redis-server")
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        if listening(port, Some(&mut child)) {
            return Some(Server { port, child, dir: None });
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("redis-server did not start in 5 attempts");
}

/// karst-server from target/{release,debug}, when it has been built.
pub fn karst() -> Option<Server> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    // scripts/test.sh names the binary it just built, so a stale build is never tested.
    let bin = std::env::var_os("KARST_SERVER").map(PathBuf::from).or_else(|| {
        ["target/release/karst-server", "target/debug/karst-server"]
            .iter()
            .map(|p| root.join(p))
            .find(|p| p.exists())
    });
    let Some(bin) = bin else {
        eprintln!("SKIP: karst-server is not built (target/{{debug,release}}/karst-server)");
        return None;
    };
    let port = free_port();
    let child = Command::new(bin)
        .args(["--port", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(Server { port, child, dir: None });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!("SKIP: karst-server did not listen on port {port}");
    let mut s = Server { port, child, dir: None };
    let _ = s.child.kill();
    None
}

/// Deterministic bytes.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}
