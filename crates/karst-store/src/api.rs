//! The typed embedded API: the same operations as the commands, without RESP. Every call works
//! in the handle's database: 0, or the one [`Store::select`] chose.

use bytes::Bytes;

use crate::cmd::string::{Cond, ExpireOpt, SetArgs, SetDone, int_encodable, op_incr_by, op_set};
use crate::entry::INLINE_MAX;
use crate::error::{Error, Result};
use crate::shard::{Ctx, KeyHash, Val, ValRef};
use crate::store::Many;
use crate::store::Store;

/// Options of [`Store::set_with`] (SET's NX, XX, EX, PX, EXAT, PXAT, KEEPTTL).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SetOptions {
    cond: Cond,
    expire: Expiry,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Expiry {
    #[default]
    None,
    Keep,
    In(i64),
    At(i64),
}

impl SetOptions {
    /// No condition, no TTL.
    pub fn new() -> SetOptions {
        SetOptions::default()
    }

    /// Only if the key does not exist (NX).
    pub fn nx(mut self) -> SetOptions {
        self.cond = Cond::IfAbsent;
        self
    }

    /// Only if the key exists (XX).
    pub fn xx(mut self) -> SetOptions {
        self.cond = Cond::IfPresent;
        self
    }

    /// Expire after `secs` seconds (EX).
    pub fn ex(self, secs: i64) -> SetOptions {
        self.px(secs.saturating_mul(1000))
    }

    /// Expire after `ms` milliseconds (PX).
    pub fn px(mut self, ms: i64) -> SetOptions {
        self.expire = Expiry::In(ms);
        self
    }

    /// Expire at a Unix time in seconds (EXAT).
    pub fn exat(self, secs: i64) -> SetOptions {
        self.pxat(secs.saturating_mul(1000))
    }

    /// Expire at a Unix time in milliseconds (PXAT).
    pub fn pxat(mut self, ms: i64) -> SetOptions {
        self.expire = Expiry::At(ms);
        self
    }

    /// Keep the key's current TTL (KEEPTTL).
    pub fn keep_ttl(mut self) -> SetOptions {
        self.expire = Expiry::Keep;
        self
    }
}

/// The value to store: an integer, a short string copied into the entry, or the `Bytes`
/// itself, taken (a clone would make a fresh `Bytes` allocate its shared header).
fn val(value: &mut Bytes) -> Val<'_> {
    match int_encodable(value) {
        Some(i) => Val::Int(i),
        None if value.len() <= INLINE_MAX => Val::Slice(value),
        None => Val::Owned(std::mem::take(value)),
    }
}

impl Store {
    /// The context of a typed call: this handle's database, now.
    #[inline]
    fn cx0(&self) -> Ctx {
        self.ctx_in(self.db, true)
    }

    fn room_for(&self, key: &[u8]) -> Result<()> {
        if self.maxmemory() != 0 && !self.make_room(Some(self.shard_of(self.hash(key)))) {
            return Err(Error::OutOfMemory);
        }
        Ok(())
    }

    /// GET: the value, if the key exists.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        let key = key.as_ref();
        let cx = self.cx0();
        let h = self.hash(key);
        let mut g = self.lock(h);
        g.lookup(&cx, h, key, true).map(|f| f.string().map(ValRef::to_bytes)).transpose()
    }

    /// GET without a copy: runs `f` on the value in place, while the key's shard is locked, and
    /// returns what `f` returns (`None` if the key does not exist). [`Store::get`] copies a small
    /// value out of its entry into a new `Bytes`; this does not. Keep `f` short: other threads
    /// that need the same shard wait for it.
    pub fn get_with<R>(
        &self,
        key: impl AsRef<[u8]>,
        f: impl FnOnce(&[u8]) -> R,
    ) -> Result<Option<R>> {
        let key = key.as_ref();
        let cx = self.cx0();
        let h = self.hash(key);
        let mut g = self.lock(h);
        g.lookup(&cx, h, key, true)
            .map(|found| match found.string()? {
                ValRef::Bytes(b) => Ok(f(b)),
                ValRef::Shared(b) => Ok(f(b)),
                ValRef::Int(i) => Ok(f(itoa::Buffer::new().format(i).as_bytes())),
                ValRef::Obj(_) => Err(Error::WrongType),
            })
            .transpose()
    }

    /// SET with no options.
    pub fn set(&self, key: impl AsRef<[u8]>, value: impl Into<Bytes>) -> Result<()> {
        self.set_with(key, value, SetOptions::new()).map(|_| ())
    }

    /// SET with options: true if the value was stored (false when NX/XX stopped it).
    pub fn set_with(
        &self,
        key: impl AsRef<[u8]>,
        value: impl Into<Bytes>,
        opts: SetOptions,
    ) -> Result<bool> {
        let key = key.as_ref();
        let mut value = value.into();
        self.room_for(key)?;
        let cx = self.cx0();
        let expire = match opts.expire {
            Expiry::None => ExpireOpt::None,
            Expiry::Keep => ExpireOpt::KeepTtl,
            Expiry::In(ms) if ms > 0 => {
                ExpireOpt::At(ms.checked_add(cx.now).ok_or(Error::InvalidExpire("set"))?)
            }
            Expiry::At(ms) if ms > 0 => ExpireOpt::At(ms),
            _ => return Err(Error::InvalidExpire("set")),
        };
        let o = SetArgs { cond: opts.cond, expire, get: false };
        let h = self.hash(key);
        let mut g = self.lock(h);
        Ok(op_set(&mut g, &cx, h, key, val(&mut value), &o, |_| {})? == SetDone::Stored)
    }

    /// DEL: how many of the keys existed.
    pub fn del<K: AsRef<[u8]>>(&self, keys: &[K]) -> usize {
        let now = self.now();
        let (hashes, mut locked) = self.lock_keys(keys.iter().map(AsRef::as_ref));
        keys.iter()
            .zip(hashes)
            .filter(|(k, h)| {
                let shard = locked.shard(self.shard_of(*h));
                shard.and_then(|g| g.take(self.db, *h, k.as_ref(), now)).is_some()
            })
            .count()
    }

    /// Hashes each key once and locks the shards they fall in, in ascending order.
    fn lock_keys<'k>(&self, keys: impl Iterator<Item = &'k [u8]>) -> (Vec<KeyHash>, Many<'_>) {
        let hashes: Vec<KeyHash> = keys.map(|k| self.hash(k)).collect();
        let locked = self.lock_many(hashes.iter().map(|&h| self.shard_of(h)).collect());
        (hashes, locked)
    }

    /// EXISTS for one key.
    pub fn exists(&self, key: impl AsRef<[u8]>) -> bool {
        let key = key.as_ref();
        let h = self.hash(key);
        self.lock(h).find(self.db, h, key, self.now()).is_some()
    }

    /// MGET: one value or None per key, read atomically.
    pub fn mget<K: AsRef<[u8]>>(&self, keys: &[K]) -> Vec<Option<Bytes>> {
        let cx = self.cx0();
        let (hashes, mut locked) = self.lock_keys(keys.iter().map(AsRef::as_ref));
        keys.iter()
            .zip(hashes)
            .map(|(k, h)| {
                let shard = locked.shard(self.shard_of(h));
                let found = shard.and_then(|g| g.lookup(&cx, h, k.as_ref(), true));
                // As MGET: a key of another type reads as missing.
                found.and_then(|f| f.string().ok().map(ValRef::to_bytes))
            })
            .collect()
    }

    /// MSET: every pair stored atomically.
    pub fn mset<K: AsRef<[u8]>, V: Into<Bytes> + Clone>(&self, pairs: &[(K, V)]) -> Result<()> {
        if let Some((k, _)) = pairs.first() {
            self.room_for(k.as_ref())?;
        }
        let cx = self.cx0();
        let (hashes, mut locked) = self.lock_keys(pairs.iter().map(|(k, _)| k.as_ref()));
        for ((k, v), h) in pairs.iter().zip(hashes) {
            let mut v: Bytes = v.clone().into();
            if let Some(g) = locked.shard(self.shard_of(h)) {
                g.put(&cx, h, k.as_ref(), val(&mut v), crate::shard::Expire::Set(None), 0);
            }
        }
        Ok(())
    }

    /// INCR.
    pub fn incr(&self, key: impl AsRef<[u8]>) -> Result<i64> {
        self.incr_by(key, 1)
    }

    /// INCRBY.
    pub fn incr_by(&self, key: impl AsRef<[u8]>, by: i64) -> Result<i64> {
        let key = key.as_ref();
        self.room_for(key)?;
        let cx = self.cx0();
        let h = self.hash(key);
        let mut g = self.lock(h);
        op_incr_by(&mut g, &cx, h, key, by)
    }

    /// PEXPIRE: true if the key exists (a deadline in the past deletes it).
    pub fn expire_ms(&self, key: impl AsRef<[u8]>, ms: i64) -> Result<bool> {
        let key = key.as_ref();
        let now = self.now();
        let at = now.checked_add(ms).ok_or(Error::InvalidExpire("pexpire"))?;
        let h = self.hash(key);
        let mut g = self.lock(h);
        if g.find(self.db, h, key, now).is_none() {
            return Ok(false);
        }
        if at <= now {
            let _ = g.take(self.db, h, key, now);
        } else {
            g.set_expire(self.db, h, key, now, Some(at));
        }
        Ok(true)
    }

    /// PERSIST: true if a TTL was removed.
    pub fn persist(&self, key: impl AsRef<[u8]>) -> bool {
        let key = key.as_ref();
        let now = self.now();
        let h = self.hash(key);
        let mut g = self.lock(h);
        let had = g.find(self.db, h, key, now).is_some_and(|f| f.entry.expire().is_some());
        had && g.set_expire(self.db, h, key, now, None)
    }

    /// PTTL: milliseconds left, -1 without TTL, -2 without key.
    pub fn ttl_ms(&self, key: impl AsRef<[u8]>) -> Result<i64> {
        let key = key.as_ref();
        let now = self.now();
        let h = self.hash(key);
        let mut g = self.lock(h);
        let e = g.find(self.db, h, key, now).map(|f| f.entry.expire());
        Ok(crate::cmd::keys::op_ttl(e, now, true, false))
    }

    /// One SCAN step over `db`: about `count` keys matching `pattern` (Redis glob) and the next
    /// cursor (0 when done). A key present for the whole scan is returned exactly once.
    pub fn scan(
        &self,
        db: usize,
        cursor: u64,
        count: usize,
        pattern: Option<&[u8]>,
    ) -> (u64, Vec<Bytes>) {
        let keep =
            |e: &crate::entry::Entry| pattern.is_none_or(|p| crate::glob::matches(p, e.key()));
        let mut keys = Vec::new();
        let next = crate::cmd::keys::op_scan(self, db, cursor, count.max(1), &keep, &mut keys);
        (next, keys)
    }

    /// FLUSHALL.
    pub fn flushall(&self) {
        crate::cmd::keys::op_flush(self, None, false);
    }
}
