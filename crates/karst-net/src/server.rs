//! Listeners and event-loop threads.

use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener as StdListener};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use karst_store::Store;
use parking_lot::Mutex;
use socket2::{Domain, Protocol as SockProtocol, SockRef, Socket, TcpKeepalive, Type};
use tokio::net::{TcpListener, TcpStream};

use crate::config::{Config, ThreadModel};
use crate::conn::Conn;
use crate::shared::{
    ClientInfo, ClientNames, CommandCounters, ConfigHook, PeriodicHook, Shared, Wake,
};

/// How long loop threads wait for connections to close at shutdown.
const DRAIN: Duration = Duration::from_secs(3);

/// Builds and starts a server.
pub struct Server {
    config: Config,
    store: Store,
    hooks: Vec<ConfigHook>,
    periodic: Option<PeriodicHook>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Server {
    /// A server for `store` with `config`.
    pub fn new(config: Config, store: Store) -> Server {
        Server { config, store, hooks: Vec::new(), periodic: None }
    }

    /// Runs `hook` after every successful `CONFIG SET` (to apply maxmemory to the store, change
    /// the log level…). It also runs once at start.
    pub fn on_config_change(
        mut self,
        hook: impl Fn(&Store, &Config) + Send + Sync + 'static,
    ) -> Server {
        self.hooks.push(Box::new(hook));
        self
    }

    /// Runs `work` `hz` times a second on every loop thread, after the store's active expiry
    /// cycle (which always runs).
    pub fn periodic(mut self, work: impl Fn(&Store) + Send + Sync + 'static) -> Server {
        self.periodic = Some(Box::new(work));
        self
    }

    /// Binds every listener and starts the loop threads. Errors (address in use…) are returned
    /// before any thread starts.
    pub fn start(self) -> io::Result<ServerHandle> {
        let config = self.config.clone();
        let shared = Arc::new(Shared::new(self.store, self.config));
        crate::shared::apply_to_store(&shared.store, &config);
        for hook in &self.hooks {
            hook(&shared.store, &config);
        }
        *shared.config_hooks.lock() = self.hooks;
        *shared.periodic.lock() = self.periodic.map(Arc::new);
        let threads = shared.threads;
        let per_thread = match config.thread_model {
            ThreadModel::ReusePort => threads,
            ThreadModel::Shared => 1,
        };
        // listeners[t] are thread t's listeners, one per bind address.
        let mut listeners: Vec<Vec<StdListener>> = (0..per_thread).map(|_| Vec::new()).collect();
        let mut port = config.port;
        let mut addrs = Vec::new();
        for host in &config.bind {
            let ip: IpAddr = host.trim_start_matches('-').parse().map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("bind: invalid address '{host}'"),
                )
            })?;
            for list in listeners.iter_mut() {
                let l = bind(SocketAddr::new(ip, port), per_thread > 1)?;
                let local = l.local_addr()?;
                if port == 0 {
                    port = local.port();
                }
                if !addrs.contains(&local) {
                    addrs.push(local);
                }
                list.push(l);
            }
        }
        shared.tcp_port.store(u64::from(port), Relaxed);
        *shared.listen_addrs.lock() = addrs.clone();

        let mut joins = Vec::new();
        match config.thread_model {
            ThreadModel::ReusePort => {
                for (i, ls) in listeners.into_iter().enumerate() {
                    let shared = shared.clone();
                    let join = std::thread::Builder::new().name(format!("karst-loop-{i}")).spawn(
                        move || {
                            let rt = match tokio::runtime::Builder::new_current_thread()
                                .enable_all()
                                .build()
                            {
                                Ok(rt) => rt,
                                Err(e) => {
                                    tracing::error!(
                                        "loop thread {i}: cannot build its runtime: {e}"
                                    );
                                    return;
                                }
                            };
                            rt.block_on(loop_main(shared, ls, i == 0));
                        },
                    )?;
                    joins.push(join);
                }
            }
            ThreadModel::Shared => {
                let shared2 = shared.clone();
                let ls = listeners.into_iter().flatten().collect::<Vec<_>>();
                let join =
                    std::thread::Builder::new().name("karst-main".into()).spawn(move || {
                        let rt = match tokio::runtime::Builder::new_multi_thread()
                            .worker_threads(threads)
                            .thread_name("karst-worker")
                            .enable_all()
                            .build()
                        {
                            Ok(rt) => rt,
                            Err(e) => {
                                tracing::error!("cannot build the runtime: {e}");
                                return;
                            }
                        };
                        rt.block_on(loop_main(shared2, ls, true));
                    })?;
                joins.push(join);
            }
        }
        Ok(ServerHandle { shared, joins, addrs })
    }
}

fn bind(addr: SocketAddr, reuse_port: bool) -> io::Result<StdListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(SockProtocol::TCP))?;
    socket.set_reuse_address(true)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(511)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// A running server.
#[derive(Debug)]
pub struct ServerHandle {
    shared: Arc<Shared>,
    joins: Vec<JoinHandle<()>>,
    addrs: Vec<SocketAddr>,
}

impl ServerHandle {
    /// The first address the server listens on (with the real port when `port` was 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    /// Every address the server listens on.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// Number of event-loop threads.
    pub fn threads(&self) -> usize {
        self.shared.threads
    }

    /// A cheap handle that can stop the server from another thread (a signal handler).
    pub fn stopper(&self) -> Stopper {
        Stopper { shared: self.shared.clone() }
    }

    /// Stops accepting, lets connections flush their replies, and waits for the threads.
    pub fn shutdown(self) {
        self.shared.begin_shutdown();
        self.wait();
    }

    /// Waits until the server stops (SHUTDOWN, or a [`Stopper`]).
    pub fn wait(self) {
        for j in self.joins {
            let _ = j.join();
        }
    }
}

/// Stops a server from anywhere.
#[derive(Clone, Debug)]
pub struct Stopper {
    shared: Arc<Shared>,
}

impl Stopper {
    /// Starts a graceful shutdown.
    pub fn stop(&self) {
        self.shared.begin_shutdown();
    }
}

async fn loop_main(shared: Arc<Shared>, listeners: Vec<StdListener>, first: bool) {
    // This loop's command counters: its connections count here, INFO sums every loop's.
    let counters = Arc::new(CommandCounters::new());
    shared.stats.commands.lock().push(counters.clone());
    for l in listeners {
        match TcpListener::from_std(l) {
            Ok(l) => {
                tokio::spawn(accept_loop(shared.clone(), l, counters.clone()));
            }
            Err(e) => tracing::error!("listener: {e}"),
        }
    }
    let mut shutdown = shared.shutdown_tx.subscribe();
    let mut hz = shared.config.read().hz.max(1);
    let mut tick = tokio::time::interval(Duration::from_millis(1000 / hz));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                periodic(&shared, first);
                let now_hz = shared.config.read().hz.max(1);
                if now_hz != hz {
                    // CONFIG SET hz: a new period from the next tick on.
                    hz = now_hz;
                    tick = tokio::time::interval(Duration::from_millis(1000 / hz));
                    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                }
            }
            r = shutdown.wait_for(|s| *s) => {
                let _ = r;
                break;
            }
        }
    }
    let deadline = Instant::now() + DRAIN;
    while shared.connected.load(Relaxed) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Keys the active expiry cycle deletes per step, between checks of its time budget.
const EXPIRE_STEP: usize = 64;

fn periodic(shared: &Shared, first: bool) {
    // Like Redis's cycle (at most 25% of the time between ticks), shared by the loop threads:
    // each thread expires for at most a quarter of the tick period divided by their number.
    let hz = shared.config.read().hz.max(1);
    let budget = Duration::from_micros(250_000 / hz / shared.threads.max(1) as u64);
    shared.store.active_expire_for(budget, EXPIRE_STEP);
    let work = shared.periodic.lock().clone();
    if let Some(work) = work {
        work(&shared.store);
    }
    if first {
        // instantaneous_ops_per_sec over the last second or so.
        let now = shared.now_ms();
        let total = shared.stats.commands_processed();
        let mut s = shared.stats.ops_sample.lock();
        let (t, _, last) = *s;
        if now >= t + 1000 {
            let ops = (total.saturating_sub(last)) * 1000 / (now - t).max(1);
            *s = (now, ops, total);
        }
    }
}

async fn accept_loop(shared: Arc<Shared>, listener: TcpListener, counters: Arc<CommandCounters>) {
    let mut shutdown = shared.shutdown_tx.subscribe();
    loop {
        let accepted = tokio::select! {
            biased;
            _ = shutdown.wait_for(|s| *s) => return,
            r = listener.accept() => r,
        };
        match accepted {
            Ok((stream, peer)) => admit(&shared, stream, peer, &counters),
            Err(e) => {
                // EMFILE and friends: back off a little instead of spinning.
                tracing::warn!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

const DENIED: &str = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to karst you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to karst from the same host the server is running, however MAKE SURE karst is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

fn admit(
    shared: &Arc<Shared>,
    stream: TcpStream,
    peer: SocketAddr,
    counters: &Arc<CommandCounters>,
) {
    shared.stats.total_connections_received.fetch_add(1, Relaxed);
    let (maxclients, protected, keepalive) = {
        let c = shared.config.read();
        (c.maxclients, c.protected_mode && c.requirepass.is_empty(), c.tcp_keepalive)
    };
    if protected && !peer.ip().is_loopback() && !is_mapped_loopback(peer.ip()) {
        let _ = stream.try_write(DENIED.as_bytes());
        shared.stats.rejected_connections.fetch_add(1, Relaxed);
        return;
    }
    if shared.connected.fetch_add(1, Relaxed) >= maxclients {
        shared.connected.fetch_sub(1, Relaxed);
        let _ = stream.try_write(b"-ERR max number of clients reached\r\n");
        shared.stats.rejected_connections.fetch_add(1, Relaxed);
        return;
    }
    let _ = stream.set_nodelay(true);
    if keepalive > 0 {
        let secs = Duration::from_secs(keepalive);
        let ka = TcpKeepalive::new()
            .with_time(secs)
            .with_interval(Duration::from_secs((keepalive / 3).max(1)));
        let _ = SockRef::from(&stream).set_tcp_keepalive(&ka);
    }
    let laddr = stream.local_addr().unwrap_or(peer);
    let info = Arc::new(ClientInfo {
        id: shared.next_client_id.fetch_add(1, Relaxed),
        addr: peer,
        laddr,
        fd: stream.as_raw_fd(),
        created: Instant::now(),
        last_active_ms: AtomicU64::new(shared.now_ms()),
        db: AtomicUsize::new(0),
        resp: AtomicU8::new(2),
        qbuf: AtomicUsize::new(0),
        omem: AtomicUsize::new(0),
        names: Mutex::new(ClientNames { user: "default".into(), ..ClientNames::default() }),
        last_cmd: AtomicUsize::new(0),
        killed: AtomicBool::new(false),
        wake: Wake::default(),
        blocked: Mutex::new(None),
    });
    shared.clients.lock().insert(info.id, info.clone());
    if shared.shutting_down.load(Relaxed) {
        info.wake.wake();
    }
    let shared = shared.clone();
    let counters = counters.clone();
    tokio::spawn(async move {
        // Unregisters even if the task ends by a panic (tokio catches it; the loop goes on).
        let _registered = Registered { shared: shared.clone(), id: info.id };
        Conn::new(shared, stream, info, counters).run().await;
    });
}

/// A connection's place in the registry and in the client count, given back on drop.
struct Registered {
    shared: Arc<Shared>,
    id: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.shared.clients.lock().remove(&self.id);
        self.shared.connected.fetch_sub(1, Relaxed);
    }
}

fn is_mapped_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        IpAddr::V4(_) => false,
    }
}
