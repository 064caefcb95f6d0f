//! String commands (Redis `t_string.c`).

use karst_resp::num::parse_i64;
use karst_resp::{Args, Output};

use super::{D, F, R, W, arg, bulk_val, err, int_arg, is};
use crate::command::{CommandSpec, Flags, spec};
use crate::entry::{INLINE_MAX, RAW};
use crate::error::Error;
use crate::ldouble::Ext;
use crate::session::Session;
use crate::shard::{Ctx, Expire, KeyHash, Shard, Val, ValRef};
use crate::store::Store;

/// Redis's proto-max-bulk-len: no string grows past it.
pub(crate) const MAX_STRING: usize = 512 * 1024 * 1024;

const STRING_W: &[&str] = &["write", "string", "slow"];
const STRING_WF: &[&str] = &["write", "string", "fast"];
const STRING_R: &[&str] = &["read", "string", "slow"];
const STRING_RF: &[&str] = &["read", "string", "fast"];

pub(crate) static COMMANDS: &[CommandSpec] = &[
    spec("get", 2, Flags(R | F), 1, 1, 1, STRING_RF, get),
    spec("set", -3, Flags(W | D), 1, 1, 1, STRING_W, set),
    spec("setnx", 3, Flags(W | D | F), 1, 1, 1, STRING_WF, setnx),
    spec("setex", 4, Flags(W | D), 1, 1, 1, STRING_W, setex),
    spec("psetex", 4, Flags(W | D), 1, 1, 1, STRING_W, psetex),
    spec("mget", -2, Flags(R | F), 1, -1, 1, STRING_RF, mget),
    spec("mset", -3, Flags(W | D), 1, -1, 2, STRING_W, mset),
    spec("msetnx", -3, Flags(W | D), 1, -1, 2, STRING_W, msetnx),
    spec("getset", 3, Flags(W | D | F), 1, 1, 1, STRING_WF, getset),
    spec("getdel", 2, Flags(W | F), 1, 1, 1, STRING_WF, getdel),
    spec("getex", -2, Flags(W | F), 1, 1, 1, STRING_WF, getex),
    spec("append", 3, Flags(W | D | F), 1, 1, 1, STRING_WF, append),
    spec("strlen", 2, Flags(R | F), 1, 1, 1, STRING_RF, strlen),
    spec("getrange", 4, Flags(R), 1, 1, 1, STRING_R, getrange),
    spec("substr", 4, Flags(R), 1, 1, 1, STRING_R, getrange),
    spec("setrange", 4, Flags(W | D), 1, 1, 1, STRING_W, setrange),
    spec("incr", 2, Flags(W | D | F), 1, 1, 1, STRING_WF, incr),
    spec("decr", 2, Flags(W | D | F), 1, 1, 1, STRING_WF, decr),
    spec("incrby", 3, Flags(W | D | F), 1, 1, 1, STRING_WF, incrby),
    spec("decrby", 3, Flags(W | D | F), 1, 1, 1, STRING_WF, decrby),
    spec("incrbyfloat", 3, Flags(W | D | F), 1, 1, 1, STRING_WF, incrbyfloat),
    spec("lcs", -3, Flags(R), 1, 2, 1, STRING_R, lcs),
];

/// Redis keeps a string as an integer when it is the canonical form of an i64 (`string2l`).
#[inline]
pub(crate) fn int_encodable(b: &[u8]) -> Option<i64> {
    if b.len() <= 20 { parse_i64(b) } else { None }
}

/// The value of argument `i`, encoded as Redis would: an integer, a small slice (copied into the
/// entry) or a detached `Bytes` (handed over without a copy when it arrived out of line).
#[inline]
pub(crate) fn val_arg<'a>(args: &Args<'a>, i: usize) -> Val<'a> {
    let b = arg(args, i);
    if let Some(n) = int_encodable(b) {
        Val::Int(n)
    } else if b.len() <= INLINE_MAX {
        Val::Slice(b)
    } else {
        Val::Owned(args.detach(i).unwrap_or_default())
    }
}

/// ```text
/// GET key
/// ```
/// The value, or nil.
fn get(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let key = arg(&args, 1);
    let cx = store.ctx(s);
    let h = store.hash(key);
    let mut g = store.lock(h);
    match g.lookup(&cx, h, key, true).map(|f| f.string()) {
        Some(Ok(v)) => bulk_val(out, v),
        Some(Err(e)) => err(out, e),
        None => out.null(),
    }
}

/// NX / XX.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) enum Cond {
    #[default]
    Always,
    IfAbsent,
    IfPresent,
}

/// The expire option of SET / GETEX.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) enum ExpireOpt {
    /// No option: SET clears the TTL, GETEX leaves it.
    #[default]
    None,
    KeepTtl,
    Persist,
    /// EX/PX/EXAT/PXAT, resolved to an absolute time in ms.
    At(i64),
}

/// Parsed SET options.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) struct SetArgs {
    pub(crate) cond: Cond,
    pub(crate) expire: ExpireOpt,
    pub(crate) get: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Unit {
    Ex,
    Px,
    ExAt,
    PxAt,
}

/// Resolves an EX/PX/EXAT/PXAT argument as Redis's `getExpireMillisecondsOrReply`.
fn expire_ms(raw: &[u8], unit: Unit, now: i64, cmd: &'static str) -> Result<i64, Error> {
    let v = parse_i64(raw).ok_or(Error::NotInteger)?;
    let secs = matches!(unit, Unit::Ex | Unit::ExAt);
    if v <= 0 || (secs && v > i64::MAX / 1000) {
        return Err(Error::InvalidExpire(cmd));
    }
    let mut ms = if secs { v * 1000 } else { v };
    if matches!(unit, Unit::Ex | Unit::Px) {
        ms = ms.checked_add(now).ok_or(Error::InvalidExpire(cmd))?;
    }
    if ms <= 0 {
        return Err(Error::InvalidExpire(cmd));
    }
    Ok(ms)
}

/// Parses the options of SET (`from` = 3) or GETEX (`from` = 2, `getex` true).
fn parse_expire_opts(
    args: &Args<'_>,
    from: usize,
    getex: bool,
    now: i64,
    cmd: &'static str,
) -> Result<SetArgs, Error> {
    let mut o = SetArgs::default();
    let mut unit: Option<(Unit, &[u8])> = None;
    let mut keep = false;
    let mut persist = false;
    let mut i = from;
    while let Some(a) = args.get(i) {
        let next = args.get(i + 1);
        let u = if is(a, "ex") {
            Some(Unit::Ex)
        } else if is(a, "px") {
            Some(Unit::Px)
        } else if is(a, "exat") {
            Some(Unit::ExAt)
        } else if is(a, "pxat") {
            Some(Unit::PxAt)
        } else {
            None
        };
        if let Some(u) = u {
            let clash = keep || persist || unit.is_some_and(|(have, _)| have != u);
            match next {
                Some(v) if !clash => {
                    unit = Some((u, v));
                    i += 2;
                    continue;
                }
                _ => return Err(Error::Syntax),
            }
        }
        if !getex && is(a, "nx") && o.cond != Cond::IfPresent {
            o.cond = Cond::IfAbsent;
        } else if !getex && is(a, "xx") && o.cond != Cond::IfAbsent {
            o.cond = Cond::IfPresent;
        } else if !getex && is(a, "get") {
            o.get = true;
        } else if !getex && is(a, "keepttl") && unit.is_none() {
            keep = true;
        } else if getex && is(a, "persist") && unit.is_none() {
            persist = true;
        } else {
            return Err(Error::Syntax);
        }
        i += 1;
    }
    o.expire = match (unit, keep, persist) {
        (Some((u, v)), _, _) => ExpireOpt::At(expire_ms(v, u, now, cmd)?),
        (None, true, _) => ExpireOpt::KeepTtl,
        (None, _, true) => ExpireOpt::Persist,
        _ => ExpireOpt::None,
    };
    Ok(o)
}

/// What SET did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SetDone {
    Stored,
    Aborted,
}

/// SET on one shard. With `get`, `old` receives the previous value first.
pub(crate) fn op_set(
    shard: &mut Shard,
    cx: &Ctx,
    h: KeyHash,
    key: &[u8],
    val: Val<'_>,
    o: &SetArgs,
    mut old: impl FnMut(Option<ValRef<'_>>),
) -> Result<SetDone, Error> {
    let found = if o.get || o.cond != Cond::Always {
        let f = shard.lookup(cx, h, key, o.get);
        let exists = f.is_some();
        if o.get {
            old(f.map(|f| f.string()).transpose()?);
        }
        exists
    } else {
        false
    };
    match o.cond {
        Cond::IfAbsent if found => return Ok(SetDone::Aborted),
        Cond::IfPresent if !found => return Ok(SetDone::Aborted),
        _ => {}
    }
    let expire = match o.expire {
        ExpireOpt::KeepTtl => Expire::Keep,
        ExpireOpt::At(at) => Expire::Set(Some(at)),
        ExpireOpt::None | ExpireOpt::Persist => Expire::Set(None),
    };
    shard.put(cx, h, key, val, expire, 0);
    Ok(SetDone::Stored)
}

/// ```text
/// SET key value [NX | XX] [GET] [EX seconds | PX milliseconds |
///     EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]
/// ```
/// `OK`, nil when NX/XX stopped it, or the old value with GET.
fn set(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let cx = store.ctx(s);
    let o = if args.len() == 3 {
        SetArgs::default()
    } else {
        match parse_expire_opts(&args, 3, false, cx.now, "set") {
            Ok(o) => o,
            Err(e) => return err(out, e),
        }
    };
    let key = arg(&args, 1);
    let h = store.hash(key);
    let val = val_arg(&args, 2);
    let mut g = store.lock(h);
    let r = op_set(&mut g, &cx, h, key, val, &o, |v| match v {
        Some(v) => bulk_val(out, v),
        None => out.null(),
    });
    match r {
        Ok(SetDone::Stored) if !o.get => out.ok(),
        Ok(SetDone::Aborted) if !o.get => out.null(),
        Ok(_) => {}
        Err(e) => err(out, e),
    }
}

/// ```text
/// SETNX key value
/// ```
/// 1 if set, 0 if the key existed.
fn setnx(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let cx = store.ctx(s);
    let key = arg(&args, 1);
    let h = store.hash(key);
    let o = SetArgs { cond: Cond::IfAbsent, ..SetArgs::default() };
    let mut g = store.lock(h);
    match op_set(&mut g, &cx, h, key, val_arg(&args, 2), &o, |_| {}) {
        Ok(SetDone::Stored) => out.integer(1),
        Ok(SetDone::Aborted) => out.integer(0),
        Err(e) => err(out, e),
    }
}

fn setex_generic(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output, ms: bool) {
    let cx = store.ctx(s);
    let (unit, name) = if ms { (Unit::Px, "psetex") } else { (Unit::Ex, "setex") };
    let at = match expire_ms(arg(&args, 2), unit, cx.now, name) {
        Ok(at) => at,
        Err(e) => return err(out, e),
    };
    let key = arg(&args, 1);
    let h = store.hash(key);
    let o = SetArgs { expire: ExpireOpt::At(at), ..SetArgs::default() };
    let mut g = store.lock(h);
    match op_set(&mut g, &cx, h, key, val_arg(&args, 3), &o, |_| {}) {
        Ok(_) => out.ok(),
        Err(e) => err(out, e),
    }
}

/// ```text
/// SETEX key seconds value
/// ```
fn setex(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    setex_generic(store, s, args, out, false);
}

/// ```text
/// PSETEX key milliseconds value
/// ```
fn psetex(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    setex_generic(store, s, args, out, true);
}

/// The hashes and shards of keys at positions `from, from+step, …`.
pub(crate) fn key_hashes(
    store: &Store,
    args: &Args<'_>,
    from: usize,
    step: usize,
) -> (Vec<KeyHash>, Vec<usize>) {
    let hashes: Vec<KeyHash> =
        (from..args.len()).step_by(step).map(|i| store.hash(arg(args, i))).collect();
    let shards = hashes.iter().map(|&h| store.shard_of(h)).collect();
    (hashes, shards)
}

/// ```text
/// MGET key [key ...]
/// ```
/// One value or nil per key, read atomically.
fn mget(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let cx = store.ctx(s);
    let (hashes, shards) = key_hashes(store, &args, 1, 1);
    let mut locked = store.lock_many(shards.clone());
    out.array(hashes.len());
    for (i, (&h, &sh)) in hashes.iter().zip(&shards).enumerate() {
        let key = arg(&args, i + 1);
        match locked.shard(sh).and_then(|g| g.lookup(&cx, h, key, true)) {
            Some(f) => bulk_val(out, f.value()),
            None => out.null(),
        }
    }
}

fn mset_generic(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output, nx: bool) {
    if args.len() % 2 == 0 {
        let name = if nx { "msetnx" } else { "mset" };
        return crate::store::wrong_arity(name, out);
    }
    let cx = store.ctx(s);
    let (hashes, shards) = key_hashes(store, &args, 1, 2);
    let mut locked = store.lock_many(shards.clone());
    if nx {
        for (i, (&h, &sh)) in hashes.iter().zip(&shards).enumerate() {
            let key = arg(&args, 1 + 2 * i);
            if locked.shard(sh).and_then(|g| g.find(cx.db, h, key, cx.now)).is_some() {
                return out.integer(0);
            }
        }
    }
    for (i, (&h, &sh)) in hashes.iter().zip(&shards).enumerate() {
        let key = arg(&args, 1 + 2 * i);
        if let Some(g) = locked.shard(sh) {
            g.put(&cx, h, key, val_arg(&args, 2 + 2 * i), Expire::Set(None), 0);
        }
    }
    if nx { out.integer(1) } else { out.ok() }
}

/// ```text
/// MSET key value [key value ...]
/// ```
fn mset(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    mset_generic(store, s, args, out, false);
}

/// ```text
/// MSETNX key value [key value ...]
/// ```
/// 1 if every key was set, 0 (and nothing set) if any existed.
fn msetnx(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    mset_generic(store, s, args, out, true);
}

/// ```text
/// GETSET key value
/// ```
fn getset(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let cx = store.ctx(s);
    let key = arg(&args, 1);
    let h = store.hash(key);
    let o = SetArgs { get: true, ..SetArgs::default() };
    let mut g = store.lock(h);
    let r = op_set(&mut g, &cx, h, key, val_arg(&args, 2), &o, |v| match v {
        Some(v) => bulk_val(out, v),
        None => out.null(),
    });
    if let Err(e) = r {
        err(out, e);
    }
}

/// ```text
/// GETDEL key
/// ```
fn getdel(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let cx = store.ctx(s);
    let key = arg(&args, 1);
    let h = store.hash(key);
    let mut g = store.lock(h);
    match g.lookup(&cx, h, key, true).map(|f| f.string().map(|_| ())) {
        None => return out.null(),
        Some(Err(e)) => return err(out, e),
        Some(Ok(())) => {}
    }
    match g.take(cx.db, h, key, cx.now) {
        Some(t) => bulk_val(out, t.value()),
        None => out.null(),
    }
}

/// ```text
/// GETEX key [EX seconds | PX milliseconds | EXAT unix-time-seconds |
///     PXAT unix-time-milliseconds | PERSIST]
/// ```
fn getex(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let cx = store.ctx(s);
    // Redis reports a bad expire value only when the key exists; syntax errors always.
    let parsed = parse_expire_opts(&args, 2, true, cx.now, "getex");
    if let Err(Error::Syntax) = parsed {
        return err(out, Error::Syntax);
    }
    let key = arg(&args, 1);
    let h = store.hash(key);
    let mut g = store.lock(h);
    match g.lookup(&cx, h, key, true).map(|f| f.string().map(|_| ())) {
        None => return out.null(),
        Some(Err(e)) => return err(out, e),
        Some(Ok(())) => {}
    }
    let o = match parsed {
        Ok(o) => o,
        Err(e) => return err(out, e),
    };
    if let Some(f) = g.find(cx.db, h, key, cx.now) {
        bulk_val(out, f.value());
    }
    match o.expire {
        ExpireOpt::At(at) if at <= cx.now => {
            let _ = g.take(cx.db, h, key, cx.now);
        }
        ExpireOpt::At(at) => {
            g.set_expire(cx.db, h, key, cx.now, Some(at));
        }
        ExpireOpt::Persist => {
            g.set_expire(cx.db, h, key, cx.now, None);
        }
        _ => {}
    }
}

/// ```text
/// APPEND key value
/// ```
/// The new length.
fn append(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let cx = store.ctx(s);
    let key = arg(&args, 1);
    let h = store.hash(key);
    let mut g = store.lock(h);
    if let Some(Err(e)) = g.find(cx.db, h, key, cx.now).map(|f| f.string().map(|_| ())) {
        return err(out, e);
    }
    match g.append(&cx, h, key, arg(&args, 2), MAX_STRING) {
        Some(n) => out.integer(n as i64),
        None => err(out, Error::TooBig),
    }
}

/// ```text
/// STRLEN key
/// ```
fn strlen(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let cx = store.ctx(s);
    let key = arg(&args, 1);
    let h = store.hash(key);
    let mut g = store.lock(h);
    match g.lookup(&cx, h, key, true).map(|f| f.string()) {
        None => out.integer(0),
        Some(Ok(v)) => out.integer(v.len() as i64),
        Some(Err(e)) => err(out, e),
    }
}

/// The byte range GETRANGE returns, as Redis computes it.
pub(crate) fn op_getrange(len: usize, start: i64, end: i64) -> Option<(usize, usize)> {
    let len = len as i64;
    if start < 0 && end < 0 && start > end {
        return None;
    }
    let mut start = if start < 0 { len + start } else { start };
    let mut end = if end < 0 { len + end } else { end };
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        return None;
    }
    Some((start as usize, end as usize + 1))
}

/// ```text
/// GETRANGE key start end
/// ```
fn getrange(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let (start, end) = match (int_arg(&args, 2), int_arg(&args, 3)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return err(out, e),
    };
    let cx = store.ctx(s);
    let key = arg(&args, 1);
    let h = store.hash(key);
    let mut g = store.lock(h);
    let Some(f) = g.lookup(&cx, h, key, true) else { return out.bulk(b"") };
    let v = match f.string() {
        Ok(v) => v,
        Err(e) => return err(out, e),
    };
    v.with(|b| match op_getrange(b.len(), start, end).and_then(|(s, e)| b.get(s..e)) {
        Some(part) => out.bulk(part),
        None => out.bulk(b""),
    });
}

/// SETRANGE on one shard: the new length.
pub(crate) fn op_setrange(
    shard: &mut Shard,
    cx: &Ctx,
    h: KeyHash,
    key: &[u8],
    offset: i64,
    data: &[u8],
) -> Result<usize, Error> {
    let offset = usize::try_from(offset).map_err(|_| Error::OffsetOutOfRange)?;
    let cur = shard.lookup(cx, h, key, false).map(|f| f.string()).transpose()?;
    let old_len = cur.map_or(0, |v| v.len());
    if data.is_empty() {
        return Ok(old_len);
    }
    if offset.checked_add(data.len()).is_none_or(|n| n > MAX_STRING) {
        return Err(Error::TooBig);
    }
    let new_len = old_len.max(offset + data.len());
    let mut v = Vec::with_capacity(new_len);
    if let Some(c) = cur {
        c.with(|b| v.extend_from_slice(b));
    }
    v.resize(new_len, 0);
    if let Some(dst) = v.get_mut(offset..offset + data.len()) {
        dst.copy_from_slice(data);
    }
    shard.put(cx, h, key, Val::Owned(bytes::Bytes::from(v)), Expire::Keep, RAW);
    Ok(new_len)
}

/// ```text
/// SETRANGE key offset value
/// ```
fn setrange(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let offset = match int_arg(&args, 2) {
        Ok(o) => o,
        Err(e) => return err(out, e),
    };
    if offset < 0 {
        return err(out, Error::OffsetOutOfRange);
    }
    let cx = store.ctx(s);
    let key = arg(&args, 1);
    let h = store.hash(key);
    let mut g = store.lock(h);
    match op_setrange(&mut g, &cx, h, key, offset, arg(&args, 3)) {
        Ok(n) => out.integer(n as i64),
        Err(e) => err(out, e),
    }
}

/// INCRBY on one shard: the new value. Keeps the TTL.
pub(crate) fn op_incr_by(
    shard: &mut Shard,
    cx: &Ctx,
    h: KeyHash,
    key: &[u8],
    by: i64,
) -> Result<i64, Error> {
    let cur = match shard.lookup(cx, h, key, false) {
        Some(f) => f.string()?.as_i64().ok_or(Error::NotInteger)?,
        None => 0,
    };
    let new = cur.checked_add(by).ok_or(Error::Overflow)?;
    shard.put(cx, h, key, Val::Int(new), Expire::Keep, 0);
    Ok(new)
}

fn incr_generic(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output, by: i64) {
    let cx = store.ctx(s);
    let key = arg(&args, 1);
    let h = store.hash(key);
    let mut g = store.lock(h);
    match op_incr_by(&mut g, &cx, h, key, by) {
        Ok(n) => out.integer(n),
        Err(e) => err(out, e),
    }
}

/// ```text
/// INCR key
/// ```
fn incr(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    incr_generic(store, s, args, out, 1);
}

/// ```text
/// DECR key
/// ```
fn decr(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    incr_generic(store, s, args, out, -1);
}

/// ```text
/// INCRBY key increment
/// ```
fn incrby(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    match int_arg(&args, 2) {
        Ok(by) => incr_generic(store, s, args, out, by),
        Err(e) => err(out, e),
    }
}

/// ```text
/// DECRBY key decrement
/// ```
fn decrby(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    match int_arg(&args, 2) {
        Ok(i64::MIN) => err(out, Error::DecrementOverflow),
        Ok(by) => incr_generic(store, s, args, out, -by),
        Err(e) => err(out, e),
    }
}

/// ```text
/// INCRBYFLOAT key increment
/// ```
/// Computed in emulated `long double`, printed as Redis prints it ([`crate::ldouble`]).
/// The new value as a bulk string.
fn incrbyfloat(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let cx = store.ctx(s);
    let key = arg(&args, 1);
    let h = store.hash(key);
    let mut g = store.lock(h);
    let cur = match g.lookup(&cx, h, key, false).map(|f| f.string()) {
        Some(Err(e)) => return err(out, e),
        Some(Ok(v)) => match v.with(Ext::parse) {
            Some(v) => v,
            None => return err(out, Error::NotFloat),
        },
        None => Ext::default(),
    };
    let Some(by) = Ext::parse(arg(&args, 2)) else { return err(out, Error::NotFloat) };
    let new = cur.add(by);
    if new.is_inf() || cur.is_inf() || by.is_inf() {
        return err(out, Error::NanOrInfinity);
    }
    let text = new.to_human();
    g.put(&cx, h, key, Val::Slice(text.as_bytes()), Expire::Keep, 0);
    out.bulk(text.as_bytes());
}

/// One LCS match: ranges in the first and second string, and its length.
pub(crate) type Match = ((usize, usize), (usize, usize), usize);

/// Redis's LCS: the common subsequence and the matching ranges (last match first).
pub(crate) fn op_lcs(
    a: &[u8],
    b: &[u8],
    want_matches: bool,
    min_len: usize,
) -> (Vec<u8>, Vec<Match>) {
    let (alen, blen) = (a.len(), b.len());
    let w = blen + 1;
    let mut dp = vec![0u32; (alen + 1) * w];
    let at = |i: usize, j: usize| i * w + j;
    for i in 1..=alen {
        for j in 1..=blen {
            let v = if a.get(i - 1) == b.get(j - 1) {
                dp.get(at(i - 1, j - 1)).copied().unwrap_or(0) + 1
            } else {
                let x = dp.get(at(i - 1, j)).copied().unwrap_or(0);
                let y = dp.get(at(i, j - 1)).copied().unwrap_or(0);
                x.max(y)
            };
            if let Some(d) = dp.get_mut(at(i, j)) {
                *d = v;
            }
        }
    }
    let mut idx = dp.get(at(alen, blen)).copied().unwrap_or(0) as usize;
    let mut result = vec![0u8; idx];
    let mut matches = Vec::new();
    let (mut i, mut j) = (alen, blen);
    // `alen` as a start means "no range open".
    let (mut as_, mut ae, mut bs, mut be) = (alen, 0usize, 0usize, 0usize);
    while i > 0 && j > 0 {
        let mut emit = false;
        if a.get(i - 1) == b.get(j - 1) {
            if let (Some(r), Some(&c)) = (result.get_mut(idx.wrapping_sub(1)), a.get(i - 1)) {
                *r = c;
            }
            if as_ == alen {
                as_ = i - 1;
                ae = i - 1;
                bs = j - 1;
                be = j - 1;
            } else if as_ == i && bs == j {
                as_ -= 1;
                bs -= 1;
            } else {
                emit = true;
            }
            if as_ == 0 || bs == 0 {
                emit = true;
            }
            idx = idx.saturating_sub(1);
            i -= 1;
            j -= 1;
        } else {
            let l1 = dp.get(at(i - 1, j)).copied().unwrap_or(0);
            let l2 = dp.get(at(i, j - 1)).copied().unwrap_or(0);
            if l1 > l2 {
                i -= 1;
            } else {
                j -= 1;
            }
            if as_ != alen {
                emit = true;
            }
        }
        if emit {
            let len = ae - as_ + 1;
            if want_matches && (min_len == 0 || len >= min_len) {
                matches.push(((as_, ae), (bs, be), len));
            }
            as_ = alen;
        }
    }
    (result, matches)
}

/// ```text
/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN min-match-len] [WITHMATCHLEN]
/// ```
fn lcs(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let (mut len_only, mut idx, mut with_len, mut min_len) = (false, false, false, 0usize);
    let mut i = 3;
    while let Some(a) = args.get(i) {
        if is(a, "idx") {
            idx = true;
        } else if is(a, "len") {
            len_only = true;
        } else if is(a, "withmatchlen") {
            with_len = true;
        } else if is(a, "minmatchlen") && args.get(i + 1).is_some() {
            match int_arg(&args, i + 1) {
                Ok(n) => min_len = usize::try_from(n).unwrap_or(0),
                Err(e) => return err(out, e),
            }
            i += 1;
        } else {
            return err(out, Error::Syntax);
        }
        i += 1;
    }
    if len_only && idx {
        return err(
            out,
            Error::Other(
                "ERR If you want both the length and indexes, please just use IDX.".into(),
            ),
        );
    }
    let cx = store.ctx(s);
    let (k1, k2) = (arg(&args, 1), arg(&args, 2));
    let (h1, h2) = (store.hash(k1), store.hash(k2));
    let (a, b) = {
        let mut locked = store.lock_many(vec![store.shard_of(h1), store.shard_of(h2)]);
        let mut read = |h: KeyHash, k: &[u8]| {
            locked
                .shard(store.shard_of(h))
                .and_then(|g| g.lookup(&cx, h, k, true).map(|f| f.string().map(ValRef::to_bytes)))
                .unwrap_or(Ok(bytes::Bytes::new()))
        };
        match (read(h1, k1), read(h2, k2)) {
            (Ok(a), Ok(b)) => (a, b),
            _ => {
                return err(
                    out,
                    Error::Other("ERR The specified keys must contain string values".into()),
                );
            }
        }
    };
    let cells = (a.len() as u128 + 1) * (b.len() as u128 + 1) * 4;
    if cells > MAX_STRING as u128 {
        return err(
            out,
            Error::Other(
                "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"
                    .into(),
            ),
        );
    }
    let (common, matches) = op_lcs(&a, &b, idx, min_len);
    if len_only {
        return out.integer(common.len() as i64);
    }
    if !idx {
        return out.bulk(&common);
    }
    out.map(2);
    out.bulk(b"matches");
    out.array(matches.len());
    for ((a0, a1), (b0, b1), n) in matches {
        out.array(if with_len { 3 } else { 2 });
        out.array(2);
        out.integer(a0 as i64);
        out.integer(a1 as i64);
        out.array(2);
        out.integer(b0 as i64);
        out.integer(b1 as i64);
        if with_len {
            out.integer(n as i64);
        }
    }
    out.bulk(b"len");
    out.integer(common.len() as i64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn getrange_matches_redis() {
        assert_eq!(op_getrange(5, 0, -1), Some((0, 5)));
        assert_eq!(op_getrange(5, -3, -1), Some((2, 5)));
        assert_eq!(op_getrange(5, -1, -3), None);
        assert_eq!(op_getrange(5, 3, 100), Some((3, 5)));
        assert_eq!(op_getrange(0, 0, -1), None);
        assert_eq!(op_getrange(5, 4, 2), None);
        assert_eq!(op_getrange(5, i64::MIN, i64::MAX), Some((0, 5)));
    }

    fn args(v: &[&str]) -> Vec<bytes::Bytes> {
        v.iter().map(|a| bytes::Bytes::copy_from_slice(a.as_bytes())).collect()
    }

    #[test]
    fn set_options_parse_as_redis() {
        let now = 1_000;
        let p = |v: &[&str]| {
            let a = args(v);
            parse_expire_opts(&Args::from_slice(&a), 3, false, now, "set")
        };
        assert_eq!(p(&["SET", "k", "v"]), Ok(SetArgs::default()));
        let o = p(&["SET", "k", "v", "nx", "GET", "px", "5"]).unwrap();
        assert_eq!((o.cond, o.get, o.expire), (Cond::IfAbsent, true, ExpireOpt::At(1_005)));
        assert_eq!(p(&["SET", "k", "v", "EXAT", "7"]).unwrap().expire, ExpireOpt::At(7_000));
        assert_eq!(p(&["SET", "k", "v", "KEEPTTL"]).unwrap().expire, ExpireOpt::KeepTtl);
        assert_eq!(
            p(&["SET", "k", "v", "EX", "1", "EX", "2"]).unwrap().expire,
            ExpireOpt::At(3_000)
        );
        assert_eq!(p(&["SET", "k", "v", "NX", "XX"]), Err(Error::Syntax));
        assert_eq!(p(&["SET", "k", "v", "EX", "1", "PX", "1"]), Err(Error::Syntax));
        assert_eq!(p(&["SET", "k", "v", "KEEPTTL", "EX", "1"]), Err(Error::Syntax));
        assert_eq!(p(&["SET", "k", "v", "PERSIST"]), Err(Error::Syntax));
        assert_eq!(p(&["SET", "k", "v", "EX"]), Err(Error::Syntax));
        assert_eq!(p(&["SET", "k", "v", "EX", "x"]), Err(Error::NotInteger));
        assert_eq!(p(&["SET", "k", "v", "EX", "0"]), Err(Error::InvalidExpire("set")));
        assert_eq!(
            p(&["SET", "k", "v", "PX", &i64::MAX.to_string()]),
            Err(Error::InvalidExpire("set"))
        );
        let a = args(&["GETEX", "k", "PERSIST"]);
        let o = parse_expire_opts(&Args::from_slice(&a), 2, true, now, "getex").unwrap();
        assert_eq!(o.expire, ExpireOpt::Persist);
    }

    #[test]
    fn ops_on_a_shard() {
        use crate::shard::{Hasher, Shard, key_hash};
        let hs = Hasher::with_seed(3);
        let mut shard = Shard::new(1, 1, hs);
        let cx = Ctx { db: 0, now: 0, lfu: false, touch: true };
        let h = KeyHash(key_hash(&hs, b"n"));
        assert_eq!(op_incr_by(&mut shard, &cx, h, b"n", 5), Ok(5));
        assert_eq!(op_incr_by(&mut shard, &cx, h, b"n", i64::MAX), Err(Error::Overflow));
        assert_eq!(op_setrange(&mut shard, &cx, h, b"n", 3, b"x"), Ok(4));
        assert_eq!(op_incr_by(&mut shard, &cx, h, b"n", 1), Err(Error::NotInteger));
        assert_eq!(op_setrange(&mut shard, &cx, h, b"n", 0, b""), Ok(4));
        assert_eq!(
            op_setrange(&mut shard, &cx, h, b"n", MAX_STRING as i64, b"x"),
            Err(Error::TooBig)
        );
        let o = SetArgs { cond: Cond::IfPresent, ..SetArgs::default() };
        let mut old = None;
        let r = op_set(&mut shard, &cx, h, b"n", Val::Slice(b"v"), &o, |v| {
            old = v.map(|v| v.to_bytes());
        });
        assert_eq!(r, Ok(SetDone::Stored));
        assert_eq!(old, None); // GET was not asked for
        let h2 = KeyHash(key_hash(&hs, b"m"));
        assert_eq!(
            op_set(&mut shard, &cx, h2, b"m", Val::Int(1), &o, |_| {}),
            Ok(SetDone::Aborted)
        );
    }

    #[test]
    fn lcs_matches_redis_example() {
        let (s, m) = op_lcs(b"ohmytext", b"mynewtext", true, 0);
        assert_eq!(s, b"mytext");
        assert_eq!(m, vec![((4, 7), (5, 8), 4), ((2, 3), (0, 1), 2)]);
        let (_, m) = op_lcs(b"ohmytext", b"mynewtext", true, 4);
        assert_eq!(m, vec![((4, 7), (5, 8), 4)]);
        assert_eq!(op_lcs(b"", b"abc", true, 0), (vec![], vec![]));
    }
}
