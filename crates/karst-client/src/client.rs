//! The client: one server or a Redis Cluster, behind the same calls.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use karst_resp::Frame;

use crate::batch::{self, Item, Op, Reply};
use crate::cluster::{Redirect, SlotMap, key_slot, redirect};
use crate::config::Config;
use crate::conn::{Connection, Request};
use crate::error::{Error, Result};
use crate::pool::Pool;

/// Commands queued to be sent together; replies come back in the same order.
///
/// ```no_run
/// # fn main() -> karst_client::Result<()> {
/// use karst_client::{Client, Config, Pipeline};
/// let client = Client::connect(Config::new("127.0.0.1", 6379))?;
/// let mut p = Pipeline::new();
/// p.cmd(["SET", "a", "1"]).cmd(["INCR", "a"]);
/// let replies = client.pipeline(&p)?;
/// assert_eq!(replies.len(), 2);
/// # Ok(()) }
/// ```
#[derive(Debug, Default, Clone)]
pub struct Pipeline {
    cmds: Vec<Vec<Vec<u8>>>,
}

impl Pipeline {
    /// An empty pipeline.
    pub fn new() -> Pipeline {
        Pipeline::default()
    }

    /// Queues one command.
    pub fn cmd<I, A>(&mut self, args: I) -> &mut Pipeline
    where
        I: IntoIterator<Item = A>,
        A: AsRef<[u8]>,
    {
        self.cmds.push(args.into_iter().map(|a| a.as_ref().to_vec()).collect());
        self
    }

    /// Commands queued.
    pub fn len(&self) -> usize {
        self.cmds.len()
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.cmds.is_empty()
    }
}

#[derive(Debug)]
struct ClusterState {
    seeds: Vec<String>,
    map: RwLock<Option<Arc<SlotMap>>>,
    pools: Mutex<HashMap<String, Arc<Pool>>>,
}

#[derive(Debug)]
enum Topology {
    Single(Arc<Pool>),
    Cluster(ClusterState),
}

/// A pooled client of one server, or of a Redis Cluster. `Sync`: share it (or an `Arc` of it)
/// between threads; each call takes a pooled connection for its duration.
#[derive(Debug)]
pub struct Client {
    config: Config,
    topo: Topology,
}

type Job<'a> = (Arc<Pool>, Option<usize>, Vec<Item<'a>>);
type Done<'a> = (String, Vec<Item<'a>>, Result<Vec<Result<Reply>>>);

impl Client {
    /// A client of the server at `config.host:config.port`. Connects once to check that the
    /// server answers and accepts the credentials.
    pub fn connect(config: Config) -> Result<Client> {
        let pool = Arc::new(Pool::new(config.addr(), &config));
        pool.with(Some(0), |c| c.command(&[b"PING"]))?;
        Ok(Client { config, topo: Topology::Single(pool) })
    }

    /// A client of the Redis Cluster that `config.host:config.port` belongs to (more seed nodes
    /// may be given as `host:port`). Loads the slot map with `CLUSTER SLOTS`, or `CLUSTER SHARDS`
    /// when that fails.
    pub fn connect_cluster(config: Config, more_seeds: &[&str]) -> Result<Client> {
        let mut seeds = vec![config.addr()];
        seeds.extend(more_seeds.iter().map(|s| s.to_string()));
        let state =
            ClusterState { seeds, map: RwLock::new(None), pools: Mutex::new(HashMap::new()) };
        let client = Client { config, topo: Topology::Cluster(state) };
        client.refresh_slots()?;
        Ok(client)
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// True in cluster mode.
    pub fn is_cluster(&self) -> bool {
        matches!(self.topo, Topology::Cluster(_))
    }

    /// Reloads the cluster's slot map from any node that answers. Nothing in standalone mode.
    pub fn refresh_slots(&self) -> Result<()> {
        let Topology::Cluster(state) = &self.topo else { return Ok(()) };
        let mut candidates: Vec<String> = state.seeds.clone();
        if let Some(map) = read(&state.map).as_ref() {
            for n in &map.nodes {
                if !candidates.contains(n) {
                    candidates.insert(0, n.clone());
                }
            }
        }
        let mut last = Error::Cluster("no seed node".into());
        for addr in candidates {
            let host = addr.rsplit_once(':').map_or(addr.as_str(), |(h, _)| h).to_string();
            let pool = self.pool_for(&addr);
            let got = pool.with(None, |c| {
                match c.command(&[b"CLUSTER", b"SLOTS"]) {
                    Ok(reply) => SlotMap::from_cluster_slots(&reply, &host),
                    Err(Error::Server(_)) => {
                        let reply = c.command(&[b"CLUSTER", b"SHARDS"])?;
                        SlotMap::from_cluster_shards(&reply, &host)
                    }
                    Err(e) => Err(e),
                }
                .map(Ok)
                // A bad map is not a broken connection.
                .or_else(|e| if e.is_connection_error() { Err(e) } else { Ok(Err(e)) })
            });
            match got {
                Ok(Ok(map)) => {
                    *write(&state.map) = Some(Arc::new(map));
                    return Ok(());
                }
                Ok(Err(e)) | Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn pool_for(&self, addr: &str) -> Arc<Pool> {
        match &self.topo {
            Topology::Single(pool) => pool.clone(),
            Topology::Cluster(state) => {
                let mut pools = lock(&state.pools);
                pools
                    .entry(addr.to_string())
                    .or_insert_with(|| Arc::new(Pool::new(addr.to_string(), &self.config)))
                    .clone()
            }
        }
    }

    /// The pool serving `key`.
    fn route(&self, key: &[u8]) -> Result<Arc<Pool>> {
        match &self.topo {
            Topology::Single(pool) => Ok(pool.clone()),
            Topology::Cluster(state) => {
                let map = read(&state.map).clone();
                let slot = key_slot(key);
                let addr = map
                    .as_ref()
                    .and_then(|m| m.node(slot).map(str::to_string))
                    .ok_or_else(|| Error::Cluster(format!("no node serves slot {slot}")))?;
                Ok(self.pool_for(&addr))
            }
        }
    }

    /// Runs a batch: groups keys by node, splits each group into tiles over the node's pooled
    /// connections, pipelines each tile, follows cluster redirections, and puts the results
    /// back in the caller's order. The outer error means a connection broke (after one retry on
    /// a new connection); the inner ones are per key.
    fn execute(&self, items: Vec<Item<'_>>) -> Result<Vec<Result<Reply>>> {
        let n = items.len();
        let mut results: Vec<Option<Result<Reply>>> = (0..n).map(|_| None).collect();
        let mut pending = items;
        for _round in 0..=self.config.max_redirects {
            if pending.is_empty() {
                break;
            }
            // Group by node, in first-seen order; one look at the slot map per round.
            let mut groups: Vec<(Arc<Pool>, Vec<Item<'_>>)> = Vec::new();
            match &self.topo {
                Topology::Single(pool) => groups.push((pool.clone(), std::mem::take(&mut pending))),
                Topology::Cluster(state) => {
                    let map = read(&state.map).clone();
                    // Group index of each node of the map.
                    let mut group_of: Vec<Option<usize>> =
                        vec![None; map.as_ref().map_or(0, |m| m.nodes.len())];
                    for item in pending.drain(..) {
                        let slot = key_slot(item.key);
                        let node = map.as_ref().and_then(|m| m.node_index(slot));
                        let (Some(m), Some(node)) = (&map, node) else {
                            results[item.idx] =
                                Some(Err(Error::Cluster(format!("no node serves slot {slot}"))));
                            continue;
                        };
                        match group_of[node] {
                            Some(g) => groups[g].1.push(item),
                            None => {
                                group_of[node] = Some(groups.len());
                                groups.push((self.pool_for(&m.nodes[node]), vec![item]));
                            }
                        }
                    }
                }
            }
            let mut jobs: Vec<Job<'_>> = Vec::new();
            for (pool, group) in groups {
                let tiles =
                    batch::tiles(group, pool.size(), self.config.tile_bytes, self.config.tile_keys);
                let single = tiles.len() == 1;
                let start = pool.pick();
                for (i, tile) in tiles.into_iter().enumerate() {
                    let slot = if single { None } else { Some(start + i) };
                    jobs.push((pool.clone(), slot, tile));
                }
            }
            let done = run_jobs(jobs, false);
            let mut moved = false;
            let mut asks: Vec<(String, Item<'_>)> = Vec::new();
            for (addr, items, outcome) in done {
                let replies = outcome?;
                for (item, reply) in items.into_iter().zip(replies) {
                    match reply.as_ref().err().and_then(|e| self.redirect_of(e, &addr)) {
                        Some(Redirect::Moved(_)) => {
                            moved = true;
                            pending.push(item);
                        }
                        Some(Redirect::Ask(target)) => asks.push((target, item)),
                        None => results[item.idx] = Some(reply),
                    }
                }
            }
            // ASK: once, on the node named, after ASKING.
            for (target, item) in asks {
                let pool = self.pool_for(&target);
                let (_, mut items, outcome) = run_jobs(vec![(pool, None, vec![item])], true)
                    .pop()
                    .ok_or_else(|| Error::Cluster("lost an ASK redirection".into()))?;
                let reply = outcome?.pop().unwrap_or_else(|| {
                    Err(Error::Cluster("no reply to an ASK redirection".into()))
                });
                let Some(item) = items.pop() else { continue };
                match reply.as_ref().err().and_then(|e| self.redirect_of(e, &target)) {
                    Some(Redirect::Moved(_)) => {
                        moved = true;
                        pending.push(item);
                    }
                    _ => results[item.idx] = Some(reply),
                }
            }
            if moved {
                self.refresh_slots()?;
            }
        }
        for item in pending {
            results[item.idx] = Some(Err(Error::Cluster(format!(
                "more than {} redirections",
                self.config.max_redirects
            ))));
        }
        Ok(results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(Error::Cluster("key left unanswered".into()))))
            .collect())
    }

    fn redirect_of(&self, e: &Error, addr: &str) -> Option<Redirect> {
        if self.is_cluster() { redirect(e, addr) } else { None }
    }

    fn one(&self, key: &[u8], op: Op<'_>) -> Result<Reply> {
        self.execute(vec![Item { idx: 0, key, op }])?
            .pop()
            .unwrap_or_else(|| Err(Error::Cluster("no reply".into())))
    }

    /// `GET key` into a new vector; `None` when the key does not exist.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        match self.one(key.as_ref(), Op::Get)? {
            Reply::Value(v) => Ok(v),
            other => Err(Error::UnexpectedReply(format!("{other:?}"))),
        }
    }

    /// `GET key` straight into `buf`: the `$len` header is read, the bytes already buffered are
    /// copied, and the rest of the payload is received directly into `buf`. Returns the value's
    /// length, or `None` when the key does not exist. A value longer than `buf` is
    /// [`Error::BufferTooSmall`] (its payload is drained; the connection stays usable).
    pub fn get_into(&self, key: impl AsRef<[u8]>, buf: &mut [u8]) -> Result<Option<usize>> {
        batch::as_len(self.one(key.as_ref(), Op::GetInto(buf))?)
    }

    /// `SET key value`; the header and the caller's value go out in one vectored write.
    pub fn set(&self, key: impl AsRef<[u8]>, value: &[u8]) -> Result<()> {
        self.one(key.as_ref(), Op::Set(value)).map(drop)
    }

    /// `EXISTS key`
    pub fn exists(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        int(self.one(key.as_ref(), Op::Exists)?).map(|n| n > 0)
    }

    /// `DEL key`: true when the key existed.
    pub fn del(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        int(self.one(key.as_ref(), Op::Del)?).map(|n| n > 0)
    }

    fn items<'a, K: AsRef<[u8]>>(
        keys: &'a [K],
        mut op: impl FnMut(usize) -> Op<'a>,
    ) -> Vec<Item<'a>> {
        keys.iter().enumerate().map(|(idx, k)| Item { idx, key: k.as_ref(), op: op(idx) }).collect()
    }

    /// `GET` of many keys, in order; missing keys are `None`. A server error on any key fails
    /// the call.
    pub fn get_many<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Option<Vec<u8>>>> {
        self.execute(Self::items(keys, |_| Op::Get))?
            .into_iter()
            .map(|r| match r? {
                Reply::Value(v) => Ok(v),
                other => Err(Error::UnexpectedReply(format!("{other:?}"))),
            })
            .collect()
    }

    /// `GET` of many keys, each straight into its own buffer. One result per key: its length,
    /// `None` for a miss, or that key's error ([`Error::BufferTooSmall`], a server error).
    /// The outer error means a connection broke.
    pub fn get_many_into<K: AsRef<[u8]>>(
        &self,
        keys: &[K],
        bufs: &mut [&mut [u8]],
    ) -> Result<Vec<Result<Option<usize>>>> {
        if keys.len() != bufs.len() {
            return Err(Error::InvalidArgument(format!(
                "{} keys but {} buffers",
                keys.len(),
                bufs.len()
            )));
        }
        let items = keys
            .iter()
            .zip(bufs.iter_mut())
            .enumerate()
            .map(|(idx, (k, b))| Item { idx, key: k.as_ref(), op: Op::GetInto(b) })
            .collect();
        Ok(self.execute(items)?.into_iter().map(|r| r.and_then(batch::as_len)).collect())
    }

    /// `SET` of many keys; values are sent from the caller's memory. Fails on the first key
    /// the server refused.
    pub fn set_many<K: AsRef<[u8]>, V: AsRef<[u8]>>(&self, keys: &[K], values: &[V]) -> Result<()> {
        if keys.len() != values.len() {
            return Err(Error::InvalidArgument(format!(
                "{} keys but {} values",
                keys.len(),
                values.len()
            )));
        }
        self.execute(Self::items(keys, |i| Op::Set(values[i].as_ref())))?
            .into_iter()
            .try_for_each(|r| r.map(drop))
    }

    /// `EXISTS` of each key, in order.
    pub fn exists_many<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<bool>> {
        self.execute(Self::items(keys, |_| Op::Exists))?
            .into_iter()
            .map(|r| int(r?).map(|n| n > 0))
            .collect()
    }

    /// `DEL` of each key, in order: true for each key that existed.
    pub fn del_many<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<bool>> {
        self.execute(Self::items(keys, |_| Op::Del))?
            .into_iter()
            .map(|r| int(r?).map(|n| n > 0))
            .collect()
    }

    /// Runs any command; an error reply is [`Error::Server`]. In cluster mode the command goes
    /// to the node serving its first argument after the name (or any node when it has none),
    /// following one redirection.
    pub fn command<A: AsRef<[u8]>>(&self, args: &[A]) -> Result<Frame> {
        let args: Vec<&[u8]> = args.iter().map(AsRef::as_ref).collect();
        let pool = self.pool_of_command(&args)?;
        let reply = pool.with(None, |c| c.command(&args));
        match reply.as_ref().err().and_then(|e| self.redirect_of(e, pool.addr())) {
            Some(Redirect::Moved(target)) => {
                self.refresh_slots()?;
                self.pool_for(&target).with(None, |c| c.command(&args))
            }
            Some(Redirect::Ask(target)) => self.pool_for(&target).with(None, |c| {
                c.command(&[b"ASKING"])?;
                c.command(&args)
            }),
            None => reply,
        }
    }

    fn pool_of_command(&self, args: &[&[u8]]) -> Result<Arc<Pool>> {
        match (&self.topo, args.get(1)) {
            (Topology::Cluster(_), Some(key)) => self.route(key),
            (Topology::Cluster(state), None) => {
                let map = read(&state.map).clone();
                let addr = map
                    .and_then(|m| m.nodes.first().cloned())
                    .unwrap_or_else(|| self.config.addr());
                Ok(self.pool_for(&addr))
            }
            (Topology::Single(pool), _) => Ok(pool.clone()),
        }
    }

    /// Sends every command of `p`, then reads every reply, on one connection (in cluster mode:
    /// one per node, commands grouped by the node of their first key). Error replies are
    /// returned in place as [`Frame::Error`]; they do not fail the call.
    pub fn pipeline(&self, p: &Pipeline) -> Result<Vec<Frame>> {
        let mut groups: Vec<(Arc<Pool>, Vec<usize>)> = Vec::new();
        for (i, cmd) in p.cmds.iter().enumerate() {
            let args: Vec<&[u8]> = cmd.iter().map(Vec::as_slice).collect();
            let pool = self.pool_of_command(&args)?;
            match groups.iter_mut().find(|(q, _)| Arc::ptr_eq(q, &pool)) {
                Some((_, g)) => g.push(i),
                None => groups.push((pool, vec![i])),
            }
        }
        let mut out: Vec<Frame> = vec![Frame::Null; p.cmds.len()];
        for (pool, idxs) in groups {
            let frames = pool.with(None, |c: &mut Connection| {
                let mut req = Request::new();
                for &i in &idxs {
                    let args: Vec<&[u8]> = p.cmds[i].iter().map(Vec::as_slice).collect();
                    req.command(&args);
                }
                c.send(&req)?;
                (0..idxs.len()).map(|_| c.read_frame()).collect::<Result<Vec<Frame>>>()
            })?;
            for (i, f) in idxs.into_iter().zip(frames) {
                out[i] = f;
            }
        }
        Ok(out)
    }
}

/// Runs jobs in parallel: the first on this thread, the others on scoped threads.
fn run_jobs<'a>(jobs: Vec<Job<'a>>, asking: bool) -> Vec<Done<'a>> {
    let run = |(pool, slot, mut items): Job<'a>| -> Done<'a> {
        let outcome = pool.with(slot, |c| batch::run(c, &mut items, asking));
        (pool.addr().to_string(), items, outcome)
    };
    if jobs.len() <= 1 {
        return jobs.into_iter().map(run).collect();
    }
    std::thread::scope(|s| {
        let mut jobs = jobs.into_iter();
        let first = jobs.next();
        let handles: Vec<_> = jobs.map(|job| s.spawn(move || run(job))).collect();
        let mut done: Vec<Done<'a>> = first.into_iter().map(run).collect();
        for h in handles {
            match h.join() {
                Ok(d) => done.push(d),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        done
    })
}

fn int(r: Reply) -> Result<i64> {
    match r {
        Reply::Int(n) => Ok(n),
        other => Err(Error::UnexpectedReply(format!("{other:?}"))),
    }
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

// The client is shared between threads.
const _: fn() = || {
    fn is_sync<T: Sync + Send>() {}
    is_sync::<Client>();
};
