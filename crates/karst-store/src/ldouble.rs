//! INCRBYFLOAT's arithmetic as Redis does it on x86-64: C's `long double` (x87 80-bit, a 64-bit
//! mantissa), read with `strtold`, added with round-to-nearest-even and printed with `%.17Lf`.
//! Emulated exactly with a small big-integer, so that replies match Redis digit for digit
//! (`10.5 + 0.1` is `10.6`, `10.6 - 5000` is `-4989.39999999999999991`, as Redis prints).

use std::cmp::Ordering;

/// A magnitude in base 2^32, little-endian limbs, no trailing zero limbs.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Big(Vec<u32>);

impl Big {
    fn from_u128(mut v: u128) -> Big {
        let mut l = Vec::new();
        while v > 0 {
            l.push(v as u32);
            v >>= 32;
        }
        Big(l)
    }

    fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    fn mul_add_small(&mut self, m: u32, a: u32) {
        let mut carry = u64::from(a);
        for l in self.0.iter_mut() {
            let v = u64::from(*l) * u64::from(m) + carry;
            *l = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            self.0.push(carry as u32);
        }
        self.trim();
    }

    fn mul_pow10(&mut self, mut n: u32) {
        while n >= 9 {
            self.mul_add_small(1_000_000_000, 0);
            n -= 9;
        }
        self.mul_add_small(10u32.pow(n), 0);
    }

    fn bits(&self) -> u32 {
        match self.0.last() {
            None => 0,
            Some(&top) => (self.0.len() as u32 - 1) * 32 + (32 - top.leading_zeros()),
        }
    }

    fn shl(&self, n: u32) -> Big {
        let (limbs, bits) = ((n / 32) as usize, n % 32);
        let mut out = vec![0u32; limbs];
        let mut carry = 0u32;
        for &l in &self.0 {
            if bits == 0 {
                out.push(l);
            } else {
                out.push(l << bits | carry);
                carry = l >> (32 - bits);
            }
        }
        if carry > 0 {
            out.push(carry);
        }
        let mut b = Big(out);
        b.trim();
        b
    }

    fn cmp(&self, o: &Big) -> Ordering {
        self.0.len().cmp(&o.0.len()).then_with(|| self.0.iter().rev().cmp(o.0.iter().rev()))
    }

    fn sub_assign(&mut self, o: &Big) {
        let mut borrow = 0i64;
        for (i, l) in self.0.iter_mut().enumerate() {
            let v = i64::from(*l) - i64::from(o.0.get(i).copied().unwrap_or(0)) - borrow;
            borrow = i64::from(v < 0);
            *l = (v + (borrow << 32)) as u32;
        }
        self.trim();
    }

    /// (floor(self / d), remainder is not zero). Callers scale the operands so that the
    /// quotient has about 68 bits: one shifted subtraction per quotient bit.
    fn div(&self, d: &Big) -> (u128, bool) {
        let top = self.bits().saturating_sub(d.bits()).min(126);
        let mut r = self.clone();
        let mut q = 0u128;
        for i in (0..=top).rev() {
            let ds = d.shl(i);
            if r.cmp(&ds) != Ordering::Less {
                r.sub_assign(&ds);
                q |= 1 << i;
            }
        }
        (q, !r.is_zero())
    }

    fn bit(&self, i: u32) -> bool {
        self.0.get((i / 32) as usize).is_some_and(|l| l >> (i % 32) & 1 == 1)
    }

    /// Decimal digits.
    fn to_decimal(&self) -> String {
        if self.is_zero() {
            return "0".into();
        }
        let mut v = self.clone();
        let mut chunks = Vec::new();
        while !v.is_zero() {
            let mut rem = 0u64;
            for l in v.0.iter_mut().rev() {
                let cur = (rem << 32) | u64::from(*l);
                *l = (cur / 1_000_000_000) as u32;
                rem = cur % 1_000_000_000;
            }
            v.trim();
            chunks.push(rem as u32);
        }
        let mut s = chunks.pop().map(|c| c.to_string()).unwrap_or_default();
        for c in chunks.iter().rev() {
            s.push_str(&format!("{c:09}"));
        }
        s
    }
}

/// The digits of a number before its exponent, read in base `radix` (10 or 16).
struct Significand<'a> {
    /// The first `keep` significant digits as an integer.
    digits: Big,
    /// How many significant digits `digits` holds.
    sig: usize,
    /// The power of `radix` that scales `digits` to the number (digits after the point count
    /// down, integer digits past `keep` count up).
    shift: i64,
    /// A non-zero digit was past `keep` (it decides an exact halfway rounding).
    lost: bool,
    /// What follows the digits.
    rest: &'a [u8],
}

/// Digits with at most one point, as `strtold` reads them; None without a single digit.
fn significand(s: &[u8], radix: u32, keep: usize) -> Option<Significand<'_>> {
    let mut m = Significand { digits: Big(Vec::new()), sig: 0, shift: 0, lost: false, rest: s };
    let (mut any, mut dot) = (false, false);
    while let Some((&c, rest)) = m.rest.split_first() {
        match (c, char::from(c).to_digit(radix)) {
            (b'.', _) if !dot => dot = true,
            (_, Some(d)) => {
                any = true;
                if m.sig < keep {
                    m.digits.mul_add_small(radix, d);
                    m.sig += usize::from(!m.digits.is_zero());
                    m.shift -= i64::from(dot);
                } else {
                    m.lost |= d != 0;
                    m.shift += i64::from(!dot);
                }
            }
            _ => break,
        }
        m.rest = rest;
    }
    any.then_some(m)
}

/// The exponent in what follows the digits: nothing (0), or `marker` in either case and an
/// optional sign and at least one digit, nothing else (else `strtold` would stop before it and
/// the string is refused), saturated at `limit`, far past any long double.
fn exponent_after(rest: &[u8], marker: u8, limit: i64) -> Option<i64> {
    let Some((&m, digits)) = rest.split_first() else { return Some(0) };
    if !m.eq_ignore_ascii_case(&marker) {
        return None;
    }
    let (neg, digits) = crate::cmd::split_sign(digits);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = crate::cmd::saturating_decimal(digits).min(limit);
    Some(if neg { -v } else { v })
}

/// An x87 extended value: `(-1)^neg × mant × 2^exp`, `mant` with its top bit set (or zero).
/// The default is +0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Ext {
    neg: bool,
    mant: u64,
    exp: i32,
    inf: bool,
}

/// Largest and smallest binary exponents of a normal long double (as `mant × 2^exp`).
const EXP_MAX: i32 = 16384 - 64;
const EXP_MIN: i32 = -16382 - 63;

/// Rounds `q × 2^shift` (with `sticky` for lost bits below q) to a 64-bit mantissa, half to even.
fn round(neg: bool, q: u128, mut shift: i32, sticky: bool) -> Ext {
    if q == 0 {
        return Ext { neg, mant: 0, exp: 0, inf: false };
    }
    let bits = 128 - q.leading_zeros() as i32;
    let mut mant;
    if bits > 64 {
        let drop = (bits - 64) as u32;
        mant = (q >> drop) as u64;
        let rest = q & ((1u128 << drop) - 1);
        let half = 1u128 << (drop - 1);
        let up = rest > half || (rest == half && (sticky || mant & 1 == 1));
        shift += drop as i32;
        if up {
            mant = mant.wrapping_add(1);
            if mant == 0 {
                mant = 1 << 63;
                shift += 1;
            }
        }
    } else {
        let lift = (64 - bits) as u32;
        mant = (q as u64) << lift;
        shift -= lift as i32;
    }
    if shift > EXP_MAX {
        return Ext { neg, mant: 0, exp: 0, inf: true };
    }
    if shift < EXP_MIN {
        return Ext { neg, mant: 0, exp: 0, inf: false };
    }
    Ext { neg, mant, exp: shift, inf: false }
}

impl Ext {
    /// `strtold` as Redis's `string2ld` uses it: the whole string, no leading space, no NaN,
    /// no overflow or underflow.
    pub(crate) fn parse(s: &[u8]) -> Option<Ext> {
        if s.is_empty() || s.len() >= 5 * 1024 {
            return None;
        }
        let (neg, body) = crate::cmd::split_sign(s);
        if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
            return Some(Ext { neg, mant: 0, exp: 0, inf: true });
        }
        if let Some(hex) = body.strip_prefix(b"0x").or_else(|| body.strip_prefix(b"0X")) {
            return Ext::parse_hex(neg, hex);
        }
        // A 64-bit mantissa needs 20 significant digits; 40 are kept.
        let m = significand(body, 10, 40)?;
        let exp10 = m.shift.saturating_add(exponent_after(m.rest, b'e', 100_000)?);
        let (digits, sig) = (m.digits, m.sig);
        if digits.is_zero() {
            return Some(Ext { neg, mant: 0, exp: 0, inf: false });
        }
        let magnitude = sig as i64 + exp10;
        if !(-4952..=4934).contains(&magnitude) {
            return None; // ERANGE: overflow, or underflow to zero (Redis rejects both)
        }
        let (mut num, mut den) = (digits, Big::from_u128(1));
        if exp10 >= 0 {
            num.mul_pow10(exp10 as u32);
        } else {
            den.mul_pow10((-exp10) as u32);
        }
        let t = num.bits() as i32 - den.bits() as i32 - 68;
        let (q, sticky) =
            if t >= 0 { num.div(&den.shl(t as u32)) } else { num.shl((-t) as u32).div(&den) };
        let r = round(neg, q, t, sticky || m.lost);
        if r.inf || r.mant == 0 { None } else { Some(r) }
    }

    /// `strtold`'s hexadecimal form after its `0x`: hex digits with an optional point, then an
    /// optional `p` and a decimal power of two (`0x1.8p1` is 3). Rounded once, like the
    /// decimal form.
    pub(crate) fn parse_hex(neg: bool, s: &[u8]) -> Option<Ext> {
        // 32 digits (128 bits) are kept.
        let m = significand(s, 16, 32)?;
        let exp2 = (4 * m.shift).saturating_add(exponent_after(m.rest, b'p', 1_000_000)?);
        let digits = m.digits;
        if digits.is_zero() {
            return Some(Ext { neg, mant: 0, exp: 0, inf: false });
        }
        let top = exp2 + i64::from(digits.bits());
        if !(-20_000..=20_000).contains(&top) {
            return None; // ERANGE, as in the decimal form
        }
        let t = digits.bits() as i32 - 68;
        let one = Big::from_u128(1);
        let (q, sticky) =
            if t >= 0 { digits.div(&one.shl(t as u32)) } else { digits.shl((-t) as u32).div(&one) };
        let r = round(neg, q, t + exp2 as i32, sticky || m.lost);
        if r.inf || r.mant == 0 { None } else { Some(r) }
    }

    /// The nearest f64, within a rounding: infinite past its range, zero below it.
    pub(crate) fn to_f64(self) -> f64 {
        let sign = if self.neg { -1.0 } else { 1.0 };
        if self.inf {
            return sign * f64::INFINITY;
        }
        // Two half powers, so that neither overflows nor underflows on its own.
        let half = self.exp / 2;
        sign * (self.mant as f64) * 2f64.powi(half) * 2f64.powi(self.exp - half)
    }

    pub(crate) fn is_inf(self) -> bool {
        self.inf
    }

    /// `self + o`, rounded to nearest even.
    pub(crate) fn add(self, o: Ext) -> Ext {
        if self.inf || o.inf {
            return Ext {
                neg: if self.inf { self.neg } else { o.neg },
                mant: 0,
                exp: 0,
                inf: true,
            };
        }
        if o.mant == 0 {
            return if self.mant == 0 { Ext { neg: self.neg && o.neg, ..self } } else { self };
        }
        if self.mant == 0 {
            return o;
        }
        // a: the operand with the larger exponent.
        let (a, b) = if self.exp >= o.exp { (self, o) } else { (o, self) };
        // a's mantissa at bit 126, so that b (shifted right by the exponent gap) keeps 62 bits
        // of guard; anything below is sticky.
        let base = a.exp - 62;
        let am = u128::from(a.mant) << 62;
        let gap = (a.exp - b.exp) as u32;
        let (bm, sticky) = if gap >= 126 {
            (0u128, true)
        } else {
            let full = u128::from(b.mant) << 62;
            (full >> gap, gap > 0 && full & ((1u128 << gap) - 1) != 0)
        };
        if a.neg == b.neg {
            round(a.neg, am + bm + u128::from(sticky), base, false)
        } else {
            match am.cmp(&bm) {
                Ordering::Equal if !sticky => Ext { neg: false, mant: 0, exp: 0, inf: false },
                Ordering::Less => round(b.neg, bm - am, base, sticky),
                _ => round(a.neg, am - bm - u128::from(sticky), base, sticky),
            }
        }
    }

    /// `printf("%.17Lf")` followed by Redis's trimming of trailing zeros (and of `-0`).
    pub(crate) fn to_human(self) -> String {
        let mut s = String::new();
        if self.neg {
            s.push('-');
        }
        let m = Big::from_u128(u128::from(self.mant));
        let (int, mut frac, fbits) = if self.exp >= 0 {
            (m.shl(self.exp as u32), Big(Vec::new()), 0u32)
        } else {
            let f = (-self.exp) as u32;
            let int =
                if f >= 64 { Big(Vec::new()) } else { Big::from_u128(u128::from(self.mant >> f)) };
            let frac_v =
                if f >= 64 { m } else { Big::from_u128(u128::from(self.mant & ((1u64 << f) - 1))) };
            (int, frac_v, f)
        };
        let mut digits = [0u8; 17];
        for d in digits.iter_mut() {
            frac.mul_add_small(10, 0);
            // digit = frac >> fbits
            let mut digit = 0u8;
            for b in (0..4).rev() {
                if frac.bit(fbits + b) {
                    digit |= 1 << b;
                }
            }
            *d = digit;
            // frac &= (1 << fbits) - 1
            let keep = fbits.div_ceil(32) as usize;
            frac.0.truncate(keep);
            if fbits % 32 != 0 {
                if let Some(top) = frac.0.get_mut(keep.saturating_sub(1)) {
                    if keep * 32 > fbits as usize {
                        *top &= (1u32 << (fbits % 32)) - 1;
                    }
                }
            }
            frac.trim();
        }
        // Round the 17th decimal: half to even against the exact remainder.
        let half = if fbits == 0 { None } else { Some(Big::from_u128(1).shl(fbits - 1)) };
        let up = match half {
            None => false,
            Some(h) => match frac.cmp(&h) {
                Ordering::Greater => true,
                Ordering::Equal => digits[16] % 2 == 1,
                Ordering::Less => false,
            },
        };
        let mut int = int;
        if up {
            let mut i = 17;
            loop {
                if i == 0 {
                    int.mul_add_small(1, 1);
                    break;
                }
                i -= 1;
                if digits[i] == 9 {
                    digits[i] = 0;
                } else {
                    digits[i] += 1;
                    break;
                }
            }
        }
        s.push_str(&int.to_decimal());
        s.push('.');
        s.extend(digits.iter().map(|d| char::from(b'0' + d)));
        let t = s.trim_end_matches('0').trim_end_matches('.').len();
        s.truncate(t);
        if s == "-0" {
            s = "0".into();
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::Ext;

    fn incr(a: &str, b: &str) -> String {
        Ext::parse(a.as_bytes()).unwrap().add(Ext::parse(b.as_bytes()).unwrap()).to_human()
    }

    #[test]
    fn matches_redis_long_double_output() {
        // Each case checked against redis-server 7.0.15 on x86-64.
        assert_eq!(incr("0", "10.5"), "10.5");
        assert_eq!(incr("10.5", "0.1"), "10.6");
        assert_eq!(incr("10.6", "-5.0e3"), "-4989.39999999999999991");
        assert_eq!(incr("0.1", "0.2"), "0.3");
        assert_eq!(incr("1", "1.0e1"), "11");
        assert_eq!(incr("17179869184", "1.5"), "17179869185.5");
        assert_eq!(incr("1e3", "1"), "1001");
        assert_eq!(incr("-1", "1"), "0");
        assert_eq!(incr("3", "-0.0000001"), "2.9999999");
    }

    #[test]
    fn extreme_magnitudes_are_exact_and_cheap() {
        // The largest and smallest decimal magnitudes a long double holds: big integers of
        // thousands of bits, still a handful of shifted subtractions.
        let big = Ext::parse(b"1e4900").unwrap();
        assert!(big.to_human().starts_with("1000000000000000000"));
        assert_eq!(big.to_human().len(), 4901);
        let tiny = Ext::parse(b"1e-4900").unwrap();
        assert_eq!(tiny.to_human(), "0");
        assert_eq!(tiny.add(Ext::parse(b"1").unwrap()).to_human(), "1");
        let long = "9".repeat(5000);
        assert!(Ext::parse(long.as_bytes()).is_none()); // 5000 characters: Redis's limit
        let digits = format!("0.{}1", "0".repeat(4000));
        assert_eq!(Ext::parse(digits.as_bytes()).map(|e| e.to_human()), Some("0".into()));
    }

    #[test]
    fn parse_rejects_what_strtold_and_redis_reject() {
        for bad in [
            "",
            " 1",
            "1 ",
            "nan",
            "abc",
            "1e",
            "e5",
            ".",
            "-",
            "1e99999",
            "1e-99999",
            "0x",
            "0x.",
            "0x1p",
            "0x1p+",
            "0xg",
            "0x1q",
            "0x1p99999",
            "0x1p-99999",
            "0x1p1.5",
            " 0x1",
            "0e5x",
            "0x0p1x",
            "1e+-5",
            "1e--5",
            "0e",
            "0x0p",
        ] {
            assert!(Ext::parse(bad.as_bytes()).is_none(), "{bad}");
        }
        for ok in ["1", "-1.5", ".5", "5.", "+2", "1e400", "inf", "-Infinity", "0", "0x0p9999"] {
            assert!(Ext::parse(ok.as_bytes()).is_some(), "{ok}");
        }
        // Hexadecimal, as strtold reads it (values checked against redis-server's INCRBYFLOAT).
        let human = |s: &str| Ext::parse(s.as_bytes()).map(Ext::to_human);
        for (hex, dec) in [
            ("0x10", "16"),
            ("0x1p3", "8"),
            ("0X1.8p1", "3"),
            ("-0x.8", "-0.5"),
            ("0xA.Bp-2", "2.671875"),
            ("+0x1P+4", "16"),
            ("0x00000000000000000000000000000000001", "1"),
            ("0x1.00000000000000000000000000000000001p0", "1"),
        ] {
            assert_eq!(human(hex).as_deref(), Some(dec), "{hex}");
        }
        // Past 64 bits the mantissa rounds half to even, as the decimal form does (the last
        // bit of 1.0's mantissa is 2^-63).
        let ext = |s: &str| Ext::parse(s.as_bytes());
        assert_eq!(ext("0x1.0000000000000001p0"), ext("1"));
        assert_eq!(ext("0x1.00000000000000010000001p0"), ext("0x1.0000000000000002p0"));
        assert_eq!(ext("0x1.0000000000000003p0"), ext("0x1.0000000000000004p0"));
        assert_ne!(ext("0x1.0000000000000002p0"), ext("1"));
        // As an f64 (blocking timeouts).
        let f = |s: &str| ext(s).map(Ext::to_f64);
        for (text, v) in [("1.5", 1.5), ("-0.001", -0.001), ("0x1.8p1", 3.0), ("1e300", 1e300)] {
            assert_eq!(f(text), Some(v), "{text}");
        }
        assert_eq!(f("1e400"), Some(f64::INFINITY));
        assert_eq!(f("-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(f("1e-400"), Some(0.0));
        assert_eq!(f("0x1p-1070"), Some(f64::from_bits(16)));
    }
}
