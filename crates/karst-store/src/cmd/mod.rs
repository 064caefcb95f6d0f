//! Command families, one file each, and the helpers their handlers share.

pub(crate) mod connection;
pub(crate) mod hash;
pub(crate) mod keys;
pub(crate) mod list;
pub(crate) mod server;
pub(crate) mod set;
pub(crate) mod string;
pub(crate) mod zset;

use karst_resp::{Args, Output};

use crate::command::CommandSpec;
use crate::error::Error;
use crate::shard::ValRef;

/// Every family's commands; the table is built from these slices once
/// ([`crate::command::commands`]). The network layer's commands live in `connection.rs`.
pub(crate) static FAMILIES: &[&[CommandSpec]] = &[
    string::COMMANDS,
    keys::COMMANDS,
    hash::COMMANDS,
    list::COMMANDS,
    set::COMMANDS,
    zset::COMMANDS,
    server::COMMANDS,
    connection::COMMANDS,
];

// Flag bits for the spec lines (const-friendly forms of `Flags`).
pub(crate) const W: u32 = crate::command::Flags::WRITE.0;
pub(crate) const R: u32 = crate::command::Flags::READONLY.0;
pub(crate) const D: u32 = crate::command::Flags::DENYOOM.0;
pub(crate) const F: u32 = crate::command::Flags::FAST.0;
pub(crate) const B: u32 = crate::command::Flags::BLOCKING.0;
pub(crate) const NS: u32 = crate::command::Flags::NOSCRIPT.0;
pub(crate) const MK: u32 = crate::command::Flags::MOVABLEKEYS.0;

/// Argument `i`, empty if absent (arity was checked centrally).
#[inline]
pub(crate) fn arg<'a>(args: &Args<'a>, i: usize) -> &'a [u8] {
    args.get(i).unwrap_or_default()
}

/// Argument `i` as an i64, with Redis's error.
#[inline]
pub(crate) fn int_arg(args: &Args<'_>, i: usize) -> Result<i64, Error> {
    karst_resp::num::parse_i64(arg(args, i)).ok_or(Error::NotInteger)
}

/// Writes an error reply.
#[inline]
pub(crate) fn err(out: &mut Output, e: Error) {
    out.error(e.text().as_ref());
}

/// Writes a stored value as a bulk string (large values by reference); a collection as nil
/// (what MGET gives for it; other string commands reply WRONGTYPE before they get here).
#[inline]
pub(crate) fn bulk_val(out: &mut Output, v: ValRef<'_>) {
    match v {
        ValRef::Bytes(b) => out.bulk(b),
        ValRef::Int(i) => out.bulk_integer(i),
        ValRef::Shared(b) => out.bulk_shared(b),
        ValRef::Obj(_) => out.null(),
    }
}

/// ASCII case-insensitive comparison with an option name.
#[inline]
pub(crate) fn is(a: &[u8], name: &str) -> bool {
    a.eq_ignore_ascii_case(name.as_bytes())
}

/// A leading `-` or `+` taken off: (negative, the rest).
pub(crate) fn split_sign(s: &[u8]) -> (bool, &[u8]) {
    match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, s),
    }
}

/// The value of ASCII decimal digits, saturating at `i64::MAX`.
pub(crate) fn saturating_decimal(digits: &[u8]) -> i64 {
    digits.iter().fold(0i64, |n, d| n.saturating_mul(10).saturating_add(i64::from(d - b'0')))
}

/// A SCAN-family cursor as C's `strtoull` reads it (Redis accepts `-1` as 2^64 - 1).
pub(crate) fn parse_cursor(raw: &[u8]) -> Option<u64> {
    let (neg, digits) = split_sign(raw);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some(if neg { v.wrapping_neg() } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_parses_as_strtoull() {
        assert_eq!(parse_cursor(b"0"), Some(0));
        assert_eq!(parse_cursor(b"-1"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"+5"), Some(5));
        assert_eq!(parse_cursor(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551616"), None);
        assert_eq!(parse_cursor(b"abc"), None);
        assert_eq!(parse_cursor(b""), None);
        assert_eq!(parse_cursor(b"-"), None);
    }
}
