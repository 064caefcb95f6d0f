//! List commands (Redis `t_list.c`), the blocking ones included.
//!
//! Replies are written straight from the list's nodes; a pop writes its reply first and then
//! removes the elements, so nothing is copied on the way (LMOVE copies the one element it moves
//! between two lists, on the stack when it is short).

use karst_resp::num::parse_i64;
use karst_resp::{Args, Output};

use super::{B, D, F, MK, NS, R, W, arg, err, int_arg, is};
use crate::blocking::{NoWait, block, parse_timeout};
use crate::command::{CommandSpec, Flags, spec};
use crate::error::Error;
use crate::session::Session;
use crate::shard::{Ctx, KeyHash, Shard};
use crate::store::{Store, wrong_arity};
use crate::types::list::{Elem, End, Fill, List};

const LIST_WF: &[&str] = &["write", "list", "fast"];
const LIST_W: &[&str] = &["write", "list", "slow"];
const LIST_RF: &[&str] = &["read", "list", "fast"];
const LIST_R: &[&str] = &["read", "list", "slow"];
const LIST_B: &[&str] = &["write", "list", "slow", "blocking"];

pub(crate) static COMMANDS: &[CommandSpec] = &[
    spec("lpush", -3, Flags(W | D | F), 1, 1, 1, LIST_WF, lpush),
    spec("rpush", -3, Flags(W | D | F), 1, 1, 1, LIST_WF, rpush),
    spec("lpushx", -3, Flags(W | D | F), 1, 1, 1, LIST_WF, lpushx),
    spec("rpushx", -3, Flags(W | D | F), 1, 1, 1, LIST_WF, rpushx),
    spec("lpop", -2, Flags(W | F), 1, 1, 1, LIST_WF, lpop),
    spec("rpop", -2, Flags(W | F), 1, 1, 1, LIST_WF, rpop),
    spec("llen", 2, Flags(R | F), 1, 1, 1, LIST_RF, llen),
    spec("lrange", 4, Flags(R), 1, 1, 1, LIST_R, lrange),
    spec("lindex", 3, Flags(R), 1, 1, 1, LIST_R, lindex),
    spec("lset", 4, Flags(W | D), 1, 1, 1, LIST_W, lset),
    spec("linsert", 5, Flags(W | D), 1, 1, 1, LIST_W, linsert),
    spec("lrem", 4, Flags(W), 1, 1, 1, LIST_W, lrem),
    spec("ltrim", 4, Flags(W), 1, 1, 1, LIST_W, ltrim),
    spec("lpos", -3, Flags(R), 1, 1, 1, LIST_R, lpos),
    spec("lmove", 5, Flags(W | D), 1, 2, 1, LIST_W, lmove),
    spec("rpoplpush", 3, Flags(W | D), 1, 2, 1, LIST_W, rpoplpush),
    spec("lmpop", -4, Flags(W | MK), 0, 0, 0, LIST_W, lmpop),
    spec("blpop", -3, Flags(W | B | NS), 1, -2, 1, LIST_B, blpop),
    spec("brpop", -3, Flags(W | B | NS), 1, -2, 1, LIST_B, brpop),
    spec("blmove", 6, Flags(W | D | B | NS), 1, 2, 1, LIST_B, blmove),
    spec("brpoplpush", 4, Flags(W | D | B | NS), 1, 2, 1, LIST_B, brpoplpush),
    spec("blmpop", -5, Flags(W | B | MK), 0, 0, 0, LIST_B, blmpop),
];

/// The node limit, read once per command.
#[inline]
fn fill(store: &Store) -> Fill {
    Fill::new(store.encoding_limits().list_max_listpack_size)
}

/// LEFT / RIGHT.
fn end_arg(raw: &[u8]) -> Result<End, Error> {
    if is(raw, "left") {
        Ok(End::Head)
    } else if is(raw, "right") {
        Ok(End::Tail)
    } else {
        Err(Error::Syntax)
    }
}

fn other(text: &str) -> Error {
    Error::Other(text.to_owned())
}

// --- push and pop ------------------------------------------------------------------------------

fn push_generic(
    store: &Store,
    s: &mut Session,
    args: Args<'_>,
    out: &mut Output,
    end: End,
    x: bool,
) {
    let key = arg(&args, 1);
    let cx = store.ctx(s);
    let h = store.hash(key);
    let fill = fill(store);
    let mut g = store.lock(h);
    let r = g.write::<List, _>(&cx, h, key, !x, |l| {
        for v in args.iter().skip(2) {
            l.push_arg(end, v, fill);
        }
        l.len()
    });
    match r {
        Ok(n) => out.integer(n.unwrap_or(0) as i64),
        Err(e) => err(out, e),
    }
}

/// ```text
/// LPUSH key element [element ...]
/// ```
/// The length after the pushes (the last element ends up first).
fn lpush(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    push_generic(store, s, args, out, End::Head, false);
}

/// ```text
/// RPUSH key element [element ...]
/// ```
/// The length after the pushes.
fn rpush(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    push_generic(store, s, args, out, End::Tail, false);
}

/// ```text
/// LPUSHX key element [element ...]
/// ```
/// The length after the pushes; 0 (and nothing created) if the key does not exist.
fn lpushx(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    push_generic(store, s, args, out, End::Head, true);
}

/// ```text
/// RPUSHX key element [element ...]
/// ```
/// The length after the pushes; 0 (and nothing created) if the key does not exist.
fn rpushx(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    push_generic(store, s, args, out, End::Tail, true);
}

/// Writes up to `n` elements from one end as an array, then removes them.
fn pop_reply(l: &mut List, end: End, n: usize, out: &mut Output) {
    let n = n.min(l.len());
    out.array(n);
    match end {
        End::Head => l.iter_from(0).take(n).for_each(|e| e.reply(out)),
        End::Tail => l.iter_rev_from(l.len().wrapping_sub(1)).take(n).for_each(|e| e.reply(out)),
    }
    l.pop(end, n);
}

fn pop_generic(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output, end: End) {
    if args.len() > 3 {
        return wrong_arity(if end == End::Head { "lpop" } else { "rpop" }, out);
    }
    let count = match args.get(2) {
        None => None,
        Some(raw) => match parse_i64(raw).filter(|&c| c >= 0) {
            Some(c) => Some(c as usize),
            None => return err(out, other("ERR value is out of range, must be positive")),
        },
    };
    let key = arg(&args, 1);
    let cx = store.ctx(s);
    let h = store.hash(key);
    let mut g = store.lock(h);
    let r = g.write::<List, _>(&cx, h, key, false, |l| match count {
        None => {
            if let Some(e) = l.peek(end) {
                e.reply(out);
            }
            l.pop(end, 1);
        }
        Some(n) => pop_reply(l, end, n, out),
    });
    match r {
        Ok(Some(())) => {}
        Ok(None) if count.is_some() => out.null_array(),
        Ok(None) => out.null(),
        Err(e) => err(out, e),
    }
}

/// ```text
/// LPOP key [count]
/// ```
/// The first element (nil if none); with a count, an array of up to `count` elements (nil
/// array if the key does not exist, empty array for count 0).
fn lpop(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    pop_generic(store, s, args, out, End::Head);
}

/// ```text
/// RPOP key [count]
/// ```
/// As LPOP, from the tail.
fn rpop(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    pop_generic(store, s, args, out, End::Tail);
}

// --- reads -------------------------------------------------------------------------------------

/// ```text
/// LLEN key
/// ```
/// The length, 0 if the key does not exist.
fn llen(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let key = arg(&args, 1);
    let cx = store.ctx(s);
    let h = store.hash(key);
    let mut g = store.lock(h);
    match g.read::<List>(&cx, h, key) {
        Ok(l) => out.integer(l.map_or(0, List::len) as i64),
        Err(e) => err(out, e),
    }
}

/// Resolves LRANGE/LTRIM's `start stop` into (first index, count) as Redis does.
fn range(start: i64, stop: i64, len: usize) -> (usize, usize) {
    let len = len as i64;
    let start = if start < 0 { (len + start).max(0) } else { start };
    let stop = if stop < 0 { len + stop } else { stop };
    if start > stop || start >= len {
        return (0, 0);
    }
    let stop = stop.min(len - 1);
    (start as usize, (stop - start + 1) as usize)
}

/// ```text
/// LRANGE key start stop
/// ```
/// The elements from `start` to `stop` included (negative: from the end).
fn lrange(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let (start, stop) = match (int_arg(&args, 2), int_arg(&args, 3)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return err(out, e),
    };
    let key = arg(&args, 1);
    let cx = store.ctx(s);
    let h = store.hash(key);
    let mut g = store.lock(h);
    match g.read::<List>(&cx, h, key) {
        Ok(Some(l)) => {
            let (from, n) = range(start, stop, l.len());
            out.array(n);
            if n > 0 {
                l.iter_from(from).take(n).for_each(|e| e.reply(out));
            }
        }
        Ok(None) => out.array(0),
        Err(e) => err(out, e),
    }
}

/// An index argument resolved against a length (negative: from the end).
fn index(i: i64, len: usize) -> Option<usize> {
    let i = if i < 0 { i.checked_add(len as i64)? } else { i };
    usize::try_from(i).ok().filter(|&i| i < len)
}

/// ```text
/// LINDEX key index
/// ```
/// The element at `index` (negative: from the end), nil if out of range.
fn lindex(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let key = arg(&args, 1);
    let cx = store.ctx(s);
    let h = store.hash(key);
    let mut g = store.lock(h);
    match g.read::<List>(&cx, h, key) {
        Ok(Some(l)) => match int_arg(&args, 2) {
            Ok(i) => match index(i, l.len()).and_then(|i| l.get(i)) {
                Some(e) => e.reply(out),
                None => out.null(),
            },
            Err(e) => err(out, e),
        },
        Ok(None) => out.null(),
        Err(e) => err(out, e),
    }
}

/// ```text
/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
/// ```
/// The index of the first match (nil if none); with COUNT, an array of up to `num-matches`
/// indexes (0: all). RANK n starts at the n-th match, negative from the tail; MAXLEN bounds
/// the elements compared.
fn lpos(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let (mut rank, mut count, mut maxlen) = (1i64, None, 0i64);
    let mut i = 3;
    while let Some(opt) = args.get(i) {
        let Some(v) = args.get(i + 1) else { return err(out, Error::Syntax) };
        if is(opt, "rank") {
            match parse_i64(v) {
                Some(0) => {
                    return err(
                        out,
                        other(
                            "ERR RANK can't be zero: use 1 to start from the first match, 2 from \
                             the second ... or use negative to start from the end of the list",
                        ),
                    );
                }
                Some(r) => rank = r,
                None => return err(out, Error::NotInteger),
            }
        } else if is(opt, "count") {
            match parse_i64(v).filter(|&c| c >= 0) {
                Some(c) => count = Some(c),
                None => return err(out, other("ERR COUNT can't be negative")),
            }
        } else if is(opt, "maxlen") {
            match parse_i64(v).filter(|&c| c >= 0) {
                Some(m) => maxlen = m,
                None => return err(out, other("ERR MAXLEN can't be negative")),
            }
        } else {
            return err(out, Error::Syntax);
        }
        i += 2;
    }
    let key = arg(&args, 1);
    let needle = Elem::of(arg(&args, 2));
    let cx = store.ctx(s);
    let h = store.hash(key);
    let mut g = store.lock(h);
    match g.read::<List>(&cx, h, key) {
        Ok(Some(l)) if count.is_some() => {
            let mut found = Vec::new();
            l.lpos(&needle, rank, count, maxlen, |i| found.push(i));
            out.array(found.len());
            found.into_iter().for_each(|i| out.integer(i));
        }
        Ok(Some(l)) => {
            let mut at = None;
            l.lpos(&needle, rank, None, maxlen, |i| at = Some(i));
            match at {
                Some(i) => out.integer(i),
                None => out.null(),
            }
        }
        Ok(None) if count.is_some() => out.array(0),
        Ok(None) => out.null(),
        Err(e) => err(out, e),
    }
}

// --- edits -------------------------------------------------------------------------------------

/// ```text
/// LSET key index element
/// ```
/// `OK`; `ERR no such key` if the key does not exist, `ERR index out of range`.
fn lset(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let key = arg(&args, 1);
    let cx = store.ctx(s);
    let h = store.hash(key);
    let fill = fill(store);
    let at = int_arg(&args, 2);
    let v = Elem::of(arg(&args, 3));
    let mut g = store.lock(h);
    let r = g.write::<List, _>(&cx, h, key, false, |l| {
        let i = at?;
        match index(i, l.len()) {
            Some(i) if l.set(i, v, fill) => Ok(()),
            _ => Err(other("ERR index out of range")),
        }
    });
    match r {
        Ok(Some(Ok(()))) => out.ok(),
        Ok(Some(Err(e))) | Err(e) => err(out, e),
        Ok(None) => err(out, Error::NoSuchKey),
    }
}

/// ```text
/// LINSERT key <BEFORE | AFTER> pivot element
/// ```
/// The length after the insert, -1 if `pivot` is not in the list, 0 if the key does not exist.
fn linsert(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let where_ = arg(&args, 2);
    let after = if is(where_, "after") {
        true
    } else if is(where_, "before") {
        false
    } else {
        return err(out, Error::Syntax);
    };
    let key = arg(&args, 1);
    let pivot = Elem::of(arg(&args, 3));
    let v = Elem::of(arg(&args, 4));
    let cx = store.ctx(s);
    let h = store.hash(key);
    let fill = fill(store);
    let mut g = store.lock(h);
    let r = g.write::<List, _>(&cx, h, key, false, |l| match l.find(&pivot) {
        Some(p) => {
            l.insert(p, after, v, fill);
            l.len() as i64
        }
        None => -1,
    });
    match r {
        Ok(n) => out.integer(n.unwrap_or(0)),
        Err(e) => err(out, e),
    }
}

/// ```text
/// LREM key count element
/// ```
/// How many elements equal to `element` were removed: the first `count` from the head,
/// (-`count` from the tail if negative, all for 0).
fn lrem(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let count = match int_arg(&args, 2) {
        Ok(c) => c,
        Err(e) => return err(out, e),
    };
    let key = arg(&args, 1);
    let v = Elem::of(arg(&args, 3));
    let cx = store.ctx(s);
    let h = store.hash(key);
    let mut g = store.lock(h);
    match g.write::<List, _>(&cx, h, key, false, |l| l.remove(&v, count)) {
        Ok(n) => out.integer(n.unwrap_or(0) as i64),
        Err(e) => err(out, e),
    }
}

/// ```text
/// LTRIM key start stop
/// ```
/// `OK`; keeps the elements from `start` to `stop` (an empty range deletes the key).
fn ltrim(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let (start, stop) = match (int_arg(&args, 2), int_arg(&args, 3)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return err(out, e),
    };
    let key = arg(&args, 1);
    let cx = store.ctx(s);
    let h = store.hash(key);
    let mut g = store.lock(h);
    let r = g.write::<List, _>(&cx, h, key, false, |l| {
        let (from, n) = range(start, stop, l.len());
        l.trim(from, n);
    });
    match r {
        Ok(_) => out.ok(),
        Err(e) => err(out, e),
    }
}

// --- moves -------------------------------------------------------------------------------------

/// What a move found at its source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Moved {
    /// Moved (the element was replied) or failed (the error was replied).
    Replied,
    /// The source does not exist: nothing was written.
    Empty,
}

/// LMOVE on locked shards: pops from `src`'s `from` end, pushes on `dst`'s `to` end and replies
/// the element. Checks both types before changing anything, as Redis.
#[allow(clippy::too_many_arguments)]
fn op_move(
    store: &Store,
    cx: &Ctx,
    src: &[u8],
    dst: &[u8],
    from: End,
    to: End,
    out: &mut Output,
) -> Moved {
    let (hs, hd) = (store.hash(src), store.hash(dst));
    let (ss, sd) = (store.shard_of(hs), store.shard_of(hd));
    let fill = fill(store);
    let mut locked = store.lock_many(vec![ss, sd]);
    let Some(gs) = locked.shard(ss) else { return Moved::Empty };
    if src == dst {
        let r = gs.write::<List, _>(cx, hs, src, false, |l| {
            let Some(e) = l.peek(from).map(Elem::detach) else { return };
            e.get().reply(out);
            l.pop(from, 1);
            l.push(to, e.get(), fill);
        });
        return match r {
            Ok(Some(())) => Moved::Replied,
            Ok(None) => Moved::Empty,
            Err(e) => {
                err(out, e);
                Moved::Replied
            }
        };
    }
    let e = match gs.write::<List, _>(cx, hs, src, false, |l| l.peek(from).map(Elem::detach)) {
        Ok(Some(Some(e))) => e,
        Ok(_) => return Moved::Empty,
        Err(e) => {
            err(out, e);
            return Moved::Replied;
        }
    };
    let Some(gd) = locked.shard(sd) else { return Moved::Empty };
    if let Err(e) = gd.write::<List, _>(cx, hd, dst, false, |_| ()) {
        err(out, e);
        return Moved::Replied;
    }
    if let Some(gs) = locked.shard(ss) {
        let _ = gs.write::<List, _>(cx, hs, src, false, |l| l.pop(from, 1));
    }
    if let Some(gd) = locked.shard(sd) {
        let _ = gd.write::<List, _>(cx, hd, dst, true, |l| l.push(to, e.get(), fill));
    }
    e.get().reply(out);
    Moved::Replied
}

/// ```text
/// LMOVE source destination <LEFT | RIGHT> <LEFT | RIGHT>
/// ```
/// The element moved, nil if the source does not exist.
fn lmove(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let (from, to) = match (end_arg(arg(&args, 3)), end_arg(arg(&args, 4))) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return err(out, e),
    };
    let cx = store.ctx(s);
    if op_move(store, &cx, arg(&args, 1), arg(&args, 2), from, to, out) == Moved::Empty {
        out.null();
    }
}

/// ```text
/// RPOPLPUSH source destination
/// ```
/// LMOVE source destination RIGHT LEFT.
fn rpoplpush(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let cx = store.ctx(s);
    if op_move(store, &cx, arg(&args, 1), arg(&args, 2), End::Tail, End::Head, out) == Moved::Empty
    {
        out.null();
    }
}

/// ```text
/// BLMOVE source destination <LEFT | RIGHT> <LEFT | RIGHT> timeout
/// ```
/// As LMOVE, waiting up to `timeout` seconds (0: forever) for the source; nil on timeout.
fn blmove(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let (from, to) = match (end_arg(arg(&args, 3)), end_arg(arg(&args, 4))) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return err(out, e),
    };
    block_move(store, s, &args, out, from, to, arg(&args, 5));
}

/// ```text
/// BRPOPLPUSH source destination timeout
/// ```
/// BLMOVE source destination RIGHT LEFT timeout.
fn brpoplpush(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    block_move(store, s, &args, out, End::Tail, End::Head, arg(&args, 3));
}

fn block_move(
    store: &Store,
    s: &mut Session,
    args: &Args<'_>,
    out: &mut Output,
    from: End,
    to: End,
    timeout: &[u8],
) {
    let timeout = match parse_timeout(timeout) {
        Ok(t) => t,
        Err(e) => return err(out, e),
    };
    let cx = store.ctx(s);
    let (src, dst) = (arg(args, 1), arg(args, 2));
    if op_move(store, &cx, src, dst, from, to, out) == Moved::Empty {
        block(store, s, out, &[src], timeout, NoWait::NullBulk);
    }
}

// --- multi-key pops ----------------------------------------------------------------------------

/// Pops from the first of `keys` that has elements: `count` None replies `[key, element]`
/// (BLPOP), Some `[key, [elements…]]` (LMPOP). False if no key had any (nothing written);
/// a key of another type before that replies WRONGTYPE.
fn pop_first<'a>(
    store: &Store,
    cx: &Ctx,
    keys: impl Iterator<Item = &'a [u8]>,
    end: End,
    count: Option<usize>,
    out: &mut Output,
) -> bool {
    for key in keys {
        let h = store.hash(key);
        let mut g = store.lock(h);
        match pop_key(&mut g, cx, h, key, end, count, out) {
            Ok(true) => return true,
            Ok(false) => {}
            Err(e) => {
                err(out, e);
                return true;
            }
        }
    }
    false
}

fn pop_key(
    g: &mut Shard,
    cx: &Ctx,
    h: KeyHash,
    key: &[u8],
    end: End,
    count: Option<usize>,
    out: &mut Output,
) -> Result<bool, Error> {
    let r = g.write::<List, _>(cx, h, key, false, |l| {
        out.array(2);
        out.bulk(key);
        match count {
            None => {
                if let Some(e) = l.peek(end) {
                    e.reply(out);
                }
                l.pop(end, 1);
            }
            Some(n) => pop_reply(l, end, n, out),
        }
    })?;
    Ok(r.is_some())
}

/// ```text
/// BLPOP key [key ...] timeout
/// ```
/// `[key, element]` from the first key with elements, waiting up to `timeout` seconds (0:
/// forever); nil on timeout.
fn blpop(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    bpop_generic(store, s, args, out, End::Head);
}

/// ```text
/// BRPOP key [key ...] timeout
/// ```
/// As BLPOP, from the tail.
fn brpop(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    bpop_generic(store, s, args, out, End::Tail);
}

fn bpop_generic(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output, end: End) {
    let n = args.len();
    let timeout = match parse_timeout(arg(&args, n - 1)) {
        Ok(t) => t,
        Err(e) => return err(out, e),
    };
    let cx = store.ctx(s);
    let keys = (1..n - 1).map(|i| arg(&args, i));
    if !pop_first(store, &cx, keys.clone(), end, None, out) {
        let keys: Vec<&[u8]> = keys.collect();
        block(store, s, out, &keys, timeout, NoWait::NullArray);
    }
}

/// Parses `numkeys key [key ...] <LEFT | RIGHT> [COUNT count]` from `at`: the keys' range,
/// the end and the count.
fn mpop_args(args: &Args<'_>, at: usize) -> Result<(usize, usize, End, usize), Error> {
    let numkeys = parse_i64(arg(args, at))
        .filter(|&n| n > 0)
        .ok_or_else(|| other("ERR numkeys should be greater than 0"))?;
    let first = at + 1;
    let where_ = usize::try_from(numkeys)
        .ok()
        .and_then(|n| first.checked_add(n))
        .filter(|&w| w < args.len())
        .ok_or(Error::Syntax)?;
    let end = end_arg(arg(args, where_))?;
    let mut count = None;
    let mut i = where_ + 1;
    while let Some(opt) = args.get(i) {
        match args.get(i + 1) {
            Some(v) if count.is_none() && is(opt, "count") => {
                let c = parse_i64(v)
                    .filter(|&c| c > 0)
                    .ok_or_else(|| other("ERR count should be greater than 0"))?;
                count = Some(c as usize);
            }
            _ => return Err(Error::Syntax),
        }
        i += 2;
    }
    Ok((first, where_, end, count.unwrap_or(1)))
}

/// ```text
/// LMPOP numkeys key [key ...] <LEFT | RIGHT> [COUNT count]
/// ```
/// `[key, [element ...]]` with up to `count` (1) elements from the first key with elements;
/// nil if none has any.
fn lmpop(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let (first, where_, end, count) = match mpop_args(&args, 1) {
        Ok(p) => p,
        Err(e) => return err(out, e),
    };
    let cx = store.ctx(s);
    let keys = (first..where_).map(|i| arg(&args, i));
    if !pop_first(store, &cx, keys, end, Some(count), out) {
        out.null_array();
    }
}

/// ```text
/// BLMPOP timeout numkeys key [key ...] <LEFT | RIGHT> [COUNT count]
/// ```
/// As LMPOP, waiting up to `timeout` seconds (0: forever); nil on timeout.
fn blmpop(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let timeout = match parse_timeout(arg(&args, 1)) {
        Ok(t) => t,
        Err(e) => return err(out, e),
    };
    let (first, where_, end, count) = match mpop_args(&args, 2) {
        Ok(p) => p,
        Err(e) => return err(out, e),
    };
    let cx = store.ctx(s);
    let keys = (first..where_).map(|i| arg(&args, i));
    if !pop_first(store, &cx, keys.clone(), end, Some(count), out) {
        let keys: Vec<&[u8]> = keys.collect();
        block(store, s, out, &keys, timeout, NoWait::NullArray);
    }
}
