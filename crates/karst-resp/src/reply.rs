//! The client-side reply parser: every RESP2 and RESP3 type, zero-copy, with bounded nesting.
//!
//! [`ReplyParser::parse`] first checks that a whole frame is buffered (validating it), then splits
//! its bytes off the buffer and builds the [`Frame`] from slices of them. When a frame is not
//! complete the parser remembers how many bytes it needs at least, so a large bulk arriving in many
//! reads is not scanned again on every read.
//!
//! For payloads a caller wants in its own memory, [`peek_bulk`] reads only a `$len\r\n` header:
//! the caller then copies what is already buffered and receives the rest straight into its buffer.

use std::fmt;

use bytes::{Buf, Bytes, BytesMut};

use crate::frame::Frame;
use crate::num::{parse_i64, parse_len};

/// Bounds on what a server's reply may make the client allocate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplyLimits {
    /// Deepest nesting of aggregates (arrays, maps, sets, pushes, attributes).
    pub max_depth: usize,
    /// Longest bulk string.
    pub max_bulk_len: usize,
    /// Most elements in one aggregate.
    pub max_elements: usize,
}

impl Default for ReplyLimits {
    fn default() -> Self {
        ReplyLimits { max_depth: 64, max_bulk_len: 1 << 32, max_elements: i32::MAX as usize }
    }
}

/// A reply that is not valid RESP. The connection is out of sync and must be closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplyError {
    /// A frame began with a byte that is no RESP type.
    UnknownType(u8),
    /// A length that is not an integer, is negative where that means nothing, or is too large.
    InvalidLength,
    /// An integer reply that is not an integer.
    InvalidInteger,
    /// A double reply that is not a number.
    InvalidDouble,
    /// A boolean other than `t` or `f`, or a null with content.
    InvalidValue,
    /// A payload not followed by CRLF, or a line ended by CR alone.
    MissingCrlf,
    /// Aggregates nested deeper than [`ReplyLimits::max_depth`].
    TooDeep,
}

impl fmt::Display for ReplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplyError::UnknownType(c) => write!(f, "unknown RESP type byte {c:#04x}"),
            ReplyError::InvalidLength => f.write_str("invalid length in reply"),
            ReplyError::InvalidInteger => f.write_str("invalid integer in reply"),
            ReplyError::InvalidDouble => f.write_str("invalid double in reply"),
            ReplyError::InvalidValue => f.write_str("invalid boolean or null in reply"),
            ReplyError::MissingCrlf => f.write_str("missing CRLF in reply"),
            ReplyError::TooDeep => f.write_str("reply nested too deeply"),
        }
    }
}

impl std::error::Error for ReplyError {}

/// The incremental reply parser of one connection.
#[derive(Debug, Default)]
pub struct ReplyParser {
    limits: ReplyLimits,
    /// The buffer must be at least this long before another scan can succeed.
    need: usize,
}

enum Scan {
    Complete(usize),
    /// Incomplete; the frame needs at least this many bytes from the buffer start.
    Incomplete(usize),
}

impl ReplyParser {
    /// A parser with `limits`.
    pub fn new(limits: ReplyLimits) -> ReplyParser {
        ReplyParser { limits, need: 0 }
    }

    /// Takes one complete frame off the front of `buf`, or returns `None` if it is not all there.
    pub fn parse(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, ReplyError> {
        if buf.len() < self.need.max(1) {
            return Ok(None);
        }
        match scan(buf, 0, 0, &self.limits)? {
            Scan::Incomplete(need) => {
                self.need = need;
                Ok(None)
            }
            Scan::Complete(end) => {
                self.need = 0;
                let bytes = buf.split_to(end).freeze();
                Ok(Some(build(&bytes, &mut 0)))
            }
        }
    }

    /// Like [`ReplyParser::parse`] over a byte slice: returns the frame and the bytes it used.
    pub fn parse_slice(&self, data: &[u8]) -> Result<Option<(Frame, usize)>, ReplyError> {
        match scan(data, 0, 0, &self.limits)? {
            Scan::Incomplete(_) => Ok(None),
            Scan::Complete(end) => {
                let bytes = Bytes::copy_from_slice(&data[..end]);
                Ok(Some((build(&bytes, &mut 0), end)))
            }
        }
    }
}

/// The start of a reply, read without waiting for its payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Head {
    /// `$len\r\n`: a bulk string of `len` bytes starts `header` bytes into the buffer and is
    /// followed by CRLF.
    Bulk {
        /// Payload length.
        len: usize,
        /// Length of the `$len\r\n` line.
        header: usize,
    },
    /// Any other reply, the null bulk included: parse it whole with [`ReplyParser`].
    Other,
}

/// Reads the header of the reply at the front of `buf`, if it is all there.
pub fn peek_bulk(buf: &[u8], limits: &ReplyLimits) -> Result<Option<Head>, ReplyError> {
    match buf.first() {
        None => Ok(None),
        Some(b'$') => {
            let Some((line, next)) = line_at(buf, 0)? else {
                return Ok(None);
            };
            match parse_len(line) {
                Some(Ok(len)) if len <= limits.max_bulk_len => {
                    Ok(Some(Head::Bulk { len, header: next }))
                }
                Some(Err(-1)) => Ok(Some(Head::Other)),
                _ => Err(ReplyError::InvalidLength),
            }
        }
        Some(_) => Ok(Some(Head::Other)),
    }
}

/// The line that starts after the type byte at `pos`, and where the next frame starts.
fn line_at(buf: &[u8], pos: usize) -> Result<Option<(&[u8], usize)>, ReplyError> {
    let body = &buf[pos + 1..];
    let Some(cr) = body.iter().position(|&c| c == b'\r') else {
        return Ok(None);
    };
    match body.get(cr + 1) {
        None => Ok(None),
        Some(b'\n') => Ok(Some((&body[..cr], pos + 1 + cr + 2))),
        Some(_) => Err(ReplyError::MissingCrlf),
    }
}

fn scan(buf: &[u8], pos: usize, depth: usize, limits: &ReplyLimits) -> Result<Scan, ReplyError> {
    let Some(&tag) = buf.get(pos) else {
        return Ok(Scan::Incomplete(pos + 3));
    };
    if !matches!(
        tag,
        b'+' | b'-'
            | b':'
            | b'$'
            | b'*'
            | b'_'
            | b','
            | b'#'
            | b'('
            | b'='
            | b'!'
            | b'%'
            | b'~'
            | b'>'
            | b'|'
    ) {
        return Err(ReplyError::UnknownType(tag));
    }
    let Some((line, next)) = line_at(buf, pos)? else {
        if buf.len() - pos > limits.max_bulk_len {
            return Err(ReplyError::InvalidLength);
        }
        return Ok(Scan::Incomplete(buf.len() + 1));
    };
    match tag {
        b'+' | b'-' => Ok(Scan::Complete(next)),
        b':' => parse_i64(line).map(|_| Scan::Complete(next)).ok_or(ReplyError::InvalidInteger),
        b'(' => {
            let digits = line.strip_prefix(b"-").unwrap_or(line);
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return Err(ReplyError::InvalidInteger);
            }
            Ok(Scan::Complete(next))
        }
        b',' => parse_double(line).map(|_| Scan::Complete(next)).ok_or(ReplyError::InvalidDouble),
        b'#' => match line {
            b"t" | b"f" => Ok(Scan::Complete(next)),
            _ => Err(ReplyError::InvalidValue),
        },
        b'_' if line.is_empty() => Ok(Scan::Complete(next)),
        b'_' => Err(ReplyError::InvalidValue),
        b'$' | b'=' | b'!' => {
            let len = match parse_len(line) {
                Some(Ok(len)) if len <= limits.max_bulk_len => len,
                Some(Err(-1)) if tag == b'$' => return Ok(Scan::Complete(next)),
                _ => return Err(ReplyError::InvalidLength),
            };
            if tag == b'=' && len < 4 {
                return Err(ReplyError::InvalidLength);
            }
            let end = next + len + 2;
            if buf.len() < end {
                return Ok(Scan::Incomplete(end));
            }
            if &buf[end - 2..end] != b"\r\n" || (tag == b'=' && buf[next + 3] != b':') {
                return Err(ReplyError::MissingCrlf);
            }
            Ok(Scan::Complete(end))
        }
        _ => {
            // Aggregates.
            let count = match parse_len(line) {
                Some(Ok(n)) if n <= limits.max_elements => n,
                Some(Err(-1)) if tag == b'*' => return Ok(Scan::Complete(next)),
                _ => return Err(ReplyError::InvalidLength),
            };
            if depth >= limits.max_depth {
                return Err(ReplyError::TooDeep);
            }
            let mut frames = match tag {
                b'%' | b'|' => count.checked_mul(2).ok_or(ReplyError::InvalidLength)?,
                _ => count,
            };
            // An attribute annotates the frame that follows it.
            if tag == b'|' {
                frames += 1;
            }
            let mut at = next;
            for _ in 0..frames {
                match scan(buf, at, depth + 1, limits)? {
                    Scan::Complete(end) => at = end,
                    incomplete => return Ok(incomplete),
                }
            }
            Ok(Scan::Complete(at))
        }
    }
}

fn parse_double(line: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(line).ok()?;
    // Rust accepts "infinity" and "NaN" as well; RESP3 says `inf`, `-inf` and `nan`.
    match s {
        "inf" => Some(f64::INFINITY),
        "-inf" => Some(f64::NEG_INFINITY),
        "nan" | "-nan" => Some(f64::NAN),
        _ if s
            .bytes()
            .all(|c| c.is_ascii_digit() || matches!(c, b'-' | b'+' | b'.' | b'e' | b'E')) =>
        {
            s.parse().ok()
        }
        _ => None,
    }
}

/// Builds the frame at `*pos` of bytes that [`scan`] accepted, and moves `*pos` past it.
fn build(bytes: &Bytes, pos: &mut usize) -> Frame {
    let tag = bytes[*pos];
    let body = &bytes[*pos + 1..];
    let cr = body.iter().position(|&c| c == b'\r').unwrap_or(body.len());
    let line_start = *pos + 1;
    let line = &bytes[line_start..line_start + cr];
    *pos = line_start + cr + 2;
    let n = || parse_len(line).unwrap_or(Ok(0));
    match tag {
        b'+' => Frame::Simple(bytes.slice(line_start..line_start + cr)),
        b'-' => Frame::Error(bytes.slice(line_start..line_start + cr)),
        b':' => Frame::Integer(parse_i64(line).unwrap_or(0)),
        b'(' => Frame::BigNumber(bytes.slice(line_start..line_start + cr)),
        b',' => Frame::Double(parse_double(line).unwrap_or(0.0)),
        b'#' => Frame::Boolean(line == b"t"),
        b'_' => Frame::Null,
        b'$' | b'=' | b'!' => {
            let Ok(len) = n() else {
                return Frame::NullBulk;
            };
            let payload = bytes.slice(*pos..*pos + len);
            *pos += len + 2;
            match tag {
                b'$' => Frame::Bulk(payload),
                b'!' => Frame::Error(payload),
                _ => {
                    let mut format = [0u8; 3];
                    format.copy_from_slice(&payload[..3]);
                    let mut text = payload;
                    text.advance(4);
                    Frame::Verbatim { format, text }
                }
            }
        }
        _ => {
            let Ok(count) = n() else {
                return Frame::NullArray;
            };
            match tag {
                b'%' | b'|' => {
                    let pairs =
                        (0..count).map(|_| (build(bytes, pos), build(bytes, pos))).collect();
                    if tag == b'%' {
                        Frame::Map(pairs)
                    } else {
                        Frame::Attribute { attributes: pairs, frame: Box::new(build(bytes, pos)) }
                    }
                }
                _ => {
                    let items = (0..count).map(|_| build(bytes, pos)).collect();
                    match tag {
                        b'~' => Frame::Set(items),
                        b'>' => Frame::Push(items),
                        _ => Frame::Array(items),
                    }
                }
            }
        }
    }
}
