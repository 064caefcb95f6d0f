//! Number parsing and formatting with Redis's exact rules.
//!
//! Redis is strict about the integers it accepts (`string2ll`: no `+`, no leading zeros, no spaces)
//! and renders doubles with `%.17g`; karst must accept and print the same bytes, so these live here
//! where both the protocol and the engine can use them.

use std::fmt::Write as _;

/// Parses a signed 64-bit integer as Redis's `string2ll` does.
///
/// Accepts an optional `-`, then digits with no leading zero (`"0"` alone is fine), at most 20
/// bytes in all, no `+`, no spaces, no overflow. Returns `None` for anything else.
#[inline]
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    // Accumulate as a negative number so that i64::MIN parses without overflow.
    let mut v: i64 = 0;
    for &c in digits {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v.checked_mul(10)?.checked_sub(i64::from(d))?;
    }
    if negative { Some(v) } else { v.checked_neg() }
}

/// Parses a non-negative length as the protocol writes it (`$5`, `*3`): `string2ll` rules, and
/// negative values are returned as `Err(value)` so the caller can treat `-1` as a null.
#[inline]
pub(crate) fn parse_len(s: &[u8]) -> Option<Result<usize, i64>> {
    let v = parse_i64(s)?;
    Some(usize::try_from(v).map_err(|_| v))
}

/// A stack buffer that formats numbers without touching the heap.
#[derive(Debug)]
pub struct NumBuf {
    bytes: [u8; 64],
    len: usize,
}

impl NumBuf {
    fn new() -> Self {
        NumBuf { bytes: [0; 64], len: 0 }
    }

    /// The formatted bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// The formatted text.
    pub fn as_str(&self) -> &str {
        // Only `fmt::Write::write_str` fills the buffer, with whole `str`s.
        std::str::from_utf8(self.as_bytes()).unwrap_or("")
    }

    fn truncate(&mut self, len: usize) {
        self.len = len;
    }
}

impl std::fmt::Write for NumBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > self.bytes.len() {
            return Err(std::fmt::Error);
        }
        self.bytes[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Formats `v` as C's `printf("%.17g")` does, which is how Redis 7.0 renders scores and RESP3
/// doubles: `inf`, `-inf`, `nan`, 17 significant digits, trailing zeros dropped, exponent form
/// outside `1e-4 ..= 1e17`.
pub fn format_double(v: f64) -> NumBuf {
    let mut out = NumBuf::new();
    if v.is_nan() {
        let _ = out.write_str("nan");
        return out;
    }
    if v.is_infinite() {
        let _ = out.write_str(if v > 0.0 { "inf" } else { "-inf" });
        return out;
    }
    // %g picks the style from the exponent that %e with the same precision would print.
    let _ = write!(out, "{v:.16e}");
    let text = out.as_bytes();
    let e_at = text.iter().position(|&c| c == b'e').unwrap_or(text.len());
    // Rust prints the exponent as `e0`, `e17` or `e-5`, all of which parse_i64 accepts.
    let exp = parse_i64(&text[e_at + 1..]).unwrap_or(0);
    if (-4..17).contains(&exp) {
        out.truncate(0);
        let decimals = (16 - exp) as usize;
        let _ = write!(out, "{v:.decimals$}");
        strip_fraction_zeros(&mut out);
    } else {
        // Keep the mantissa, drop its trailing zeros, and print the exponent as C does: a sign and
        // at least two digits.
        out.truncate(e_at);
        strip_fraction_zeros(&mut out);
        let _ = out.write_str(if exp < 0 { "e-" } else { "e+" });
        let mag = exp.unsigned_abs();
        if mag < 10 {
            let _ = out.write_str("0");
        }
        let _ = write!(out, "{mag}");
    }
    out
}

/// Removes trailing zeros after a decimal point, and the point itself if nothing follows it.
fn strip_fraction_zeros(out: &mut NumBuf) {
    let bytes = out.as_bytes();
    if !bytes.contains(&b'.') {
        return;
    }
    let mut len = bytes.len();
    while len > 0 && bytes[len - 1] == b'0' {
        len -= 1;
    }
    if len > 0 && bytes[len - 1] == b'.' {
        len -= 1;
    }
    out.truncate(len);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_i64_follows_string2ll() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"12"), Some(12));
        assert_eq!(parse_i64(b"-12"), Some(-12));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"+1",
            b"01",
            b"-0",
            b" 1",
            b"1 ",
            b"1a",
            b"9223372036854775808",
            b"-9223372036854775809",
            b"123456789012345678901",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn format_double_matches_printf_g17() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "-0"),
            (1.0, "1"),
            (1.5, "1.5"),
            (1.1, "1.1000000000000001"),
            (0.1, "0.10000000000000001"),
            (-2.5, "-2.5"),
            (100.0, "100"),
            (1e16, "10000000000000000"),
            (1e17, "1e+17"),
            (1.5e300, "1.5000000000000001e+300"),
            (0.0001, "0.0001"),
            (0.00001, "1.0000000000000001e-05"),
            (123456789.123, "123456789.123"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
            (3.0e-310, "2.9999999999999908e-310"),
        ];
        for &(v, want) in cases {
            assert_eq!(format_double(v).as_str(), want, "{v:e}");
        }
    }
}
