//! State every loop thread shares: the store, the configuration, the client registry, counters,
//! the slow log and the shutdown signal. Nothing here is touched per command but the counters of
//! the command's own loop thread.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::task::{Poll, Waker};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use karst_store::Store;
use parking_lot::{Mutex, RwLock};
use tokio::sync::watch;

use crate::config::Config;

/// Most bytes of idle payload buffers kept for reuse (karst-mem's `LargePool` cap): a 32 MB SET
/// then reuses a buffer instead of faulting in a fresh mapping.
const PAYLOAD_POOL_IDLE: usize = 256 << 20;

/// A callback run after `CONFIG SET` changed the configuration.
pub type ConfigHook = Box<dyn Fn(&Store, &Config) + Send + Sync>;
/// Periodic work run `hz` times a second on every loop thread (active expiry).
pub type PeriodicHook = Box<dyn Fn(&Store) + Send + Sync>;

/// Server-wide counters (INFO stats).
#[derive(Debug, Default)]
pub struct Stats {
    pub total_connections_received: AtomicU64,
    pub total_net_input_bytes: AtomicU64,
    pub total_net_output_bytes: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub total_error_replies: AtomicU64,
    pub client_query_buffer_limit_disconnections: AtomicU64,
    pub client_output_buffer_limit_disconnections: AtomicU64,
    /// Error replies by code (INFO errorstats).
    pub errors: Mutex<BTreeMap<String, u64>>,
    /// Per-command counters, one set per loop (INFO commandstats sums them).
    pub commands: Mutex<Vec<Arc<CommandCounters>>>,
    /// (time of the sample in ms since start, commands at that time) → ops/s.
    pub ops_sample: Mutex<(u64, u64, u64)>,
}

impl Stats {
    pub(crate) fn reset(&self) {
        for a in [
            &self.total_connections_received,
            &self.total_net_input_bytes,
            &self.total_net_output_bytes,
            &self.rejected_connections,
            &self.total_error_replies,
            &self.client_query_buffer_limit_disconnections,
            &self.client_output_buffer_limit_disconnections,
        ] {
            a.store(0, Relaxed);
        }
        self.errors.lock().clear();
        for c in self.commands.lock().iter() {
            c.commands.reset();
            for a in c.calls.iter().chain(&c.usec).chain(&c.failed).chain(&c.rejected) {
                a.reset();
            }
        }
    }

    /// Commands processed by every loop (INFO's `total_commands_processed`).
    pub fn commands_processed(&self) -> u64 {
        self.commands.lock().iter().map(|c| c.commands.get()).sum()
    }
}

/// A count that only one loop thread adds to, while any thread reads it (INFO) or resets it
/// (CONFIG RESETSTAT).
///
/// With one writer, adding needs no locked read-modify-write: it is a load and a store. The
/// server counts each command twice (calls, time), and those two locked adds per command were
/// full barriers on the hot path. A reset must then not write the count, which could lose to the
/// writer's store of an older value: it records the count as the new zero instead.
///
/// If some other thread added too, counts could be lost, never memory: it is all atomics.
#[derive(Debug, Default)]
pub struct LoopCounter {
    n: AtomicU64,
    zero: AtomicU64,
}

impl LoopCounter {
    /// Adds `v`. Only the owning loop thread calls this.
    #[inline]
    pub(crate) fn add(&self, v: u64) {
        self.n.store(self.n.load(Relaxed).wrapping_add(v), Relaxed);
    }

    /// The count since the last reset.
    pub fn get(&self) -> u64 {
        let zero = self.zero.load(Relaxed);
        self.n.load(Relaxed).saturating_sub(zero)
    }

    pub(crate) fn reset(&self) {
        self.zero.store(self.n.load(Relaxed), Relaxed);
    }
}

/// One loop thread's counters: commands processed, and per command (indexed like
/// `karst_store::commands()`) calls, microseconds, calls that replied an error and calls refused
/// before running. Each loop thread has its own set, written only by that thread, so no counter
/// is shared between threads on the hot path.
#[derive(Debug)]
pub struct CommandCounters {
    pub commands: LoopCounter,
    pub calls: Vec<LoopCounter>,
    pub usec: Vec<LoopCounter>,
    pub failed: Vec<LoopCounter>,
    pub rejected: Vec<LoopCounter>,
}

impl CommandCounters {
    pub(crate) fn new() -> CommandCounters {
        let n = karst_store::commands().len();
        let zeros = || (0..n).map(|_| LoopCounter::default()).collect();
        CommandCounters {
            commands: LoopCounter::default(),
            calls: zeros(),
            usec: zeros(),
            failed: zeros(),
            rejected: zeros(),
        }
    }
}

/// Index of `spec` in `karst_store::commands()`.
pub(crate) fn command_index(spec: &'static karst_store::CommandSpec) -> Option<usize> {
    let table = karst_store::commands();
    let size = std::mem::size_of::<karst_store::CommandSpec>().max(1);
    let offset =
        (spec as *const karst_store::CommandSpec as usize).wrapping_sub(table.as_ptr() as usize);
    let i = offset / size;
    if table.get(i).is_some_and(|c| std::ptr::eq(c, spec)) {
        return Some(i);
    }
    table.iter().position(|c| std::ptr::eq(c, spec))
}

/// One slow log entry.
#[derive(Debug, Clone)]
pub struct SlowEntry {
    pub id: u64,
    pub unix_time: u64,
    pub micros: u64,
    pub args: Vec<Vec<u8>>,
    pub addr: String,
    pub name: String,
}

/// What the registry knows about one connection, readable from any thread (CLIENT LIST/KILL).
#[derive(Debug)]
pub struct ClientInfo {
    pub id: u64,
    pub addr: SocketAddr,
    pub laddr: SocketAddr,
    pub fd: i32,
    pub created: Instant,
    /// Milliseconds since server start of the last batch.
    pub last_active_ms: AtomicU64,
    pub db: AtomicUsize,
    pub resp: AtomicU8,
    pub qbuf: AtomicUsize,
    pub omem: AtomicUsize,
    pub names: Mutex<ClientNames>,
    /// Index in `karst_store::commands()` + 1 of the last command (0: none yet).
    pub last_cmd: AtomicUsize,
    /// Set by CLIENT KILL; `wake` wakes the connection wherever it waits.
    pub killed: AtomicBool,
    pub wake: Wake,
    /// Set while the client waits in a blocking command (CLIENT UNBLOCK, CLIENT LIST's `b`).
    pub blocked: Mutex<Option<karst_store::Unblocker>>,
}

/// Wakes a connection's task from another thread (CLIENT KILL, shutdown), wherever it waits.
///
/// Only the connection's own task waits, so this keeps one waker. Each read of a connection
/// waits on it, and registering costs one uncontended lock when the waker is the one already
/// held; `tokio::sync::Notify` took two locks and a waiter list per read (about 2% of a loop
/// thread's user time at -P 16). It has no permits: the waiter says, through its condition,
/// what it waits for (the flags that the waker sets before it wakes).
#[derive(Debug, Default)]
pub struct Wake {
    waker: Mutex<Option<Waker>>,
}

impl Wake {
    /// Wakes the waiting task, if any, so that it checks its condition again. Set the flags the
    /// condition reads before calling this.
    pub fn wake(&self) {
        let waker = self.waker.lock().take();
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Resolves once `condition` holds; it is checked now and after every [`Wake::wake`].
    pub async fn until(&self, condition: impl Fn() -> bool) {
        std::future::poll_fn(|cx| {
            {
                let mut held = self.waker.lock();
                if !held.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    *held = Some(cx.waker().clone());
                }
            }
            // Checked after registering: a flag set before `wake` took the waker is seen here
            // (the lock orders the two), and one set after it wakes the waker just registered.
            if condition() { Poll::Ready(()) } else { Poll::Pending }
        })
        .await
    }
}

/// The strings a client sets about itself.
#[derive(Debug, Default, Clone)]
pub struct ClientNames {
    pub name: String,
    pub lib_name: String,
    pub lib_ver: String,
    pub user: String,
}

/// See the module docs.
pub struct Shared {
    pub store: Store,
    pub config: RwLock<Config>,
    /// Bumped by every `CONFIG SET`; connections refresh their cached limits when it moves.
    pub config_epoch: AtomicU64,
    pub clients: Mutex<BTreeMap<u64, Arc<ClientInfo>>>,
    pub next_client_id: AtomicU64,
    pub connected: AtomicUsize,
    pub stats: Stats,
    pub slowlog: Mutex<VecDeque<SlowEntry>>,
    pub slowlog_next_id: AtomicU64,
    pub started: Instant,
    pub started_unix: u64,
    pub run_id: String,
    /// The port actually bound (differs from `port` when that is 0).
    pub tcp_port: AtomicU64,
    pub shutting_down: AtomicBool,
    pub shutdown_tx: watch::Sender<bool>,
    pub config_hooks: Mutex<Vec<ConfigHook>>,
    pub periodic: Mutex<Option<Arc<PeriodicHook>>>,
    pub threads: usize,
    /// The socket binds of every listener, for INFO and logs.
    pub listen_addrs: Mutex<Vec<SocketAddr>>,
    /// Buffers for large bulks received out of line; they become stored values as they are.
    pub pool: karst_mem::LargePool,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").field("connected", &self.connected).finish_non_exhaustive()
    }
}

impl Shared {
    pub(crate) fn new(store: Store, config: Config) -> Shared {
        let threads = config.loop_threads();
        let (shutdown_tx, _) = watch::channel(false);
        Shared {
            store,
            config: RwLock::new(config),
            config_epoch: AtomicU64::new(0),
            clients: Mutex::new(BTreeMap::new()),
            next_client_id: AtomicU64::new(1),
            connected: AtomicUsize::new(0),
            stats: Stats::default(),
            slowlog: Mutex::new(VecDeque::new()),
            slowlog_next_id: AtomicU64::new(0),
            started: Instant::now(),
            started_unix: unix_time().0,
            run_id: run_id(),
            tcp_port: AtomicU64::new(0),
            shutting_down: AtomicBool::new(false),
            shutdown_tx,
            config_hooks: Mutex::new(Vec::new()),
            periodic: Mutex::new(None),
            threads,
            listen_addrs: Mutex::new(Vec::new()),
            pool: karst_mem::LargePool::new(PAYLOAD_POOL_IDLE),
        }
    }

    /// Milliseconds since the server started.
    pub fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Stops accepting, wakes every connection so it closes after flushing, and lets the loop
    /// threads end.
    pub fn begin_shutdown(&self) {
        if self.shutting_down.swap(true, Relaxed) {
            return;
        }
        tracing::info!("shutting down: no new connections; flushing replies");
        self.shutdown_tx.send_replace(true);
        for c in self.clients.lock().values() {
            c.wake.wake();
        }
    }

    /// Adds an entry if the slow log is on and `micros` is over its threshold.
    pub(crate) fn slowlog_push(&self, micros: u64, args: karst_resp::Args<'_>, info: &ClientInfo) {
        let (max_len, _) = {
            let c = self.config.read();
            (c.slowlog_max_len as usize, c.slowlog_log_slower_than)
        };
        if max_len == 0 {
            return;
        }
        // Like Redis: at most 32 arguments, each cut at 128 bytes.
        let mut v: Vec<Vec<u8>> = Vec::new();
        for (i, a) in args.iter().enumerate() {
            if i == 31 && args.len() > 32 {
                v.push(format!("... ({} more arguments)", args.len() - 31).into_bytes());
                break;
            }
            if a.len() > 128 {
                let mut s = a[..128].to_vec();
                s.extend_from_slice(format!("... ({} more bytes)", a.len() - 128).as_bytes());
                v.push(s);
            } else {
                v.push(a.to_vec());
            }
        }
        let entry = SlowEntry {
            id: self.slowlog_next_id.fetch_add(1, Relaxed),
            unix_time: unix_time().0,
            micros,
            args: v,
            addr: info.addr.to_string(),
            name: info.names.lock().name.clone(),
        };
        let mut log = self.slowlog.lock();
        log.push_front(entry);
        log.truncate(max_len);
    }
}

/// Applies the options the engine owns (maxmemory, policy, samples, encodings) to the store.
pub(crate) fn apply_to_store(store: &Store, config: &Config) {
    store.set_maxmemory(config.maxmemory);
    if let Ok(policy) = config.maxmemory_policy.parse::<karst_store::Policy>() {
        store.set_maxmemory_policy(policy);
    }
    store.set_maxmemory_samples(config.maxmemory_samples);
    store.set_encoding_limits(config.encoding);
}

/// Seconds and microseconds since the Unix epoch.
pub fn unix_time() -> (u64, u64) {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    (d.as_secs(), d.subsec_micros() as u64)
}

/// 40 hex characters, unique enough per process start (no randomness crate needed).
fn run_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut s = String::with_capacity(40);
    let (secs, micros) = unix_time();
    for i in 0..3u64 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(secs ^ micros.rotate_left(20) ^ i ^ u64::from(std::process::id()));
        s.push_str(&format!("{:016x}", h.finish()));
    }
    s.truncate(40);
    s
}
