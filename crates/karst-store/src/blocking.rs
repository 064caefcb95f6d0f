//! Blocking commands (BLPOP, BLMOVE, BZPOPMIN, …): clients waiting on keys.
//!
//! # How a command blocks
//!
//! A blocking handler that finds none of its keys ready calls [`block`], which only notes the
//! keys and the timeout in the [`Session`] and writes nothing. When the
//! handler returns, [`Store::dispatch`] sees the note and calls [`register`]: the command's
//! arguments are copied (one buffer) into a [`Waiter`], queued at the back of the FIFO of each
//! of its keys, and the caller gets [`Outcome::Blocked`](crate::Outcome) and a [`Blocked`]
//! ticket from [`Session::take_blocked`]. The network layer awaits the ticket without holding
//! its thread; [`Store::execute`] parks the calling thread on it.
//!
//! # How a waiter is served
//!
//! After every WRITE command, if any client is blocked (one relaxed load), the keys the command
//! wrote (its spec's key positions) are looked up in the registry. For each key with waiters,
//! waiters are taken oldest first and served from that key, as Redis 7.0 serves them:
//! - A key that is gone (or empty) ends the key's turn: nobody behind can be served from it.
//! - A key of another type than the waiter pops (a list for BLPOP, a sorted set for BZPOPMIN)
//!   leaves that waiter blocked, and the next one is tried.
//! - Otherwise the waiter's own command runs again, in a session that may not block, with its
//!   keys narrowed to the ready one (`BLPOP k1 k2 0` runs as `BLPOP k2 0`, so a string at `k1`
//!   does not stop it). Its reply, an error included (BLMOVE's destination of the wrong type),
//!   goes to the ticket; the waiter leaves every queue and is woken, and the keys the command
//!   wrote (BLMOVE's destination) join the work list, so chains are served without recursion.
//!
//! # Races
//!
//! All serving runs under the registry's lock, and so do registration, timeouts, CLIENT UNBLOCK
//! and disconnections: a waiter is served at most once, and a timeout either unregisters it or
//! finds its reply (never losing a popped element). The lock is taken with no shard locked and
//! shards are locked under it (never the other way round): no deadlock.
//!
//! A write that lands between a handler's "nothing here" and its registration would find no
//! waiter; so registration ends by serving the new waiter's keys itself. Registration raises the
//! blocked count before that re-check locks any shard, and a writer reads the count after
//! unlocking its shard: whichever comes second sees the other.

use std::collections::VecDeque;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use karst_resp::{Args, Output, Protocol};

use crate::command::{CommandSpec, Handler};
use crate::entry::ValueType;
use crate::error::Error;
use crate::session::Session;
use crate::store::{Outcome, Store};
use crate::sync::{AtomicUsize, Mutex, MutexGuard, Ordering};

/// What a blocking command replies at once when it may not block (an empty key inside
/// MULTI, say). Once blocked, every one of them replies a null array when its timeout passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NoWait {
    /// `*-1` (RESP3 `_`): BLPOP, BRPOP, BLMPOP, BZPOPMIN, BZPOPMAX, BZMPOP.
    NullArray,
    /// `$-1` (RESP3 `_`): BLMOVE, BRPOPLPUSH.
    NullBulk,
}

impl NoWait {
    fn write(self, out: &mut Output) {
        match self {
            NoWait::NullArray => out.null_array(),
            NoWait::NullBulk => out.null(),
        }
    }
}

/// Parses a blocking command's timeout in seconds into milliseconds; 0 waits forever.
///
/// As Redis 7.0: the text is read as `strtold` reads it (decimal or hexadecimal, `inf`, no
/// leading space, nothing after the number), then `ceil(seconds × 1000)` is converted to a
/// 64-bit integer. A value past that range converts to a negative number in Redis (so `1e20`
/// and `inf` reply "timeout is negative"), and `-0.001` rounds (in long double) to a product just
/// above -1, so it waits forever where `-0.002` is refused.
pub(crate) fn parse_timeout(raw: &[u8]) -> Result<u64, Error> {
    let secs = parse_float(raw).ok_or_else(timeout_not_float)?;
    let ms = (secs * 1000.0).ceil();
    // -0.0 compares equal to 0.0; NaN was refused by the parser.
    if (0.0..9_223_372_036_854_775_807.0).contains(&ms) {
        Ok(ms as u64)
    } else if secs == -0.001 {
        Ok(0)
    } else {
        Err(Error::Other("ERR timeout is negative".into()))
    }
}

fn timeout_not_float() -> Error {
    Error::Other("ERR timeout is not a float or out of range".into())
}

/// `strtold` on the whole of `raw`, as Redis's `string2ld` accepts it: no leading space, no
/// trailing text, no NaN, no overflow past the long double range. The long double is read
/// exactly, then rounded to an f64, precise enough for milliseconds.
fn parse_float(raw: &[u8]) -> Option<f64> {
    let exact = crate::ldouble::Ext::parse(raw)?;
    let v = exact.to_f64();
    // 1e-400 is not zero as a long double: the least positive f64 rounds up as well.
    if v == 0.0 && exact != crate::ldouble::Ext::default() && v.is_sign_positive() {
        return Some(f64::MIN_POSITIVE);
    }
    Some(v)
}

/// Blocks the session on `keys` (none of which can serve it now) for `timeout_ms` (0: forever).
/// The handler writes nothing else: the reply comes when a key is served or the time passes.
///
/// When the command is re-run to serve a waiter, this only tells the server "not yet"; in a
/// session that does not wait on tickets ([`Session::set_may_block`]), `no_wait`'s reply is
/// written at once.
pub(crate) fn block(
    _store: &Store,
    s: &mut Session,
    out: &mut Output,
    keys: &[&[u8]],
    timeout_ms: u64,
    no_wait: NoWait,
) {
    match s.block.mode {
        Mode::Wait => {
            let mut own: Vec<Bytes> = Vec::with_capacity(keys.len());
            for k in keys {
                // A key named twice is waited on once.
                if !own.iter().any(|o| o[..] == **k) {
                    own.push(Bytes::copy_from_slice(k));
                }
            }
            s.block.pending = Some(Box::new(Pending { keys: own, timeout_ms }));
        }
        Mode::Serving => {}
        Mode::Default | Mode::Never => no_wait.write(out),
    }
}

// --- the session's side ---------------------------------------------------------------------

/// How `block` behaves in a session.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Not chosen: `dispatch` replies the [`NoWait`] reply at once (a caller that knows nothing of
    /// tickets still gets a reply), `execute_in` waits.
    #[default]
    Default,
    /// Register and wait (a client's own command).
    Wait,
    /// Re-run to serve a waiter: write nothing, the waiter stays.
    Serving,
    /// Reply the [`NoWait`] reply at once (MULTI, scripts, or an application's choice), even in
    /// `execute_in`.
    Never,
}

/// What `block` noted for `dispatch`.
#[derive(Debug)]
pub(crate) struct Pending {
    keys: Vec<Bytes>,
    timeout_ms: u64,
}

/// The blocking part of a [`Session`].
#[derive(Debug, Default)]
pub(crate) struct SessionBlock {
    pub(crate) mode: Mode,
    pub(crate) pending: Option<Box<Pending>>,
    pub(crate) ticket: Option<Blocked>,
}

impl Clone for SessionBlock {
    /// A copy of a session is not blocked: the ticket stays with the original.
    fn clone(&self) -> SessionBlock {
        SessionBlock { mode: self.mode, pending: None, ticket: None }
    }
}

// --- the registry -----------------------------------------------------------------------------

/// One blocked client: its command, to run again, and the slot its reply goes to.
#[derive(Debug)]
pub(crate) struct Waiter {
    db: usize,
    no_touch: bool,
    no_evict: bool,
    spec: &'static CommandSpec,
    /// The command's arguments, slices of one buffer.
    args: Vec<Bytes>,
    keys: Vec<Bytes>,
    protocol: Protocol,
    /// Store clock, in ms; None: forever.
    deadline: Option<i64>,
    slot: Mutex<Slot>,
}

#[derive(Debug, Default)]
struct Slot {
    /// In the queues of its keys (changed only under the registry lock).
    queued: bool,
    reply: Option<Bytes>,
    waker: Option<Waker>,
}

impl Waiter {
    /// Hands the reply over and wakes the waiting side.
    fn deliver(&self, reply: Bytes) {
        let waker = {
            let mut slot = self.slot.lock();
            slot.queued = false;
            slot.reply = Some(reply);
            slot.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// `*-1` (RESP3 `_`), for every blocking command: Redis 7.0 replies a null array to any
    /// client whose wait ends with its timeout, BLMOVE's too (whose immediate reply, when it may
    /// not block, is a null bulk).
    fn timeout_reply(&self) -> Bytes {
        let mut out = Output::new(self.protocol);
        out.null_array();
        out.take()
    }

    /// Its arguments with the keys it waits on narrowed to `key`, the one that is ready:
    /// `BLPOP k1 k2 0` becomes `BLPOP k2 0`, `BLMPOP 0 2 k1 k2 LEFT` becomes `BLMPOP 0 1 k2 LEFT`.
    /// A command waiting on one key (BLMOVE, whose destination is a key too) is left whole.
    fn narrowed(&self, key: &[u8]) -> Vec<Bytes> {
        if self.keys.len() < 2 {
            return self.args.clone();
        }
        let arg = |i: usize| self.args.get(i).map(|a| &a[..]);
        let positions = self.spec.key_positions(self.args.len(), arg).unwrap_or_default();
        let numkeys = self.spec.numkeys_at();
        let mut kept = false;
        let mut args = Vec::with_capacity(self.args.len());
        for (i, a) in self.args.iter().enumerate() {
            if Some(i) == numkeys {
                args.push(Bytes::from_static(b"1"));
            } else if !positions.contains(&i) {
                args.push(a.clone());
            } else if !kept && a[..] == *key {
                kept = true;
                args.push(a.clone());
            }
        }
        args
    }
}

/// The clients blocked on keys, per database and key, oldest first.
#[derive(Debug)]
pub(crate) struct Registry {
    /// Number of blocked clients: writers look at this alone when nobody waits.
    count: AtomicUsize,
    queues: Mutex<Queues>,
}

type Queue = VecDeque<Arc<Waiter>>;

#[derive(Debug, Default)]
pub(crate) struct Queues {
    dbs: Vec<hashbrown::HashMap<Bytes, Queue, foldhash::fast::FixedState>>,
}

impl Queues {
    fn queue(&self, db: usize, key: &[u8]) -> Option<&Queue> {
        self.dbs.get(db)?.get(key)
    }

    fn has(&self, db: usize, key: &[u8]) -> bool {
        self.queue(db, key).is_some()
    }

    fn push(&mut self, w: &Arc<Waiter>) {
        if self.dbs.len() <= w.db {
            self.dbs.resize_with(w.db + 1, Default::default);
        }
        if let Some(map) = self.dbs.get_mut(w.db) {
            for k in &w.keys {
                map.entry(k.clone()).or_default().push_back(w.clone());
            }
        }
    }

    /// Takes `w` out of every queue it is in.
    fn remove(&mut self, w: &Arc<Waiter>) {
        let Some(map) = self.dbs.get_mut(w.db) else {
            return;
        };
        for k in &w.keys {
            if let Some(q) = map.get_mut(&k[..]) {
                q.retain(|x| !Arc::ptr_eq(x, w));
                if q.is_empty() {
                    map.remove(&k[..]);
                }
            }
        }
    }
}

impl Default for Registry {
    fn default() -> Registry {
        Registry { count: AtomicUsize::new(0), queues: Mutex::new(Queues::default()) }
    }
}

impl Registry {
    /// Number of blocked clients.
    pub(crate) fn count(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    fn lock(&self) -> MutexGuard<'_, Queues> {
        self.queues.lock()
    }

    /// Queues `w` (under the lock) and counts it.
    fn enqueue(&self, q: &mut Queues, w: &Arc<Waiter>) {
        q.push(w);
        w.slot.lock().queued = true;
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Takes `w` out if it still waits: true if it did (its reply is then the caller's to give).
    fn dequeue(&self, q: &mut Queues, w: &Arc<Waiter>) -> bool {
        let mut slot = w.slot.lock();
        if !slot.queued {
            return false;
        }
        slot.queued = false;
        drop(slot);
        q.remove(w);
        self.count.fetch_sub(1, Ordering::Relaxed);
        true
    }

    /// The timeout side: takes `w` out and returns None, or returns the reply it was served
    /// (None too if CLIENT UNBLOCK's reply was already taken). Atomic with serving.
    fn cancel(&self, w: &Arc<Waiter>) -> Result<(), Option<Bytes>> {
        let mut q = self.lock();
        if self.dequeue(&mut q, w) {
            return Ok(());
        }
        drop(q);
        Err(w.slot.lock().reply.take())
    }

    /// Serves the waiters of the keys in `work`, oldest first, with `run` (a waiter's command
    /// re-run in a session that may not block), following the keys each served command wrote.
    fn serve(
        &self,
        q: &mut Queues,
        work: &mut VecDeque<(usize, Bytes)>,
        mut run: impl FnMut(&Waiter, &[u8]) -> Ran,
    ) {
        while let Some((db, key)) = work.pop_front() {
            let mut skip = 0;
            while let Some(w) = q.queue(db, &key).and_then(|q| q.get(skip)).cloned() {
                match run(&w, &key) {
                    Ran::Blocked => break,
                    Ran::Skipped => skip += 1,
                    Ran::Served(reply) => {
                        self.dequeue(q, &w);
                        w.deliver(reply);
                        for k in written_keys(w.spec, &Args::from_slice(&w.args)) {
                            if k != &key[..] && q.has(w.db, k) {
                                work.push_back((w.db, Bytes::copy_from_slice(k)));
                            }
                        }
                    }
                }
            }
        }
    }
}

/// What serving a waiter from a key gave.
#[derive(Debug)]
enum Ran {
    /// Its reply, in its protocol (an error too).
    Served(Bytes),
    /// Nothing to pop: the key is gone, nobody behind can be served from it either.
    Blocked,
    /// The key holds another type than the waiter pops: it stays blocked, the next is tried.
    Skipped,
}

/// The type a blocking command pops from, and the only type of key it is served from: a sorted
/// set for BZPOPMIN, BZPOPMAX and BZMPOP, a list for the others.
fn pops(spec: &CommandSpec) -> ValueType {
    if spec.acl.contains(&"sortedset") { ValueType::ZSet } else { ValueType::List }
}

/// The type of the value at `key` in `db`, if the key exists.
fn type_at(store: &Store, db: usize, key: &[u8]) -> Option<ValueType> {
    let h = store.hash(key);
    let mut g = store.lock(h);
    g.find(db, h, key, store.now()).map(|f| f.entry.value_type())
}

/// Serves `w` from `key`: re-runs its command, narrowed to that key, in a session that may not
/// block.
fn rerun(store: &Store, w: &Waiter, key: &[u8]) -> Ran {
    let wants = pops(w.spec);
    match type_at(store, w.db, key) {
        None => return Ran::Blocked,
        Some(t) if t != wants => return Ran::Skipped,
        Some(_) => {}
    }
    let Handler::Store(run) = w.spec.handler else {
        return Ran::Skipped;
    };
    let mut s = Session::new();
    s.db = w.db;
    s.no_touch = w.no_touch;
    s.no_evict = w.no_evict;
    s.block.mode = Mode::Serving;
    let mut out = Output::new(w.protocol);
    run(store, &mut s, Args::from_slice(&w.narrowed(key)), &mut out);
    let reply = out.take();
    match reply.first() {
        None => Ran::Blocked,
        // Another thread changed the key's type after the look above: not this waiter's error.
        Some(b'-') if type_at(store, w.db, key) != Some(wants) => Ran::Skipped,
        Some(_) => Ran::Served(reply),
    }
}

/// The keys a command writes, from its spec's key positions.
fn written_keys<'a>(spec: &CommandSpec, args: &Args<'a>) -> impl Iterator<Item = &'a [u8]> {
    let n = args.len() as i64;
    let first = i64::from(spec.first_key);
    let last = match spec.last_key {
        l if l < 0 => n + i64::from(l),
        l => i64::from(l),
    };
    let step = i64::from(spec.step).max(1);
    let (first, last) = if first > 0 { (first, last.min(n - 1)) } else { (1, 0) };
    let args = *args;
    (first..=last).step_by(step as usize).filter_map(move |i| args.get(i as usize))
}

/// After a WRITE command in `db`: serves the clients blocked on the keys it wrote.
pub(crate) fn after_write(store: &Store, db: usize, spec: &CommandSpec, args: Args<'_>) {
    let reg = &store.inner.blocking;
    let mut q = reg.lock();
    let mut work = VecDeque::new();
    for k in written_keys(spec, &args) {
        if q.has(db, k) {
            work.push_back((db, Bytes::copy_from_slice(k)));
        }
    }
    // Keys that arrive in another database (MOVE, COPY … DB, SWAPDB).
    let extra = |i: usize| args.get(i).and_then(karst_resp::num::parse_i64);
    match spec.name {
        "move" => {
            if let (Some(k), Some(to)) = (args.get(1), extra(2)) {
                let to = to as usize;
                if q.has(to, k) {
                    work.push_back((to, Bytes::copy_from_slice(k)));
                }
            }
        }
        "copy" => {
            let mut i = 3;
            while let Some(a) = args.get(i) {
                if a.eq_ignore_ascii_case(b"db")
                    && let (Some(k), Some(to)) = (args.get(2), extra(i + 1))
                    && q.has(to as usize, k)
                {
                    work.push_back((to as usize, Bytes::copy_from_slice(k)));
                }
                i += 1;
            }
        }
        "swapdb" => {
            for db in [extra(1), extra(2)].into_iter().flatten() {
                if let Some(map) = q.dbs.get(db as usize) {
                    work.extend(map.keys().map(|k| (db as usize, k.clone())));
                }
            }
        }
        _ => {}
    }
    if !work.is_empty() {
        reg.serve(&mut q, &mut work, |w, key| rerun(store, w, key));
    }
}

/// `dispatch` found a note from `block`: queues the waiter, serves its keys once (a write may
/// have come between the handler's look and now) and either writes its reply at once or leaves
/// the ticket in the session.
pub(crate) fn register(
    store: &Store,
    session: &mut Session,
    spec: &'static CommandSpec,
    args: Args<'_>,
    out: &mut Output,
) -> Outcome {
    let Some(pending) = session.block.pending.take() else {
        return Outcome::Done;
    };
    let mut buf = BytesMut::with_capacity(args.iter().map(<[u8]>::len).sum());
    for a in args.iter() {
        buf.extend_from_slice(a);
    }
    let all = buf.freeze();
    let mut at = 0;
    let owned: Vec<Bytes> = args
        .iter()
        .map(|a| {
            at += a.len();
            all.slice(at - a.len()..at)
        })
        .collect();
    let deadline = (pending.timeout_ms > 0)
        .then(|| store.now().saturating_add(i64::try_from(pending.timeout_ms).unwrap_or(i64::MAX)));
    let w = Arc::new(Waiter {
        db: session.db,
        no_touch: session.no_touch,
        no_evict: session.no_evict,
        spec,
        args: owned,
        keys: pending.keys,
        protocol: out.protocol(),
        deadline,
        slot: Mutex::new(Slot::default()),
    });
    let reg = &store.inner.blocking;
    {
        let mut q = reg.lock();
        reg.enqueue(&mut q, &w);
        let mut work: VecDeque<(usize, Bytes)> = w.keys.iter().map(|k| (w.db, k.clone())).collect();
        reg.serve(&mut q, &mut work, |x, key| rerun(store, x, key));
    }
    let ticket = Blocked { store: store.clone(), w };
    if let Some(reply) = ticket.try_reply() {
        out.raw().extend_from_slice(&reply);
        return Outcome::Done;
    }
    session.block.ticket = Some(ticket);
    Outcome::Blocked
}

// --- the waiting side -------------------------------------------------------------------------

/// A blocked command's ticket: its reply arrives here when a write serves it. Dropping the
/// ticket unblocks the client (a closed connection), losing nothing that was not served.
///
/// ```
/// use karst_store::{Outcome, Session, Store};
/// use karst_resp::{Args, Output, Protocol};
/// use bytes::Bytes;
///
/// let store = Store::new();
/// let mut session = Session::new();
/// session.set_may_block(true);
/// let mut out = Output::new(Protocol::Resp2);
/// let args: Vec<Bytes> = ["BZPOPMIN", "jobs", "0"].into_iter().map(Bytes::from).collect();
/// let outcome = store.dispatch(&mut session, Args::from_slice(&args), &mut out);
/// assert!(matches!(outcome, Outcome::Blocked));
/// let ticket = session.take_blocked().unwrap();
/// store.execute(["ZADD", "jobs", "1", "j1"]);
/// assert_eq!(ticket.try_reply().unwrap(), &b"*3\r\n$4\r\njobs\r\n$2\r\nj1\r\n$1\r\n1\r\n"[..]);
/// ```
#[derive(Debug)]
pub struct Blocked {
    store: Store,
    w: Arc<Waiter>,
}

impl Blocked {
    /// The reply, if the command was served (taken: a second call gives None).
    pub fn try_reply(&self) -> Option<Bytes> {
        self.w.slot.lock().reply.take()
    }

    /// The reply if served, else registers `cx`'s waker to be woken when it is.
    pub fn poll_reply(&self, cx: &mut Context<'_>) -> Poll<Bytes> {
        let mut slot = self.w.slot.lock();
        if let Some(r) = slot.reply.take() {
            return Poll::Ready(r);
        }
        if !slot.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            slot.waker = Some(cx.waker().clone());
        }
        Poll::Pending
    }

    /// Resolves to the reply when the command is served (use with [`Blocked::remaining`]).
    pub fn reply(&self) -> impl std::future::Future<Output = Bytes> + '_ {
        std::future::poll_fn(move |cx| self.poll_reply(cx))
    }

    /// Time left before the timeout, by the store's clock: None waits forever.
    pub fn remaining(&self) -> Option<Duration> {
        let deadline = self.w.deadline?;
        let left = deadline.saturating_sub(self.store.now()).max(0);
        Some(Duration::from_millis(left as u64))
    }

    /// The timeout passed: unregisters and gives the timeout reply (null), or the real reply if
    /// the command was served meanwhile.
    pub fn time_out(&self) -> Bytes {
        match self.store.inner.blocking.cancel(&self.w) {
            // Served (or unblocked by CLIENT UNBLOCK) before the timeout won: its reply is here.
            Err(Some(reply)) => reply,
            Ok(()) | Err(None) => self.w.timeout_reply(),
        }
    }

    /// Blocks the calling thread until the command is served or times out, and gives its reply.
    pub fn wait(&self) -> Bytes {
        let waker = Waker::from(Arc::new(ThreadWake(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        loop {
            if let Poll::Ready(r) = self.poll_reply(&mut cx) {
                return r;
            }
            match self.remaining() {
                None => std::thread::park(),
                Some(d) if d.is_zero() => return self.time_out(),
                Some(d) => std::thread::park_timeout(d),
            }
        }
    }

    /// A handle that can unblock this client from elsewhere (CLIENT UNBLOCK).
    pub fn unblocker(&self) -> Unblocker {
        Unblocker { store: self.store.clone(), w: self.w.clone() }
    }
}

impl Drop for Blocked {
    fn drop(&mut self) {
        let reg = &self.store.inner.blocking;
        let mut q = reg.lock();
        reg.dequeue(&mut q, &self.w);
    }
}

struct ThreadWake(std::thread::Thread);

impl std::task::Wake for ThreadWake {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Unblocks a blocked client from another one (CLIENT UNBLOCK); see [`Blocked::unblocker`].
#[derive(Debug, Clone)]
pub struct Unblocker {
    store: Store,
    w: Arc<Waiter>,
}

impl Unblocker {
    /// Ends the wait now, with the timeout reply or (`error`) `-UNBLOCKED client unblocked via
    /// CLIENT UNBLOCK`. False if the client was not waiting any more.
    pub fn unblock(&self, error: bool) -> bool {
        let reg = &self.store.inner.blocking;
        let mut q = reg.lock();
        if !reg.dequeue(&mut q, &self.w) {
            return false;
        }
        let reply = if error {
            Bytes::from_static(b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n")
        } else {
            self.w.timeout_reply()
        };
        self.w.deliver(reply);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_parse_as_redis_7_0() {
        let ok = |s: &str| parse_timeout(s.as_bytes()).ok();
        let text = |s: &str| parse_timeout(s.as_bytes()).err().map(|e| e.text().into_owned());
        assert_eq!(ok("0"), Some(0));
        assert_eq!(ok("1"), Some(1000));
        assert_eq!(ok("0.001"), Some(1));
        assert_eq!(ok("0.0009"), Some(1));
        assert_eq!(ok("1e-10"), Some(1));
        assert_eq!(ok("1.5"), Some(1500));
        assert_eq!(ok(".5"), Some(500));
        assert_eq!(ok("5."), Some(5000));
        assert_eq!(ok("+1"), Some(1000));
        assert_eq!(ok("-0"), Some(0));
        assert_eq!(ok("-0.0009"), Some(0));
        assert_eq!(ok("-0.001"), Some(0));
        assert_eq!(ok("0x10"), Some(16_000));
        assert_eq!(ok("0X1p-1"), Some(500));
        assert_eq!(ok("1e-400"), Some(1));
        assert_eq!(ok("-1e-400"), Some(0));
        assert_eq!(ok("9000000000000000"), Some(9_000_000_000_000_000_000));
        let not_float = Some("ERR timeout is not a float or out of range".to_string());
        let negative = Some("ERR timeout is negative".to_string());
        for bad in ["abc", " 1", "1 ", "", "nan", "-nan", "1e", "0,5", "1e5000", "1e-5000", "0x"] {
            assert_eq!(text(bad), not_float, "{bad:?}");
        }
        for neg in ["-1", "-0.002", "-0.5", "1e20", "inf", "INF", "-inf", "infinity", "1e400"] {
            assert_eq!(text(neg), negative, "{neg:?}");
        }
        assert_eq!(text("9223372036854776"), negative);
    }

    #[test]
    fn written_keys_follow_the_spec() {
        let spec = |first, last, step| CommandSpec {
            first_key: first,
            last_key: last,
            step,
            ..*crate::lookup(b"get").unwrap()
        };
        let raw: Vec<Bytes> = ["x", "a", "b", "c", "d"].into_iter().map(Bytes::from).collect();
        let args = Args::from_slice(&raw);
        let keys = |s: CommandSpec| written_keys(&s, &args).map(|k| k.to_vec()).collect::<Vec<_>>();
        assert_eq!(keys(spec(1, 1, 1)), vec![b"a".to_vec()]);
        assert_eq!(keys(spec(1, -1, 1)).len(), 4);
        assert_eq!(keys(spec(1, -2, 1)).len(), 3);
        assert_eq!(keys(spec(1, -1, 2)), vec![b"a".to_vec(), b"c".to_vec()]);
        assert_eq!(keys(spec(0, 0, 0)).len(), 0);
        assert_eq!(keys(spec(1, 9, 1)).len(), 4);
    }
}

/// loom models (see `crate::loom_tests` for how to run them): the registry's two races.
#[cfg(all(test, karst_loom))]
mod loom_models {
    use super::*;
    use loom::thread;

    fn waiter(key: &'static str) -> Arc<Waiter> {
        let args: Vec<Bytes> =
            [&b"BLPOP"[..], key.as_bytes(), b"0"].into_iter().map(Bytes::copy_from_slice).collect();
        Arc::new(Waiter {
            db: 0,
            no_touch: false,
            no_evict: false,
            spec: crate::lookup(b"blpop").expect("blpop"),
            keys: vec![Bytes::from_static(key.as_bytes())],
            args,
            protocol: Protocol::Resp2,
            deadline: Some(0),
            slot: Mutex::new(Slot::default()),
        })
    }

    /// The command re-run: pops from `list` (the stand-in for the key's shard).
    fn pop(list: &Mutex<Vec<u8>>) -> Ran {
        match list.lock().pop() {
            Some(x) => Ran::Served(Bytes::from(vec![x])),
            None => Ran::Blocked,
        }
    }

    /// A push serving a waiter races the waiter's timeout: the element ends either in the
    /// client's reply or still in the list, never nowhere and never both.
    #[test]
    fn loom_timeout_racing_a_serve_loses_nothing() {
        loom::model(|| {
            let reg = Arc::new(Registry::default());
            let list = Arc::new(Mutex::new(Vec::new()));
            let w = waiter("k");
            {
                let mut q = reg.lock();
                reg.enqueue(&mut q, &w);
            }
            let (reg2, list2) = (reg.clone(), list.clone());
            let writer = thread::spawn(move || {
                list2.lock().push(7);
                if reg2.count() != 0 {
                    let mut q = reg2.lock();
                    let mut work = VecDeque::from([(0, Bytes::from_static(b"k"))]);
                    reg2.serve(&mut q, &mut work, |_, _| pop(&list2));
                }
            });
            let got = match reg.cancel(&w) {
                Ok(()) => None,
                Err(reply) => reply,
            };
            writer.join().expect("writer");
            let left = list.lock().len();
            match got {
                Some(r) => assert!(r[..] == [7] && left == 0),
                None => assert_eq!(left, 1, "the element went nowhere"),
            }
            assert_eq!(reg.count(), 0);
        });
    }

    /// A push lands between a blocking command's "nothing here" and its registration: the
    /// registration's own re-check or the writer's serve finds it; never a waiter left blocked
    /// beside an element.
    #[test]
    fn loom_no_lost_wakeup_between_look_and_register() {
        loom::model(|| {
            let reg = Arc::new(Registry::default());
            let list = Arc::new(Mutex::new(Vec::new()));
            let (reg2, list2) = (reg.clone(), list.clone());
            let writer = thread::spawn(move || {
                list2.lock().push(7);
                if reg2.count() != 0 {
                    let mut q = reg2.lock();
                    if q.has(0, b"k") {
                        let mut work = VecDeque::from([(0, Bytes::from_static(b"k"))]);
                        reg2.serve(&mut q, &mut work, |_, _| pop(&list2));
                    }
                }
            });
            let w = waiter("k");
            let served_now = match pop(&list) {
                Ran::Served(_) => true,
                _ => {
                    let mut q = reg.lock();
                    reg.enqueue(&mut q, &w);
                    let mut work = VecDeque::from([(0, Bytes::from_static(b"k"))]);
                    reg.serve(&mut q, &mut work, |_, _| pop(&list));
                    false
                }
            };
            writer.join().expect("writer");
            let waiting = w.slot.lock().queued;
            let left = list.lock().len();
            assert!(!(waiting && left > 0), "a client waits beside an element");
            assert!(served_now || waiting || w.slot.lock().reply.is_some());
        });
    }
}
