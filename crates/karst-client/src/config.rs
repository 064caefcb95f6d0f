//! Connection settings.

use std::time::Duration;

/// The RESP version a connection speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Protocol {
    /// RESP2: no handshake beyond `AUTH`; works with every Redis-compatible server.
    #[default]
    Resp2,
    /// RESP3: `HELLO 3` (with `AUTH` inside it) on connect.
    Resp3,
}

/// How to reach and talk to a server (or, in cluster mode, every node).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Config {
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// ACL user name; `None` means the default user.
    pub username: Option<String>,
    /// Password (`AUTH [user] password`).
    pub password: Option<String>,
    /// RESP2 or RESP3.
    pub protocol: Protocol,
    /// Database selected after connecting (standalone only); 0 sends no `SELECT`.
    pub db: u32,
    /// Time allowed for the TCP connect.
    pub connect_timeout: Option<Duration>,
    /// Longest wait for a reply's next bytes; `None` waits forever.
    pub read_timeout: Option<Duration>,
    /// Longest wait for the socket to take more bytes.
    pub write_timeout: Option<Duration>,
    /// Connections in the pool (per node in cluster mode).
    pub connections: usize,
    /// A batch of values is split over several connections when it moves at least this many
    /// bytes per connection.
    pub tile_bytes: usize,
    /// A batch of small commands is split over several connections when it has at least this
    /// many keys per connection; below, one pipeline on one connection is fastest.
    pub tile_keys: usize,
    /// Cluster mode: how many `MOVED`/`ASK` redirections one key may follow.
    pub max_redirects: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            host: "127.0.0.1".into(),
            port: 6379,
            username: None,
            password: None,
            protocol: Protocol::Resp2,
            db: 0,
            connect_timeout: Some(Duration::from_secs(5)),
            read_timeout: Some(Duration::from_secs(30)),
            write_timeout: Some(Duration::from_secs(30)),
            connections: 8,
            tile_bytes: 1 << 20,
            tile_keys: 512,
            max_redirects: 5,
        }
    }
}

impl Config {
    /// Defaults for `host:port`.
    pub fn new(host: impl Into<String>, port: u16) -> Config {
        Config { host: host.into(), port, ..Config::default() }
    }

    /// Authenticates with `AUTH password`.
    pub fn password(mut self, password: impl Into<String>) -> Config {
        self.password = Some(password.into());
        self
    }

    /// Authenticates with `AUTH user password`.
    pub fn user(mut self, user: impl Into<String>, password: impl Into<String>) -> Config {
        self.username = Some(user.into());
        self.password = Some(password.into());
        self
    }

    /// Speaks `protocol`.
    pub fn protocol(mut self, protocol: Protocol) -> Config {
        self.protocol = protocol;
        self
    }

    /// Keeps `n` connections (at least one).
    pub fn connections(mut self, n: usize) -> Config {
        self.connections = n.max(1);
        self
    }

    /// Sets the read and write timeouts.
    pub fn timeouts(mut self, io: Option<Duration>) -> Config {
        self.read_timeout = io;
        self.write_timeout = io;
        self
    }

    /// `host:port` of the configured server.
    pub fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}
