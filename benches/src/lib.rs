//! Shared pieces of karst's benchmarks: a redis-server started for the comparison, a pipelining
//! RESP connection to it, and process memory readings.
//!
//! The comparisons themselves are the binaries in `src/bin/` and the criterion benches in
//! `benches/`; each prints the command that reproduces it and a table for docs/benchmarks.md.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use karst_resp::{Frame, ReplyParser};

/// A redis-server of the benchmark's own, on a free port, killed on drop.
#[derive(Debug)]
pub struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    /// Starts `redis-server` with no persistence and the extra `--option value` pairs given.
    pub fn start(extra: &[&str]) -> std::io::Result<RedisServer> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", ""])
            .args(["--appendonly", "no", "--protected-mode", "no", "--loglevel", "warning"])
            .args(extra)
            .stdout(Stdio::null())
            .spawn()?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err(std::io::Error::other("redis-server did not start"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(RedisServer { child, port })
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its process id, for /proc readings.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A new connection.
    pub fn connect(&self) -> std::io::Result<Conn> {
        Conn::connect(self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A RESP2 connection that pipelines: queue commands, then read all their replies.
#[derive(Debug)]
pub struct Conn {
    stream: TcpStream,
    out: Vec<u8>,
    queued: usize,
    buf: BytesMut,
    parser: ReplyParser,
}

impl Conn {
    /// Connects to 127.0.0.1:`port`.
    pub fn connect(port: u16) -> std::io::Result<Conn> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            out: Vec::new(),
            queued: 0,
            buf: BytesMut::new(),
            parser: ReplyParser::default(),
        })
    }

    /// Queues one command.
    pub fn queue<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        self.out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for a in args {
            let a = a.as_ref();
            self.out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            self.out.extend_from_slice(a);
            self.out.extend_from_slice(b"\r\n");
        }
        self.queued += 1;
    }

    /// Sends everything queued and returns the replies in order.
    pub fn flush(&mut self) -> std::io::Result<Vec<Frame>> {
        self.stream.write_all(&self.out)?;
        self.out.clear();
        let mut replies = Vec::with_capacity(self.queued);
        let mut chunk = vec![0u8; 256 * 1024];
        while replies.len() < self.queued {
            match self.parser.parse(&mut self.buf) {
                Ok(Some(frame)) => replies.push(frame),
                Ok(None) => {
                    let n = self.stream.read(&mut chunk)?;
                    if n == 0 {
                        return Err(std::io::ErrorKind::UnexpectedEof.into());
                    }
                    self.buf.extend_from_slice(&chunk[..n]);
                }
                Err(e) => return Err(std::io::Error::other(e.to_string())),
            }
        }
        self.queued = 0;
        Ok(replies)
    }

    /// Runs one command.
    pub fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> std::io::Result<Frame> {
        self.queue(args);
        let mut replies = self.flush()?;
        replies.pop().ok_or_else(|| std::io::ErrorKind::UnexpectedEof.into())
    }

    /// A numeric field of `INFO section` (`used_memory`…).
    pub fn info_field(&mut self, section: &str, field: &str) -> std::io::Result<u64> {
        let reply = self.call(&["INFO", section])?;
        let text =
            reply.as_bytes().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default();
        text.lines()
            .find_map(|l| l.strip_prefix(field).and_then(|v| v.strip_prefix(':')))
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("no {field} in INFO {section}")))
    }
}

/// Resident set size of a process in bytes (`/proc/PID/statm`; `self` for this process).
pub fn rss_bytes(pid: &str) -> u64 {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4096
}

/// CPU time (user + system) a process has used, in microseconds (`/proc/PID/stat`).
pub fn cpu_micros(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may contain spaces.
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = [11, 12].iter().filter_map(|&i| fields.get(i)?.parse::<u64>().ok()).sum();
    // Linux reports clock ticks of 1/100 s on every platform this runs on (USER_HZ).
    ticks * 10_000
}

/// A Zipf(s) sampler over ranks `0..n` by inverse CDF: exact, and fast enough for traces of
/// millions of requests.
#[derive(Debug)]
pub struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    /// The distribution over `n` ranks with exponent `s`.
    pub fn new(n: usize, s: f64) -> Zipf {
        let mut cdf = Vec::with_capacity(n);
        let mut sum = 0.0;
        for k in 1..=n {
            sum += 1.0 / (k as f64).powf(s);
            cdf.push(sum);
        }
        for c in &mut cdf {
            *c /= sum;
        }
        Zipf { cdf }
    }

    /// The rank for a uniform `u` in [0, 1).
    pub fn sample(&self, u: f64) -> usize {
        self.cdf.partition_point(|&c| c < u).min(self.cdf.len() - 1)
    }
}

/// xorshift64*: a fixed, dependency-free generator so every run replays the same trace.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A uniform float in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The numeric arguments of an example, each defaulting to `defaults[i]` when left out; prints
/// `usage` and exits with status 2 on one that is not a number or on too many.
pub fn numeric_args<const N: usize>(usage: &str, defaults: [usize; N]) -> [usize; N] {
    let given: Result<Vec<usize>, _> = std::env::args().skip(1).map(|a| a.parse()).collect();
    match given {
        Ok(g) if g.len() <= N => std::array::from_fn(|i| g.get(i).copied().unwrap_or(defaults[i])),
        _ => {
            eprintln!("usage: {usage}");
            std::process::exit(2);
        }
    }
}

/// The 16-byte key of rank `i`.
pub fn key(i: usize) -> String {
    format!("key:{i:012}")
}

/// Elements per key of the small collections: within every default compact threshold.
pub const SMALL: usize = 50;

/// One element of collection `c`, 16 bytes (members, fields and values alike).
fn elem(c: usize, i: usize) -> String {
    format!("e{c:05}:{i:09}")
}

/// The variadic write commands that build a case of `memory_per_element` (`hash-small`,
/// `zset-large`…): one per key and chunk of elements.
pub fn collection_commands(case: &str, total: usize) -> Vec<Vec<String>> {
    let (kind, small) = case.split_once('-').unwrap_or((case, "small"));
    let per_key = if small == "small" { SMALL } else { total };
    let keys = total / per_key;
    let mut out = Vec::new();
    for k in 0..keys {
        let key = format!("{kind}:{k:08}");
        for chunk in (0..per_key).collect::<Vec<_>>().chunks(100) {
            let mut cmd = vec![
                match kind {
                    "hash" => "HSET",
                    "list" => "RPUSH",
                    "zset" => "ZADD",
                    _ => "SADD",
                }
                .to_string(),
                key.clone(),
            ];
            for &i in chunk {
                match kind {
                    "hash" => cmd.extend([elem(k, i), elem(k + 1, i)]),
                    "zset" => cmd.extend([format!("{}", i * 3), elem(k, i)]),
                    "intset" | "set" if case.contains("int") => cmd.push((i * 7).to_string()),
                    _ => cmd.push(elem(k, i)),
                }
            }
            out.push(cmd);
        }
    }
    out
}
