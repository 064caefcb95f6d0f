//! One shard of the keyspace: a table per database, the TTL index, the eviction state and the
//! bytes it holds. Everything here runs under the shard's lock; nothing here locks, formats or
//! does I/O.

use std::collections::{BTreeMap, VecDeque};

use bytes::{Bytes, BytesMut};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::entry::{Entry, INLINE_MAX, NewValue, Stored, obj_box_cost};
use crate::error::Error;
use crate::policy::{self, Policy};
use crate::table::{DRAIN_STEP, Table};
use crate::types::{Kind, Obj, ObjRef, Prefetch};

/// What the TTL index costs per key with a TTL (a B-tree slot of 16 bytes, nodes half full).
pub(crate) const TTL_COST: usize = 32;
/// What a large string costs beyond its bytes and its entry: the shared header the first clone
/// of its `Bytes` allocates (24 bytes, in a 32-byte size class).
pub(crate) const HEAP_COST: usize = 32;
/// Old slots a draining table moves per visit of the active expiry cycle: at 10 cycles a
/// second, a shard table of 40,000 slots nobody writes to finishes in about 16 s, and a visit
/// moves at most about 200 keys (some 10 µs), whatever the number of shards draining.
const CRON_DRAIN: usize = 256;

/// What a collection costs: its box, and what it holds.
#[inline]
pub(crate) fn obj_cost(o: ObjRef<'_>) -> usize {
    obj_box_cost(o) + o.cost()
}

/// The key hash function of a store (seeded once per store).
pub(crate) type Hasher = foldhash::fast::FixedState;

/// The stored-hash half of a key's hash, as [`KeyHash::h32`] would give.
#[inline]
pub(crate) fn h32_of(hs: &Hasher, key: &[u8]) -> u32 {
    key_hash(hs, key) as u32
}

/// The hash of a key: its bytes alone. (`BuildHasher::hash_one` of a slice also feeds the
/// hasher its length first, a second round of the hash for nothing: every key is hashed whole
/// and compared in full.)
#[inline]
pub(crate) fn key_hash(hs: &Hasher, key: &[u8]) -> u64 {
    use std::hash::{BuildHasher, Hasher as _};
    let mut h = hs.build_hasher();
    h.write(key);
    h.finish()
}

/// A key's hash, computed once per command: the high half picks the shard, the low half is
/// stored in the entry and drives the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct KeyHash(pub(crate) u64);

impl KeyHash {
    #[inline]
    pub(crate) fn h32(self) -> u32 {
        self.0 as u32
    }
}

/// What a command knows when it touches a shard.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ctx {
    pub(crate) db: usize,
    pub(crate) now: i64,
    pub(crate) lfu: bool,
    pub(crate) touch: bool,
}

/// A value read in place.
#[derive(Clone, Copy, Debug)]
pub(crate) enum ValRef<'a> {
    Bytes(&'a [u8]),
    Int(i64),
    Shared(&'a Bytes),
    /// A collection: string commands answer WRONGTYPE (see [`Found::string`]); the string
    /// helpers below treat it as an empty string.
    Obj(ObjRef<'a>),
}

impl ValRef<'_> {
    /// Length of the string form.
    pub(crate) fn len(&self) -> usize {
        match self {
            ValRef::Bytes(b) => b.len(),
            ValRef::Int(i) => itoa::Buffer::new().format(*i).len(),
            ValRef::Shared(b) => b.len(),
            ValRef::Obj(_) => 0,
        }
    }

    /// Calls `f` with the string form (integers are rendered on a stack buffer).
    pub(crate) fn with<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            ValRef::Bytes(b) => f(b),
            ValRef::Int(i) => f(itoa::Buffer::new().format(*i).as_bytes()),
            ValRef::Shared(b) => f(b),
            ValRef::Obj(_) => f(b""),
        }
    }

    /// An owned copy (shared, not copied, for large values).
    #[inline]
    pub(crate) fn to_bytes(self) -> Bytes {
        match self {
            ValRef::Bytes(b) => Bytes::copy_from_slice(b),
            ValRef::Int(i) => Bytes::copy_from_slice(itoa::Buffer::new().format(i).as_bytes()),
            ValRef::Shared(b) => b.clone(),
            ValRef::Obj(_) => Bytes::new(),
        }
    }

    /// The value as an owned [`Val`] for storing elsewhere (a collection is cloned).
    pub(crate) fn to_val(self) -> Val<'static> {
        match self {
            ValRef::Int(i) => Val::Int(i),
            ValRef::Obj(o) => Val::Obj(o.to_obj()),
            other => Val::Owned(other.to_bytes()),
        }
    }

    /// The integer the value holds, if any (Redis's `getLongLongFromObject`).
    pub(crate) fn as_i64(&self) -> Option<i64> {
        match self {
            ValRef::Int(i) => Some(*i),
            ValRef::Bytes(b) => karst_resp::num::parse_i64(b),
            ValRef::Shared(b) => karst_resp::num::parse_i64(b),
            ValRef::Obj(_) => None,
        }
    }
}

/// A value to store.
#[derive(Clone, Debug)]
pub(crate) enum Val<'a> {
    Int(i64),
    Slice(&'a [u8]),
    Owned(Bytes),
    Obj(Obj),
}

impl Val<'_> {
    /// The value as it would lie inside an entry, if it would (see [`Side::make`]).
    #[inline]
    fn in_entry(&self) -> Option<NewValue<'_>> {
        match self {
            Val::Int(i) => Some(NewValue::Int(*i)),
            Val::Slice(s) if s.len() <= INLINE_MAX => Some(NewValue::Inline(s)),
            Val::Owned(b) if b.len() <= INLINE_MAX => Some(NewValue::Inline(b)),
            _ => None,
        }
    }
}

/// The expire to store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Expire {
    Keep,
    Set(Option<i64>),
}

/// A key found alive.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Found<'a> {
    pub(crate) entry: &'a Entry,
}

impl<'a> Found<'a> {
    /// True if the value is a collection of type `T`.
    #[inline]
    pub(crate) fn value_is<T: Kind>(&self) -> bool {
        matches!(self.value(), ValRef::Obj(o) if T::of(o).is_some())
    }

    /// The value, whatever its type.
    pub(crate) fn value(&self) -> ValRef<'a> {
        value_of(self.entry)
    }

    /// The value of a string key; WRONGTYPE for a collection.
    #[inline]
    pub(crate) fn string(&self) -> Result<ValRef<'a>, Error> {
        match self.value() {
            ValRef::Obj(_) => Err(Error::WrongType),
            v => Ok(v),
        }
    }
}

#[inline]
fn value_of(e: &Entry) -> ValRef<'_> {
    match e.stored() {
        Stored::Inline(b) => ValRef::Bytes(b),
        Stored::Int(i) => ValRef::Int(i),
        Stored::Heap(b) => ValRef::Shared(b),
        Stored::Obj(o) => ValRef::Obj(o),
    }
}

/// What a large string costs the shard besides its entry.
#[inline]
pub(crate) fn shared_cost(b: &Bytes) -> usize {
    HEAP_COST + b.len()
}

/// A key removed from a shard, with its value.
#[derive(Debug)]
pub(crate) struct Taken {
    pub(crate) entry: Entry,
}

impl Taken {
    pub(crate) fn value(&self) -> ValRef<'_> {
        value_of(&self.entry)
    }

    pub(crate) fn into_val(self) -> Val<'static> {
        match self.entry.stored() {
            Stored::Obj(_) => self.entry.into_obj().map_or(Val::Int(0), Val::Obj),
            Stored::Heap(_) => self.entry.into_shared().map_or(Val::Int(0), Val::Owned),
            _ => self.value().to_val(),
        }
    }
}

/// Counters summed over shards for INFO.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Stats {
    pub(crate) hits: u64,
    pub(crate) misses: u64,
    pub(crate) expired: u64,
    pub(crate) evicted: u64,
}

/// One database's part of a shard.
#[derive(Debug, Default)]
#[repr(C)]
pub(crate) struct Db {
    pub(crate) table: Table,
    /// (expire ms, hash32) of every key with a TTL, with a count for the rare equal pairs.
    pub(crate) ttl: BTreeMap<(i64, u32), u32>,
}

/// The databases of a shard. Database 0 is kept inline, so that its table header shares a cache
/// line with the shard's lock (see [`Shard`]); the others are boxed.
#[derive(Debug)]
#[repr(C)]
pub(crate) struct Dbs {
    first: Db,
    rest: Box<[Db]>,
}

impl Dbs {
    fn new(databases: usize) -> Dbs {
        Dbs { first: Db::default(), rest: (1..databases.max(1)).map(|_| Db::default()).collect() }
    }

    #[inline]
    pub(crate) fn get(&self, db: usize) -> Option<&Db> {
        if db == 0 { Some(&self.first) } else { self.rest.get(db - 1) }
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, db: usize) -> Option<&mut Db> {
        if db == 0 { Some(&mut self.first) } else { self.rest.get_mut(db - 1) }
    }

    pub(crate) fn len(&self) -> usize {
        1 + self.rest.len()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Db> {
        std::iter::once(&self.first).chain(self.rest.iter())
    }

    /// SWAPDB's exchange (indexes out of range are ignored: the caller checked them).
    pub(crate) fn swap(&mut self, a: usize, b: usize) {
        match (a.min(b), a.max(b)) {
            (lo, hi) if lo == hi => {}
            (0, hi) => {
                if let Some(d) = self.rest.get_mut(hi - 1) {
                    std::mem::swap(&mut self.first, d);
                }
            }
            (lo, hi) if hi <= self.rest.len() => self.rest.swap(lo - 1, hi - 1),
            _ => {}
        }
    }
}

/// Everything beside the tables, so that a found entry and the heap can be borrowed together.
/// The fields every lookup touches come first (see [`Shard`]).
#[derive(Debug)]
#[repr(C)]
pub(crate) struct Side {
    /// INVARIANT: the sum of `cost()` of every entry, TTL_COST per TTL, `shared_cost` of every
    /// large string, the box and `cost()` of every collection, the allocation of every table
    /// and of the SIEVE queue.
    pub(crate) bytes: usize,
    pub(crate) stats: Stats,
    rng: SmallRng,
    sieve: VecDeque<(u32, u8)>,
    hand: usize,
    pub(crate) sieve_on: bool,
    /// A table of this shard may be draining its old array (set when a write grows one,
    /// cleared by the expiry cycle's visit that finds none): spares that visit a look at
    /// every database's table. A hint; a table drains through its own writes and lookups too.
    may_drain: bool,
    hasher: Hasher,
    /// Redis's eviction pool: the best candidates of past samples, best first.
    pool: Vec<Candidate>,
    pool_policy: Option<Policy>,
}

/// A key sampled for eviction, with its score (higher: evict sooner).
#[derive(Debug)]
struct Candidate {
    score: u64,
    db: usize,
    h32: u32,
    key: Box<[u8]>,
}

/// Candidates kept per shard (Redis: EVPOOL_SIZE).
const POOL_SIZE: usize = 16;

fn pool_add(pool: &mut Vec<Candidate>, score: u64, db: usize, h32: u32, key: &[u8]) {
    if let Some(i) = pool.iter().position(|c| c.db == db && &c.key[..] == key) {
        pool.remove(i);
    }
    if pool.len() >= POOL_SIZE && pool.last().is_some_and(|c| c.score >= score) {
        return;
    }
    let at = pool.iter().position(|c| c.score < score).unwrap_or(pool.len());
    pool.insert(at, Candidate { score, db, h32, key: key.into() });
    pool.truncate(POOL_SIZE);
}

impl Side {
    fn track(&mut self, ttl: &mut BTreeMap<(i64, u32), u32>, e: &Entry) {
        self.bytes += e.cost();
        if let Some(at) = e.expire() {
            *ttl.entry((at, h32_of(&self.hasher, e.key()))).or_insert(0) += 1;
            self.bytes += TTL_COST;
        }
    }

    fn untrack(&mut self, ttl: &mut BTreeMap<(i64, u32), u32>, e: &Entry) {
        self.bytes = self.bytes.saturating_sub(e.cost());
        if let Some(at) = e.expire() {
            let k = (at, h32_of(&self.hasher, e.key()));
            if let Some(n) = ttl.get_mut(&k) {
                *n -= 1;
                if *n == 0 {
                    ttl.remove(&k);
                }
            }
            self.bytes = self.bytes.saturating_sub(TTL_COST);
        }
    }

    /// Moves on the growth of a draining `table` by `slots` old slots; the byte count follows.
    /// Lookups call this too, as Redis's do a rehash step, so that a table only read from
    /// still stops probing two arrays soon.
    #[cold]
    #[inline(never)]
    fn drain(&mut self, table: &mut Table, slots: usize) {
        let before = table.allocation_size();
        table.drain(slots, &self.hasher);
        self.bytes = (self.bytes + table.allocation_size()).saturating_sub(before);
    }

    /// Removes the entry in slot `i` of `table` with its TTL and its value; the byte count
    /// follows, the table's shrinking included.
    fn unlink(
        &mut self,
        table: &mut Table,
        ttl: &mut BTreeMap<(i64, u32), u32>,
        i: usize,
    ) -> Option<Entry> {
        let before = table.allocation_size();
        let e = table.remove(i, &self.hasher)?;
        self.may_drain |= table.draining();
        self.bytes = (self.bytes + table.allocation_size()).saturating_sub(before);
        self.untrack(ttl, &e);
        self.release(&e);
        Some(e)
    }

    /// Takes what the entry's value holds outside the entry (a large string, a collection) off
    /// the count; the entry still owns it, until it is dropped or its value taken out.
    fn release(&mut self, e: &Entry) {
        let cost = match e.stored() {
            Stored::Heap(b) => shared_cost(b),
            Stored::Obj(o) => obj_cost(o),
            Stored::Inline(_) | Stored::Int(_) => 0,
        };
        self.bytes = self.bytes.saturating_sub(cost);
    }

    fn make(
        &mut self,
        key: &[u8],
        val: Val<'_>,
        expire: Option<i64>,
        access: u64,
        flags: u8,
    ) -> Entry {
        match val {
            Val::Int(i) => Entry::new(key, expire, access, flags, NewValue::Int(i)),
            Val::Slice(s) if s.len() <= INLINE_MAX => {
                Entry::new(key, expire, access, flags, NewValue::Inline(s))
            }
            Val::Owned(b) if b.len() <= INLINE_MAX => {
                Entry::new(key, expire, access, flags, NewValue::Inline(&b))
            }
            Val::Slice(s) => {
                let b = Bytes::copy_from_slice(s);
                self.bytes += shared_cost(&b);
                Entry::new_shared(key, expire, access, flags, b)
            }
            Val::Owned(b) => {
                self.bytes += shared_cost(&b);
                Entry::new_shared(key, expire, access, flags, b)
            }
            Val::Obj(o) => {
                let e = Entry::new_obj(key, expire, access, o);
                if let Some(o) = e.obj() {
                    self.bytes += obj_cost(o);
                }
                e
            }
        }
    }

    fn touch(&mut self, e: &mut Entry, cx: &Ctx) {
        if cx.touch {
            let r = if cx.lfu { self.rng.random::<f64>() } else { 0.0 };
            e.set_access(policy::touched(e.access(), cx.lfu, cx.now, r));
            e.set_visited(true);
        }
    }

    fn sieve_push(&mut self, h32: u32, db: usize) {
        if self.sieve_on {
            let cap = self.sieve.capacity();
            self.sieve.push_back((h32, db as u8));
            self.bytes += (self.sieve.capacity() - cap) * 8;
        }
    }
}

/// What [`Shard::take_all`] took out of a shard, freed when dropped.
#[derive(Debug)]
pub(crate) struct Emptied {
    _dbs: Dbs,
    _sieve: VecDeque<(u32, u8)>,
}

/// One shard. See the [module docs](self).
///
/// A lookup touches the shard's lock, database 0's table header, the byte count and the hit
/// counters before it reaches the table. Laid out in this order behind the lock's byte, they
/// sit in the first two cache lines of the shard's 128-byte aligned slot (`store::ShardSlot`),
/// and no pointer lies between the lock and database 0's table. Measured alone at 1M keys this
/// made no difference beyond the noise; it stays because it costs nothing.
#[derive(Debug)]
#[repr(C)]
pub(crate) struct Shard {
    pub(crate) dbs: Dbs,
    pub(crate) side: Side,
}

impl Shard {
    pub(crate) fn new(databases: usize, seed: u64, hasher: Hasher) -> Shard {
        Shard {
            dbs: Dbs::new(databases),
            side: Side {
                bytes: 0,
                stats: Stats::default(),
                rng: SmallRng::seed_from_u64(seed),
                sieve: VecDeque::new(),
                hand: 0,
                sieve_on: false,
                may_drain: false,
                hasher,
                pool: Vec::new(),
                pool_policy: None,
            },
        }
    }

    /// Bytes this shard holds.
    #[inline]
    pub(crate) fn bytes(&self) -> usize {
        self.side.bytes
    }

    /// One stage of loading what a lookup of `member` in the collection at `key` will read (see
    /// [`Store::prefetch`](crate::Store::prefetch)). Reads only: expiry and access are left to
    /// the command.
    pub(crate) fn prefetch_member(
        &self,
        db: usize,
        h: KeyHash,
        key: &[u8],
        member: &[u8],
        stage: Prefetch,
    ) {
        let Some(Db { table, .. }) = self.dbs.get(db) else { return };
        let Some(obj) = table.find_index(h.h32(), key).and_then(|i| table.at(i)?.obj()) else {
            return;
        };
        match obj {
            ObjRef::Hash(x) => x.prefetch(member, stage),
            ObjRef::Set(x) => x.prefetch(member, stage),
            ObjRef::List(_) | ObjRef::ZSet(_) => {}
        }
    }

    /// The live entry of `key`, deleting it first if it has expired. No access is recorded.
    pub(crate) fn find(
        &mut self,
        db: usize,
        h: KeyHash,
        key: &[u8],
        now: i64,
    ) -> Option<Found<'_>> {
        let Shard { dbs, side } = self;
        let Db { table, ttl } = dbs.get_mut(db)?;
        if table.draining() {
            side.drain(table, DRAIN_STEP);
        }
        let i = table.find_index(h.h32(), key)?;
        if table.at(i)?.is_expired(now) {
            side.unlink(table, ttl, i);
            side.stats.expired += 1;
            None
        } else {
            Some(Found { entry: table.at_mut(i)? })
        }
    }

    /// Like [`Shard::find`], recording the access (LRU/LFU clock, SIEVE bit) and, if `stats`,
    /// a keyspace hit or miss.
    #[inline]
    pub(crate) fn lookup(
        &mut self,
        cx: &Ctx,
        h: KeyHash,
        key: &[u8],
        stats: bool,
    ) -> Option<Found<'_>> {
        let i = self.lookup_index(cx, h, key, stats)?;
        Some(Found { entry: self.dbs.get(cx.db)?.table.at(i)? })
    }

    /// [`Shard::lookup`]'s work; the live key's slot in its table.
    #[inline]
    fn lookup_index(&mut self, cx: &Ctx, h: KeyHash, key: &[u8], stats: bool) -> Option<usize> {
        let Shard { dbs, side } = self;
        let Db { table, ttl } = dbs.get_mut(cx.db)?;
        if table.draining() {
            side.drain(table, DRAIN_STEP);
        }
        let Some(i) = table.find_index(h.h32(), key) else {
            side.stats.misses += u64::from(stats);
            return None;
        };
        if table.at(i)?.is_expired(cx.now) {
            side.unlink(table, ttl, i);
            side.stats.expired += 1;
            side.stats.misses += u64::from(stats);
            None
        } else {
            side.touch(table.at_mut(i)?, cx);
            side.stats.hits += u64::from(stats);
            Some(i)
        }
    }

    /// Stores `key`, replacing any value. Returns true if a live key was replaced.
    pub(crate) fn put(
        &mut self,
        cx: &Ctx,
        h: KeyHash,
        key: &[u8],
        val: Val<'_>,
        expire: Expire,
        flags: u8,
    ) -> bool {
        let Shard { dbs, side } = self;
        let Some(Db { table, ttl }) = dbs.get_mut(cx.db) else { return false };
        if table.draining() {
            side.drain(table, DRAIN_STEP);
        }
        match table.find_index(h.h32(), key) {
            Some(i) => {
                let Some(old) = table.at(i) else { return false };
                let live = !old.is_expired(cx.now);
                let expire = match expire {
                    Expire::Keep if live => old.expire(),
                    Expire::Keep => None,
                    Expire::Set(e) => e,
                };
                let access = if cx.lfu && live {
                    old.access()
                } else {
                    policy::initial_access(cx.lfu, cx.now)
                };
                side.release(old);
                // Overwriting a live key is an access (SIEVE keeps its visited bit).
                let flags = if live { flags | crate::entry::VISITED } else { flags };
                // A value of the old one's length is written over it: no allocation, no free.
                if let (Some(v), Some(e)) = (val.in_entry(), table.at_mut(i)) {
                    if e.same_layout(expire, v) {
                        // Same length, same cost: only a TTL (then on both) has bookkeeping.
                        let timed = expire.is_some();
                        if timed {
                            side.untrack(ttl, e);
                        }
                        e.overwrite(expire, access, flags, v);
                        if timed {
                            side.track(ttl, e);
                        }
                        side.stats.expired += u64::from(!live);
                        return live;
                    }
                }
                // A large string over a large string swaps the `Bytes`: the entry stays.
                let val = match (val, table.at_mut(i)) {
                    (Val::Owned(b), Some(e)) if b.len() > INLINE_MAX && e.takes_shared(expire) => {
                        side.untrack(ttl, e);
                        let cost = shared_cost(&b);
                        match e.replace_shared(expire, access, flags, b) {
                            Ok(old) => {
                                side.bytes += cost;
                                side.track(ttl, e);
                                side.stats.expired += u64::from(!live);
                                drop(old);
                                return live;
                            }
                            Err(b) => {
                                side.track(ttl, e);
                                Val::Owned(b)
                            }
                        }
                    }
                    (val, _) => val,
                };
                let new = side.make(key, val, expire, access, flags);
                side.track(ttl, &new);
                if let Some(old) = table.replace(i, new) {
                    side.untrack(ttl, &old);
                }
                if !live {
                    side.stats.expired += 1;
                }
                live
            }
            None => {
                let expire = match expire {
                    Expire::Keep => None,
                    Expire::Set(e) => e,
                };
                let access = policy::initial_access(cx.lfu, cx.now);
                let new = side.make(key, val, expire, access, flags);
                side.track(ttl, &new);
                let before = table.allocation_size();
                table.insert_new(h.h32(), new, &side.hasher);
                side.may_drain |= table.draining();
                side.bytes = (side.bytes + table.allocation_size()).saturating_sub(before);
                side.sieve_push(h.h32(), cx.db);
                false
            }
        }
    }

    /// Removes a live key and hands back its value (expired keys are deleted and not returned).
    pub(crate) fn take(&mut self, db: usize, h: KeyHash, key: &[u8], now: i64) -> Option<Taken> {
        let Shard { dbs, side } = self;
        let Db { table, ttl } = dbs.get_mut(db)?;
        let i = table.find_index(h.h32(), key)?;
        let e = side.unlink(table, ttl, i)?;
        if e.is_expired(now) {
            side.stats.expired += 1;
            return None;
        }
        Some(Taken { entry: e })
    }

    /// The collection of type `T` at `key`, recording the access and a keyspace hit or miss.
    /// `Ok(None)` if there is no such key; WRONGTYPE if it holds another type.
    pub(crate) fn read<T: Kind>(
        &mut self,
        cx: &Ctx,
        h: KeyHash,
        key: &[u8],
    ) -> Result<Option<&T>, Error> {
        match self.lookup(cx, h, key, true) {
            None => Ok(None),
            Some(f) => match f.value() {
                ValRef::Obj(o) => T::of(o).map(Some).ok_or(Error::WrongType),
                _ => Err(Error::WrongType),
            },
        }
    }

    /// Runs `f` on the collection of type `T` at `key`, first creating it empty if there is
    /// none and `create` is set. `Ok(None)`: no such key (and not created); WRONGTYPE if it
    /// holds another type. Afterwards the shard's byte count follows the collection's change of
    /// cost, and a collection left empty is deleted with its key.
    pub(crate) fn write<T: Kind + Default, R>(
        &mut self,
        cx: &Ctx,
        h: KeyHash,
        key: &[u8],
        create: bool,
        f: impl FnOnce(&mut T) -> R,
    ) -> Result<Option<R>, Error> {
        let i = match self.lookup_index(cx, h, key, false) {
            Some(i) => i,
            None if create => {
                self.put(cx, h, key, Val::Obj(T::default().into_obj()), Expire::Set(None), 0);
                match self.dbs.get(cx.db).and_then(|d| d.table.find_index(h.h32(), key)) {
                    Some(i) => i,
                    None => return Ok(None),
                }
            }
            None => return Ok(None),
        };
        let Shard { dbs, side } = self;
        let Some(e) = dbs.get_mut(cx.db).and_then(|d| d.table.at_mut(i)) else { return Ok(None) };
        let Some(t) = e.obj_mut().and_then(T::of_mut) else { return Err(Error::WrongType) };
        // The box's cost does not change: only what the collection holds.
        let before = t.cost();
        let r = f(t);
        let (after, empty) = (t.cost(), t.len() == 0);
        side.bytes = (side.bytes + after).saturating_sub(before);
        if empty {
            let _ = self.take(cx.db, h, key, cx.now);
        }
        Ok(Some(r))
    }

    /// Sets or clears the expire of a live key. False if there is no such key.
    pub(crate) fn set_expire(
        &mut self,
        db: usize,
        h: KeyHash,
        key: &[u8],
        now: i64,
        expire: Option<i64>,
    ) -> bool {
        if self.find(db, h, key, now).is_none() {
            return false;
        }
        let Shard { dbs, side } = self;
        let Some(Db { table, ttl }) = dbs.get_mut(db) else { return false };
        let Some(e) = table.find_mut(h.h32(), key) else { return false };
        if e.expire() == expire {
            return true;
        }
        side.untrack(ttl, e);
        e.set_expire(expire);
        side.track(ttl, e);
        true
    }

    /// APPEND: extends the string in place when it is a large unshared value. Returns the new
    /// length, or None if `limit` would be passed.
    pub(crate) fn append(
        &mut self,
        cx: &Ctx,
        h: KeyHash,
        key: &[u8],
        data: &[u8],
        limit: usize,
    ) -> Option<usize> {
        let Some(found) = self.lookup(cx, h, key, false) else {
            if data.len() > limit {
                return None;
            }
            let val = match crate::cmd::string::int_encodable(data) {
                Some(i) => Val::Int(i),
                None => Val::Slice(data),
            };
            self.put(cx, h, key, val, Expire::Keep, 0);
            return Some(data.len());
        };
        let cur = found.value();
        let new_len = cur.len() + data.len();
        if new_len > limit {
            return None;
        }
        let merged: Val<'_> = match cur {
            ValRef::Shared(_) => {
                let Shard { dbs, side } = self;
                let e = dbs.get_mut(cx.db)?.table.find_mut(h.h32(), key)?;
                let slot = e.shared_mut()?;
                let b = std::mem::take(slot);
                let mut m = b.try_into_mut().unwrap_or_else(|b| BytesMut::from(&b[..]));
                m.extend_from_slice(data);
                *slot = m.freeze();
                e.set_raw();
                side.bytes += data.len();
                return Some(new_len);
            }
            other => {
                let mut v = Vec::with_capacity(new_len);
                other.with(|b| v.extend_from_slice(b));
                v.extend_from_slice(data);
                Val::Owned(Bytes::from(v))
            }
        };
        self.put(cx, h, key, merged, Expire::Keep, crate::entry::RAW);
        Some(new_len)
    }

    /// Deletes every key of `db`.
    pub(crate) fn clear(&mut self, db: usize) {
        let Shard { dbs, side } = self;
        let Some(d) = dbs.get_mut(db) else { return };
        let table = std::mem::take(&mut d.table);
        side.bytes = side.bytes.saturating_sub(table.allocation_size());
        for e in table {
            side.untrack(&mut d.ttl, &e);
            side.release(&e);
        }
        d.ttl.clear();
    }

    /// Empties the shard, every database, without freeing anything: what it held is handed
    /// back for the caller to drop after the lock is released (FLUSHALL ASYNC). O(1) under the
    /// lock; the byte count drops to zero at once.
    pub(crate) fn take_all(&mut self) -> Emptied {
        let databases = self.dbs.len();
        let dbs = std::mem::replace(&mut self.dbs, Dbs::new(databases));
        let side = &mut self.side;
        side.bytes = 0;
        side.pool.clear();
        side.hand = 0;
        Emptied { _dbs: dbs, _sieve: std::mem::take(&mut side.sieve) }
    }

    /// True if no database but `db` holds a key.
    pub(crate) fn only_in(&self, db: usize) -> bool {
        self.dbs.iter().enumerate().all(|(i, d)| i == db || d.table.len() == 0)
    }

    /// Number of keys (expired or not) and of keys with a TTL in `db`.
    pub(crate) fn counts(&self, db: usize) -> (usize, usize) {
        self.dbs
            .get(db)
            .map_or((0, 0), |d| (d.table.len(), d.ttl.values().map(|&n| n as usize).sum()))
    }

    /// Deletes up to `max` expired keys, those that expire first (the TTL index is ordered, so
    /// this finds every expired key, not a sample). Returns how many.
    pub(crate) fn expire_some(&mut self, now: i64, max: usize) -> usize {
        self.drain_tables();
        let mut n = 0;
        for db in 0..self.dbs.len() {
            while n < max {
                let Some(d) = self.dbs.get_mut(db) else { break };
                let Some((&(at, h32), _)) = d.ttl.first_key_value() else { break };
                if at > now {
                    break;
                }
                let hs = self.side.hasher;
                let key = d
                    .table
                    .find_hash_index(h32, |e| h32_of(&hs, e.key()) == h32 && e.expire() == Some(at))
                    .and_then(|i| d.table.at(i))
                    .map(|e| e.key().to_vec());
                match key {
                    Some(k) => {
                        let kh = KeyHash(u64::from(h32));
                        // `take` counts it as expired and returns None.
                        let _ = self.take(db, kh, &k, now);
                    }
                    None => {
                        d.ttl.remove(&(at, h32));
                    }
                }
                n += 1;
            }
        }
        n
    }

    /// Moves on the growth of every draining table by [`CRON_DRAIN`] slots, so that tables
    /// nobody writes to still finish (the active expiry cycle calls this on every visit).
    fn drain_tables(&mut self) {
        let Shard { dbs, side } = self;
        if !side.may_drain {
            return;
        }
        side.may_drain = false;
        for db in 0..dbs.len() {
            let Some(d) = dbs.get_mut(db) else { break };
            if d.table.draining() {
                side.drain(&mut d.table, CRON_DRAIN);
                side.may_drain |= d.table.draining();
            }
        }
    }

    /// The keys of `db` whose stored hash lies in `[from, next)`, where `next` (returned; None
    /// when the shard is done) is reached after at least `count` of them (see [`Table::scan`]).
    /// Expired keys and those `keep` rejects are counted but not returned.
    pub(crate) fn scan(
        &self,
        db: usize,
        from: u64,
        count: usize,
        now: i64,
        keep: &dyn Fn(&Entry) -> bool,
        out: &mut Vec<Bytes>,
    ) -> Option<u64> {
        let hs = &self.side.hasher;
        self.dbs.get(db)?.table.scan(
            from,
            count,
            |e| h32_of(hs, e.key()),
            |e| {
                if !e.is_expired(now) && keep(e) {
                    out.push(Bytes::copy_from_slice(e.key()));
                }
            },
        )
    }

    /// A random live key of `db`.
    pub(crate) fn random_key(&mut self, db: usize, now: i64) -> Option<Bytes> {
        for _ in 0..8 {
            let r = self.side.rng.random::<u64>() as usize;
            let table = &self.dbs.get(db)?.table;
            let e = table.sample(r).and_then(|i| table.at(i))?;
            let key = Bytes::copy_from_slice(e.key());
            if !e.is_expired(now) {
                return Some(key);
            }
            let h = KeyHash(u64::from(h32_of(&self.side.hasher, &key)));
            let _ = self.take(db, h, &key, now);
        }
        None
    }

    /// Evicts one key as `policy` says. Returns false if there was nothing to evict.
    pub(crate) fn evict(&mut self, policy: Policy, now: i64, samples: usize) -> bool {
        if policy != Policy::AllKeysSieve && self.side.sieve_on {
            // Switched away from SIEVE: stop feeding its queue.
            self.side.sieve_on = false;
            self.side.bytes = self.side.bytes.saturating_sub(self.side.sieve.capacity() * 8);
            self.side.sieve = VecDeque::new();
        }
        let victim = match policy {
            Policy::NoEviction => None,
            Policy::AllKeysSieve => self.sieve_victim(),
            Policy::VolatileTtl => self
                .dbs
                .iter()
                .enumerate()
                .filter_map(|(db, d)| d.ttl.first_key_value().map(|(&(at, h), _)| (at, h, db)))
                .min()
                .and_then(|(at, h, db)| self.volatile_key(db, at, h).map(|k| (db, h, k))),
            _ => self.sampled_victim(policy, now, samples.max(1)),
        };
        let Some((db, h32, key)) = victim else { return false };
        let h = KeyHash(u64::from(h32));
        let Shard { dbs, side } = self;
        let Some(Db { table, ttl }) = dbs.get_mut(db) else { return false };
        let Some(i) = table.find_index(h.h32(), &key) else { return false };
        side.unlink(table, ttl, i);
        side.stats.evicted += 1;
        true
    }

    fn volatile_key(&self, db: usize, at: i64, h32: u32) -> Option<Vec<u8>> {
        let hs = &self.side.hasher;
        let table = &self.dbs.get(db)?.table;
        let i =
            table.find_hash_index(h32, |e| h32_of(hs, e.key()) == h32 && e.expire() == Some(at))?;
        table.at(i).map(|e| e.key().to_vec())
    }

    /// Redis's approximation: sample a few keys per database, evict the best of them.
    fn sampled_victim(
        &mut self,
        policy: Policy,
        now: i64,
        samples: usize,
    ) -> Option<(usize, u32, Vec<u8>)> {
        let mut best: Option<(u64, usize, u32, Vec<u8>)> = None;
        let hs = self.side.hasher;
        let volatile = policy.is_volatile();
        if self.side.pool_policy != Some(policy) {
            self.side.pool.clear();
            self.side.pool_policy = Some(policy);
        }
        for db in 0..self.dbs.len() {
            let d = self.dbs.get(db)?;
            let mut picked: Vec<&Entry> = Vec::with_capacity(samples);
            if volatile {
                let (Some((&(lo, _), _)), Some((&(hi, _), _))) =
                    (d.ttl.first_key_value(), d.ttl.last_key_value())
                else {
                    continue;
                };
                for _ in 0..samples {
                    let at = if hi > lo { self.side.rng.random_range(lo..=hi) } else { lo };
                    let pick = d.ttl.range((at, 0)..).next().or_else(|| d.ttl.last_key_value());
                    if let Some((&(at, h32), _)) = pick {
                        let found = d.table.find_hash_index(h32, |e| {
                            h32_of(&hs, e.key()) == h32 && e.expire() == Some(at)
                        });
                        if let Some(e) = found.and_then(|i| d.table.at(i)) {
                            picked.push(e);
                        }
                    }
                }
            } else {
                for _ in 0..samples.min(d.table.len()) {
                    let r = self.side.rng.random::<u64>() as usize;
                    if let Some(e) = d.table.sample(r).and_then(|i| d.table.at(i)) {
                        if !picked.iter().any(|p| std::ptr::eq(*p, e)) {
                            picked.push(e);
                        }
                    }
                }
            }
            let random = !matches!(
                policy,
                Policy::AllKeysLru | Policy::VolatileLru | Policy::AllKeysLfu | Policy::VolatileLfu
            );
            for e in picked {
                let score = match policy {
                    Policy::AllKeysLru | Policy::VolatileLru => {
                        policy::lru_idle_ms(e.access(), now)
                    }
                    Policy::AllKeysLfu | Policy::VolatileLfu => {
                        255 - policy::lfu_decayed(e.access(), now)
                    }
                    _ => self.side.rng.random::<u64>(),
                };
                // Expired keys go first, whatever the policy.
                let score = if e.is_expired(now) { u64::MAX } else { score };
                if random {
                    if best.as_ref().is_none_or(|b| score > b.0) {
                        best = Some((score, db, h32_of(&hs, e.key()), e.key().to_vec()));
                    }
                } else {
                    pool_add(&mut self.side.pool, score, db, h32_of(&hs, e.key()), e.key());
                }
            }
        }
        if best.is_some() {
            return best.map(|(_, db, h, k)| (db, h, k));
        }
        // The best pooled candidate that still exists (Redis's eviction pool).
        while !self.side.pool.is_empty() {
            let c = self.side.pool.remove(0);
            let live = self.dbs.get(c.db).is_some_and(|d| {
                d.table.find(c.h32, &c.key).is_some_and(|e| !volatile || e.expire().is_some())
            });
            if live {
                return Some((c.db, c.h32, c.key.into_vec()));
            }
        }
        None
    }

    /// SIEVE: the hand walks from the oldest key to the newest, clearing visited bits, and
    /// evicts the first key not visited since the hand last passed.
    fn sieve_victim(&mut self) -> Option<(usize, u32, Vec<u8>)> {
        let keys = self.dbs.iter().map(|d| d.table.len()).sum::<usize>();
        let q = self.side.sieve.len();
        if !self.side.sieve_on || q < keys / 2 || q > 2 * keys + 1024 {
            // The policy was just switched on, or the queue lost track of many keys (missing
            // ones, or stale ones left by deletions): rebuild it from the tables.
            self.side.sieve_on = true;
            let cap = self.side.sieve.capacity();
            self.side.sieve.clear();
            for (db, d) in self.dbs.iter().enumerate() {
                let hs = self.side.hasher;
                self.side.sieve.extend(d.table.iter().map(|e| (h32_of(&hs, e.key()), db as u8)));
            }
            self.side.hand = 0;
            self.side.bytes =
                (self.side.bytes + self.side.sieve.capacity() * 8).saturating_sub(cap * 8);
        }
        let steps = 2 * self.side.sieve.len() + 1;
        let hs = self.side.hasher;
        for _ in 0..steps {
            let len = self.side.sieve.len();
            if len == 0 {
                return None;
            }
            if self.side.hand >= len {
                self.side.hand = 0;
            }
            let &(h32, db) = self.side.sieve.get(self.side.hand)?;
            let db = db as usize;
            let entry = self.dbs.get_mut(db).and_then(|d| {
                let i = d.table.find_hash_index(h32, |e| h32_of(&hs, e.key()) == h32)?;
                d.table.at_mut(i)
            });
            match entry {
                None => {
                    self.side.sieve.remove(self.side.hand);
                }
                Some(e) if e.visited() => {
                    e.set_visited(false);
                    self.side.hand += 1;
                }
                Some(e) => {
                    let key = e.key().to_vec();
                    self.side.sieve.remove(self.side.hand);
                    return Some((db, h32, key));
                }
            }
        }
        None
    }

    /// Sums the accounting from scratch (tests check it against the running count).
    #[cfg(test)]
    pub(crate) fn recount(&self) -> usize {
        let mut n = self.side.sieve.capacity() * 8;
        for d in self.dbs.iter() {
            n += d.table.allocation_size();
            for e in d.table.iter() {
                n += e.cost() + e.shared().map_or(0, shared_cost);
                if e.expire().is_some() {
                    n += TTL_COST;
                }
            }
        }
        n + self
            .dbs
            .iter()
            .flat_map(|d| d.table.iter())
            .filter_map(|e| e.obj().map(obj_cost))
            .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx(now: i64) -> Ctx {
        Ctx { db: 0, now, lfu: false, touch: true }
    }

    const HS: Hasher = Hasher::with_seed(1);

    fn kh(key: &[u8]) -> KeyHash {
        KeyHash(key_hash(&HS, key))
    }

    #[test]
    fn put_find_take_and_accounting() {
        let mut s = Shard::new(2, 1, HS);
        let c = cx(1000);
        let big = Bytes::from(vec![7u8; 5000]);
        s.put(&c, kh(b"a"), b"a", Val::Slice(b"small"), Expire::Set(None), 0);
        s.put(&c, kh(b"b"), b"b", Val::Owned(big.clone()), Expire::Set(Some(5000)), 0);
        s.put(&c, kh(b"c"), b"c", Val::Int(42), Expire::Set(None), 0);
        assert_eq!(s.bytes(), s.recount());
        match s.find(0, kh(b"b"), b"b", 1000).map(|f| f.value()) {
            Some(ValRef::Shared(b)) => assert_eq!(b.as_ptr(), big.as_ptr()),
            other => panic!("{other:?}"),
        }
        s.put(&c, kh(b"a"), b"a", Val::Owned(big.clone()), Expire::Keep, 0);
        assert_eq!(s.bytes(), s.recount());
        assert!(s.take(0, kh(b"a"), b"a", 1000).is_some());
        assert_eq!(s.bytes(), s.recount());
        // Expired: gone on access, counted.
        assert!(s.find(0, kh(b"b"), b"b", 6000).is_none());
        assert_eq!(s.side.stats.expired, 1);
        assert_eq!(s.bytes(), s.recount());
        assert!(s.set_expire(0, kh(b"c"), b"c", 6000, Some(9000)));
        assert_eq!(s.counts(0), (1, 1));
        assert_eq!(s.bytes(), s.recount());
        assert_eq!(s.expire_some(9000, 10), 1);
        assert_eq!(s.counts(0), (0, 0));
        s.clear(0);
        assert_eq!(s.bytes(), s.recount());
    }

    /// A long string SET over a long string swaps its `Bytes` inside the entry; the byte count,
    /// the TTL index and the expired counter stay right whether the TTL field stays (in place),
    /// comes or goes (a new entry), and the old key had expired; APPEND grows it in place.
    #[test]
    fn long_strings_replace_in_place_and_keep_accounting() {
        let mut s = Shard::new(1, 1, HS);
        let k = &b"long"[..];
        let long = |n: u8| Bytes::from(vec![n; INLINE_MAX + 1 + usize::from(n)]);
        let steps = [
            (long(1), Expire::Set(None), 1, None),
            (long(2), Expire::Set(None), 2, None),
            (long(3), Expire::Set(Some(500)), 3, Some(500)),
            (long(4), Expire::Keep, 4, Some(500)),
            (long(5), Expire::Set(Some(600)), 5, Some(600)),
            (long(6), Expire::Set(None), 6, None),
            (long(7), Expire::Set(Some(50)), 7, Some(50)),
            // The key expired at 50: Keep keeps nothing, and the expiry is counted.
            (long(8), Expire::Keep, 100, None),
        ];
        for (b, expire, now, want_ttl) in steps {
            let p = b.as_ptr();
            s.put(&cx(now), kh(k), k, Val::Owned(b), expire, 0);
            let found = s.find(0, kh(k), k, now).map(|f| (f.value(), f.entry.expire()));
            assert!(
                matches!(found, Some((ValRef::Shared(v), t)) if v.as_ptr() == p && t == want_ttl)
            );
            assert_eq!(s.bytes(), s.recount());
            assert_eq!(s.counts(0), (1, usize::from(want_ttl.is_some())));
        }
        assert_eq!(s.side.stats.expired, 1);
        let before = s.find(0, kh(k), k, 100).map(|f| f.value().len());
        assert_eq!(s.append(&cx(100), kh(k), k, b"tail", usize::MAX), before.map(|n| n + 4));
        assert_eq!(s.bytes(), s.recount());
        assert!(s.find(0, kh(k), k, 100).is_some_and(|f| f.entry.is_raw()));
        let taken = s.take(0, kh(k), k, 100).map(Taken::into_val);
        assert!(matches!(taken, Some(Val::Owned(b)) if b.ends_with(b"tail")));
        assert_eq!(s.bytes(), s.recount());
    }

    /// SETs that rewrite an entry in place (same length) and those that reallocate it keep the
    /// byte count, the TTL index, the expired counter and the key's value right.
    #[test]
    fn overwrites_in_place_keep_accounting_and_ttl_index() {
        let mut s = Shard::new(1, 1, HS);
        let k = &b"key:000000000042"[..];
        let v64 = [b'v'; 64];
        let w64 = [b'w'; 64];
        s.put(&cx(0), kh(k), k, Val::Slice(&v64), Expire::Set(None), 0);
        let steps: [(Val<'_>, Expire, i64); 7] = [
            (Val::Slice(&w64), Expire::Set(None), 1),
            (Val::Owned(Bytes::copy_from_slice(&v64)), Expire::Set(Some(500)), 2),
            (Val::Slice(&w64), Expire::Set(Some(600)), 3),
            (Val::Slice(&v64), Expire::Keep, 4),
            (Val::Int(123_456_789), Expire::Set(Some(700)), 5),
            (Val::Slice(b"87654321"), Expire::Set(None), 6),
            (Val::Slice(&w64), Expire::Set(Some(50)), 7),
        ];
        for (val, expire, now) in steps {
            let want: Vec<u8> = match &val {
                Val::Slice(b) => b.to_vec(),
                Val::Owned(b) => b.to_vec(),
                Val::Int(i) => i.to_string().into_bytes(),
                Val::Obj(_) => unreachable!("strings only"),
            };
            let before = s.find(0, kh(k), k, now).and_then(|f| f.entry.expire());
            assert!(s.put(&cx(now), kh(k), k, val, expire, 0));
            let f = s.find(0, kh(k), k, now).expect("stored");
            let want_exp = match expire {
                Expire::Keep => before,
                Expire::Set(e) => e,
            };
            assert_eq!(f.entry.expire(), want_exp);
            assert_eq!(f.value().to_bytes(), want);
            assert_eq!(s.counts(0), (1, usize::from(want_exp.is_some())));
            assert_eq!(s.bytes(), s.recount());
        }
        // An expired key overwritten in place counts as expired, and as a new key.
        assert!(!s.put(&cx(100), kh(k), k, Val::Slice(&v64), Expire::Set(Some(1000)), 0));
        assert_eq!(s.side.stats.expired, 1);
        assert_eq!(s.counts(0), (1, 1));
        assert_eq!(s.bytes(), s.recount());
    }

    #[test]
    fn collections_check_their_type_and_vanish_when_empty() {
        use crate::types::{hash::Hash, set::Set};
        let mut s = Shard::new(1, 1, HS);
        let c = cx(0);
        s.put(&c, kh(b"str"), b"str", Val::Slice(b"v"), Expire::Set(None), 0);
        assert_eq!(
            s.write::<Hash, ()>(&c, kh(b"str"), b"str", true, |_| ()),
            Err(Error::WrongType)
        );
        assert!(matches!(s.read::<Hash>(&c, kh(b"str"), b"str"), Err(Error::WrongType)));
        assert_eq!(s.write::<Hash, u8>(&c, kh(b"h"), b"h", false, |_| 1), Ok(None));
        // Created, and deleted again because it is still empty.
        assert_eq!(s.write::<Hash, u8>(&c, kh(b"h"), b"h", true, |_| 1), Ok(Some(1)));
        assert!(s.find(0, kh(b"h"), b"h", 0).is_none());
        assert_eq!(s.bytes(), s.recount());
        // A stored collection: typed reads, WRONGTYPE across types, moved by take/put.
        s.put(&c, kh(b"s"), b"s", Val::Obj(Obj::Set(Set::default())), Expire::Set(None), 0);
        assert_eq!(s.bytes(), s.recount());
        assert!(matches!(s.read::<Set>(&c, kh(b"s"), b"s"), Ok(Some(_))));
        assert!(matches!(s.read::<Hash>(&c, kh(b"s"), b"s"), Err(Error::WrongType)));
        assert_eq!(
            s.find(0, kh(b"s"), b"s", 0).map(|f| f.entry.value_type()),
            Some(crate::entry::ValueType::Set)
        );
        let t = s.take(0, kh(b"s"), b"s", 0).map(Taken::into_val);
        assert!(matches!(t, Some(Val::Obj(Obj::Set(_)))));
        assert_eq!(s.bytes(), s.recount());
    }

    #[test]
    fn scan_returns_each_key_once_in_hash_order() {
        let mut s = Shard::new(1, 1, HS);
        let c = cx(0);
        let keys: Vec<Vec<u8>> = (0..500).map(|i| format!("k{i}").into_bytes()).collect();
        for k in &keys {
            s.put(&c, kh(k), k, Val::Slice(b"v"), Expire::Set(None), 0);
        }
        let mut out = Vec::new();
        let mut pos = Some(0);
        while let Some(p) = pos {
            pos = s.scan(0, p, 7, 0, &|_| true, &mut out);
        }
        out.sort();
        let mut want: Vec<Bytes> = keys.iter().map(|k| Bytes::copy_from_slice(k)).collect();
        want.sort();
        assert_eq!(out, want);
    }

    /// A table that grew and is then left alone still finishes draining: the expiry cycle's
    /// visits move it on (the shard's hint says where to look), and the byte count follows.
    #[test]
    fn the_expiry_cycle_finishes_a_drain_nobody_writes_to() {
        let mut s = Shard::new(1, 1, HS);
        let c = cx(0);
        let draining = |s: &Shard| s.dbs.get(0).is_some_and(|d| d.table.draining());
        let key = |i: usize| format!("k{i}").into_bytes();
        let mut n = 0;
        while !draining(&s) {
            s.put(&c, kh(&key(n)), &key(n), Val::Slice(b"v"), Expire::Set(None), 0);
            n += 1;
            assert!(n < 100_000, "the table never grew incrementally");
        }
        let finish = |s: &mut Shard| {
            let mut visits = 0;
            while draining(s) {
                assert_eq!(s.bytes(), s.recount());
                s.expire_some(0, 100);
                visits += 1;
                assert!(visits < 1000, "the expiry cycle does not drain");
            }
            assert_eq!(s.bytes(), s.recount());
        };
        finish(&mut s);
        for i in 0..n {
            assert!(s.find(0, kh(&key(i)), &key(i), 0).is_some());
        }
        // Deletions shrink the table the same way; the expiry cycle finishes that drain too.
        let mut left = n;
        while !draining(&s) {
            left -= 1;
            assert!(s.take(0, kh(&key(left)), &key(left), 0).is_some());
            assert!(left > 0, "the table never shrank incrementally");
        }
        finish(&mut s);
        for i in 0..n {
            assert_eq!(s.find(0, kh(&key(i)), &key(i), 0).is_some(), i < left);
        }
    }

    #[test]
    fn every_policy_evicts_and_keeps_accounting() {
        for p in Policy::ALL {
            let mut s = Shard::new(2, 3, HS);
            for i in 0..100 {
                let k = format!("k{i}").into_bytes();
                let c = Ctx { db: i % 2, now: 0, lfu: p.is_lfu(), touch: true };
                let exp = if i % 3 == 0 { Some(1_000_000 + i as i64) } else { None };
                s.put(&c, kh(&k), &k, Val::Slice(b"value"), Expire::Set(exp), 0);
            }
            let mut n = 0;
            while s.evict(p, 10, 5) {
                n += 1;
                assert_eq!(s.bytes(), s.recount(), "{p}");
            }
            let want = match p {
                Policy::NoEviction => 0,
                p if p.is_volatile() => 34,
                _ => 100,
            };
            assert_eq!(n, want, "{p}");
            assert_eq!(s.side.stats.evicted, want as u64);
        }
    }

    #[test]
    fn volatile_ttl_evicts_the_soonest() {
        let mut s = Shard::new(1, 3, HS);
        let c = cx(0);
        for (k, at) in [(&b"late"[..], 900), (b"soon", 100), (b"mid", 500)] {
            s.put(&c, kh(k), k, Val::Slice(b"v"), Expire::Set(Some(at)), 0);
        }
        assert!(s.evict(Policy::VolatileTtl, 0, 5));
        assert!(s.find(0, kh(b"soon"), b"soon", 0).is_none());
        assert!(s.find(0, kh(b"mid"), b"mid", 0).is_some());
    }

    #[test]
    fn sieve_spares_visited_keys() {
        let mut s = Shard::new(1, 3, HS);
        s.side.sieve_on = true;
        let c = cx(0);
        for k in [&b"a"[..], b"b", b"c"] {
            s.put(&c, kh(k), k, Val::Slice(b"v"), Expire::Set(None), 0);
        }
        assert!(s.lookup(&c, kh(b"a"), b"a", true).is_some());
        assert!(s.evict(Policy::AllKeysSieve, 0, 5));
        assert!(s.find(0, kh(b"a"), b"a", 0).is_some());
        assert!(s.find(0, kh(b"b"), b"b", 0).is_none());
    }
}
