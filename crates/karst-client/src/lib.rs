//! karst-client: a blocking Redis/karst client built for bulk traffic.
//!
//! It speaks RESP2 or RESP3 to karst-server, redis-server or Valkey, alone or as a Redis
//! Cluster, and is built for moving many keys and large values (1–64 MB) fast.
//!
//! # Components
//!
//! - [`Client`]: a pool of N blocking TCP connections (default 8) shared by any number of
//!   threads; AUTH (password or user + password), timeouts, reconnection of broken connections.
//! - Batches ([`Client::get_many`], [`Client::get_many_into`], [`Client::set_many`],
//!   [`Client::exists_many`], [`Client::del_many`]): keys are split into tiles over the pool's
//!   connections (by bytes moved, or by count for small commands), each tile one pipeline in one
//!   vectored write; results come back in the caller's order, misses as `None`.
//! - Zero-copy: [`Client::get_into`] reads the `$len` header, copies what is already buffered
//!   and receives the rest of the payload straight into the caller's buffer;
//!   [`Client::set`] sends header and value in one `writev` without copying the value.
//! - Cluster mode ([`Client::connect_cluster`]): CRC16 hash slots with `{tags}`
//!   ([`key_slot`]), the slot map from `CLUSTER SLOTS` (or `CLUSTER SHARDS`), `MOVED` →
//!   refresh and retry, `ASK` → `ASKING` and retry once; batches are grouped by node, so a batch
//!   costs about one round trip per node touched.
//! - [`Pipeline`] and [`Client::command`] for any other command, returning [`Frame`]s.
//!
//! # Guarantees
//!
//! - No reply from a server makes the client panic; a reply that is not RESP, or not what the
//!   command returns, closes that connection ([`Error::is_connection_error`]).
//! - Redis error replies are [`Error::Server`] with the server's text; per-key errors of a batch
//!   stay per key.
//! - No `unsafe` code.
//!
//! # Example
//!
//! ```no_run
//! # fn main() -> karst_client::Result<()> {
//! use karst_client::{Client, Config};
//!
//! let client = Client::connect(Config::new("127.0.0.1", 6379).connections(8))?;
//! let chunk = vec![7u8; 4 << 20];
//! client.set("chunk:0", &chunk)?;
//! let mut buf = vec![0u8; 4 << 20];
//! assert_eq!(client.get_into("chunk:0", &mut buf)?, Some(chunk.len()));
//! let hits = client.exists_many(&["chunk:0", "chunk:1"])?;
//! assert_eq!(hits, [true, false]);
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]

mod batch;
mod client;
mod cluster;
mod config;
mod conn;
mod error;
mod pool;

pub use client::{Client, Pipeline};
pub use cluster::{SLOTS, crc16, key_slot};
pub use config::{Config, Protocol};
pub use conn::Connection;
pub use error::{Error, Result};
pub use karst_resp::Frame;
