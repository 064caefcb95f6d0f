//! karst-store: the engine behind karst-server, usable in-process.
//!
//! # Components
//!
//! - [`Store`]: the keyspace, split into shards (a power of two, 1024 by default). A key's hash,
//!   computed once per command, picks the shard (high bits) and drives the shard's table (low
//!   32 bits; recomputed from the key when a table grows): open addressing over 8-byte entry
//!   pointers that carry a tag of the hash in their spare bits. Each shard is a small lock over
//!   its tables (one per database), its TTL index, its large values, its eviction state and its
//!   byte count.
//! - Entries are packed: one allocation holds the metadata (expire, LRU/LFU clock, type and
//!   encoding flags), the key and a value up to 512 bytes; integers are kept as `i64`;
//!   larger values are shared [`bytes::Bytes`], handed out by reference.
//! - The command table ([`commands`], [`lookup`]): one [`CommandSpec`] line per command with
//!   Redis's arity, flags, key positions and ACL categories; [`Store::dispatch`] checks arity
//!   and maxmemory centrally and runs the handler, or hands connection commands back.
//! - Expiry: lazy on access plus [`Store::active_expire_cycle`], which the server calls
//!   periodically. Eviction: every Redis policy plus `allkeys-sieve` ([`Policy`]).
//! - The embedded API: typed calls ([`Store::get`], [`Store::set`], …) and [`Store::execute`]
//!   for any command, in database 0 or, through [`Store::select`], in any other.
//!
//! # Guarantees
//!
//! - Commands that touch several shards lock them in ascending order: atomic, never deadlocked.
//! - No client input panics; every error is a reply with Redis's wording.
//! - SCAN returns every key present for the whole scan, whatever the tables do meanwhile.
//!
//! # Example
//!
//! ```
//! use bytes::Bytes;
//! use karst_store::{Frame, Policy, SetOptions, Store};
//!
//! let store = Store::builder()
//!     .shards(64)
//!     .maxmemory(64 << 20)
//!     .policy(Policy::AllKeysLru)
//!     .build();
//!
//! // Typed calls: values come back as `Bytes`, shared rather than copied when large.
//! store.set("greeting", "hello")?;
//! assert_eq!(store.get("greeting")?, Some(Bytes::from("hello")));
//! assert_eq!(store.incr_by("visits", 5)?, 5);
//! store.set_with("session", "x", SetOptions::new().px(30_000))?;
//! assert!(store.ttl_ms("session")? > 0);
//!
//! // Any Redis command, from any thread: `Store` is `Clone + Send + Sync`.
//! let s2 = store.clone();
//! std::thread::spawn(move || s2.execute(["APPEND", "greeting", " world"])).join().unwrap();
//! assert_eq!(store.execute(["GET", "greeting"]), Frame::Bulk(Bytes::from("hello world")));
//! assert_eq!(
//!     store.execute(["INCR", "greeting"]),
//!     Frame::Error(Bytes::from("ERR value is not an integer or out of range"))
//! );
//! # Ok::<(), karst_store::Error>(())
//! ```

// Unsafe code lives in `entry` (the thin entry pointer) and in `clock` (one read of the CPU's
// time-stamp counter), which opt in.
#![deny(unsafe_code)]

mod api;
mod blocking;
mod clock;
mod cmd;
mod command;
mod entry;
mod error;
mod glob;
mod hold;
mod ldouble;
#[cfg(all(test, karst_loom))]
mod loom_tests;
mod policy;
mod session;
mod shard;
mod store;
mod sync;
mod table;
mod types;

pub use api::SetOptions;
pub use blocking::{Blocked, Unblocker};
pub use clock::{Clock, MockClock, SystemClock};
pub use command::{CommandSpec, Flags, Handler, commands, lookup};
pub use error::{Error, Result, unknown_subcommand};
pub use karst_resp::Frame;
pub use policy::{Policy, UnknownPolicy};
pub use session::Session;
pub use store::{Builder, Hold, Outcome, Stats, Store, prefetches};
pub use types::{EncodingLimits, Prefetch};

/// The README's Rust examples, compiled and run as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
