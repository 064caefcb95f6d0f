//! Sorted-set commands (Redis `t_zset.c`).

use karst_resp::num::format_double;
use karst_resp::{Args, Output};

use super::{B, D, F, MK, NS, R, W, arg, err, int_arg, is, parse_cursor};
use crate::blocking::{NoWait, block, parse_timeout};
use crate::command::{CommandSpec, Flags, spec};

use crate::error::Error;
use crate::session::Session;
use crate::shard::{Ctx, Expire, KeyHash, Shard, Val, ValRef};
use crate::store::{Many, Store};
use crate::types::Kind;
use crate::types::set::Set;
use crate::types::zset::{AddFlags, Added, LexBound, ScoreBound, ZSet};

const ZWF: &[&str] = &["write", "sortedset", "fast"];
const ZW: &[&str] = &["write", "sortedset", "slow"];
const ZRF: &[&str] = &["read", "sortedset", "fast"];
const ZR: &[&str] = &["read", "sortedset", "slow"];
const ZWFB: &[&str] = &["write", "sortedset", "fast", "blocking"];
const ZWB: &[&str] = &["write", "sortedset", "slow", "blocking"];

pub(crate) static COMMANDS: &[CommandSpec] = &[
    spec("zadd", -4, Flags(W | D | F), 1, 1, 1, ZWF, zadd),
    spec("zincrby", 4, Flags(W | D | F), 1, 1, 1, ZWF, zincrby),
    spec("zrem", -3, Flags(W | F), 1, 1, 1, ZWF, zrem),
    spec("zcard", 2, Flags(R | F), 1, 1, 1, ZRF, zcard),
    spec("zscore", 3, Flags(R | F), 1, 1, 1, ZRF, zscore),
    spec("zmscore", -3, Flags(R | F), 1, 1, 1, ZRF, zmscore),
    spec("zrank", 3, Flags(R | F), 1, 1, 1, ZRF, zrank),
    spec("zrevrank", 3, Flags(R | F), 1, 1, 1, ZRF, zrevrank),
    spec("zcount", 4, Flags(R | F), 1, 1, 1, ZRF, zcount),
    spec("zlexcount", 4, Flags(R | F), 1, 1, 1, ZRF, zlexcount),
    spec("zrange", -4, Flags(R), 1, 1, 1, ZR, zrange),
    spec("zrangestore", -5, Flags(W | D), 1, 2, 1, ZW, zrangestore),
    spec("zrevrange", -4, Flags(R), 1, 1, 1, ZR, zrevrange),
    spec("zrangebyscore", -4, Flags(R), 1, 1, 1, ZR, zrangebyscore),
    spec("zrevrangebyscore", -4, Flags(R), 1, 1, 1, ZR, zrevrangebyscore),
    spec("zrangebylex", -4, Flags(R), 1, 1, 1, ZR, zrangebylex),
    spec("zrevrangebylex", -4, Flags(R), 1, 1, 1, ZR, zrevrangebylex),
    spec("zremrangebyrank", 4, Flags(W), 1, 1, 1, ZW, zremrangebyrank),
    spec("zremrangebyscore", 4, Flags(W), 1, 1, 1, ZW, zremrangebyscore),
    spec("zremrangebylex", 4, Flags(W), 1, 1, 1, ZW, zremrangebylex),
    spec("zpopmin", -2, Flags(W | F), 1, 1, 1, ZWF, zpopmin),
    spec("zpopmax", -2, Flags(W | F), 1, 1, 1, ZWF, zpopmax),
    spec("zmpop", -4, Flags(W | MK), 0, 0, 0, ZW, zmpop),
    spec("bzpopmin", -3, Flags(W | F | B | NS), 1, -2, 1, ZWFB, bzpopmin),
    spec("bzpopmax", -3, Flags(W | F | B | NS), 1, -2, 1, ZWFB, bzpopmax),
    spec("bzmpop", -5, Flags(W | B | MK), 0, 0, 0, ZWB, bzmpop),
    spec("zrandmember", -2, Flags(R), 1, 1, 1, ZR, zrandmember),
    spec("zunion", -3, Flags(R | MK), 0, 0, 0, ZR, zunion),
    spec("zinter", -3, Flags(R | MK), 0, 0, 0, ZR, zinter),
    spec("zdiff", -3, Flags(R | MK), 0, 0, 0, ZR, zdiff),
    spec("zunionstore", -4, Flags(W | D | MK), 1, 1, 1, ZW, zunionstore),
    spec("zinterstore", -4, Flags(W | D | MK), 1, 1, 1, ZW, zinterstore),
    spec("zdiffstore", -4, Flags(W | D | MK), 1, 1, 1, ZW, zdiffstore),
    spec("zintercard", -3, Flags(R | MK), 0, 0, 0, ZR, zintercard),
    spec("zscan", -3, Flags(R), 1, 1, 1, ZR, zscan),
];

// --- parsing -----------------------------------------------------------------------------------

/// C's `strtod` over a whole text: Rust's decimal syntax plus hexadecimal floats (`0x1.8p3`),
/// which are read exactly by the long double parser and rounded to an f64.
fn c_double(t: &str) -> Option<f64> {
    let (neg, body) = super::split_sign(t.as_bytes());
    match body.strip_prefix(b"0x").or_else(|| body.strip_prefix(b"0X")) {
        Some(hex) => crate::ldouble::Ext::parse_hex(neg, hex).map(crate::ldouble::Ext::to_f64),
        None => t.parse().ok(),
    }
}

/// A score as Redis reads one (`strtod` of the whole text: no leading space, no NaN, no
/// overflow to an infinity or underflow to zero; `inf`, `+inf`, `-inf` are fine).
pub(crate) fn parse_score(raw: &[u8]) -> Option<f64> {
    let first = *raw.first()?;
    if first.is_ascii_whitespace() {
        return None;
    }
    let v = c_double(std::str::from_utf8(raw).ok()?)?;
    if v.is_nan() {
        return None;
    }
    if v.is_infinite() && !raw.iter().any(|&c| c == b'i' || c == b'I') {
        return None;
    }
    if v == 0.0 {
        let mantissa = raw.split(|&c| c == b'e' || c == b'E').next().unwrap_or_default();
        if mantissa.iter().any(|c| (b'1'..=b'9').contains(c)) {
            return None;
        }
    }
    Some(v)
}

fn not_float_range() -> Error {
    Error::Other("ERR min or max is not a float".into())
}

fn not_lex_range() -> Error {
    Error::Other("ERR min or max not valid string range item".into())
}

/// One end of a score range: `1.5`, `(1.5`, `-inf` (Redis's `strtod` without the range check,
/// so an empty text is 0).
fn parse_score_bound(raw: &[u8]) -> Result<ScoreBound, Error> {
    let (exclusive, rest) = match raw.split_first() {
        Some((b'(', rest)) => (true, rest),
        _ => (false, raw),
    };
    if rest.is_empty() {
        return Ok(ScoreBound { value: 0.0, exclusive });
    }
    let text = std::str::from_utf8(rest).map_err(|_| not_float_range())?.trim_start();
    let value = c_double(text).ok_or_else(not_float_range)?;
    if value.is_nan() {
        return Err(not_float_range());
    }
    Ok(ScoreBound { value, exclusive })
}

/// One end of a lexicographic range: `-`, `+`, `[member`, `(member`.
fn parse_lex_bound(raw: &[u8]) -> Result<LexBound<'_>, Error> {
    match raw.split_first() {
        Some((b'-', [])) => Ok(LexBound::NegInf),
        Some((b'+', [])) => Ok(LexBound::PosInf),
        Some((b'[', m)) => Ok(LexBound::Incl(m)),
        Some((b'(', m)) => Ok(LexBound::Excl(m)),
        _ => Err(not_lex_range()),
    }
}

fn nan_error() -> Error {
    Error::Other("ERR resulting score is not a number (NaN)".into())
}

// --- replies -----------------------------------------------------------------------------------

/// How elements with scores are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Style {
    /// Members only.
    Members,
    /// WITHSCORES: member, score flat in RESP2; [member, score] pairs in RESP3.
    Scores,
    /// [member, score] pairs in both protocols (ZMPOP).
    Pairs,
}

fn header(out: &mut Output, n: usize, style: Style) {
    if style == Style::Scores && !out.is_resp3() {
        out.array(2 * n);
    } else {
        out.array(n);
    }
}

fn item(out: &mut Output, m: &[u8], s: f64, style: Style) {
    match style {
        Style::Members => out.bulk(m),
        Style::Scores if !out.is_resp3() => {
            out.bulk(m);
            out.double(s);
        }
        _ => {
            out.array(2);
            out.bulk(m);
            out.double(s);
        }
    }
}

// --- single-key helpers ------------------------------------------------------------------------

/// Runs `f` on the sorted set at `key` (None if missing), or replies WRONGTYPE.
fn read(
    store: &Store,
    s: &Session,
    key: &[u8],
    out: &mut Output,
    f: impl FnOnce(Option<&ZSet>, &mut Output),
) {
    let cx = store.ctx(s);
    let h = store.hash(key);
    let mut g = store.lock(h);
    match g.read::<ZSet>(&cx, h, key) {
        Ok(z) => f(z, out),
        Err(e) => err(out, e),
    }
}

/// Runs `f` on the sorted set at `key` (created empty first if `create`); None if missing.
fn write<T>(
    store: &Store,
    s: &Session,
    key: &[u8],
    create: bool,
    f: impl FnOnce(&mut ZSet) -> T,
) -> Result<Option<T>, Error> {
    let cx = store.ctx(s);
    let h = store.hash(key);
    let mut g = store.lock(h);
    g.write::<ZSet, T>(&cx, h, key, create, f)
}

// --- ZADD, ZINCRBY, ZREM, reads ----------------------------------------------------------------

/// ```text
/// ZADD key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]
/// ```
/// The number of members added (with CH: added or changed); with INCR the new score, or nil
/// when a flag prevented the change.
fn zadd(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let (mut f, mut ch) = (AddFlags::default(), false);
    let mut i = 2;
    while let Some(a) = args.get(i) {
        if is(a, "nx") {
            f.nx = true;
        } else if is(a, "xx") {
            f.xx = true;
        } else if is(a, "gt") {
            f.gt = true;
        } else if is(a, "lt") {
            f.lt = true;
        } else if is(a, "ch") {
            ch = true;
        } else if is(a, "incr") {
            f.incr = true;
        } else {
            break;
        }
        i += 1;
    }
    let n = args.len() - i;
    if n == 0 || n % 2 != 0 {
        return err(out, Error::Syntax);
    }
    if f.nx && f.xx {
        return err(
            out,
            Error::Other("ERR XX and NX options at the same time are not compatible".into()),
        );
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return err(
            out,
            Error::Other(
                "ERR GT, LT, and/or NX options at the same time are not compatible".into(),
            ),
        );
    }
    if f.incr && n > 2 {
        return err(
            out,
            Error::Other("ERR INCR option supports a single increment-element pair".into()),
        );
    }
    if (i..args.len()).step_by(2).any(|j| parse_score(arg(&args, j)).is_none()) {
        return err(out, Error::NotFloat);
    }
    let lim = store.encoding_limits();
    let r = write(store, s, arg(&args, 1), !f.xx, |z| {
        let (mut added, mut changed, mut last) = (0, 0, Added::Skipped);
        for j in (i..args.len()).step_by(2) {
            let score = parse_score(arg(&args, j)).unwrap_or(0.0);
            last = z.add(arg(&args, j + 1), score, f, &lim);
            match last {
                Added::New(_) => added += 1,
                Added::Updated(_) => changed += 1,
                Added::Nan => break,
                Added::Same(_) | Added::Skipped => {}
            }
        }
        (added, changed, last)
    });
    match r {
        Err(e) => err(out, e),
        Ok(None) if f.incr => out.null(),
        Ok(None) => out.integer(0),
        Ok(Some((_, _, last))) if f.incr => match last {
            Added::New(v) | Added::Updated(v) | Added::Same(v) => out.double(v),
            Added::Skipped => out.null(),
            Added::Nan => err(out, nan_error()),
        },
        Ok(Some((added, changed, _))) => out.integer(if ch { added + changed } else { added }),
    }
}

/// ```text
/// ZINCRBY key increment member
/// ```
/// The member's new score.
fn zincrby(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let Some(by) = parse_score(arg(&args, 2)) else { return err(out, Error::NotFloat) };
    let lim = store.encoding_limits();
    let f = AddFlags { incr: true, ..AddFlags::default() };
    match write(store, s, arg(&args, 1), true, |z| z.add(arg(&args, 3), by, f, &lim)) {
        Err(e) => err(out, e),
        Ok(Some(Added::New(v) | Added::Updated(v) | Added::Same(v))) => out.double(v),
        Ok(Some(Added::Nan)) => err(out, nan_error()),
        Ok(_) => out.null(),
    }
}

/// ```text
/// ZREM key member [member ...]
/// ```
/// How many members were removed.
fn zrem(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let r = write(store, s, arg(&args, 1), false, |z| {
        args.iter().skip(2).filter(|m| z.remove(m)).count() as i64
    });
    match r {
        Ok(n) => out.integer(n.unwrap_or(0)),
        Err(e) => err(out, e),
    }
}

/// ```text
/// ZCARD key
/// ```
fn zcard(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    read(store, s, arg(&args, 1), out, |z, out| out.integer(z.map_or(0, |z| z.len() as i64)));
}

/// ```text
/// ZSCORE key member
/// ```
/// The score (a double), or nil.
fn zscore(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    read(store, s, arg(&args, 1), out, |z, out| match z.and_then(|z| z.score(arg(&args, 2))) {
        Some(v) => out.double(v),
        None => out.null(),
    });
}

/// ```text
/// ZMSCORE key member [member ...]
/// ```
/// One score or nil per member.
fn zmscore(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    read(store, s, arg(&args, 1), out, |z, out| {
        out.array(args.len() - 2);
        for m in args.iter().skip(2) {
            match z.and_then(|z| z.score(m)) {
                Some(v) => out.double(v),
                None => out.null(),
            }
        }
    });
}

fn rank_generic(store: &Store, s: &Session, args: &Args<'_>, out: &mut Output, rev: bool) {
    read(store, s, arg(args, 1), out, |z, out| {
        match z.and_then(|z| Some((z, z.rank(arg(args, 2))?))) {
            Some((z, (r, _))) => out.integer((if rev { z.len() - 1 - r } else { r }) as i64),
            None => out.null(),
        }
    });
}

/// ```text
/// ZRANK key member
/// ```
/// The 0-based rank by ascending score, or nil.
fn zrank(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    rank_generic(store, s, &args, out, false);
}

/// ```text
/// ZREVRANK key member
/// ```
/// The 0-based rank by descending score, or nil.
fn zrevrank(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    rank_generic(store, s, &args, out, true);
}

/// ```text
/// ZCOUNT key min max
/// ```
/// How many members have a score in the range.
fn zcount(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let (min, max) = match (parse_score_bound(arg(&args, 2)), parse_score_bound(arg(&args, 3))) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return err(out, e),
    };
    read(store, s, arg(&args, 1), out, |z, out| {
        let (lo, hi) = z.map_or((0, 0), |z| z.score_span(min, max));
        out.integer((hi - lo) as i64);
    });
}

/// ```text
/// ZLEXCOUNT key min max
/// ```
/// How many members are in the lexicographic range.
fn zlexcount(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let (min, max) = match (parse_lex_bound(arg(&args, 2)), parse_lex_bound(arg(&args, 3))) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return err(out, e),
    };
    read(store, s, arg(&args, 1), out, |z, out| {
        let (lo, hi) = z.map_or((0, 0), |z| z.lex_span(min, max));
        out.integer((hi - lo) as i64);
    });
}

// --- ranges ------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum By {
    Rank,
    Score,
    Lex,
}

/// A parsed range request of the ZRANGE family.
#[derive(Clone, Copy, Debug)]
struct Range<'a> {
    by: By,
    rev: bool,
    start: i64,
    end: i64,
    score: (ScoreBound, ScoreBound),
    lex: (LexBound<'a>, LexBound<'a>),
    /// LIMIT offset and count (count < 0: all).
    offset: i64,
    count: i64,
    withscores: bool,
}

/// Parses `min max [options]` from `at` on. `by`/`rev` are fixed by the command's name (ZRANGE
/// and ZRANGESTORE leave them to the options); `store` refuses WITHSCORES.
fn parse_range<'a>(
    args: &Args<'a>,
    at: usize,
    by: Option<By>,
    rev: Option<bool>,
    store: bool,
) -> Result<Range<'a>, Error> {
    let (mut by_opt, mut rev_opt) = (by, rev);
    let (mut limit, mut withscores, mut offset, mut count) = (false, false, 0, -1);
    let mut j = at + 2;
    while let Some(a) = args.get(j) {
        let left = args.len() - j - 1;
        if !store && is(a, "withscores") {
            withscores = true;
        } else if left >= 2 && is(a, "limit") {
            offset = int_arg(args, j + 1)?;
            count = int_arg(args, j + 2)?;
            limit = true;
            j += 2;
        } else if rev_opt.is_none() && is(a, "rev") {
            rev_opt = Some(true);
        } else if by_opt.is_none() && is(a, "bylex") {
            by_opt = Some(By::Lex);
        } else if by_opt.is_none() && is(a, "byscore") {
            by_opt = Some(By::Score);
        } else {
            return Err(Error::Syntax);
        }
        j += 1;
    }
    let by = by_opt.unwrap_or(By::Rank);
    let rev = rev_opt.unwrap_or(false);
    if limit && by == By::Rank {
        return Err(Error::Other(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
                .into(),
        ));
    }
    if withscores && by == By::Lex {
        return Err(Error::Other(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX".into(),
        ));
    }
    let (mut a, mut b) = (arg(args, at), arg(args, at + 1));
    if rev && by != By::Rank {
        std::mem::swap(&mut a, &mut b);
    }
    let none = ScoreBound { value: 0.0, exclusive: false };
    let mut r = Range {
        by,
        rev,
        start: 0,
        end: 0,
        score: (none, none),
        lex: (LexBound::NegInf, LexBound::NegInf),
        offset,
        count,
        withscores,
    };
    match by {
        By::Rank => {
            r.start = int_arg(args, at)?;
            r.end = int_arg(args, at + 1)?;
        }
        By::Score => r.score = (parse_score_bound(a)?, parse_score_bound(b)?),
        By::Lex => r.lex = (parse_lex_bound(a)?, parse_lex_bound(b)?),
    }
    Ok(r)
}

/// The ascending ranks `[lo, hi)` to visit and whether downwards.
fn resolve(z: &ZSet, r: &Range<'_>) -> (usize, usize) {
    let len = z.len() as i64;
    if r.by == By::Rank {
        let (mut start, mut end) = (r.start, r.end);
        if start < 0 {
            start += len;
        }
        if end < 0 {
            end += len;
        }
        start = start.max(0);
        if start > end || start >= len {
            return (0, 0);
        }
        end = end.min(len - 1);
        return if r.rev {
            ((len - 1 - end) as usize, (len - start) as usize)
        } else {
            (start as usize, end as usize + 1)
        };
    }
    let (lo, hi) = match r.by {
        By::Score => z.score_span(r.score.0, r.score.1),
        _ => z.lex_span(r.lex.0, r.lex.1),
    };
    if r.offset < 0 {
        return (0, 0);
    }
    let offset = (r.offset as u64).min((hi - lo) as u64) as usize;
    let avail = hi - lo - offset;
    let n = if r.count < 0 { avail } else { (r.count as u64).min(avail as u64) as usize };
    if r.rev { (hi - offset - n, hi - offset) } else { (lo + offset, lo + offset + n) }
}

fn range_generic(
    store: &Store,
    s: &Session,
    args: &Args<'_>,
    out: &mut Output,
    by: Option<By>,
    rev: Option<bool>,
) {
    let r = match parse_range(args, 2, by, rev, false) {
        Ok(r) => r,
        Err(e) => return err(out, e),
    };
    let style = if r.withscores { Style::Scores } else { Style::Members };
    read(store, s, arg(args, 1), out, |z, out| {
        let Some(z) = z else { return out.array(0) };
        let (lo, hi) = resolve(z, &r);
        header(out, hi - lo, style);
        z.visit(lo, hi, r.rev, |m, v| item(out, m, v, style));
    });
}

/// ```text
/// ZRANGE key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]
/// ```
/// The members in the range (with WITHSCORES, their scores too).
fn zrange(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    range_generic(store, s, &args, out, None, None);
}

/// ```text
/// ZREVRANGE key start stop [WITHSCORES]
/// ```
fn zrevrange(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    range_generic(store, s, &args, out, Some(By::Rank), Some(true));
}

/// ```text
/// ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]
/// ```
fn zrangebyscore(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    range_generic(store, s, &args, out, Some(By::Score), Some(false));
}

/// ```text
/// ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]
/// ```
fn zrevrangebyscore(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    range_generic(store, s, &args, out, Some(By::Score), Some(true));
}

/// ```text
/// ZRANGEBYLEX key min max [LIMIT offset count]
/// ```
fn zrangebylex(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    range_generic(store, s, &args, out, Some(By::Lex), Some(false));
}

/// ```text
/// ZREVRANGEBYLEX key max min [LIMIT offset count]
/// ```
fn zrevrangebylex(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    range_generic(store, s, &args, out, Some(By::Lex), Some(true));
}

/// Stores `z` at `key` (replacing any value and its TTL), or deletes `key` if `z` is empty.
fn store_result(m: &mut Many<'_>, cx: &Ctx, h: KeyHash, sh: usize, key: &[u8], z: ZSet) {
    let Some(g) = m.shard(sh) else { return };
    if z.is_empty() {
        g.take(cx.db, h, key, cx.now);
    } else {
        g.put(cx, h, key, Val::Obj(crate::types::Kind::into_obj(z)), Expire::Set(None), 0);
    }
}

/// ```text
/// ZRANGESTORE dst src min max [BYSCORE | BYLEX] [REV] [LIMIT offset count]
/// ```
/// The number of elements stored at `dst`.
fn zrangestore(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let r = match parse_range(&args, 3, None, None, true) {
        Ok(r) => r,
        Err(e) => return err(out, e),
    };
    let (dst, src) = (arg(&args, 1), arg(&args, 2));
    let (hd, hs) = (store.hash(dst), store.hash(src));
    let (sd, ss) = (store.shard_of(hd), store.shard_of(hs));
    let cx = store.ctx(s);
    let lim = store.encoding_limits();
    let mut m = store.lock_many(vec![sd, ss]);
    let Some(g) = m.shard(ss) else { return };
    let result = match g.read::<ZSet>(&cx, hs, src) {
        Err(e) => return err(out, e),
        Ok(None) => ZSet::default(),
        Ok(Some(z)) => {
            let (lo, hi) = resolve(z, &r);
            let mut res = ZSet::with_hint(hi - lo, 0, &lim);
            z.visit(lo, hi, r.rev, |m, v| res.put(m, v, &lim));
            res
        }
    };
    let n = result.len();
    store_result(&mut m, &cx, hd, sd, dst, result);
    out.integer(n as i64);
}

fn remrange_generic(store: &Store, s: &Session, args: &Args<'_>, out: &mut Output, by: By) {
    let r = match parse_range(args, 2, Some(by), Some(false), true) {
        Ok(r) => r,
        Err(e) => return err(out, e),
    };
    let removed = write(store, s, arg(args, 1), false, |z| {
        let (lo, hi) = resolve(z, &r);
        z.remove_span(lo, hi)
    });
    match removed {
        Ok(n) => out.integer(n.unwrap_or(0) as i64),
        Err(e) => err(out, e),
    }
}

/// ```text
/// ZREMRANGEBYRANK key start stop
/// ```
/// The number of members removed.
fn zremrangebyrank(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    remrange_generic(store, s, &args, out, By::Rank);
}

/// ```text
/// ZREMRANGEBYSCORE key min max
/// ```
fn zremrangebyscore(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    remrange_generic(store, s, &args, out, By::Score);
}

/// ```text
/// ZREMRANGEBYLEX key min max
/// ```
fn zremrangebylex(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    remrange_generic(store, s, &args, out, By::Lex);
}

// --- pops --------------------------------------------------------------------------------------

fn pop_generic(store: &Store, s: &Session, args: &Args<'_>, out: &mut Output, max: bool) {
    if args.len() > 3 {
        return err(out, Error::Syntax);
    }
    let count = match args.get(2) {
        None => None,
        Some(raw) => match karst_resp::num::parse_i64(raw) {
            Some(c) if c >= 0 => Some(c as usize),
            _ => {
                return err(
                    out,
                    Error::Other("ERR value is out of range, must be positive".into()),
                );
            }
        },
    };
    let cx = store.ctx(s);
    let key = arg(args, 1);
    let h = store.hash(key);
    let mut g = store.lock(h);
    // A type check first: Redis says WRONGTYPE even for a count of 0.
    if let Err(e) = g.read::<ZSet>(&cx, h, key) {
        return err(out, e);
    }
    let n = count.unwrap_or(1);
    let r = g.write::<ZSet, ()>(&cx, h, key, false, |z| {
        let n = n.min(z.len());
        match count {
            None if n == 1 => out.array(2),
            None => out.array(0),
            Some(_) => header(out, n, Style::Scores),
        }
        z.pop(n, max, |m, v| {
            if count.is_none() {
                out.bulk(m);
                out.double(v);
            } else {
                item(out, m, v, Style::Scores);
            }
        });
    });
    match r {
        Ok(Some(())) => {}
        Ok(None) => out.array(0),
        Err(e) => err(out, e),
    }
}

/// ```text
/// ZPOPMIN key [count]
/// ```
/// The popped members with their scores (lowest first).
fn zpopmin(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    pop_generic(store, s, &args, out, false);
}

/// ```text
/// ZPOPMAX key [count]
/// ```
/// The popped members with their scores (highest first).
fn zpopmax(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    pop_generic(store, s, &args, out, true);
}

/// Pops from the first non-empty sorted set among `keys`: writes `[key, …]` with `reply` and
/// returns true; false if all are missing. WRONGTYPE for a key of another type on the way.
fn pop_first(
    store: &Store,
    s: &Session,
    keys: &[&[u8]],
    out: &mut Output,
    mut reply: impl FnMut(&mut Output, &[u8], &mut ZSet),
) -> Result<bool, Error> {
    let cx = store.ctx(s);
    for key in keys {
        let h = store.hash(key);
        let mut g = store.lock(h);
        if g.read::<ZSet>(&cx, h, key)?.is_none() {
            continue;
        }
        if g.write::<ZSet, ()>(&cx, h, key, false, |z| reply(out, key, z))?.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

fn bzpop_generic(store: &Store, s: &mut Session, args: &Args<'_>, out: &mut Output, max: bool) {
    let timeout = match parse_timeout(arg(args, args.len() - 1)) {
        Ok(t) => t,
        Err(e) => return err(out, e),
    };
    let keys: Vec<&[u8]> = args.iter().skip(1).take(args.len() - 2).collect();
    let r = pop_first(store, s, &keys, out, |out, key, z| {
        out.array(3);
        out.bulk(key);
        z.pop(1, max, |m, v| {
            out.bulk(m);
            out.double(v);
        });
    });
    match r {
        Ok(true) => {}
        Ok(false) => block(store, s, out, &keys, timeout, NoWait::NullArray),
        Err(e) => err(out, e),
    }
}

/// ```text
/// BZPOPMIN key [key ...] timeout
/// ```
/// `[key, member, score]` from the first non-empty key, waiting up to `timeout` seconds.
fn bzpopmin(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    bzpop_generic(store, s, &args, out, false);
}

/// ```text
/// BZPOPMAX key [key ...] timeout
/// ```
fn bzpopmax(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    bzpop_generic(store, s, &args, out, true);
}

/// Parses `numkeys key [key ...] MIN | MAX [COUNT count]` from `at`: keys, max, count.
fn parse_mpop<'a>(args: &Args<'a>, at: usize) -> Result<(Vec<&'a [u8]>, bool, usize), Error> {
    let numkeys = match karst_resp::num::parse_i64(arg(args, at)) {
        Some(n) if n >= 1 => n as u64,
        _ => return Err(Error::Other("ERR numkeys should be greater than 0".into())),
    };
    let left = (args.len() - at - 1) as u64;
    if numkeys >= left {
        return Err(Error::Syntax);
    }
    let where_at = at + 1 + numkeys as usize;
    let w = arg(args, where_at);
    let max = if is(w, "min") {
        false
    } else if is(w, "max") {
        true
    } else {
        return Err(Error::Syntax);
    };
    let mut count = None;
    let mut j = where_at + 1;
    while let Some(a) = args.get(j) {
        if count.is_none() && is(a, "count") && j + 1 < args.len() {
            match karst_resp::num::parse_i64(arg(args, j + 1)) {
                Some(c) if c >= 1 => count = Some(c as usize),
                _ => return Err(Error::Other("ERR count should be greater than 0".into())),
            }
            j += 2;
        } else {
            return Err(Error::Syntax);
        }
    }
    let keys = (at + 1..where_at).map(|i| arg(args, i)).collect();
    Ok((keys, max, count.unwrap_or(1)))
}

fn mpop_reply(out: &mut Output, key: &[u8], z: &mut ZSet, max: bool, count: usize) {
    out.array(2);
    out.bulk(key);
    header(out, count.min(z.len()), Style::Pairs);
    z.pop(count, max, |m, v| item(out, m, v, Style::Pairs));
}

/// ```text
/// ZMPOP numkeys key [key ...] MIN | MAX [COUNT count]
/// ```
/// `[key, [[member, score], …]]` from the first non-empty key, or nil.
fn zmpop(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let (keys, max, count) = match parse_mpop(&args, 1) {
        Ok(p) => p,
        Err(e) => return err(out, e),
    };
    match pop_first(store, s, &keys, out, |out, key, z| mpop_reply(out, key, z, max, count)) {
        Ok(true) => {}
        Ok(false) => out.null_array(),
        Err(e) => err(out, e),
    }
}

/// ```text
/// BZMPOP timeout numkeys key [key ...] MIN | MAX [COUNT count]
/// ```
/// As ZMPOP, waiting up to `timeout` seconds.
fn bzmpop(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let (keys, max, count) = match parse_mpop(&args, 2) {
        Ok(p) => p,
        Err(e) => return err(out, e),
    };
    let timeout = match parse_timeout(arg(&args, 1)) {
        Ok(t) => t,
        Err(e) => return err(out, e),
    };
    match pop_first(store, s, &keys, out, |out, key, z| mpop_reply(out, key, z, max, count)) {
        Ok(true) => {}
        Ok(false) => block(store, s, out, &keys, timeout, NoWait::NullArray),
        Err(e) => err(out, e),
    }
}

// --- ZRANDMEMBER, ZSCAN ------------------------------------------------------------------------

/// ```text
/// ZRANDMEMBER key [count [WITHSCORES]]
/// ```
/// One random member (or nil); with a count, that many distinct members (negative: with
/// repeats).
fn zrandmember(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    use rand::Rng;
    let count = match args.get(2) {
        None => None,
        Some(_) => match int_arg(&args, 2) {
            Ok(i64::MIN) => {
                return err(
                    out,
                    Error::Other(
                        "ERR value is out of range, value must between -9223372036854775807 \
                         and 9223372036854775807"
                            .into(),
                    ),
                );
            }
            Ok(c) => Some(c),
            Err(e) => return err(out, e),
        },
    };
    let withscores = match args.get(3) {
        None => false,
        Some(a) if args.len() == 4 && is(a, "withscores") => true,
        Some(_) => return err(out, Error::Syntax),
    };
    let style = if withscores { Style::Scores } else { Style::Members };
    read(store, s, arg(&args, 1), out, |z, out| {
        let mut rng = rand::rng();
        let Some(count) = count else {
            match z.and_then(|z| z.at(rng.random_range(0..z.len().max(1)))) {
                Some((m, _)) => out.bulk(m),
                None => out.null(),
            }
            return;
        };
        let Some(z) = z.filter(|z| !z.is_empty()) else { return out.array(0) };
        let len = z.len();
        if count < 0 {
            let n = count.unsigned_abs() as usize;
            header(out, n, style);
            for _ in 0..n {
                if let Some((m, v)) = z.at(rng.random_range(0..len)) {
                    item(out, m, v, style);
                }
            }
        } else if count as u64 >= len as u64 {
            header(out, len, style);
            z.for_each(|m, v| item(out, m, v, style));
        } else {
            let n = count as usize;
            header(out, n, style);
            for i in rand::seq::index::sample(&mut rng, len, n) {
                if let Some((m, v)) = z.at(i) {
                    item(out, m, v, style);
                }
            }
        }
    });
}

/// ```text
/// ZSCAN key cursor [MATCH pattern] [COUNT count]
/// ```
/// `[next cursor, [member, score, …]]`. A compact set comes whole (as in Redis); a large one in
/// the order of its members' hashes (Redis's reverse-binary cursor, as HSCAN), so a member there
/// from start to end comes at least once whatever changes, its own score included.
fn zscan(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let Some(cursor) = parse_cursor(arg(&args, 2)) else {
        return err(out, Error::Other("ERR invalid cursor".into()));
    };
    let (mut pattern, mut count) = (None, 10usize);
    let mut i = 3;
    while let Some(a) = args.get(i) {
        let Some(v) = args.get(i + 1) else { return err(out, Error::Syntax) };
        if is(a, "match") {
            pattern = Some(v).filter(|p| *p != b"*");
        } else if is(a, "count") {
            match int_arg(&args, i + 1) {
                Ok(c) if c >= 1 => count = c as usize,
                Ok(_) => return err(out, Error::Syntax),
                Err(e) => return err(out, e),
            }
        } else {
            return err(out, Error::Syntax);
        }
        i += 2;
    }
    read(store, s, arg(&args, 1), out, |z, out| {
        let Some(z) = z else {
            out.array(2);
            out.bulk(b"0");
            return out.array(0);
        };
        let keep = |m: &[u8]| pattern.is_none_or(|p| crate::glob::matches(p, m));
        let mut batch: Vec<(&[u8], f64)> = Vec::new();
        let next = z.scan(cursor, count, |m, v| {
            if keep(m) {
                batch.push((m, v));
            }
        });
        out.array(2);
        out.bulk(itoa::Buffer::new().format(next));
        out.array(2 * batch.len());
        for (m, v) in batch {
            out.bulk(m);
            out.bulk(format_double(v).as_bytes());
        }
    });
}

// --- ZUNION, ZINTER, ZDIFF and their STORE forms -----------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Union,
    Inter,
    Diff,
    Card,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Agg {
    Sum,
    Min,
    Max,
}

impl Agg {
    fn apply(self, a: f64, b: f64) -> f64 {
        match self {
            Agg::Sum => {
                let v = a + b;
                if v.is_nan() { 0.0 } else { v }
            }
            Agg::Min => {
                if b < a {
                    b
                } else {
                    a
                }
            }
            Agg::Max => {
                if b > a {
                    b
                } else {
                    a
                }
            }
        }
    }
}

/// A parsed ZUNION/ZINTER/ZDIFF/ZINTERCARD request.
struct SetOp {
    weights: Vec<f64>,
    agg: Agg,
    withscores: bool,
    limit: usize,
}

type Keys<'a> = Vec<&'a [u8]>;

/// Parses `numkeys key [key ...] [options]` from `at` on. The option error is kept apart:
/// Redis reports a source of the wrong type before it.
fn parse_setop<'a>(
    args: &Args<'a>,
    at: usize,
    op: Op,
    name: &str,
    store: bool,
) -> Result<(Keys<'a>, Result<SetOp, Error>), Error> {
    let numkeys = int_arg(args, at)?;
    if numkeys < 1 {
        return Err(Error::Other(format!(
            "ERR at least 1 input key is needed for '{name}' command"
        )));
    }
    if numkeys as u64 > (args.len() - at - 1) as u64 {
        return Err(Error::Syntax);
    }
    let n = numkeys as usize;
    let keys: Vec<&[u8]> = (at + 1..at + 1 + n).map(|i| arg(args, i)).collect();
    let opts = (|| {
        let mut p = SetOp { weights: vec![1.0; n], agg: Agg::Sum, withscores: false, limit: 0 };
        let mut j = at + 1 + n;
        while let Some(a) = args.get(j) {
            let left = args.len() - j - 1;
            if op != Op::Diff && op != Op::Card && left >= n && is(a, "weights") {
                for (k, w) in p.weights.iter_mut().enumerate() {
                    *w = parse_score(arg(args, j + 1 + k))
                        .ok_or_else(|| Error::Other("ERR weight value is not a float".into()))?;
                }
                j += n;
            } else if op != Op::Diff && op != Op::Card && left >= 1 && is(a, "aggregate") {
                let v = arg(args, j + 1);
                p.agg = if is(v, "sum") {
                    Agg::Sum
                } else if is(v, "min") {
                    Agg::Min
                } else if is(v, "max") {
                    Agg::Max
                } else {
                    return Err(Error::Syntax);
                };
                j += 1;
            } else if !store && op != Op::Card && is(a, "withscores") {
                p.withscores = true;
            } else if op == Op::Card && left >= 1 && is(a, "limit") {
                match karst_resp::num::parse_i64(arg(args, j + 1)) {
                    Some(l) if l >= 0 => p.limit = l as usize,
                    _ => return Err(Error::Other("ERR LIMIT can't be negative".into())),
                }
                j += 1;
            } else {
                return Err(Error::Syntax);
            }
            j += 1;
        }
        Ok(p)
    })();
    Ok((keys, opts))
}

type Elems = Vec<(Box<[u8]>, f64)>;

/// A source of ZUNION, ZINTER, ZDIFF and their STORE forms: a sorted set, or a plain set whose
/// members all score 1 (as Redis accepts).
#[derive(Clone, Copy)]
enum Source<'a> {
    Sorted(&'a ZSet),
    Plain(&'a Set),
}

impl Source<'_> {
    fn len(self) -> usize {
        match self {
            Source::Sorted(z) => z.len(),
            Source::Plain(s) => s.len(),
        }
    }

    fn for_each(self, mut f: impl FnMut(&[u8], f64)) {
        match self {
            Source::Sorted(z) => z.for_each(f),
            Source::Plain(s) => s.iter().for_each(|e| e.with(|m| f(m, 1.0))),
        }
    }

    fn score(self, member: &[u8]) -> Option<f64> {
        match self {
            Source::Sorted(z) => z.score(member),
            Source::Plain(s) => s.contains(member).then_some(1.0),
        }
    }
}

/// The source at `key`: a sorted set or a set; WRONGTYPE for anything else. With `count`, the
/// read is recorded (access clock, keyspace hit or miss); each source is read once so, as in
/// Redis, and again without it while the operation runs.
fn read_source<'a>(
    g: &'a mut Shard,
    cx: &Ctx,
    h: KeyHash,
    key: &[u8],
    count: bool,
) -> Result<Option<Source<'a>>, Error> {
    let found = if count { g.lookup(cx, h, key, true) } else { g.find(cx.db, h, key, cx.now) };
    match found.map(|f| f.value()) {
        None => Ok(None),
        Some(ValRef::Obj(o)) => match (ZSet::of(o), Set::of(o)) {
            (Some(z), _) => Ok(Some(Source::Sorted(z))),
            (_, Some(s)) => Ok(Some(Source::Plain(s))),
            _ => Err(Error::WrongType),
        },
        Some(_) => Err(Error::WrongType),
    }
}

/// Computes the operation over the sources, which are locked in `m`; the result sorted as a
/// sorted set is (for `Op::Card`, unsorted and cut at the limit).
fn compute(
    m: &mut Many<'_>,
    cx: &Ctx,
    srcs: &[(KeyHash, usize, &[u8])],
    p: &SetOp,
    op: Op,
) -> Result<Elems, Error> {
    // Cardinalities (and the type check, in argument order).
    let mut cards = Vec::with_capacity(srcs.len());
    for &(h, sh, key) in srcs {
        let Some(g) = m.shard(sh) else { return Ok(Vec::new()) };
        cards.push(read_source(g, cx, h, key, false)?.map_or(0, Source::len));
    }
    let mut order: Vec<usize> = (0..srcs.len()).collect();
    if op != Op::Diff {
        // Smallest first, as Redis (which also makes float sums come out the same).
        order.sort_by_key(|&i| cards.get(i).copied().unwrap_or(0));
    }
    let mut acc: Elems = Vec::new();
    let with = |m: &mut Many<'_>, i: usize, f: &mut dyn FnMut(Source<'_>)| {
        if let Some(&(h, sh, key)) = srcs.get(i)
            && let Some(g) = m.shard(sh)
            && let Ok(Some(z)) = read_source(g, cx, h, key, false)
        {
            f(z);
        }
    };
    let weight = |i: usize| p.weights.get(i).copied().unwrap_or(1.0);
    let weighted = |v: f64, w: f64| {
        let x = v * w;
        if x.is_nan() { 0.0 } else { x }
    };
    match op {
        Op::Union => {
            let mut map: hashbrown::HashMap<Box<[u8]>, f64, foldhash::fast::RandomState> =
                hashbrown::HashMap::default();
            for &i in &order {
                let w = weight(i);
                with(m, i, &mut |z| {
                    z.for_each(|k, v| {
                        let v = weighted(v, w);
                        match map.get_mut(k) {
                            Some(cur) => *cur = p.agg.apply(*cur, v),
                            None => {
                                map.insert(k.into(), v);
                            }
                        }
                    })
                });
            }
            acc = map.into_iter().collect();
        }
        Op::Inter | Op::Card => {
            let Some((&first, rest)) = order.split_first() else { return Ok(acc) };
            if cards.get(first).copied().unwrap_or(0) == 0 {
                return Ok(acc);
            }
            let w = weight(first);
            with(m, first, &mut |z| z.for_each(|k, v| acc.push((k.into(), weighted(v, w)))));
            for &i in rest {
                let w = weight(i);
                let mut kept = Vec::with_capacity(acc.len());
                with(m, i, &mut |z| {
                    for (k, v) in acc.drain(..) {
                        if let Some(o) = z.score(&k) {
                            let o = weighted(o, w);
                            kept.push((k, if op == Op::Card { v } else { p.agg.apply(v, o) }));
                        }
                    }
                });
                acc = kept;
            }
            if op == Op::Card {
                if p.limit > 0 {
                    acc.truncate(p.limit);
                }
                return Ok(acc);
            }
        }
        Op::Diff => {
            let Some((&first, rest)) = order.split_first() else { return Ok(acc) };
            with(m, first, &mut |z| z.for_each(|k, v| acc.push((k.into(), v))));
            for &i in rest {
                if acc.is_empty() {
                    break;
                }
                with(m, i, &mut |z| acc.retain(|(k, _)| z.score(k).is_none()));
            }
        }
    }
    acc.sort_by(|a, b| {
        a.1.partial_cmp(&b.1).unwrap_or(std::cmp::Ordering::Equal).then_with(|| a.0.cmp(&b.0))
    });
    Ok(acc)
}

fn setop_generic(
    store: &Store,
    s: &Session,
    args: &Args<'_>,
    out: &mut Output,
    op: Op,
    name: &str,
    dst: bool,
) {
    let at = if dst { 2 } else { 1 };
    let (keys, opts) = match parse_setop(args, at, op, name, dst) {
        Ok(p) => p,
        Err(e) => return err(out, e),
    };
    let cx = store.ctx(s);
    let srcs: Vec<(KeyHash, usize, &[u8])> = keys
        .iter()
        .map(|k| {
            let h = store.hash(k);
            (h, store.shard_of(h), *k)
        })
        .collect();
    let dkey = arg(args, 1);
    let hd = store.hash(dkey);
    let sd = store.shard_of(hd);
    let mut shards: Vec<usize> = srcs.iter().map(|s| s.1).collect();
    if dst {
        shards.push(sd);
    }
    let lim = store.encoding_limits();
    let mut m = store.lock_many(shards);
    // The type check comes before the options' errors, as in Redis.
    for &(h, sh, key) in &srcs {
        if let Some(g) = m.shard(sh)
            && let Err(e) = read_source(g, &cx, h, key, true)
        {
            return err(out, e);
        }
    }
    let p = match opts {
        Ok(p) => p,
        Err(e) => return err(out, e),
    };
    let res = match compute(&mut m, &cx, &srcs, &p, op) {
        Ok(r) => r,
        Err(e) => return err(out, e),
    };
    if op == Op::Card {
        return out.integer(res.len() as i64);
    }
    if dst {
        let max_len = res.iter().map(|e| e.0.len()).max().unwrap_or(0);
        let mut z = ZSet::with_hint(res.len(), max_len, &lim);
        for (k, v) in &res {
            z.put(k, *v, &lim);
        }
        let n = z.len();
        store_result(&mut m, &cx, hd, sd, dkey, z);
        return out.integer(n as i64);
    }
    let style = if p.withscores { Style::Scores } else { Style::Members };
    header(out, res.len(), style);
    for (k, v) in &res {
        item(out, k, *v, style);
    }
}

/// ```text
/// ZUNION numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM | MIN | MAX] [WITHSCORES]
/// ```
fn zunion(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    setop_generic(store, s, &args, out, Op::Union, "zunion", false);
}

/// ```text
/// ZINTER numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM | MIN | MAX] [WITHSCORES]
/// ```
fn zinter(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    setop_generic(store, s, &args, out, Op::Inter, "zinter", false);
}

/// ```text
/// ZDIFF numkeys key [key ...] [WITHSCORES]
/// ```
fn zdiff(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    setop_generic(store, s, &args, out, Op::Diff, "zdiff", false);
}

/// ```text
/// ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM | MIN | MAX]
/// ```
/// The number of elements stored.
fn zunionstore(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    setop_generic(store, s, &args, out, Op::Union, "zunionstore", true);
}

/// ```text
/// ZINTERSTORE destination numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM | MIN | MAX]
/// ```
fn zinterstore(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    setop_generic(store, s, &args, out, Op::Inter, "zinterstore", true);
}

/// ```text
/// ZDIFFSTORE destination numkeys key [key ...]
/// ```
fn zdiffstore(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    setop_generic(store, s, &args, out, Op::Diff, "zdiffstore", true);
}

/// ```text
/// ZINTERCARD numkeys key [key ...] [LIMIT limit]
/// ```
/// The size of the intersection (at most `limit` when it is not 0).
fn zintercard(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    setop_generic(store, s, &args, out, Op::Card, "zintercard", false);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_parse_as_redis_does() {
        for ok in ["1", "-1.5", "+inf", "-inf", "inf", "1e10", ".5", "0", "-0", "5e-324"] {
            assert!(parse_score(ok.as_bytes()).is_some(), "{ok}");
        }
        assert_eq!(parse_score(b"0x1.8p1"), Some(3.0));
        assert_eq!(parse_score(b"-0X10"), Some(-16.0));
        for bad in ["", " 1", "1 ", "nan", "1e400", "1e-400", "x", "1e", "--1", "0x", "0x1p"] {
            assert!(parse_score(bad.as_bytes()).is_none(), "{bad}");
        }
        assert_eq!(parse_score_bound(b"(1.5"), Ok(ScoreBound { value: 1.5, exclusive: true }));
        assert_eq!(parse_score_bound(b"("), Ok(ScoreBound { value: 0.0, exclusive: true }));
        assert!(parse_score_bound(b"nan").is_err());
        assert_eq!(parse_lex_bound(b"[a"), Ok(LexBound::Incl(b"a")));
        assert!(parse_lex_bound(b"+a").is_err());
    }
}

/// loom: ZUNIONSTORE into a key of another shard racing a ZADD to its source.
#[cfg(all(test, karst_loom))]
mod loom_model {
    use loom::thread;

    use crate::store::Store;

    /// The destination is one of the two serial outcomes (the source before or after the ZADD),
    /// never a torn one, and the two lock orders never deadlock.
    #[test]
    fn loom_zunionstore_races_zadd_to_its_source() {
        loom::model(|| {
            let s = Store::builder().shards(2).databases(1).hash_seed(7).build();
            let src: &'static str = "a";
            let shard = s.shard_of(s.hash(src.as_bytes()));
            let dst = ["b", "c", "d", "e", "f", "g", "h"]
                .into_iter()
                .find(|k| s.shard_of(s.hash(k.as_bytes())) != shard)
                .unwrap_or("b");
            s.execute(["ZADD", src, "1", "x"]);
            let s2 = s.clone();
            let t = thread::spawn(move || {
                s2.execute(["ZADD", src, "2", "y", "0", "x"]);
            });
            s.execute(["ZUNIONSTORE", dst, "1", src]);
            t.join().unwrap();
            let got = format!("{:?}", s.execute(["ZRANGE", dst, "0", "-1", "WITHSCORES"]));
            let before = format!(
                "{:?}",
                karst_resp::Frame::Array(vec![karst_resp::Frame::Array(vec![
                    karst_resp::Frame::bulk("x"),
                    karst_resp::Frame::Double(1.0),
                ])])
            );
            let after = format!(
                "{:?}",
                karst_resp::Frame::Array(vec![
                    karst_resp::Frame::Array(vec![
                        karst_resp::Frame::bulk("x"),
                        karst_resp::Frame::Double(0.0),
                    ]),
                    karst_resp::Frame::Array(vec![
                        karst_resp::Frame::bulk("y"),
                        karst_resp::Frame::Double(2.0),
                    ]),
                ])
            );
            assert!(got == before || got == after, "torn ZUNIONSTORE: {got}");
        });
    }
}
