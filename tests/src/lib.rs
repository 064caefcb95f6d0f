//! Black-box tests: real clients against a started karst-server, and differential runs against
//! redis-server.
//!
//! This library is the harness: [`TestServer`] starts a server in-process on a free port (port 0,
//! so tests never race for ports) and stops it when dropped; [`Wire`] is a raw TCP client that
//! sends bytes and reads whole RESP replies.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use karst_net::{Config, Server, ServerHandle};
use karst_resp::{Frame, ReplyParser};

/// A karst server on 127.0.0.1 and a free port, stopped on drop.
#[derive(Debug)]
pub struct TestServer {
    handle: Option<ServerHandle>,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl TestServer {
    /// A server with the default configuration (2 loop threads).
    pub fn start() -> TestServer {
        TestServer::with(|_| {})
    }

    /// A server whose configuration `tweak` adjusts first.
    pub fn with(tweak: impl FnOnce(&mut Config)) -> TestServer {
        let mut config = Config { port: 0, threads: 2, ..Config::default() };
        tweak(&mut config);
        let handle = Server::new(config, karst_store::Store::new()).start().expect("server starts");
        let addr = handle.local_addr();
        TestServer { handle: Some(handle), addr }
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// A raw client.
    pub fn wire(&self) -> Wire {
        Wire::connect(self.addr)
    }

    /// Shuts the server down and waits for its threads.
    pub fn stop(mut self) {
        if let Some(h) = self.handle.take() {
            h.shutdown();
        }
    }

    /// Waits until the server stops by itself (SHUTDOWN).
    pub fn wait(mut self) {
        if let Some(h) = self.handle.take() {
            h.wait();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            h.shutdown();
        }
    }
}

/// A raw RESP client over TCP with a read timeout.
#[derive(Debug)]
pub struct Wire {
    /// The socket.
    pub stream: TcpStream,
    buf: BytesMut,
}

impl Wire {
    /// Connects to `addr`.
    pub fn connect(addr: SocketAddr) -> Wire {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        stream.set_nodelay(true).expect("nodelay");
        Wire { stream, buf: BytesMut::new() }
    }

    /// Sends raw bytes.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    /// Sends a command as a multibulk request.
    pub fn cmd(&mut self, args: &[&str]) {
        self.send(&encode(args));
    }

    /// Reads exactly `expected.len()` bytes and checks they are `expected`.
    pub fn expect(&mut self, expected: &[u8]) {
        let got = self.read_exact(expected.len());
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(expected),
            "reply bytes differ"
        );
    }

    /// Reads exactly `n` bytes (after what is already buffered).
    pub fn read_exact(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            self.fill().expect("server closed the connection early");
        }
        self.buf.split_to(n).to_vec()
    }

    /// Reads one whole reply.
    pub fn frame(&mut self) -> Frame {
        let mut parser = ReplyParser::default();
        loop {
            if let Some(f) = parser.parse(&mut self.buf).expect("valid reply") {
                return f;
            }
            self.fill().expect("server closed the connection early");
        }
    }

    /// Sends a command and returns its reply.
    pub fn call(&mut self, args: &[&str]) -> Frame {
        self.cmd(args);
        self.frame()
    }

    /// Reads more bytes; Err on EOF.
    fn fill(&mut self) -> Result<usize, String> {
        let mut chunk = [0u8; 64 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) => Err("eof".into()),
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(n)
            }
            Err(e) => Err(e.to_string()),
        }
    }

    /// True when the server closes the connection within `within` (after any buffered bytes,
    /// which are discarded).
    pub fn closed_within(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        let _ = self.stream.set_read_timeout(Some(Duration::from_millis(100)));
        let mut chunk = [0u8; 64 * 1024];
        while Instant::now() < deadline {
            match self.stream.read(&mut chunk) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => return true,
            }
        }
        false
    }
}

/// A multibulk request.
pub fn encode(args: &[&str]) -> Vec<u8> {
    let mut v = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        v.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        v.extend_from_slice(a.as_bytes());
        v.extend_from_slice(b"\r\n");
    }
    v
}

/// The text of a bulk, simple or verbatim reply.
pub fn text(f: &Frame) -> String {
    match f {
        Frame::Verbatim { text, .. } => String::from_utf8_lossy(text).into_owned(),
        other => other
            .as_bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_else(|| format!("{other:?}")),
    }
}

/// Where a command-line tool is installed, or None (the test then skips with a reason).
pub fn tool(name: &str) -> Option<std::path::PathBuf> {
    let p = std::path::PathBuf::from("/usr/bin").join(name);
    if p.exists() {
        return Some(p);
    }
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| std::path::Path::new(d).join(name))
        .find(|p| p.exists())
}

/// Resident memory of this process in bytes (the in-process server included).
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()))
        .map_or(0, |pages| pages * 4096)
}

/// Sends a pipeline of `n` ECHO requests of `size` bytes from a thread and never reads.
pub fn never_reading_client(
    server: &TestServer,
    n: usize,
    size: usize,
) -> (Wire, std::thread::JoinHandle<()>) {
    let w = server.wire();
    let mut s = w.stream.try_clone().expect("clone the socket");
    let value = "v".repeat(size);
    let req = encode(&["ECHO", &value]);
    let handle = std::thread::spawn(move || {
        for _ in 0..n {
            if s.write_all(&req).is_err() {
                return;
            }
        }
    });
    (w, handle)
}
