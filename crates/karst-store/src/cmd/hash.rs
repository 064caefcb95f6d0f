//! Hash commands (Redis `t_hash.c`). The type and its encodings are in `types/hash.rs`.
//!
//! Replies are written from the hash in place, under the shard's lock: no copy of a field or
//! value is made on the way to the output buffer.

use karst_resp::num::parse_i64;
use karst_resp::{Args, Output};
use rand::Rng;

use super::{D, F, R, W, arg, err, int_arg, is, parse_cursor};
use crate::command::{CommandSpec, Flags, spec};
use crate::error::Error;
use crate::ldouble::Ext;
use crate::session::Session;
use crate::store::{Store, wrong_arity};
use crate::types::EncodingLimits;
use crate::types::hash::{Hash, Set};

const HASH_WF: &[&str] = &["write", "hash", "fast"];
const HASH_RF: &[&str] = &["read", "hash", "fast"];
const HASH_R: &[&str] = &["read", "hash", "slow"];

pub(crate) static COMMANDS: &[CommandSpec] = &[
    spec("hset", -4, Flags(W | D | F), 1, 1, 1, HASH_WF, hset),
    spec("hsetnx", 4, Flags(W | D | F), 1, 1, 1, HASH_WF, hsetnx),
    spec("hget", 3, Flags(R | F), 1, 1, 1, HASH_RF, hget),
    spec("hmget", -3, Flags(R | F), 1, 1, 1, HASH_RF, hmget),
    spec("hmset", -4, Flags(W | D | F), 1, 1, 1, HASH_WF, hmset),
    spec("hdel", -3, Flags(W | F), 1, 1, 1, HASH_WF, hdel),
    spec("hlen", 2, Flags(R | F), 1, 1, 1, HASH_RF, hlen),
    spec("hstrlen", 3, Flags(R | F), 1, 1, 1, HASH_RF, hstrlen),
    spec("hexists", 3, Flags(R | F), 1, 1, 1, HASH_RF, hexists),
    spec("hkeys", 2, Flags(R), 1, 1, 1, HASH_R, hkeys),
    spec("hvals", 2, Flags(R), 1, 1, 1, HASH_R, hvals),
    spec("hgetall", 2, Flags(R), 1, 1, 1, HASH_R, hgetall),
    spec("hincrby", 4, Flags(W | D | F), 1, 1, 1, HASH_WF, hincrby),
    spec("hincrbyfloat", 4, Flags(W | D | F), 1, 1, 1, HASH_WF, hincrbyfloat),
    spec("hrandfield", -2, Flags(R), 1, 1, 1, HASH_R, hrandfield),
    spec("hscan", -3, Flags(R), 1, 1, 1, HASH_R, hscan),
];

/// Runs `f` on the hash at `key` (None if there is none), under the shard's lock.
fn with_hash(
    store: &Store,
    s: &Session,
    key: &[u8],
    f: impl FnOnce(Option<&Hash>),
) -> Result<(), Error> {
    let cx = store.ctx(s);
    let h = store.hash(key);
    let mut g = store.lock(h);
    f(g.read::<Hash>(&cx, h, key)?);
    Ok(())
}

/// Runs `f` on the hash at `key`, creating it if `create`; None if there is none (and not
/// created). An emptied hash is deleted with its key.
fn write_hash<T>(
    store: &Store,
    s: &Session,
    key: &[u8],
    create: bool,
    f: impl FnOnce(&mut Hash) -> T,
) -> Result<Option<T>, Error> {
    let cx = store.ctx(s);
    let h = store.hash(key);
    let mut g = store.lock(h);
    g.write::<Hash, T>(&cx, h, key, create, f)
}

/// Sets the field/value pairs from argument 2 on; returns how many fields were new.
fn op_hset(store: &Store, s: &Session, args: &Args<'_>) -> Result<usize, Error> {
    let lim = store.encoding_limits();
    let key = arg(args, 1);
    let added = write_hash(store, s, key, true, |hs| {
        let mut added = 0;
        let mut i = 2;
        while let (Some(f), Some(v)) = (args.get(i), args.get(i + 1)) {
            if hs.set(f, v, &lim) == Set::Added {
                added += 1;
            }
            i += 2;
        }
        hs.fit();
        added
    })?;
    Ok(added.unwrap_or(0))
}

/// ```text
/// HSET key field value [field value ...]
/// ```
/// The number of fields that were added.
fn hset(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    if args.len() % 2 == 1 {
        return wrong_arity("hset", out);
    }
    match op_hset(store, s, &args) {
        Ok(n) => out.integer(n as i64),
        Err(e) => err(out, e),
    }
}

/// ```text
/// HMSET key field value [field value ...]
/// ```
/// OK (deprecated form of HSET).
fn hmset(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    if args.len() % 2 == 1 {
        return wrong_arity("hmset", out);
    }
    match op_hset(store, s, &args) {
        Ok(_) => out.ok(),
        Err(e) => err(out, e),
    }
}

/// ```text
/// HSETNX key field value
/// ```
/// 1 if the field was set, 0 if it already existed.
fn hsetnx(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let lim = store.encoding_limits();
    let (f, v) = (arg(&args, 2), arg(&args, 3));
    let r = write_hash(store, s, arg(&args, 1), true, |hs| {
        if hs.contains(f) {
            false
        } else {
            hs.set(f, v, &lim);
            hs.fit();
            true
        }
    });
    match r {
        Ok(set) => out.integer(i64::from(set == Some(true))),
        Err(e) => err(out, e),
    }
}

/// ```text
/// HGET key field
/// ```
/// The value, or nil.
fn hget(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let f = arg(&args, 2);
    let r = with_hash(store, s, arg(&args, 1), |hs| match hs.and_then(|hs| hs.get(f)) {
        Some(v) => out.bulk(v),
        None => out.null(),
    });
    if let Err(e) = r {
        err(out, e);
    }
}

/// ```text
/// HMGET key field [field ...]
/// ```
/// The value of each field, nil for those missing.
fn hmget(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let r = with_hash(store, s, arg(&args, 1), |hs| {
        out.array(args.len() - 2);
        for f in args.iter().skip(2) {
            match hs.and_then(|hs| hs.get(f)) {
                Some(v) => out.bulk(v),
                None => out.null(),
            }
        }
    });
    if let Err(e) = r {
        err(out, e);
    }
}

/// ```text
/// HDEL key field [field ...]
/// ```
/// The number of fields removed.
fn hdel(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let r = write_hash(store, s, arg(&args, 1), false, |hs| {
        args.iter().skip(2).filter(|f| hs.remove(f)).count()
    });
    match r {
        Ok(n) => out.integer(n.unwrap_or(0) as i64),
        Err(e) => err(out, e),
    }
}

/// Replies with an integer computed from the hash (0 when there is none).
fn int_reply(
    store: &Store,
    s: &Session,
    key: &[u8],
    out: &mut Output,
    f: impl FnOnce(&Hash) -> usize,
) {
    let r = with_hash(store, s, key, |hs| out.integer(hs.map_or(0, f) as i64));
    if let Err(e) = r {
        err(out, e);
    }
}

/// ```text
/// HLEN key
/// ```
/// The number of fields.
fn hlen(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    int_reply(store, s, arg(&args, 1), out, Hash::len);
}

/// ```text
/// HSTRLEN key field
/// ```
/// The length of the field's value, 0 if there is none.
fn hstrlen(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let f = arg(&args, 2);
    int_reply(store, s, arg(&args, 1), out, |hs| hs.get(f).map_or(0, <[u8]>::len));
}

/// ```text
/// HEXISTS key field
/// ```
/// 1 if the field exists, else 0.
fn hexists(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let f = arg(&args, 2);
    int_reply(store, s, arg(&args, 1), out, |hs| usize::from(hs.contains(f)));
}

/// What HKEYS, HVALS and HGETALL reply with.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Fields,
    Values,
    Both,
}

fn get_all(store: &Store, s: &Session, key: &[u8], part: Part, out: &mut Output) {
    let r = with_hash(store, s, key, |hs| {
        let n = hs.map_or(0, Hash::len);
        if part == Part::Both {
            out.map(n);
        } else {
            out.array(n);
        }
        for (f, v) in hs.into_iter().flat_map(Hash::iter) {
            if part != Part::Values {
                out.bulk(f);
            }
            if part != Part::Fields {
                out.bulk(v);
            }
        }
    });
    if let Err(e) = r {
        err(out, e);
    }
}

/// ```text
/// HKEYS key
/// ```
/// Every field.
fn hkeys(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    get_all(store, s, arg(&args, 1), Part::Fields, out);
}

/// ```text
/// HVALS key
/// ```
/// Every value.
fn hvals(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    get_all(store, s, arg(&args, 1), Part::Values, out);
}

/// ```text
/// HGETALL key
/// ```
/// Every field and its value: a map in RESP3, a flat array in RESP2.
fn hgetall(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    get_all(store, s, arg(&args, 1), Part::Both, out);
}

/// Adds `by` to the integer in field `f` (0 if missing); the new value.
pub(crate) fn op_hincrby(
    hs: &mut Hash,
    f: &[u8],
    by: i64,
    lim: &EncodingLimits,
) -> Result<i64, Error> {
    let cur = match hs.get(f) {
        Some(v) => {
            parse_i64(v).ok_or_else(|| Error::Other("ERR hash value is not an integer".into()))?
        }
        None => 0,
    };
    let new = cur.checked_add(by).ok_or(Error::Overflow)?;
    hs.set(f, itoa::Buffer::new().format(new).as_bytes(), lim);
    hs.fit();
    Ok(new)
}

/// ```text
/// HINCRBY key field increment
/// ```
/// The value after the increment.
fn hincrby(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let by = match int_arg(&args, 3) {
        Ok(by) => by,
        Err(e) => return err(out, e),
    };
    let lim = store.encoding_limits();
    let f = arg(&args, 2);
    match write_hash(store, s, arg(&args, 1), true, |hs| op_hincrby(hs, f, by, &lim)) {
        Ok(Some(Ok(n))) => out.integer(n),
        Ok(Some(Err(e))) | Err(e) => err(out, e),
        Ok(None) => out.integer(by),
    }
}

/// Adds `by` to the number in field `f` (0 if missing) in long double arithmetic; the new value
/// as Redis prints it (`%.17Lf`, trailing zeros trimmed).
pub(crate) fn op_hincrbyfloat(
    hs: &mut Hash,
    f: &[u8],
    by: Ext,
    lim: &EncodingLimits,
) -> Result<String, Error> {
    let cur = match hs.get(f) {
        Some(v) => {
            Ext::parse(v).ok_or_else(|| Error::Other("ERR hash value is not a float".into()))?
        }
        None => Ext::default(),
    };
    let new = cur.add(by);
    if new.is_inf() {
        return Err(Error::NanOrInfinity);
    }
    let text = new.to_human();
    hs.set(f, text.as_bytes(), lim);
    hs.fit();
    Ok(text)
}

/// ```text
/// HINCRBYFLOAT key field increment
/// ```
/// The value after the increment, as a bulk string.
fn hincrbyfloat(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let Some(by) = Ext::parse(arg(&args, 3)) else { return err(out, Error::NotFloat) };
    if by.is_inf() {
        return err(out, Error::Other("ERR value is NaN or Infinity".into()));
    }
    let lim = store.encoding_limits();
    let f = arg(&args, 2);
    match write_hash(store, s, arg(&args, 1), true, |hs| op_hincrbyfloat(hs, f, by, &lim)) {
        Ok(Some(Ok(text))) => out.bulk(text.as_bytes()),
        Ok(Some(Err(e))) | Err(e) => err(out, e),
        Ok(None) => out.null(),
    }
}

/// The most picks a negative HRANDFIELD count may ask for (a reply of hundreds of MB).
const MAX_RANDOM_PICKS: i64 = 1 << 24;

/// Writes one HRANDFIELD element: the field, or the pair (flat in RESP2, a 2-array in RESP3).
#[inline]
fn rand_item(out: &mut Output, (f, v): (&[u8], &[u8]), withvalues: bool) {
    if withvalues && out.is_resp3() {
        out.array(2);
    }
    out.bulk(f);
    if withvalues {
        out.bulk(v);
    }
}

/// HRANDFIELD with a count: `count` distinct fields (at most all of them), or with a negative
/// count `-count` fields that may repeat.
fn rand_with_count(hs: &Hash, count: i64, withvalues: bool, out: &mut Output) {
    let size = hs.len();
    let mut rng = rand::rng();
    let header = |out: &mut Output, n: usize| {
        out.array(if withvalues && !out.is_resp3() { n.saturating_mul(2) } else { n });
    };
    if count < 0 {
        let n = count.unsigned_abs() as usize;
        header(out, n);
        if hs.is_packed() {
            // A listpack: index a list of the pairs, made in one walk (a pick alone would walk
            // the run to its offset). A hashtable picks by position in O(1).
            let all: Vec<_> = hs.iter().collect();
            for _ in 0..n {
                if let Some(&p) = all.get(rng.random_range(0..all.len().max(1))) {
                    rand_item(out, p, withvalues);
                }
            }
        } else {
            for _ in 0..n {
                if let Some(p) = hs.random(&mut rng) {
                    rand_item(out, p, withvalues);
                }
            }
        }
        return;
    }
    let n = count as usize;
    if n >= size {
        header(out, size);
        hs.iter().for_each(|p| rand_item(out, p, withvalues));
        return;
    }
    header(out, n);
    if hs.is_packed() || n.saturating_mul(3) > size {
        // Many of them: shuffle the first `n` of a list of every pair into place.
        let mut all: Vec<_> = hs.iter().collect();
        for i in 0..n {
            let j = rng.random_range(i..all.len());
            all.swap(i, j);
        }
        all.iter().take(n).for_each(|&p| rand_item(out, p, withvalues));
    } else {
        // Few of a large table: random picks, skipping repeats.
        let mut seen =
            hashbrown::HashSet::with_capacity_and_hasher(n, foldhash::fast::FixedState::default());
        while seen.len() < n {
            let Some(p) = hs.random(&mut rng) else { break };
            if seen.insert(p.0.as_ptr()) {
                rand_item(out, p, withvalues);
            }
        }
    }
}

/// ```text
/// HRANDFIELD key [count [WITHVALUES]]
/// ```
/// Without a count, a random field or nil. With one, an array of distinct fields (negative:
/// `-count` fields, repeats allowed); WITHVALUES adds values (pairs as 2-arrays in RESP3).
fn hrandfield(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let key = arg(&args, 1);
    if args.len() < 3 {
        let r =
            with_hash(store, s, key, |hs| match hs.and_then(|hs| hs.random(&mut rand::rng())) {
                Some((f, _)) => out.bulk(f),
                None => out.null(),
            });
        if let Err(e) = r {
            err(out, e);
        }
        return;
    }
    let count = match int_arg(&args, 2) {
        Ok(i64::MIN) => {
            return err(
                out,
                Error::Other(format!(
                    "ERR value is out of range, value must between {} and {}",
                    -i64::MAX,
                    i64::MAX
                )),
            );
        }
        Ok(c) => c,
        Err(e) => return err(out, e),
    };
    let withvalues = match args.get(3) {
        None => false,
        Some(a) if args.len() == 4 && is(a, "withvalues") => true,
        Some(_) => return err(out, Error::Syntax),
    };
    if withvalues && !(-i64::MAX / 2..=i64::MAX / 2).contains(&count) {
        return err(out, Error::Other("ERR value is out of range".into()));
    }
    // Redis 7.0 would start a reply of 2^62 picks and never finish (holding the keyspace);
    // karst refuses such a count with the error it uses for the WITHVALUES bound.
    if count < -MAX_RANDOM_PICKS {
        return err(out, Error::Other("ERR value is out of range".into()));
    }
    let r = with_hash(store, s, key, |hs| match hs {
        Some(hs) if count != 0 => rand_with_count(hs, count, withvalues, out),
        _ => out.array(0),
    });
    if let Err(e) = r {
        err(out, e);
    }
}

/// HSCAN's MATCH and COUNT.
fn parse_scan_opts<'a>(args: &Args<'a>) -> Result<(Option<&'a [u8]>, usize), Error> {
    let (mut pattern, mut count) = (None, 10usize);
    let mut i = 3;
    while let Some(a) = args.get(i) {
        let Some(v) = args.get(i + 1) else { return Err(Error::Syntax) };
        if is(a, "match") {
            pattern = Some(v);
        } else if is(a, "count") {
            match int_arg(args, i + 1)? {
                c if c >= 1 => count = c as usize,
                _ => return Err(Error::Syntax),
            }
        } else {
            return Err(Error::Syntax);
        }
        i += 2;
    }
    // Redis skips matching for a lone `*`.
    Ok((pattern.filter(|p| *p != b"*"), count))
}

/// ```text
/// HSCAN key cursor [MATCH pattern] [COUNT count]
/// ```
/// `[next cursor, [field, value, …]]`; cursor 0 starts and ends a scan. A listpack is returned
/// whole in one call; a hashtable by position, COUNT pairs a call: a field present for the
/// whole scan is returned at least once however the table grows or shrinks meanwhile (see
/// `Hash::scan`).
fn hscan(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let Some(cursor) = parse_cursor(arg(&args, 2)) else {
        return err(out, Error::Other("ERR invalid cursor".into()));
    };
    let r = with_hash(store, s, arg(&args, 1), |hs| {
        let Some(hs) = hs else {
            out.array(2);
            out.bulk(b"0");
            out.array(0);
            return;
        };
        let (pattern, count) = match parse_scan_opts(&args) {
            Ok(o) => o,
            Err(e) => return err(out, e),
        };
        let mut found = Vec::new();
        let next = hs.scan(cursor, count.min(1 << 20), &mut found);
        if let Some(p) = pattern {
            found.retain(|(f, _)| crate::glob::matches(p, f));
        }
        out.array(2);
        out.bulk(itoa::Buffer::new().format(next));
        out.array(found.len() * 2);
        for (f, v) in found {
            out.bulk(f);
            out.bulk(v);
        }
    });
    if let Err(e) = r {
        err(out, e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hincrby_ops_check_the_stored_value_and_overflow() {
        let lim = EncodingLimits::default();
        let mut h = Hash::default();
        assert_eq!(op_hincrby(&mut h, b"f", 5, &lim), Ok(5));
        assert_eq!(op_hincrby(&mut h, b"f", -7, &lim), Ok(-2));
        assert_eq!(op_hincrby(&mut h, b"f", i64::MIN, &lim), Err(Error::Overflow));
        h.set(b"s", b" 1", &lim);
        assert!(op_hincrby(&mut h, b"s", 1, &lim).is_err());
        let by = Ext::parse(b"0.1").unwrap();
        assert_eq!(op_hincrbyfloat(&mut h, b"f", by, &lim).as_deref(), Ok("-1.9"));
        assert!(op_hincrbyfloat(&mut h, b"s", by, &lim).is_err());
        h.set(b"i", b"inf", &lim);
        assert_eq!(op_hincrbyfloat(&mut h, b"i", by, &lim), Err(Error::NanOrInfinity));
    }
}
