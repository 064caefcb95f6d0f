//! Keyspace commands (Redis `db.c`, `expire.c`, `object.c`).

use bytes::Bytes;
use karst_resp::{Args, Output};

use super::{D, F, R, W, arg, err, int_arg, is, parse_cursor};
use crate::command::{CommandSpec, Flags, spec};
use crate::entry::{Entry, Stored, ValueType};
use crate::error::Error;
use crate::policy;
use crate::session::Session;
use crate::shard::{Expire, Found, KeyHash, ValRef};
use crate::store::Store;

const KW: &[&str] = &["keyspace", "write", "slow"];
const KWF: &[&str] = &["keyspace", "write", "fast"];
const KRF: &[&str] = &["keyspace", "read", "fast"];
const KR: &[&str] = &["keyspace", "read", "slow"];
const KWD: &[&str] = &["keyspace", "write", "slow", "dangerous"];

pub(crate) static COMMANDS: &[CommandSpec] = &[
    spec("del", -2, Flags(W), 1, -1, 1, KW, del),
    spec("unlink", -2, Flags(W | F), 1, -1, 1, KWF, del),
    spec("exists", -2, Flags(R | F), 1, -1, 1, KRF, exists),
    spec("touch", -2, Flags(R | F), 1, -1, 1, KRF, touch),
    spec("type", 2, Flags(R | F), 1, 1, 1, KRF, type_),
    spec("expire", -3, Flags(W | F), 1, 1, 1, KWF, expire),
    spec("pexpire", -3, Flags(W | F), 1, 1, 1, KWF, pexpire),
    spec("expireat", -3, Flags(W | F), 1, 1, 1, KWF, expireat),
    spec("pexpireat", -3, Flags(W | F), 1, 1, 1, KWF, pexpireat),
    spec("ttl", 2, Flags(R | F), 1, 1, 1, KRF, ttl),
    spec("pttl", 2, Flags(R | F), 1, 1, 1, KRF, pttl),
    spec("expiretime", 2, Flags(R | F), 1, 1, 1, KRF, expiretime),
    spec("pexpiretime", 2, Flags(R | F), 1, 1, 1, KRF, pexpiretime),
    spec("persist", 2, Flags(W | F), 1, 1, 1, KWF, persist),
    spec("keys", 2, Flags(R), 0, 0, 0, &["keyspace", "read", "slow", "dangerous"], keys),
    spec("scan", -2, Flags(R), 0, 0, 0, KR, scan),
    spec("randomkey", 1, Flags(R), 0, 0, 0, KR, randomkey),
    spec("rename", 3, Flags(W), 1, 2, 1, KW, rename),
    spec("renamenx", 3, Flags(W | F), 1, 2, 1, KWF, renamenx),
    spec("copy", -3, Flags(W | D), 1, 2, 1, KW, copy),
    spec("move", 3, Flags(W | F), 1, 1, 1, KWF, move_),
    spec("object", -2, Flags(0), 0, 0, 0, &["slow"], object),
    spec("dbsize", 1, Flags(R | F), 0, 0, 0, KRF, dbsize),
    spec("flushdb", -1, Flags(W), 0, 0, 0, KWD, flushdb),
    spec("flushall", -1, Flags(W), 0, 0, 0, KWD, flushall),
    spec("select", 2, Flags(F), 0, 0, 0, &["fast", "connection"], select),
    spec("swapdb", 3, Flags(W | F), 0, 0, 0, &["keyspace", "write", "fast", "dangerous"], swapdb),
];

/// Runs `f` on every key argument from position 1 with its shard locked (all shards locked in
/// ascending order first, so the command is atomic). Returns how many calls returned true.
fn count_keys(
    store: &Store,
    args: &Args<'_>,
    mut f: impl FnMut(&mut crate::store::ShardGuard<'_>, KeyHash, &[u8]) -> bool,
) -> i64 {
    if args.len() == 2 {
        let key = arg(args, 1);
        let h = store.hash(key);
        return i64::from(f(&mut store.lock(h), h, key));
    }
    let (hashes, shards) = super::string::key_hashes(store, args, 1, 1);
    let mut locked = store.lock_many(shards.clone());
    let mut n = 0;
    for (i, (&h, &sh)) in hashes.iter().zip(&shards).enumerate() {
        if let Some(g) = locked.shard(sh) {
            n += i64::from(f(g, h, arg(args, i + 1)));
        }
    }
    n
}

/// ```text
/// DEL key [key ...]
/// UNLINK key [key ...]
/// ```
/// The number of keys removed.
fn del(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let (db, now) = (s.db, store.now());
    let n = count_keys(store, &args, |g, h, k| g.take(db, h, k, now).is_some());
    out.integer(n);
}

/// ```text
/// EXISTS key [key ...]
/// ```
/// How many of the keys exist (a key named twice counts twice).
fn exists(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let (db, now) = (s.db, store.now());
    let n = count_keys(store, &args, |g, h, k| g.find(db, h, k, now).is_some());
    out.integer(n);
}

/// ```text
/// TOUCH key [key ...]
/// ```
fn touch(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let cx = store.ctx(s);
    let n = count_keys(store, &args, |g, h, k| g.lookup(&cx, h, k, false).is_some());
    out.integer(n);
}

/// ```text
/// TYPE key
/// ```
fn type_(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let key = arg(&args, 1);
    let h = store.hash(key);
    let mut g = store.lock(h);
    match g.find(s.db, h, key, store.now()) {
        Some(f) => out.simple(f.entry.value_type().name()),
        None => out.simple("none"),
    }
}

/// NX / XX / GT / LT of the EXPIRE family.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ExpireFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

pub(crate) fn parse_expire_flags(args: &Args<'_>) -> Result<ExpireFlags, Error> {
    let mut f = ExpireFlags::default();
    for a in args.iter().skip(3) {
        if is(a, "nx") {
            f.nx = true;
        } else if is(a, "xx") {
            f.xx = true;
        } else if is(a, "gt") {
            f.gt = true;
        } else if is(a, "lt") {
            f.lt = true;
        } else {
            return Err(Error::Other(format!(
                "ERR Unsupported option {}",
                String::from_utf8_lossy(a)
            )));
        }
    }
    if f.nx && (f.xx || f.gt || f.lt) {
        return Err(Error::Other(
            "ERR NX and XX, GT or LT options at the same time are not compatible".into(),
        ));
    }
    if f.gt && f.lt {
        return Err(Error::Other(
            "ERR GT and LT options at the same time are not compatible".into(),
        ));
    }
    Ok(f)
}

/// Whether EXPIRE with `flags` may replace `current` by `when` (Redis's rules: no TTL counts
/// as an infinite one).
pub(crate) fn expire_allowed(f: ExpireFlags, current: Option<i64>, when: i64) -> bool {
    if f.nx && current.is_some() || f.xx && current.is_none() {
        return false;
    }
    if f.gt && current.is_none_or(|c| when <= c) {
        return false;
    }
    if f.lt && current.is_some_and(|c| when >= c) {
        return false;
    }
    true
}

fn expire_generic(
    store: &Store,
    s: &mut Session,
    args: Args<'_>,
    out: &mut Output,
    relative: bool,
    secs: bool,
    name: &'static str,
) {
    let flags = match parse_expire_flags(&args) {
        Ok(f) => f,
        Err(e) => return err(out, e),
    };
    let mut when = match int_arg(&args, 2) {
        Ok(w) => w,
        Err(e) => return err(out, e),
    };
    let now = store.now();
    if secs {
        match when.checked_mul(1000) {
            Some(w) => when = w,
            None => return err(out, Error::InvalidExpire(name)),
        }
    }
    if relative {
        match when.checked_add(now) {
            Some(w) => when = w,
            None => return err(out, Error::InvalidExpire(name)),
        }
    }
    let key = arg(&args, 1);
    let h = store.hash(key);
    let mut g = store.lock(h);
    let Some(f) = g.find(s.db, h, key, now) else { return out.integer(0) };
    if !expire_allowed(flags, f.entry.expire(), when) {
        return out.integer(0);
    }
    if when <= now {
        let _ = g.take(s.db, h, key, now);
    } else {
        g.set_expire(s.db, h, key, now, Some(when));
    }
    out.integer(1);
}

/// ```text
/// EXPIRE key seconds [NX | XX | GT | LT]
/// ```
/// 1 if the timeout was set (or the key deleted because it is in the past), else 0.
fn expire(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    expire_generic(store, s, args, out, true, true, "expire");
}

/// ```text
/// PEXPIRE key milliseconds [NX | XX | GT | LT]
/// ```
fn pexpire(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    expire_generic(store, s, args, out, true, false, "pexpire");
}

/// ```text
/// EXPIREAT key unix-time-seconds [NX | XX | GT | LT]
/// ```
fn expireat(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    expire_generic(store, s, args, out, false, true, "expireat");
}

/// ```text
/// PEXPIREAT key unix-time-milliseconds [NX | XX | GT | LT]
/// ```
fn pexpireat(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    expire_generic(store, s, args, out, false, false, "pexpireat");
}

/// TTL replies: -2 no key, -1 no TTL, else the time left (or the deadline when `absolute`).
pub(crate) fn op_ttl(expire: Option<Option<i64>>, now: i64, ms: bool, absolute: bool) -> i64 {
    match expire {
        None => -2,
        Some(None) => -1,
        Some(Some(at)) => {
            let t = if absolute { at } else { at.saturating_sub(now) }.max(0);
            if ms { t } else { t.saturating_add(500) / 1000 }
        }
    }
}

fn ttl_generic(store: &Store, s: &Session, args: Args<'_>, out: &mut Output, ms: bool, abs: bool) {
    let key = arg(&args, 1);
    let h = store.hash(key);
    let now = store.now();
    let mut g = store.lock(h);
    let expire = g.find(s.db, h, key, now).map(|f| f.entry.expire());
    out.integer(op_ttl(expire, now, ms, abs));
}

/// ```text
/// TTL key
/// ```
fn ttl(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    ttl_generic(store, s, args, out, false, false);
}

/// ```text
/// PTTL key
/// ```
fn pttl(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    ttl_generic(store, s, args, out, true, false);
}

/// ```text
/// EXPIRETIME key
/// ```
fn expiretime(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    ttl_generic(store, s, args, out, false, true);
}

/// ```text
/// PEXPIRETIME key
/// ```
fn pexpiretime(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    ttl_generic(store, s, args, out, true, true);
}

/// ```text
/// PERSIST key
/// ```
/// 1 if a timeout was removed.
fn persist(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let key = arg(&args, 1);
    let h = store.hash(key);
    let now = store.now();
    let mut g = store.lock(h);
    let had = g.find(s.db, h, key, now).is_some_and(|f| f.entry.expire().is_some());
    if had {
        g.set_expire(s.db, h, key, now, None);
    }
    out.integer(i64::from(had));
}

/// ```text
/// KEYS pattern
/// ```
fn keys(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let pattern = arg(&args, 1);
    let all = pattern == b"*";
    let now = store.now();
    let mut found: Vec<Bytes> = Vec::new();
    for i in 0..store.shard_count() {
        let g = store.lock_index(i);
        if let Some(d) = g.dbs.get(s.db) {
            for e in d.table.iter() {
                if !e.is_expired(now) && (all || crate::glob::matches(pattern, e.key())) {
                    found.push(Bytes::copy_from_slice(e.key()));
                }
            }
        }
    }
    out.array(found.len());
    for k in &found {
        out.bulk(k);
    }
}

/// One SCAN call: keys from `cursor` on and the cursor to continue with (0: done).
///
/// The cursor is `shard << 32 | h`: every key of shards before `shard`, and of `shard` with a
/// stored hash below `h`, has been returned. A key's shard and hash never change, so a key
/// present for the whole scan is returned exactly once however the tables grow or shrink.
pub(crate) fn op_scan(
    store: &Store,
    db: usize,
    cursor: u64,
    count: usize,
    keep: &dyn Fn(&Entry) -> bool,
    out: &mut Vec<Bytes>,
) -> u64 {
    let n = store.shard_count() as u64;
    let (mut shard, mut pos) = (cursor >> 32, cursor & 0xFFFF_FFFF);
    let now = store.now();
    while shard < n && out.len() < count {
        let g = store.lock_index(shard as usize);
        match g.scan(db, pos, count - out.len(), now, keep, out) {
            Some(next) => return (shard << 32) | next,
            None => {
                shard += 1;
                pos = 0;
            }
        }
    }
    if shard >= n { 0 } else { (shard << 32) | pos }
}

/// ```text
/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
/// ```
/// `[next cursor, [key …]]`; cursor 0 starts and ends a scan.
fn scan(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let cursor = match parse_cursor(arg(&args, 1)) {
        Some(c) => c,
        None => return err(out, Error::Other("ERR invalid cursor".into())),
    };
    let (mut pattern, mut count, mut ty): (Option<&[u8]>, usize, Option<&[u8]>) = (None, 10, None);
    let mut i = 2;
    while let Some(a) = args.get(i) {
        let Some(v) = args.get(i + 1) else { return err(out, Error::Syntax) };
        if is(a, "match") {
            pattern = Some(v);
        } else if is(a, "count") {
            match int_arg(&args, i + 1) {
                Ok(c) if c >= 1 => count = c as usize,
                Ok(_) => return err(out, Error::Syntax),
                Err(e) => return err(out, e),
            }
        } else if is(a, "type") {
            ty = Some(v);
        } else {
            return err(out, Error::Syntax);
        }
        i += 2;
    }
    // An unknown type name matches nothing (Redis 7.0 does not reject it).
    let ty = ty.map(ValueType::from_name);
    // Redis skips matching for a lone `*` (which, as a glob, would not match an empty key).
    let pattern = pattern.filter(|p| *p != b"*");
    let keep = |e: &Entry| {
        ty.is_none_or(|t| t == Some(e.value_type()))
            && pattern.is_none_or(|p| crate::glob::matches(p, e.key()))
    };
    let mut keys = Vec::new();
    let next = op_scan(store, s.db, cursor, count.min(1 << 20), &keep, &mut keys);
    out.array(2);
    out.bulk(itoa::Buffer::new().format(next));
    out.array(keys.len());
    for k in &keys {
        out.bulk(k);
    }
}

/// ```text
/// RANDOMKEY
/// ```
fn randomkey(store: &Store, s: &mut Session, _args: Args<'_>, out: &mut Output) {
    let n = store.shard_count();
    let now = store.now();
    let start: usize = rand::random::<u32>() as usize;
    // Random shards first, then every shard in turn so that a sparse keyspace still answers.
    let tries = (0..8).map(|_| rand::random::<u32>() as usize).chain((0..n).map(|i| start + i));
    for i in tries {
        if let Some(k) = store.lock_index(i % n).random_key(s.db, now) {
            return out.bulk(&k);
        }
    }
    out.null();
}

fn rename_generic(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output, nx: bool) {
    let (src, dst) = (arg(&args, 1), arg(&args, 2));
    let (hs, hd) = (store.hash(src), store.hash(dst));
    let (ss, sd) = (store.shard_of(hs), store.shard_of(hd));
    let cx = store.ctx(s);
    let mut locked = store.lock_many(vec![ss, sd]);
    let Some(gs) = locked.shard(ss) else { return };
    if gs.find(cx.db, hs, src, cx.now).is_none() {
        return err(out, Error::NoSuchKey);
    }
    if src == dst {
        return if nx { out.integer(0) } else { out.ok() };
    }
    if nx && locked.shard(sd).and_then(|g| g.find(cx.db, hd, dst, cx.now)).is_some() {
        return out.integer(0);
    }
    let Some(taken) = locked.shard(ss).and_then(|g| g.take(cx.db, hs, src, cx.now)) else {
        return err(out, Error::NoSuchKey);
    };
    let (expire, flags) = (taken.entry.expire(), raw_flag(&taken.entry));
    if let Some(g) = locked.shard(sd) {
        g.put(&cx, hd, dst, taken.into_val(), Expire::Set(expire), flags);
    }
    if nx { out.integer(1) } else { out.ok() }
}

fn raw_flag(e: &Entry) -> u8 {
    if e.is_raw() { crate::entry::RAW } else { 0 }
}

/// ```text
/// RENAME key newkey
/// ```
fn rename(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    rename_generic(store, s, args, out, false);
}

/// ```text
/// RENAMENX key newkey
/// ```
fn renamenx(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    rename_generic(store, s, args, out, true);
}

/// A database index argument: an int in range.
fn db_arg(store: &Store, raw: &[u8]) -> Result<usize, Error> {
    let n = karst_resp::num::parse_i64(raw)
        .filter(|n| i32::try_from(*n).is_ok())
        .ok_or(Error::NotInteger)?;
    usize::try_from(n).ok().filter(|&n| n < store.databases()).ok_or(Error::DbIndexOutOfRange)
}

/// ```text
/// COPY source destination [DB destination-db] [REPLACE]
/// ```
/// 1 if copied, 0 if the destination exists (without REPLACE) or the source does not.
fn copy(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let cx = store.ctx(s);
    let (mut dst_db, mut replace) = (cx.db, false);
    let mut i = 3;
    while let Some(a) = args.get(i) {
        if is(a, "replace") {
            replace = true;
        } else if is(a, "db") && args.get(i + 1).is_some() {
            match db_arg(store, arg(&args, i + 1)) {
                Ok(d) => dst_db = d,
                Err(e) => return err(out, e),
            }
            i += 1;
        } else {
            return err(out, Error::Syntax);
        }
        i += 1;
    }
    let (src, dst) = (arg(&args, 1), arg(&args, 2));
    if dst_db == cx.db && src == dst {
        return err(out, Error::SameObject);
    }
    let (hs, hd) = (store.hash(src), store.hash(dst));
    let (ss, sd) = (store.shard_of(hs), store.shard_of(hd));
    let mut locked = store.lock_many(vec![ss, sd]);
    let copied = locked.shard(ss).and_then(|g| {
        g.lookup(&cx, hs, src, false)
            .map(|f| (f.value().to_val(), f.entry.expire(), raw_flag(f.entry)))
    });
    let Some((val, expire, flags)) = copied else { return out.integer(0) };
    let Some(g) = locked.shard(sd) else { return out.integer(0) };
    if !replace && g.find(dst_db, hd, dst, cx.now).is_some() {
        return out.integer(0);
    }
    let dcx = crate::shard::Ctx { db: dst_db, ..cx };
    g.put(&dcx, hd, dst, val, Expire::Set(expire), flags);
    out.integer(1);
}

/// ```text
/// MOVE key db
/// ```
fn move_(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let cx = store.ctx(s);
    let dst_db = match db_arg(store, arg(&args, 2)) {
        Ok(d) => d,
        Err(e) => return err(out, e),
    };
    if dst_db == cx.db {
        return err(out, Error::SameObject);
    }
    let key = arg(&args, 1);
    let h = store.hash(key);
    let mut g = store.lock(h);
    if g.find(cx.db, h, key, cx.now).is_none() || g.find(dst_db, h, key, cx.now).is_some() {
        return out.integer(0);
    }
    let Some(t) = g.take(cx.db, h, key, cx.now) else { return out.integer(0) };
    let (expire, flags) = (t.entry.expire(), raw_flag(&t.entry));
    let dcx = crate::shard::Ctx { db: dst_db, ..cx };
    g.put(&dcx, h, key, t.into_val(), Expire::Set(expire), flags);
    out.integer(1);
}

/// `int`, `embstr` or `raw`, as Redis 7.0 reports the same value; a collection's own name
/// (listpack, hashtable, intset, skiplist, quicklist).
pub(crate) fn encoding(f: &Found<'_>) -> &'static str {
    match f.entry.stored() {
        Stored::Int(_) => "int",
        Stored::Obj(_) => match f.value() {
            ValRef::Obj(o) => o.encoding(),
            _ => "raw",
        },
        _ if f.entry.is_raw() || f.value().len() > 44 => "raw",
        _ => "embstr",
    }
}

const LFU_OFF: &str = "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";
const LFU_ON: &str = "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";

/// ```text
/// OBJECT ENCODING key | FREQ key | IDLETIME key | REFCOUNT key | HELP
/// ```
fn object(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let sub = arg(&args, 1);
    let known = ["encoding", "freq", "idletime", "refcount"];
    if is(sub, "help") {
        if args.len() != 2 {
            return crate::store::wrong_arity("object|help", out);
        }
        let lines = [
            "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>",
            "    Return the access frequency index of the <key>. The returned integer is",
            "    proportional to the logarithm of the recent access frequency of the key.",
            "IDLETIME <key>",
            "    Return the idle time of the <key>, that is the approximated number of",
            "    seconds elapsed since the last access to the key.",
            "REFCOUNT <key>",
            "    Return the number of references of the value associated with the specified",
            "    <key>.",
            "HELP",
            "    Prints this help.",
        ];
        out.array(lines.len());
        for l in lines {
            out.simple(l);
        }
        return;
    }
    let Some(name) = known.iter().find(|k| is(sub, k)) else {
        return err(out, Error::Other(crate::error::unknown_subcommand("OBJECT", sub)));
    };
    if args.len() != 3 {
        return err(
            out,
            Error::Other(format!("ERR wrong number of arguments for 'object|{name}' command")),
        );
    }
    let key = arg(&args, 2);
    let h = store.hash(key);
    let now = store.now();
    let policy = store.policy();
    let mut g = store.lock(h);
    let Some(f) = g.find(s.db, h, key, now) else { return out.null() };
    match *name {
        "encoding" => out.bulk(encoding(&f)),
        "refcount" => {
            let shared = !policy.tracks_access() || store.maxmemory() == 0;
            let n = match f.value() {
                ValRef::Int(i) if shared && (0..10_000).contains(&i) => i64::from(i32::MAX),
                _ => 1,
            };
            out.integer(n);
        }
        "idletime" if policy.is_lfu() => out.error(LFU_ON),
        "idletime" => out.integer((policy::lru_idle_ms(f.entry.access(), now) / 1000) as i64),
        _ if !policy.is_lfu() => out.error(LFU_OFF),
        _ => out.integer(policy::lfu_decayed(f.entry.access(), now) as i64),
    }
}

/// ```text
/// DBSIZE
/// ```
fn dbsize(store: &Store, s: &mut Session, _args: Args<'_>, out: &mut Output) {
    out.integer(store.dbsize(s.db) as i64);
}

/// FLUSHDB's and FLUSHALL's optional argument: true for ASYNC.
fn flush_mode(args: &Args<'_>) -> Result<bool, Error> {
    match args.len() {
        1 => Ok(false),
        2 if is(arg(args, 1), "sync") => Ok(false),
        2 if is(arg(args, 1), "async") => Ok(true),
        _ => Err(Error::Syntax),
    }
}

/// Deletes every key of `db` (or of every database), all shards locked at once.
///
/// `lazy` (ASYNC) frees the memory on a thread of its own after the locks are released, as
/// Redis's lazyfree does: each shard holding no other database's keys is emptied in O(1) under
/// its lock; a shard that does is cleared in place. The accounted memory drops at once; the
/// process's RSS follows as the thread frees.
pub(crate) fn op_flush(store: &Store, db: Option<usize>, lazy: bool) {
    let mut emptied = Vec::new();
    {
        let mut locked = store.lock_many((0..store.shard_count()).collect());
        for i in 0..store.shard_count() {
            let Some(g) = locked.shard(i) else { continue };
            match db {
                _ if lazy && db.is_none_or(|d| g.only_in(d)) => emptied.push(g.take_all()),
                Some(d) => g.clear(d),
                None => (0..store.databases()).for_each(|d| g.clear(d)),
            }
        }
    }
    if !emptied.is_empty() {
        // If no thread can be started, the closure, and so the memory, is dropped right here.
        let _ = std::thread::Builder::new().name("karst-lazyfree".into()).spawn(move || {
            drop(emptied);
        });
    }
}

/// ```text
/// FLUSHDB [ASYNC | SYNC]
/// ```
fn flushdb(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    match flush_mode(&args) {
        Ok(lazy) => {
            op_flush(store, Some(s.db), lazy);
            out.ok();
        }
        Err(e) => err(out, e),
    }
}

/// ```text
/// FLUSHALL [ASYNC | SYNC]
/// ```
fn flushall(store: &Store, _s: &mut Session, args: Args<'_>, out: &mut Output) {
    match flush_mode(&args) {
        Ok(lazy) => {
            op_flush(store, None, lazy);
            out.ok();
        }
        Err(e) => err(out, e),
    }
}

/// ```text
/// SELECT index
/// ```
fn select(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    match db_arg(store, arg(&args, 1)) {
        Ok(db) => {
            s.db = db;
            out.ok();
        }
        Err(e) => err(out, e),
    }
}

/// ```text
/// SWAPDB index1 index2
/// ```
fn swapdb(store: &Store, _s: &mut Session, args: Args<'_>, out: &mut Output) {
    let parse = |i: usize, what: &str| {
        karst_resp::num::parse_i64(arg(&args, i))
            .filter(|n| i32::try_from(*n).is_ok())
            .ok_or_else(|| Error::Other(format!("ERR invalid {what} DB index")))
    };
    let (a, b) = match (parse(1, "first"), parse(2, "second")) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return err(out, e),
    };
    let n = store.databases() as i64;
    if !(0..n).contains(&a) || !(0..n).contains(&b) {
        return err(out, Error::DbIndexOutOfRange);
    }
    let mut locked = store.lock_many((0..store.shard_count()).collect());
    for i in 0..store.shard_count() {
        if let Some(g) = locked.shard(i) {
            g.dbs.swap(a as usize, b as usize);
        }
    }
    out.ok();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expire_rules() {
        let f = |nx, xx, gt, lt| ExpireFlags { nx, xx, gt, lt };
        assert!(expire_allowed(f(false, false, false, false), None, 5));
        assert!(!expire_allowed(f(true, false, false, false), Some(1), 5));
        assert!(!expire_allowed(f(false, true, false, false), None, 5));
        assert!(!expire_allowed(f(false, false, true, false), None, 5));
        assert!(expire_allowed(f(false, false, true, false), Some(1), 5));
        assert!(expire_allowed(f(false, false, false, true), None, 5));
        assert!(!expire_allowed(f(false, false, false, true), Some(1), 5));
    }

    #[test]
    fn ttl_rounding() {
        assert_eq!(op_ttl(None, 0, false, false), -2);
        assert_eq!(op_ttl(Some(None), 0, false, false), -1);
        assert_eq!(op_ttl(Some(Some(1499)), 0, false, false), 1);
        assert_eq!(op_ttl(Some(Some(1500)), 0, false, false), 2);
        assert_eq!(op_ttl(Some(Some(1500)), 0, true, false), 1500);
        assert_eq!(op_ttl(Some(Some(1500)), 1000, true, true), 1500);
    }
}
