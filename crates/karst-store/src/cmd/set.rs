//! Set commands (Redis `t_set.c`).
//!
//! Single-key commands lock the key's shard; the multi-key ones (SMOVE, SINTER, SUNION, SDIFF,
//! their STORE forms, SINTERCARD) lock every shard they touch in ascending order first, so each
//! runs atomically. A locked shard lends one collection at a time, so the multi-key commands
//! fold the sets one by one into an owned result.

use karst_resp::{Args, Output};

use super::{D, F, MK, R, W, arg, err, is, parse_cursor};
use crate::command::{CommandSpec, Flags, spec};
use crate::error::Error;
use crate::session::Session;
use crate::shard::{Ctx, Expire, KeyHash, Val};
use crate::store::{Many, Store};
use crate::types::set::{Elem, Set};
use crate::types::{EncodingLimits, Kind};

const SET_W: &[&str] = &["write", "set", "slow"];
const SET_WF: &[&str] = &["write", "set", "fast"];
const SET_R: &[&str] = &["read", "set", "slow"];
const SET_RF: &[&str] = &["read", "set", "fast"];

pub(crate) static COMMANDS: &[CommandSpec] = &[
    spec("sadd", -3, Flags(W | D | F), 1, 1, 1, SET_WF, sadd),
    spec("srem", -3, Flags(W | F), 1, 1, 1, SET_WF, srem),
    spec("scard", 2, Flags(R | F), 1, 1, 1, SET_RF, scard),
    spec("sismember", 3, Flags(R | F), 1, 1, 1, SET_RF, sismember),
    spec("smismember", -3, Flags(R | F), 1, 1, 1, SET_RF, smismember),
    spec("smembers", 2, Flags(R), 1, 1, 1, SET_R, smembers),
    spec("srandmember", -2, Flags(R), 1, 1, 1, SET_R, srandmember),
    spec("spop", -2, Flags(W | F), 1, 1, 1, SET_WF, spop),
    spec("smove", 4, Flags(W | F), 1, 2, 1, SET_WF, smove),
    spec("sinter", -2, Flags(R), 1, -1, 1, SET_R, sinter),
    spec("sintercard", -3, Flags(R | MK), 0, 0, 0, SET_R, sintercard),
    spec("sunion", -2, Flags(R), 1, -1, 1, SET_R, sunion),
    spec("sdiff", -2, Flags(R), 1, -1, 1, SET_R, sdiff),
    spec("sinterstore", -3, Flags(W | D), 1, -1, 1, SET_W, sinterstore),
    spec("sunionstore", -3, Flags(W | D), 1, -1, 1, SET_W, sunionstore),
    spec("sdiffstore", -3, Flags(W | D), 1, -1, 1, SET_W, sdiffstore),
    spec("sscan", -3, Flags(R), 1, 1, 1, SET_R, sscan),
];

/// A random-member reply with repeats (SRANDMEMBER with a negative count) is refused past this
/// estimated size: Redis 7.0 builds it whole and dies of OOM (valkey-io/valkey#844).
const MAX_RANDOM_REPLY: usize = 1 << 30;

/// Writes one member as a bulk string.
#[inline]
fn elem(out: &mut Output, e: Elem<'_>) {
    match e {
        Elem::Int(i) => out.bulk_integer(i),
        Elem::Bytes(b) => out.bulk(b),
    }
}

/// Writes a whole set as a set reply (RESP3 `~`, RESP2 array).
fn reply_set(out: &mut Output, set: Option<&Set>) {
    let Some(set) = set else { return out.set(0) };
    out.set(set.len());
    set.iter().for_each(|e| elem(out, e));
}

/// Runs `f` on the set at `key` (None if missing), with its shard locked.
fn with_set<R>(
    store: &Store,
    s: &Session,
    key: &[u8],
    f: impl FnOnce(Option<&Set>) -> R,
) -> Result<R, Error> {
    let h = store.hash(key);
    let cx = store.ctx(s);
    let mut g = store.lock(h);
    g.read::<Set>(&cx, h, key).map(f)
}

/// A random position below `n` (n > 0).
#[inline]
fn random_below(n: usize) -> usize {
    rand::random_range(0..n)
}

/// ```text
/// SADD key member [member ...]
/// ```
/// The number of members added.
fn sadd(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let key = arg(&args, 1);
    let (h, cx, lim) = (store.hash(key), store.ctx(s), store.encoding_limits());
    let mut g = store.lock(h);
    let r = g.write::<Set, i64>(&cx, h, key, true, |set| {
        if set.is_empty() {
            // A new set: Redis picks its encoding from the first member and the count.
            *set = Set::with_hint(Elem::Bytes(arg(&args, 2)), args.len() - 2, &lim);
        }
        let n = args.iter().skip(2).map(|m| i64::from(set.add(m, &lim))).sum();
        // Spare room of the growth goes back once per command rather than per member.
        set.compact();
        n
    });
    match r {
        Ok(n) => out.integer(n.unwrap_or(0)),
        Err(e) => err(out, e),
    }
}

/// ```text
/// SREM key member [member ...]
/// ```
/// The number of members removed.
fn srem(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let key = arg(&args, 1);
    let (h, cx) = (store.hash(key), store.ctx(s));
    let mut g = store.lock(h);
    let r = g.write::<Set, i64>(&cx, h, key, false, |set| {
        args.iter().skip(2).map(|m| i64::from(set.remove(m))).sum()
    });
    match r {
        Ok(n) => out.integer(n.unwrap_or(0)),
        Err(e) => err(out, e),
    }
}

/// ```text
/// SCARD key
/// ```
/// The number of members (0 for a missing key).
fn scard(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    match with_set(store, s, arg(&args, 1), |set| set.map_or(0, Set::len)) {
        Ok(n) => out.integer(n as i64),
        Err(e) => err(out, e),
    }
}

/// ```text
/// SISMEMBER key member
/// ```
/// 1 if `member` is in the set, else 0.
fn sismember(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let m = arg(&args, 2);
    match with_set(store, s, arg(&args, 1), |set| set.is_some_and(|set| set.contains(m))) {
        Ok(b) => out.integer(i64::from(b)),
        Err(e) => err(out, e),
    }
}

/// ```text
/// SMISMEMBER key member [member ...]
/// ```
/// 1 or 0 per member.
fn smismember(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let r = with_set(store, s, arg(&args, 1), |set| {
        out.array(args.len() - 2);
        for m in args.iter().skip(2) {
            out.integer(i64::from(set.is_some_and(|set| set.contains(m))));
        }
    });
    if let Err(e) = r {
        err(out, e);
    }
}

/// ```text
/// SMEMBERS key
/// ```
/// Every member (a set reply; an intset's members come sorted, as in Redis).
fn smembers(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    if let Err(e) = with_set(store, s, arg(&args, 1), |set| reply_set(out, set)) {
        err(out, e);
    }
}

/// Up to `count` distinct random positions below `n` (count < n), sorted.
fn distinct_positions(n: usize, count: usize) -> Vec<usize> {
    if count.saturating_mul(2) > n {
        // Dense: a partial Fisher-Yates shuffle of every position.
        let mut all: Vec<usize> = (0..n).collect();
        for i in 0..count {
            let j = i + random_below(n - i);
            all.swap(i, j);
        }
        all.truncate(count);
        all.sort_unstable();
        return all;
    }
    // Sparse: draw, then redraw what collided.
    let mut v = Vec::with_capacity(count);
    while v.len() < count {
        while v.len() < count {
            v.push(random_below(n));
        }
        v.sort_unstable();
        v.dedup();
    }
    v
}

/// ```text
/// SRANDMEMBER key [count]
/// ```
/// One random member (nil if the key is missing); with a count, an array of up to `count`
/// distinct members, or of `-count` members with possible repeats when it is negative.
fn srandmember(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    if args.len() > 3 {
        return err(out, Error::Syntax);
    }
    let count = match args.get(2).map(karst_resp::num::parse_i64) {
        None => None,
        Some(Some(i64::MIN)) => {
            return err(
                out,
                Error::Other(
                    "ERR value is out of range, value must between -9223372036854775807 and \
                     9223372036854775807"
                        .into(),
                ),
            );
        }
        Some(Some(c)) => Some(c),
        Some(None) => return err(out, Error::NotInteger),
    };
    let r = with_set(store, s, arg(&args, 1), |set| {
        let Some(set) = set else {
            return if count.is_some() { out.array(0) } else { out.null() };
        };
        let n = set.len();
        let Some(count) = count else {
            return match set.nth(random_below(n)) {
                Some(e) => elem(out, e),
                None => out.null(),
            };
        };
        if count < 0 {
            let want = count.unsigned_abs() as usize;
            // Estimate the reply from a few samples and refuse what no machine could hold.
            let probe: usize = (0..8)
                .filter_map(|_| set.nth(random_below(n)))
                .map(|e| e.str_len() + 16)
                .max()
                .unwrap_or(16);
            if want.saturating_mul(probe) > MAX_RANDOM_REPLY {
                return err(
                    out,
                    Error::Other("ERR count is too large: the reply would pass 1 GB".into()),
                );
            }
            let offsets = set.offsets();
            out.array(want);
            for _ in 0..want {
                if let Some(e) = set.nth_with(offsets.as_deref(), random_below(n)) {
                    elem(out, e);
                }
            }
            return;
        }
        let want = count as usize;
        if want >= n {
            out.array(n);
            return set.iter().for_each(|e| elem(out, e));
        }
        let idx = distinct_positions(n, want);
        out.array(idx.len());
        set.for_positions(&idx, |e| elem(out, e));
    });
    if let Err(e) = r {
        err(out, e);
    }
}

/// ```text
/// SPOP key [count]
/// ```
/// Removes and returns one random member (nil if missing); with a count, a set reply of up to
/// `count` distinct members.
fn spop(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    if args.len() > 3 {
        return err(out, Error::Syntax);
    }
    let count = match args.get(2).map(karst_resp::num::parse_i64) {
        None => None,
        Some(Some(c)) if c >= 0 => Some(c as u64),
        Some(_) => {
            return err(out, Error::Other("ERR value is out of range, must be positive".into()));
        }
    };
    let key = arg(&args, 1);
    let (h, cx) = (store.hash(key), store.ctx(s));
    let mut g = store.lock(h);
    let r = g.write::<Set, ()>(&cx, h, key, false, |set| {
        let n = set.len();
        let Some(count) = count else {
            let i = random_below(n.max(1));
            match set.nth(i) {
                Some(e) => elem(out, e),
                None => out.null(),
            }
            set.remove_nth(i);
            return;
        };
        if count >= n as u64 {
            // All of it: the key goes with its last member.
            reply_set(out, Some(set));
            *set = Set::default();
            return;
        }
        out.set(count as usize);
        for _ in 0..count {
            let i = random_below(set.len().max(1));
            if let Some(e) = set.nth(i) {
                elem(out, e);
            }
            set.remove_nth(i);
        }
        set.compact();
    });
    match r {
        Ok(Some(())) => {}
        Ok(None) if count.is_some() => out.set(0),
        Ok(None) => out.null(),
        Err(e) => err(out, e),
    }
}

/// The locked shard of a key (it is among those locked).
fn shard<'m, 'a>(
    m: &'m mut Many<'a>,
    store: &Store,
    h: KeyHash,
) -> Option<&'m mut crate::store::ShardGuard<'a>> {
    m.shard(store.shard_of(h))
}

/// True if `key` holds a value that is not a set (no access recorded).
fn holds_other_type(m: &mut Many<'_>, store: &Store, cx: &Ctx, h: KeyHash, key: &[u8]) -> bool {
    shard(m, store, h)
        .and_then(|g| g.find(cx.db, h, key, cx.now))
        .is_some_and(|f| !f.value_is::<Set>())
}

/// ```text
/// SMOVE source destination member
/// ```
/// 1 if `member` was moved (or both keys are the same set holding it), 0 if it is not in
/// `source`.
fn smove(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let (src, dst, member) = (arg(&args, 1), arg(&args, 2), arg(&args, 3));
    let (hs, hd) = (store.hash(src), store.hash(dst));
    let (cx, lim) = (store.ctx(s), store.encoding_limits());
    let mut m = store.lock_many(vec![store.shard_of(hs), store.shard_of(hd)]);
    match op_smove(&mut m, store, &cx, &lim, (hs, src), (hd, dst), member) {
        Ok(moved) => out.integer(i64::from(moved)),
        Err(e) => err(out, e),
    }
}

/// SMOVE on locked shards.
fn op_smove(
    m: &mut Many<'_>,
    store: &Store,
    cx: &Ctx,
    lim: &EncodingLimits,
    (hs, src): (KeyHash, &[u8]),
    (hd, dst): (KeyHash, &[u8]),
    member: &[u8],
) -> Result<bool, Error> {
    let Some(gs) = shard(m, store, hs) else { return Ok(false) };
    let Some(has) = gs.read::<Set>(cx, hs, src)?.map(|set| set.contains(member)) else {
        return Ok(false);
    };
    if holds_other_type(m, store, cx, hd, dst) {
        return Err(Error::WrongType);
    }
    if src == dst || !has {
        return Ok(has);
    }
    if let Some(gs) = shard(m, store, hs) {
        gs.write::<Set, bool>(cx, hs, src, false, |set| set.remove(member))?;
    }
    if let Some(gd) = shard(m, store, hd) {
        gd.write::<Set, bool>(cx, hd, dst, true, |set| set.add(member, lim))?;
    }
    Ok(true)
}

/// The source keys of a multi-key command with their hashes, and every shard to lock (the
/// destination's included).
fn lock_keys<'s>(
    store: &'s Store,
    args: &Args<'_>,
    from: usize,
    to: usize,
    dst: Option<KeyHash>,
) -> (Vec<KeyHash>, Many<'s>) {
    let hashes: Vec<KeyHash> = (from..to).map(|i| store.hash(arg(args, i))).collect();
    let shards = hashes.iter().chain(dst.as_ref()).map(|&h| store.shard_of(h)).collect();
    (hashes, store.lock_many(shards))
}

/// How a multi-key command combines its sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Inter,
    Union,
    Diff,
}

/// Type-checks every key (WRONGTYPE wins over a missing key, as in Redis) and returns each
/// set's size (None: missing).
fn sizes(
    m: &mut Many<'_>,
    store: &Store,
    cx: &Ctx,
    args: &Args<'_>,
    from: usize,
    hashes: &[KeyHash],
) -> Result<Vec<Option<usize>>, Error> {
    let mut v = Vec::with_capacity(hashes.len());
    for (i, &h) in hashes.iter().enumerate() {
        let key = arg(args, from + i);
        let n = match shard(m, store, h) {
            Some(g) => g.read::<Set>(cx, h, key)?.map(Set::len),
            None => None,
        };
        v.push(n);
    }
    Ok(v)
}

/// Runs `f` on the set at source `i` (already type-checked).
#[expect(clippy::too_many_arguments, reason = "the locked shards and the sources' coordinates")]
fn on_set<R>(
    m: &mut Many<'_>,
    store: &Store,
    cx: &Ctx,
    args: &Args<'_>,
    from: usize,
    hashes: &[KeyHash],
    i: usize,
    f: impl FnOnce(&Set) -> R,
) -> Option<R> {
    let h = *hashes.get(i)?;
    let key = arg(args, from + i);
    let g = shard(m, store, h)?;
    // `find` rather than `read`: the access was recorded by `sizes`.
    match g.find(cx.db, h, key, cx.now)?.value() {
        crate::shard::ValRef::Obj(o) => Set::of(o).map(f),
        _ => None,
    }
}

/// Combines the sets at `args[from..]` into an owned set (in the encoding Redis would build
/// when it is `stored`).
#[expect(clippy::too_many_arguments, reason = "the locked shards and the sources' coordinates")]
fn combine(
    m: &mut Many<'_>,
    store: &Store,
    cx: &Ctx,
    lim: &EncodingLimits,
    args: &Args<'_>,
    from: usize,
    hashes: &[KeyHash],
    op: Op,
    stored: bool,
) -> Result<Set, Error> {
    let sizes = sizes(m, store, cx, args, from, hashes)?;
    let mut acc = Set::default();
    match op {
        Op::Union => {
            for i in 0..hashes.len() {
                on_set(m, store, cx, args, from, hashes, i, |set| {
                    set.iter().for_each(|e| {
                        acc.add_elem(e, lim);
                    })
                });
            }
        }
        Op::Diff => {
            if sizes.first().copied().flatten().is_none() {
                return Ok(acc);
            }
            on_set(m, store, cx, args, from, hashes, 0, |set| {
                set.iter().for_each(|e| {
                    acc.add_elem(e, lim);
                })
            });
            for i in 1..hashes.len() {
                if acc.is_empty() {
                    break;
                }
                on_set(m, store, cx, args, from, hashes, i, |set| {
                    acc.retain(|e| !set.contains_elem(e))
                });
            }
        }
        Op::Inter => {
            if sizes.iter().any(Option::is_none) {
                return Ok(acc);
            }
            // Smallest first: the result can only shrink from there.
            let mut order: Vec<usize> = (0..hashes.len()).collect();
            order.sort_by_key(|&i| sizes.get(i).copied().flatten());
            let mut order = order.into_iter();
            if let Some(first) = order.next() {
                on_set(m, store, cx, args, from, hashes, first, |set| {
                    set.iter().for_each(|e| {
                        acc.add_elem(e, lim);
                    })
                });
            }
            for i in order {
                if acc.is_empty() {
                    break;
                }
                on_set(m, store, cx, args, from, hashes, i, |set| {
                    acc.retain(|e| set.contains_elem(e))
                });
            }
        }
    }
    if stored && op != Op::Union && acc.encoding() != "intset" {
        // What was copied and then cut may fit a smaller encoding: rebuild it as Redis builds
        // the result, member by member.
        let mut fresh = Set::default();
        acc.iter().for_each(|e| {
            fresh.add_elem(e, lim);
        });
        acc = fresh;
    }
    Ok(acc)
}

fn combine_reply(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output, op: Op) {
    let (cx, lim) = (store.ctx(s), store.encoding_limits());
    let (hashes, mut m) = lock_keys(store, &args, 1, args.len(), None);
    match combine(&mut m, store, &cx, &lim, &args, 1, &hashes, op, false) {
        Ok(set) => reply_set(out, Some(&set)),
        Err(e) => err(out, e),
    }
}

fn combine_store(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output, op: Op) {
    let (cx, lim) = (store.ctx(s), store.encoding_limits());
    let dst = arg(&args, 1);
    let hd = store.hash(dst);
    let (hashes, mut m) = lock_keys(store, &args, 2, args.len(), Some(hd));
    let set = match combine(&mut m, store, &cx, &lim, &args, 2, &hashes, op, true) {
        Ok(set) => set,
        Err(e) => return err(out, e),
    };
    let n = set.len();
    if let Some(g) = shard(&mut m, store, hd) {
        if n == 0 {
            let _ = g.take(cx.db, hd, dst, cx.now);
        } else {
            g.put(&cx, hd, dst, Val::Obj(set.into_obj()), Expire::Set(None), 0);
        }
    }
    out.integer(n as i64);
}

/// ```text
/// SINTER key [key ...]
/// ```
/// The members common to every set (a set reply; empty if a key is missing).
fn sinter(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    combine_reply(store, s, args, out, Op::Inter);
}

/// ```text
/// SUNION key [key ...]
/// ```
/// The members of any of the sets.
fn sunion(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    combine_reply(store, s, args, out, Op::Union);
}

/// ```text
/// SDIFF key [key ...]
/// ```
/// The members of the first set that are in none of the others.
fn sdiff(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    combine_reply(store, s, args, out, Op::Diff);
}

/// ```text
/// SINTERSTORE destination key [key ...]
/// ```
/// Stores the intersection at `destination` (deleting it if empty); its size.
fn sinterstore(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    combine_store(store, s, args, out, Op::Inter);
}

/// ```text
/// SUNIONSTORE destination key [key ...]
/// ```
/// Stores the union at `destination` (deleting it if empty); its size.
fn sunionstore(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    combine_store(store, s, args, out, Op::Union);
}

/// ```text
/// SDIFFSTORE destination key [key ...]
/// ```
/// Stores the difference at `destination` (deleting it if empty); its size.
fn sdiffstore(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    combine_store(store, s, args, out, Op::Diff);
}

/// ```text
/// SINTERCARD numkeys key [key ...] [LIMIT limit]
/// ```
/// The size of the intersection, counting no further than `limit` (0: no limit).
fn sintercard(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let numkeys = match karst_resp::num::parse_i64(arg(&args, 1)) {
        Some(n) if n > 0 => n as u64,
        _ => return err(out, Error::Other("ERR numkeys should be greater than 0".into())),
    };
    if numkeys > (args.len() - 2) as u64 {
        return err(
            out,
            Error::Other("ERR Number of keys can't be greater than number of args".into()),
        );
    }
    let end = 2 + numkeys as usize;
    let mut limit = 0usize;
    let mut i = end;
    while i < args.len() {
        match args.get(i + 1) {
            Some(v) if is(arg(&args, i), "limit") => match karst_resp::num::parse_i64(v) {
                Some(l) if l >= 0 => limit = usize::try_from(l).unwrap_or(usize::MAX),
                _ => return err(out, Error::Other("ERR LIMIT can't be negative".into())),
            },
            _ => return err(out, Error::Syntax),
        }
        i += 2;
    }
    let cx = store.ctx(s);
    let (hashes, mut m) = lock_keys(store, &args, 2, end, None);
    match op_intercard(&mut m, store, &cx, &args, &hashes, limit) {
        Ok(n) => out.integer(n as i64),
        Err(e) => err(out, e),
    }
}

/// SINTERCARD on locked shards: walks the smallest set and probes the others, stopping at
/// `limit`. Only one set is lent at a time, so the smallest is copied when there are others.
fn op_intercard(
    m: &mut Many<'_>,
    store: &Store,
    cx: &Ctx,
    args: &Args<'_>,
    hashes: &[KeyHash],
    limit: usize,
) -> Result<usize, Error> {
    let sizes = sizes(m, store, cx, args, 2, hashes)?;
    if sizes.iter().any(Option::is_none) {
        return Ok(0);
    }
    let cap = |n: usize| if limit == 0 { n } else { n.min(limit) };
    let lim = store.encoding_limits();
    let mut order: Vec<usize> = (0..hashes.len()).collect();
    order.sort_by_key(|&i| sizes.get(i).copied().flatten());
    let mut order = order.into_iter();
    let Some(first) = order.next() else { return Ok(0) };
    if hashes.len() == 1 {
        return Ok(cap(sizes.first().copied().flatten().unwrap_or(0)));
    }
    let mut acc = Set::default();
    on_set(m, store, cx, args, 2, hashes, first, |set| {
        set.iter().for_each(|e| {
            acc.add_elem(e, &lim);
        })
    });
    let rest: Vec<usize> = order.collect();
    let (last, middle) = match rest.split_last() {
        Some((l, mid)) => (*l, mid),
        None => return Ok(cap(acc.len())),
    };
    for &i in middle {
        if acc.is_empty() {
            return Ok(0);
        }
        on_set(m, store, cx, args, 2, hashes, i, |set| acc.retain(|e| set.contains_elem(e)));
    }
    // The last set only counts, up to the limit.
    let n = on_set(m, store, cx, args, 2, hashes, last, |set| {
        let mut n = 0;
        for e in acc.iter() {
            if set.contains_elem(e) {
                n += 1;
                if n == limit {
                    break;
                }
            }
        }
        n
    });
    Ok(n.unwrap_or(0))
}

/// ```text
/// SSCAN key cursor [MATCH pattern] [COUNT count]
/// ```
/// `[next-cursor, [member ...]]`. A compact set (intset, listpack) comes whole in one call with
/// cursor 0, as in Redis; a hash table in steps of about `count` members.
fn sscan(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let Some(cursor) = parse_cursor(arg(&args, 2)) else {
        return err(out, Error::Other("ERR invalid cursor".into()));
    };
    let r = with_set(store, s, arg(&args, 1), |set| {
        let Some(set) = set else {
            out.array(2);
            out.bulk("0");
            return out.array(0);
        };
        let (mut pattern, mut count) = (None, 10usize);
        let mut i = 3;
        while let Some(a) = args.get(i) {
            let Some(v) = args.get(i + 1) else { return err(out, Error::Syntax) };
            if is(a, "count") {
                match karst_resp::num::parse_i64(v) {
                    Some(c) if c >= 1 => count = usize::try_from(c).unwrap_or(usize::MAX),
                    Some(_) => return err(out, Error::Syntax),
                    None => return err(out, Error::NotInteger),
                }
            } else if is(a, "match") {
                pattern = Some(v);
            } else {
                return err(out, Error::Syntax);
            }
            i += 2;
        }
        // Redis skips matching for a lone `*`.
        let pattern = pattern.filter(|p| *p != b"*");
        let keep = |e: Elem<'_>| pattern.is_none_or(|p| e.with(|b| crate::glob::matches(p, b)));
        // The number of matches is unknown until the walk is done: count them first (cheap
        // for the compact encodings, `count` members for a table), then write.
        let mut n = 0;
        let next = set.scan(cursor, count, |e| n += usize::from(keep(e)));
        out.array(2);
        out.bulk(itoa::Buffer::new().format(next.0));
        out.array(n);
        set.scan(cursor, count, |e| {
            if keep(e) {
                elem(out, e);
            }
        });
    });
    if let Err(e) = r {
        err(out, e);
    }
}

/// loom model of SMOVE across two shards (run with `RUSTFLAGS="--cfg karst_loom"
/// LOOM_MAX_PREEMPTIONS=2 cargo test --release -p karst-store --lib -- loom`).
#[cfg(all(test, karst_loom))]
mod loom_tests {
    use loom::thread;

    use crate::session::Session;
    use crate::store::Store;
    use crate::types::set::Set;

    /// Two SMOVEs the opposite ways race a reader of both sets: no deadlock, and every
    /// observation (both shards locked together, as SCARD of each under one lock) sees the
    /// member in exactly one set.
    #[test]
    fn loom_smove_both_ways_with_a_reader() {
        loom::model(|| {
            let s = Store::builder().shards(2).databases(1).hash_seed(7).build();
            let names: [&'static str; 8] = ["a", "b", "c", "d", "e", "f", "g", "h"];
            let a = names[0];
            let sa = s.shard_of(s.hash(a.as_bytes()));
            let b = names.iter().copied().find(|k| s.shard_of(s.hash(k.as_bytes())) != sa);
            let b = b.unwrap_or(names[1]);
            s.execute(["SADD", a, "m"]);
            let s1 = s.clone();
            let t1 = thread::spawn(move || s1.execute(["SMOVE", a, b, "m"]));
            let s2 = s.clone();
            let t2 = thread::spawn(move || s2.execute(["SMOVE", b, a, "m"]));
            let observe = |s: &Store| {
                let cx = s.ctx(&Session::new());
                let (ha, hb) = (s.hash(a.as_bytes()), s.hash(b.as_bytes()));
                let mut m = s.lock_many(vec![s.shard_of(ha), s.shard_of(hb)]);
                let na = m.shard(s.shard_of(ha)).and_then(|g| {
                    g.read::<Set>(&cx, ha, a.as_bytes()).ok().flatten().map(Set::len)
                });
                let nb = m.shard(s.shard_of(hb)).and_then(|g| {
                    g.read::<Set>(&cx, hb, b.as_bytes()).ok().flatten().map(Set::len)
                });
                na.unwrap_or(0) + nb.unwrap_or(0)
            };
            assert_eq!(observe(&s), 1, "seen in both sets or in none");
            t1.join().unwrap();
            t2.join().unwrap();
            assert_eq!(observe(&s), 1);
        });
    }
}
