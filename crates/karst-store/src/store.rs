//! The store handle: shards, settings, the dispatcher and the statistics.

use crossbeam_utils::CachePadded;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use bytes::Bytes;
use karst_resp::{Args, Frame, Output, Protocol, ReplyParser};

use crate::clock::{Clock, SystemClock};
use crate::command::{CommandSpec, Flags, Handler, lookup};
use crate::error::Error;
use crate::hold::OnDrop;
use crate::policy::Policy;
use crate::session::Session;
use crate::shard::{Ctx, KeyHash, Shard};
use crate::sync::{AtomicI64, AtomicU8, AtomicU64, AtomicUsize, Mutex, MutexGuard, Ordering};
use crate::types::{EncodingLimits, Prefetch};

/// What [`Store::dispatch`] did with a command.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum Outcome {
    /// The reply is in the output.
    Done,
    /// A connection or server command: the caller runs it (its name and arity are checked).
    Connection(&'static CommandSpec),
    /// A blocking command waits (nothing was written): its ticket is in the session
    /// ([`Session::take_blocked`]); the caller runs nothing else of this client until it answers.
    Blocked,
    /// Refused before it ran, with the error in the output: an unknown command, a wrong number
    /// of arguments, or a write over `maxmemory`. Redis counts these as a command's
    /// `rejected_calls` (INFO commandstats), not as calls, and not in
    /// `total_commands_processed`.
    Rejected,
}

/// Settings of a new store; see [`Store::builder`].
#[derive(Debug, Clone)]
pub struct Builder {
    shards: usize,
    databases: usize,
    maxmemory: u64,
    policy: Policy,
    samples: usize,
    clock: Arc<dyn Clock>,
    seed: Option<u64>,
}

impl Default for Builder {
    fn default() -> Builder {
        Builder {
            shards: 1024,
            databases: 16,
            maxmemory: 0,
            policy: Policy::NoEviction,
            samples: 5,
            clock: Arc::new(SystemClock),
            seed: None,
        }
    }
}

impl Builder {
    /// Number of shards, rounded up to a power of two (default 1024).
    pub fn shards(mut self, n: usize) -> Builder {
        self.shards = n.clamp(1, 1 << 20).next_power_of_two();
        self
    }

    /// Number of databases for SELECT (default 16).
    pub fn databases(mut self, n: usize) -> Builder {
        self.databases = n.clamp(1, 256);
        self
    }

    /// Memory limit in bytes; 0 (the default) means none.
    pub fn maxmemory(mut self, bytes: u64) -> Builder {
        self.maxmemory = bytes;
        self
    }

    /// What to do over the limit (default noeviction).
    pub fn policy(mut self, policy: Policy) -> Builder {
        self.policy = policy;
        self
    }

    /// Keys sampled per eviction by the approximated policies (default 5, as Redis).
    pub fn maxmemory_samples(mut self, n: usize) -> Builder {
        self.samples = n.max(1);
        self
    }

    /// The time source (default: the system clock; tests use [`crate::MockClock`]).
    pub fn clock(mut self, clock: impl Clock + 'static) -> Builder {
        self.clock = Arc::new(clock);
        self
    }

    /// Seed of the key hash (default: random). Same seed, same SCAN order.
    pub fn hash_seed(mut self, seed: u64) -> Builder {
        self.seed = Some(seed);
        self
    }

    /// The store.
    pub fn build(self) -> Store {
        let seed = self.seed.unwrap_or_else(rand::random);
        let hasher = foldhash::fast::FixedState::with_seed(seed);
        let shards: Box<[ShardSlot]> = (0..self.shards)
            .map(|i| {
                ShardSlot::new(Mutex::new(Shard::new(
                    self.databases,
                    seed ^ (i as u64).wrapping_mul(0x9E37),
                    hasher,
                )))
            })
            .collect();
        let fixed = self.shards
            * (std::mem::size_of::<ShardSlot>()
                + std::mem::size_of::<crate::shard::Db>() * (self.databases - 1));
        let now = self.clock.now_ms();
        Store {
            db: 0,
            inner: Arc::new(Inner {
                mask: (self.shards - 1) as u64,
                shards,
                hasher,
                databases: self.databases,
                clock: self.clock,
                used: CachePadded::new(AtomicI64::new(0)),
                fixed,
                maxmemory: AtomicU64::new(self.maxmemory),
                policy: AtomicU8::new(self.policy.to_u8()),
                samples: AtomicUsize::new(self.samples),
                expire_cursor: AtomicUsize::new(0),
                evict_cursor: CachePadded::new(AtomicUsize::new(0)),
                lastsave: AtomicI64::new(now / 1000),
                limits: EncodingLimits::default().to_array().map(AtomicI64::new),
                blocking: crate::blocking::Registry::default(),
            }),
        }
    }
}

/// A shard on its own pair of cache lines (the layout is explained at [`Shard`]).
type ShardSlot = CachePadded<Mutex<Shard>>;

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) shards: Box<[ShardSlot]>,
    mask: u64,
    hasher: foldhash::fast::FixedState,
    pub(crate) databases: usize,
    clock: Arc<dyn Clock>,
    /// Sum of the bytes of every shard (each guard adds its shard's change when released). On a
    /// cache line of its own: writes change it from every thread, and the fields around it are
    /// read by every command.
    used: CachePadded<AtomicI64>,
    /// What the shards cost empty.
    fixed: usize,
    maxmemory: AtomicU64,
    policy: AtomicU8,
    samples: AtomicUsize,
    expire_cursor: AtomicUsize,
    /// Moved by every eviction from every thread: its own cache line too.
    evict_cursor: CachePadded<AtomicUsize>,
    pub(crate) lastsave: AtomicI64,
    /// [`EncodingLimits`], field by field (read once per collection command).
    limits: [AtomicI64; 8],
    /// The clients blocked on keys (BLPOP…).
    pub(crate) blocking: crate::blocking::Registry,
}

/// The engine: cheap to clone, usable from any thread.
///
/// A `Store` is also a handle on one database: the typed calls ([`Store::get`], …) and
/// [`Store::execute`] work in database 0, or in the one [`Store::select`] names.
///
/// See the [crate docs](crate) for an example.
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) inner: Arc<Inner>,
    /// The database of the typed calls and of `execute`.
    pub(crate) db: usize,
}

// `Store` is shared across threads by design.
const _: fn() = || {
    fn assert<T: Send + Sync + Clone + 'static>() {}
    assert::<Store>();
};

impl Default for Store {
    fn default() -> Store {
        Store::builder().build()
    }
}

/// A locked shard; gives its change of size to the store's total when dropped. Under an open
/// [`Hold`], dropping it may keep the shard locked for the next command instead (see
/// [`crate::hold`]).
#[derive(Debug)]
pub(crate) struct ShardGuard<'a> {
    /// Dropped by hand: forgotten while the shard is kept.
    guard: ManuallyDrop<MutexGuard<'a, Shard>>,
    used: &'a AtomicI64,
    start: usize,
    pub(crate) index: usize,
}

impl ShardGuard<'_> {
    /// The identity of the guard's store, as [`Store::id`] gives it.
    fn store_id(&self) -> usize {
        std::ptr::from_ref(self.used) as usize
    }
}

impl Deref for ShardGuard<'_> {
    type Target = Shard;
    fn deref(&self) -> &Shard {
        &self.guard
    }
}

impl DerefMut for ShardGuard<'_> {
    fn deref_mut(&mut self) -> &mut Shard {
        &mut self.guard
    }
}

/// Whether the command named `name` looks up its third argument as a hash field or set member:
/// the commands [`Store::prefetch`] can load ahead for. Cheap on the commands it does not know:
/// most are told apart by length and first letter. A connection that caches its last command's
/// lookup can cache this answer with it, and not ask [`Store::prefetch`] about a pipeline of
/// other commands at all.
pub fn prefetches(name: &[u8]) -> bool {
    const KNOWN: [&[u8]; 12] = [
        b"HSET",
        b"HSETNX",
        b"HGET",
        b"HMGET",
        b"HEXISTS",
        b"HDEL",
        b"HINCRBY",
        b"HINCRBYFLOAT",
        b"HSTRLEN",
        b"SADD",
        b"SREM",
        b"SISMEMBER",
    ];
    match name.first() {
        Some(b'h' | b'H' | b's' | b'S') if name.len() >= 4 => {
            KNOWN.iter().any(|k| k.eq_ignore_ascii_case(name))
        }
        _ => false,
    }
}

impl Drop for ShardGuard<'_> {
    #[inline]
    #[allow(unsafe_code, reason = "a kept shard's guard is forgotten; see `crate::hold`")]
    fn drop(&mut self) {
        let now = self.guard.bytes();
        match crate::hold::on_drop(self.store_id(), self.index, self.start, now) {
            OnDrop::Keep { publish } => {
                // The lock stays locked, its guard forgotten: `hold` recorded that this thread
                // holds it, and `Store::lock_index` or `Store::give_back` will take it from there.
                if let Some(start) = publish {
                    publish_change(self.used, start, now);
                }
            }
            OnDrop::Unlock { start, fair } => {
                publish_change(self.used, start, now);
                // SAFETY: the guard is taken once, here, and `self` is not used afterwards.
                let guard = unsafe { ManuallyDrop::take(&mut self.guard) };
                unlock(guard, fair);
            }
        }
    }
}

/// Adds a shard's change of size from `start` to `now` bytes to the store's total.
#[inline]
fn publish_change(used: &AtomicI64, start: usize, now: usize) {
    if now != start {
        used.fetch_add(now as i64 - start as i64, Ordering::Relaxed);
    }
}

#[inline]
fn unlock(guard: MutexGuard<'_, Shard>, fair: bool) {
    #[cfg(not(karst_loom))]
    if fair {
        MutexGuard::unlock_fair(guard);
        return;
    }
    let _ = fair;
    drop(guard);
}

/// Keeps the shard of a pipeline's consecutive single-key commands locked between them (see
/// [`Store::hold`]). Gives the shard back when dropped.
#[derive(Debug)]
#[must_use = "the hold ends when dropped"]
pub struct Hold<'a> {
    store: Option<&'a Store>,
    /// Bound to its thread: its record is thread-local, and it must not live across an await.
    _thread: PhantomData<*const ()>,
}

impl Drop for Hold<'_> {
    fn drop(&mut self) {
        if let Some(store) = self.store {
            store.give_back();
            crate::hold::close(store.id());
        }
    }
}

/// Several shards locked in ascending order.
#[derive(Debug)]
pub(crate) struct Many<'a> {
    guards: Vec<ShardGuard<'a>>,
}

impl<'a> Many<'a> {
    /// The locked shard `index` (it must be one of those asked for).
    pub(crate) fn shard(&mut self, index: usize) -> Option<&mut ShardGuard<'a>> {
        let at = self.guards.binary_search_by_key(&index, |g| g.index).ok()?;
        self.guards.get_mut(at)
    }
}

impl Store {
    /// A store with default settings (1024 shards, 16 databases, no memory limit).
    pub fn new() -> Store {
        Store::default()
    }

    /// Settings for a new store.
    pub fn builder() -> Builder {
        Builder::default()
    }

    // --- keys and shards ---------------------------------------------------------------------

    #[inline]
    pub(crate) fn hash(&self, key: &[u8]) -> KeyHash {
        KeyHash(crate::shard::key_hash(&self.inner.hasher, key))
    }

    #[inline]
    pub(crate) fn shard_of(&self, h: KeyHash) -> usize {
        ((h.0 >> 32) & self.inner.mask) as usize
    }

    /// Number of shards.
    pub fn shard_count(&self) -> usize {
        self.inner.shards.len()
    }

    /// Number of databases.
    pub fn databases(&self) -> usize {
        self.inner.databases
    }

    /// This store's identity in the thread-local record of [`crate::hold`].
    #[inline]
    fn id(&self) -> usize {
        std::ptr::from_ref::<AtomicI64>(&self.inner.used) as usize
    }

    #[inline]
    #[allow(unsafe_code, reason = "a kept shard is used without locking; see `crate::hold`")]
    pub(crate) fn lock_index(&self, index: usize) -> ShardGuard<'_> {
        let i = index & self.inner.mask as usize;
        let used = &*self.inner.used;
        #[cfg(not(karst_loom))]
        match crate::hold::before_lock(self.id(), i) {
            crate::hold::Before::Reuse(start) => {
                // SAFETY: `before_lock` answers `Reuse` only when this thread keeps shard `i`
                // locked with no guard on it (the last one was forgotten in `ShardGuard::drop`),
                // and it has now marked the shard in use: this thread logically holds the lock,
                // and the guard made here is the only one.
                let guard = unsafe { self.inner.shards[i].make_guard_unchecked() };
                return ShardGuard { guard: ManuallyDrop::new(guard), used, start, index: i };
            }
            // Never wait for a lock while keeping another shard: lock order stays as with no
            // hold.
            crate::hold::Before::GiveBack => self.give_back(),
            crate::hold::Before::Lock => {}
        }
        let guard = self.inner.shards[i].lock();
        let start = guard.bytes();
        ShardGuard { guard: ManuallyDrop::new(guard), used, start, index: i }
    }

    /// Unlocks the shard this thread keeps for an open [`Hold`], unless a command is using it.
    #[inline]
    #[allow(unsafe_code, reason = "a kept shard is unlocked without its guard; see `crate::hold`")]
    pub(crate) fn give_back(&self) {
        #[cfg(not(karst_loom))]
        if let Some((i, start)) = crate::hold::take_idle(self.id()) {
            // SAFETY: `take_idle` answers only when this thread keeps shard `i` locked with no
            // guard on it, and it has forgotten it: the lock is this thread's to release, once.
            let guard = unsafe { self.inner.shards[i].make_guard_unchecked() };
            publish_change(&self.inner.used, start, guard.bytes());
            drop(guard);
        }
    }

    /// Gives back the kept shard and keeps no other until the next plain single-key command:
    /// before taking any lock but a shard's, or handing control to the caller.
    fn end_keeping(&self) {
        crate::hold::allow(self.id(), false);
        self.give_back();
    }

    /// Opens a hold on this thread: until it is dropped, consecutive plain single-key commands
    /// that [`Store::dispatch`] runs on one shard lock it once (at most 32 in a row), instead of
    /// once each. For a connection running a pipeline; drop it before waiting for anything
    /// (another thread may need the shard). A hold opened while one is open does nothing.
    pub fn hold(&self) -> Hold<'_> {
        let store = crate::hold::open(self.id()).then_some(self);
        Hold { store, _thread: PhantomData }
    }

    #[inline]
    pub(crate) fn lock(&self, h: KeyHash) -> ShardGuard<'_> {
        self.lock_index(self.shard_of(h))
    }

    /// Locks the given shards in ascending order (duplicates are fine): the one rule that keeps
    /// multi-key commands atomic and free of deadlocks.
    pub(crate) fn lock_many(&self, mut indexes: Vec<usize>) -> Many<'_> {
        indexes.sort_unstable();
        indexes.dedup();
        Many { guards: indexes.into_iter().map(|i| self.lock_index(i)).collect() }
    }

    #[inline]
    pub(crate) fn now(&self) -> i64 {
        crate::hold::now(self.id(), || self.inner.clock.now_ms())
    }

    #[inline]
    pub(crate) fn ctx(&self, session: &Session) -> Ctx {
        self.ctx_in(session.db, !session.no_touch)
    }

    /// A command's context in database `db`, now; `touch`: its reads record an access.
    #[inline]
    pub(crate) fn ctx_in(&self, db: usize, touch: bool) -> Ctx {
        Ctx { db, now: self.now(), lfu: self.policy().is_lfu(), touch }
    }

    // --- settings ----------------------------------------------------------------------------

    /// The memory limit in bytes (0: none).
    pub fn maxmemory(&self) -> u64 {
        self.inner.maxmemory.load(Ordering::Relaxed)
    }

    /// Changes the memory limit; keys are evicted by the writes that follow.
    pub fn set_maxmemory(&self, bytes: u64) {
        self.inner.maxmemory.store(bytes, Ordering::Relaxed);
    }

    /// The eviction policy.
    pub fn policy(&self) -> Policy {
        Policy::from_u8(self.inner.policy.load(Ordering::Relaxed))
    }

    /// Changes the eviction policy.
    pub fn set_maxmemory_policy(&self, policy: Policy) {
        self.inner.policy.store(policy.to_u8(), Ordering::Relaxed);
    }

    /// Keys sampled per eviction.
    pub fn maxmemory_samples(&self) -> usize {
        self.inner.samples.load(Ordering::Relaxed)
    }

    /// Changes the keys sampled per eviction.
    pub fn set_maxmemory_samples(&self, n: usize) {
        self.inner.samples.store(n.max(1), Ordering::Relaxed);
    }

    /// The thresholds of the collections' compact encodings.
    pub fn encoding_limits(&self) -> EncodingLimits {
        EncodingLimits::from_array(self.inner.limits.each_ref().map(|a| a.load(Ordering::Relaxed)))
    }

    /// Changes the thresholds; collections convert on their next write past them (never back).
    pub fn set_encoding_limits(&self, limits: EncodingLimits) {
        for (a, v) in self.inner.limits.iter().zip(limits.to_array()) {
            a.store(v, Ordering::Relaxed);
        }
    }

    // --- statistics --------------------------------------------------------------------------

    /// Bytes the keyspace holds (entries, values, tables, indexes) plus the empty shards' cost.
    pub fn used_memory(&self) -> u64 {
        (self.inner.used.load(Ordering::Relaxed).max(0) as u64) + self.inner.fixed as u64
    }

    /// What the empty shards cost (part of [`Store::used_memory`]).
    pub fn fixed_bytes(&self) -> u64 {
        self.inner.fixed as u64
    }

    /// Counters for INFO, summed over the shards (locks each shard briefly).
    pub fn stats(&self) -> Stats {
        let mut s = Stats {
            used_memory: 0,
            keys: vec![0; self.inner.databases],
            expires: vec![0; self.inner.databases],
            ..Stats::default()
        };
        for i in 0..self.shard_count() {
            let g = self.lock_index(i);
            let st = g.side.stats;
            s.keyspace_hits += st.hits;
            s.keyspace_misses += st.misses;
            s.expired_keys += st.expired;
            s.evicted_keys += st.evicted;
            for db in 0..self.inner.databases {
                let (k, e) = g.counts(db);
                s.keys[db] += k as u64;
                s.expires[db] += e as u64;
            }
        }
        s.used_memory = self.used_memory();
        s
    }

    /// Number of clients blocked on keys (INFO's `blocked_clients`).
    pub fn blocked_clients(&self) -> usize {
        self.inner.blocking.count()
    }

    /// Number of keys in `db` (Redis's DBSIZE: keys past their TTL count until deleted).
    pub fn dbsize(&self, db: usize) -> usize {
        (0..self.shard_count()).map(|i| self.lock_index(i).counts(db).0).sum()
    }

    // --- expiry and eviction -----------------------------------------------------------------

    /// The active expiry cycle: deletes up to `budget` expired keys, visiting shards round-robin
    /// from where the last call stopped (so each call costs at most `budget` deletions plus one
    /// lock per shard visited). The server calls it periodically (Redis: 10 times a second);
    /// keys are also deleted lazily when accessed. Returns how many keys were deleted.
    pub fn active_expire_cycle(&self, budget: usize) -> usize {
        let now = self.now();
        let n = self.shard_count();
        let start = self.inner.expire_cursor.load(Ordering::Relaxed);
        let mut done = 0;
        let mut visited = 0;
        while visited < n && done < budget {
            let i = (start + visited) % n;
            done += self.lock_index(i).expire_some(now, budget - done);
            visited += 1;
        }
        self.inner.expire_cursor.store((start + visited) % n, Ordering::Relaxed);
        done
    }

    /// Runs [`Store::active_expire_cycle`] in steps of `step` keys until no expired key is left
    /// or `time` has passed (Redis bounds its cycle to 25 ms by default). Returns how many keys
    /// were deleted.
    pub fn active_expire_for(&self, time: std::time::Duration, step: usize) -> usize {
        let start = std::time::Instant::now();
        let mut total = 0;
        loop {
            let n = self.active_expire_cycle(step.max(1));
            total += n;
            if n < step.max(1) || start.elapsed() >= time {
                return total;
            }
        }
    }

    /// True when a limit is set and passed.
    #[inline]
    pub(crate) fn over_limit(&self) -> bool {
        let max = self.maxmemory();
        max != 0 && self.used_memory() > max
    }

    /// Evicts keys until under maxmemory: from shard `near` first, then its neighbours, within a
    /// budget of keys per call. Returns false only when over the limit and nothing could be
    /// evicted (the caller then refuses a DENYOOM command with -OOM).
    pub(crate) fn make_room(&self, near: Option<usize>) -> bool {
        if !self.over_limit() {
            return true;
        }
        let policy = self.policy();
        if policy == Policy::NoEviction {
            return false;
        }
        let now = self.now();
        let samples = self.maxmemory_samples();
        let n = self.shard_count();
        let mut at =
            near.unwrap_or_else(|| self.inner.evict_cursor.fetch_add(1, Ordering::Relaxed)) % n;
        let mut misses = 0;
        let mut evicted = false;
        // Bounded like Redis's eviction tenacity: stop after a pass over every shard finds
        // nothing, or after many keys.
        for _ in 0..4096 {
            if !self.over_limit() {
                return true;
            }
            if self.lock_index(at).evict(policy, now, samples) {
                evicted = true;
                misses = 0;
                // The written shard gave one key; spread the rest over its neighbours so that
                // no shard is drained for one large write.
                at = (at + 1) % n;
            } else {
                misses += 1;
                if misses >= n {
                    break;
                }
                at = (at + 1) % n;
            }
        }
        // As Redis: a write is refused only when nothing could be evicted. When eviction is
        // making progress but the budget ran out (memory jumped, e.g. SIEVE queues being built or
        // one large value arriving), the write goes ahead and the next writes evict further.
        evicted || !self.over_limit()
    }

    // --- dispatch ----------------------------------------------------------------------------

    /// A hint that `args` will run soon on this thread, inside the open [`Hold`]: starts loading
    /// the memory its lookup in a large hash or set will read. A pipeline's commands are known
    /// ahead, so the caller runs the stages of one command in order, a few commands apart
    /// ([`Prefetch::Slot`], then [`Prefetch::Item`], then [`Prefetch::Behind`]: each stage reads
    /// what the one before started loading, and would wait for it if run sooner); a lookup that
    /// took three dependent cache misses (index slot, item, pair) then finds them loaded.
    ///
    /// Only acts when the key's shard is the one this thread keeps locked (consecutive commands
    /// on one key, as redis-benchmark's HSET and SADD send): it never locks, waits or writes,
    /// and a wrong guess costs a few loads. Commands it knows: those whose third argument is a
    /// field of a hash or a member of a set (HSET, HGET, SADD, SISMEMBER…).
    ///
    /// True when it acted: the command is one it knows and its shard is kept.
    pub fn prefetch(&self, session: &Session, args: Args<'_>, stage: Prefetch) -> bool {
        if !args.get(0).is_some_and(prefetches) {
            return false;
        }
        let (Some(key), Some(member)) = (args.get(1), args.get(2)) else {
            return false;
        };
        let h = self.hash(key);
        self.with_kept(self.shard_of(h), |shard| {
            shard.prefetch_member(session.db, h, key, member, stage);
        })
    }

    /// Runs `f` on shard `i` if this thread keeps it locked and idle under a hold (and says
    /// so); else nothing.
    #[inline]
    #[allow(unsafe_code, reason = "a kept shard is read without locking; see `crate::hold`")]
    fn with_kept(&self, i: usize, f: impl FnOnce(&Shard)) -> bool {
        #[cfg(not(karst_loom))]
        if crate::hold::keeps_idle(self.id(), i) {
            // SAFETY: `keeps_idle` answers true only when this thread holds shard `i`'s lock
            // (kept by the hold) and no guard on it exists, so the guard made here is the only
            // one. It is never dropped (`ManuallyDrop`, even if `f` panics): the lock stays
            // locked and kept, as the hold's record says.
            let guard = ManuallyDrop::new(unsafe { self.inner.shards[i].make_guard_unchecked() });
            f(&guard);
            return true;
        }
        #[cfg(karst_loom)]
        let _ = (i, f);
        false
    }

    /// Looks the command up, checks its arity, refuses DENYOOM commands over maxmemory (after
    /// trying to evict), and runs it (or hands it back, for connection commands). Errors are
    /// replies with Redis's wording.
    pub fn dispatch(&self, session: &mut Session, args: Args<'_>, out: &mut Output) -> Outcome {
        self.dispatch_spec(session, args.get(0).and_then(lookup), args, out)
    }

    /// [`Store::dispatch`] with the command already looked up: `spec` is
    /// [`lookup`]`(args[0])`. A connection that caches its last lookup (pipelines repeat one
    /// command) saves the table's lookup per command.
    pub fn dispatch_spec(
        &self,
        session: &mut Session,
        spec: Option<&'static CommandSpec>,
        args: Args<'_>,
        out: &mut Output,
    ) -> Outcome {
        let Some(name) = args.get(0) else {
            return Outcome::Done;
        };
        let Some(spec) = spec else {
            unknown_command(name, args, out);
            return Outcome::Rejected;
        };
        let n = args.len() as i32;
        if (spec.arity > 0 && n != spec.arity) || n < -spec.arity {
            wrong_arity(spec.name, out);
            return Outcome::Rejected;
        }
        match spec.handler {
            Handler::Store(run) => {
                // Under a hold, only a plain single-key command may keep its shard locked
                // after it (see `crate::hold`); anything else starts with the kept one given back.
                let single = spec.first_key > 0
                    && spec.last_key == spec.first_key
                    && !spec.flags.has(Flags::BLOCKING);
                crate::hold::allow(self.id(), single);
                if !single {
                    self.give_back();
                }
                if (spec.flags.has(Flags::WRITE) || spec.flags.has(Flags::DENYOOM))
                    && self.over_limit()
                {
                    let near = usize::try_from(spec.first_key)
                        .ok()
                        .filter(|&i| i > 0)
                        .and_then(|i| args.get(i))
                        .map(|k| self.shard_of(self.hash(k)));
                    if !self.make_room(near) && spec.flags.has(Flags::DENYOOM) {
                        out.error(Error::OutOfMemory.text().as_ref());
                        return Outcome::Rejected;
                    }
                }
                run(self, session, args, out);
                if !spec.flags.has(Flags::FAST) {
                    crate::hold::forget_now(self.id());
                }
                if session.block.pending.is_some() {
                    self.end_keeping();
                    return crate::blocking::register(self, session, spec, args, out);
                }
                if spec.flags.has(Flags::WRITE) && self.inner.blocking.count() != 0 {
                    self.end_keeping();
                    crate::blocking::after_write(self, session.db, spec, args);
                }
                Outcome::Done
            }
            Handler::Connection => {
                crate::hold::forget_now(self.id());
                self.end_keeping();
                Outcome::Connection(spec)
            }
        }
    }

    /// Runs one command in-process in this handle's database (0 unless [`Store::select`] chose
    /// another) and returns its reply (RESP3 form).
    pub fn execute<I, A>(&self, args: I) -> Frame
    where
        I: IntoIterator<Item = A>,
        A: AsRef<[u8]>,
    {
        let mut session = Session::new();
        session.db = self.db;
        self.execute_in(&mut session, args)
    }

    /// A handle on database `n` of the same store, as SELECT: its typed calls and
    /// [`Store::execute`] work there. As cheap as a clone.
    ///
    /// ```
    /// let store = karst_store::Store::new();
    /// let sessions = store.select(1)?;
    /// sessions.set("k", "in db 1")?;
    /// assert_eq!(store.get("k")?, None);
    /// assert_eq!(sessions.get("k")?.as_deref(), Some(&b"in db 1"[..]));
    /// # Ok::<(), karst_store::Error>(())
    /// ```
    pub fn select(&self, n: usize) -> crate::Result<Store> {
        if n >= self.databases() {
            return Err(crate::Error::DbIndexOutOfRange);
        }
        Ok(Store { inner: Arc::clone(&self.inner), db: n })
    }

    /// The database this handle works in.
    pub fn db(&self) -> usize {
        self.db
    }

    /// Runs one command in-process in `session` (so SELECT sticks) and returns its reply. A
    /// blocking command (BLPOP…) blocks the calling thread until another thread serves it or its
    /// timeout passes.
    pub fn execute_in<I, A>(&self, session: &mut Session, args: I) -> Frame
    where
        I: IntoIterator<Item = A>,
        A: AsRef<[u8]>,
    {
        let args: Vec<Bytes> =
            args.into_iter().map(|a| Bytes::copy_from_slice(a.as_ref())).collect();
        let mut out = Output::new(Protocol::Resp3);
        let mode = session.waits_in_execute();
        let outcome = self.dispatch(session, Args::from_slice(&args), &mut out);
        session.block.mode = mode;
        match outcome {
            Outcome::Connection(spec) => {
                out.error(format!("ERR '{}' is not available in an embedded store", spec.name));
            }
            // A blocking command blocks this thread until it is served or times out.
            Outcome::Blocked => {
                if let Some(ticket) = session.take_blocked() {
                    out.raw().extend_from_slice(&ticket.wait());
                }
            }
            Outcome::Done | Outcome::Rejected => {}
        }
        let bytes = out.take();
        match ReplyParser::default().parse_slice(&bytes) {
            Ok(Some((frame, _))) => frame,
            _ => Frame::Error(Bytes::from_static(b"ERR internal error: unreadable reply")),
        }
    }
}

/// Counters for INFO (see [`Store::stats`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// [`Store::used_memory`].
    pub used_memory: u64,
    /// Keys per database.
    pub keys: Vec<u64>,
    /// Keys with a TTL per database.
    pub expires: Vec<u64>,
    /// Keys deleted because their TTL passed (lazily or by the active cycle).
    pub expired_keys: u64,
    /// Keys evicted by maxmemory.
    pub evicted_keys: u64,
    /// Reads that found their key.
    pub keyspace_hits: u64,
    /// Reads that did not.
    pub keyspace_misses: u64,
}

/// `ERR wrong number of arguments for 'get' command`
pub(crate) fn wrong_arity(name: &str, out: &mut Output) {
    let raw = out.raw();
    raw.extend_from_slice(b"-ERR wrong number of arguments for '");
    raw.extend_from_slice(name.as_bytes());
    raw.extend_from_slice(b"' command\r\n");
}

/// `ERR unknown command 'x', with args beginning with: 'a' 'b' `. As Redis: the name is cut
/// to 128 bytes, and the arguments are quoted one after another until their list reaches 128
/// bytes, the last one cut to what is left of those 128.
fn unknown_command(name: &[u8], args: Args<'_>, out: &mut Output) {
    const CAP: usize = 128;
    let mut list = Vec::new();
    for arg in args.iter().skip(1) {
        if list.len() >= CAP {
            break;
        }
        let room = CAP - list.len();
        list.push(b'\'');
        list.extend_from_slice(arg.get(..room).unwrap_or(arg));
        list.extend_from_slice(b"' ");
    }
    let mut msg = b"ERR unknown command '".to_vec();
    msg.extend_from_slice(name.get(..CAP).unwrap_or(name));
    msg.extend_from_slice(b"', with args beginning with: ");
    msg.extend_from_slice(&list);
    out.error(msg);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The running byte count of every shard equals a recount from scratch while the keyspace
    /// tables grow, shrink after deletions, and are emptied by FLUSHDB and FLUSHALL ASYNC.
    #[test]
    fn accounting_follows_tables_growing_shrinking_and_lazy_flushes() {
        let store = Store::builder().shards(4).hash_seed(3).build();
        let check = |when: &str| {
            for i in 0..store.shard_count() {
                let g = store.lock_index(i);
                assert_eq!(g.bytes(), g.recount(), "{when}");
            }
        };
        let long = "v".repeat(600);
        for round in 0..3 {
            for i in 0..3000 {
                let v = if i % 7 == 0 { long.as_str() } else { "v" };
                store.execute(["SET", &format!("k{i}"), v, "PX", "100000"]);
                store.execute(["SADD", &format!("s{}", i % 50), &i.to_string()]);
            }
            check("filled");
            for i in (0..3000).step_by(2) {
                store.execute(["DEL", &format!("k{i}")]);
            }
            check("half deleted");
            store.execute(["MOVE", "k1", "1"]);
            store.execute(["FLUSHDB", "ASYNC"]);
            check("db 0 flushed");
            assert_eq!(store.dbsize(0), 0, "round {round}");
            assert_eq!(store.dbsize(1), 1, "round {round}");
            store.execute(["FLUSHALL", "ASYNC"]);
            check("all flushed");
            assert_eq!((store.dbsize(0), store.dbsize(1)), (0, 0));
            assert_eq!(store.used_memory(), store.fixed_bytes(), "round {round}");
        }
    }

    /// The running byte count of every shard equals a recount from scratch after every command
    /// of a random mix over every type: collections growing, converting between encodings,
    /// shrinking, emptying, moving between keys and databases, expiring and being overwritten.
    #[test]
    fn accounting_follows_every_collection_change() {
        let store = Store::builder().shards(4).hash_seed(7).build();
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::SmallRng::seed_from_u64(0x2545_f491_4f6c_dd1d);
        let mut next = |n: u64| rng.random_range(0..n);
        let long = "v".repeat(100);
        for step in 0..20_000 {
            let key = format!("k{}", next(6));
            let key2 = format!("k{}", next(6));
            let m = match next(4) {
                0 => long.clone(),
                _ => next(300).to_string(),
            };
            let cmd: Vec<String> = match next(16) {
                _ if step % 1000 == 499 => vec!["FLUSHDB".into(), "ASYNC".into()],
                _ if step % 1000 == 999 => vec!["FLUSHALL".into(), "ASYNC".into()],
                0 => vec!["HSET".into(), key, m.clone(), m],
                1 => vec!["HDEL".into(), key, m],
                2 => vec!["RPUSH".into(), key, m],
                3 => vec!["LPOP".into(), key, "3".into()],
                4 => vec!["SADD".into(), key, m],
                5 => vec!["SREM".into(), key, m],
                6 => vec!["ZADD".into(), key, next(50).to_string(), m],
                7 => vec!["ZREM".into(), key, m],
                8 => vec!["SET".into(), key, m],
                9 => vec!["DEL".into(), key],
                10 => vec!["RENAME".into(), key, key2],
                11 => vec!["COPY".into(), key, key2, "REPLACE".into()],
                12 => vec!["LTRIM".into(), key, "1".into(), "-2".into()],
                13 => vec!["SUNIONSTORE".into(), key, key2, "k1".into()],
                14 => vec!["ZUNIONSTORE".into(), key, "2".into(), key2, "k3".into()],
                _ => vec!["MOVE".into(), key, "1".into()],
            };
            store.execute(&cmd);
            for i in 0..store.shard_count() {
                let g = store.lock_index(i);
                assert_eq!(g.bytes(), g.recount(), "step {step}: after {cmd:?}");
            }
        }
    }
}
