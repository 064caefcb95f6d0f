//! An owned RESP2/RESP3 value, as a client receives it.

use bytes::{BufMut, Bytes, BytesMut};

use crate::num::format_double;

/// One RESP value. Strings are [`Bytes`] slices of the buffer they were parsed from.
///
/// The three nulls are kept apart so that a frame writes back as the bytes it was read from:
/// RESP2 has a null bulk string (`$-1`) and a null array (`*-1`), RESP3 one null (`_`).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Frame {
    /// `+OK`
    Simple(Bytes),
    /// `-ERR message`: the text after `-`, prefix included.
    Error(Bytes),
    /// `:42`
    Integer(i64),
    /// `$3\r\nfoo`
    Bulk(Bytes),
    /// RESP2's `$-1`.
    NullBulk,
    /// RESP2's `*-1`.
    NullArray,
    /// RESP3's `_`.
    Null,
    /// `*2 …`
    Array(Vec<Frame>),
    /// RESP3 `%1 …`: key/value pairs in the order received.
    Map(Vec<(Frame, Frame)>),
    /// RESP3 `~2 …`
    Set(Vec<Frame>),
    /// RESP3 `,1.5`
    Double(f64),
    /// RESP3 `#t`
    Boolean(bool),
    /// RESP3 `(12345678901234567890`: the digits, as sent.
    BigNumber(Bytes),
    /// RESP3 `=15\r\ntxt:Some string`
    Verbatim {
        /// The three-byte format, such as `txt` or `mkd`.
        format: [u8; 3],
        /// The text after `fmt:`.
        text: Bytes,
    },
    /// RESP3 `>3 …`: out-of-band data such as pub/sub messages and invalidations.
    Push(Vec<Frame>),
    /// RESP3 `|1 …`: attributes that annotate the frame that follows them.
    Attribute {
        /// The attribute pairs.
        attributes: Vec<(Frame, Frame)>,
        /// The reply they annotate.
        frame: Box<Frame>,
    },
}

impl Frame {
    /// A simple string from static text.
    pub fn simple(s: &'static str) -> Frame {
        Frame::Simple(Bytes::from_static(s.as_bytes()))
    }

    /// A bulk string that copies `s`.
    pub fn bulk(s: impl AsRef<[u8]>) -> Frame {
        Frame::Bulk(Bytes::copy_from_slice(s.as_ref()))
    }

    /// True for the three nulls.
    pub fn is_null(&self) -> bool {
        matches!(self, Frame::Null | Frame::NullBulk | Frame::NullArray)
    }

    /// The bytes of a simple string, bulk string, verbatim string or error.
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match self {
            Frame::Simple(b) | Frame::Bulk(b) | Frame::Error(b) | Frame::BigNumber(b) => Some(b),
            Frame::Verbatim { text, .. } => Some(text),
            _ => None,
        }
    }

    /// Writes the frame exactly as RESP spells it, with no conversion between protocols.
    /// Parsing the output gives back an equal frame.
    pub fn write_to(&self, out: &mut BytesMut) {
        match self {
            Frame::Simple(s) => line(out, b'+', s),
            // A blob error (`!len`) may hold CR LF, which a `-` line cannot.
            Frame::Error(s) if s.contains(&b'\r') => {
                header(out, b'!', s.len() as i64);
                out.put_slice(s);
                out.put_slice(b"\r\n");
            }
            Frame::Error(s) => line(out, b'-', s),
            Frame::Integer(n) => header(out, b':', *n),
            Frame::Bulk(b) => {
                header(out, b'$', b.len() as i64);
                out.put_slice(b);
                out.put_slice(b"\r\n");
            }
            Frame::NullBulk => out.put_slice(b"$-1\r\n"),
            Frame::NullArray => out.put_slice(b"*-1\r\n"),
            Frame::Null => out.put_slice(b"_\r\n"),
            Frame::Array(items) => aggregate(out, b'*', items),
            Frame::Set(items) => aggregate(out, b'~', items),
            Frame::Push(items) => aggregate(out, b'>', items),
            Frame::Map(pairs) => pairs_to(out, b'%', pairs),
            Frame::Double(d) => line(out, b',', format_double(*d).as_bytes()),
            Frame::Boolean(b) => out.put_slice(if *b { b"#t\r\n" } else { b"#f\r\n" }),
            Frame::BigNumber(n) => line(out, b'(', n),
            Frame::Verbatim { format, text } => {
                header(out, b'=', (text.len() + 4) as i64);
                out.put_slice(format);
                out.put_u8(b':');
                out.put_slice(text);
                out.put_slice(b"\r\n");
            }
            Frame::Attribute { attributes, frame } => {
                pairs_to(out, b'|', attributes);
                frame.write_to(out);
            }
        }
    }
}

fn line(out: &mut BytesMut, tag: u8, text: &[u8]) {
    out.put_u8(tag);
    out.put_slice(text);
    out.put_slice(b"\r\n");
}

/// `tag`, `n` in decimal and CRLF: the line of an integer or of an aggregate's or a bulk
/// string's length. Put together on the stack and written at once: each write into the
/// buffer checks its room and calls `memcpy`.
#[inline]
pub(crate) fn header(out: &mut BytesMut, tag: u8, n: i64) {
    // The tag, at most 20 characters of i64 (its sign included) and CRLF.
    let mut line = [0u8; 23];
    line[0] = tag;
    let end = if (0..10).contains(&n) {
        line[1] = b'0' + n as u8;
        2
    } else {
        let mut digits = itoa::Buffer::new();
        let d = digits.format(n).as_bytes();
        line[1..1 + d.len()].copy_from_slice(d);
        1 + d.len()
    };
    line[end..end + 2].copy_from_slice(b"\r\n");
    out.put_slice(&line[..end + 2]);
}

fn aggregate(out: &mut BytesMut, tag: u8, items: &[Frame]) {
    header(out, tag, items.len() as i64);
    for item in items {
        item.write_to(out);
    }
}

fn pairs_to(out: &mut BytesMut, tag: u8, pairs: &[(Frame, Frame)]) {
    header(out, tag, pairs.len() as i64);
    for (k, v) in pairs {
        k.write_to(out);
        v.write_to(out);
    }
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;

    use super::header;

    #[test]
    fn header_lines_match_decimal_formatting() {
        let mut edges = vec![0, 1, 9, 10, 99, 100, -1, -9, -10, i64::MAX, i64::MIN, i64::MIN + 1];
        edges.extend((1..19).flat_map(|p| [10i64.pow(p) - 1, 10i64.pow(p), -(10i64.pow(p))]));
        let mut out = BytesMut::from(&b"before"[..]);
        let mut want = b"before".to_vec();
        for n in edges {
            header(&mut out, b':', n);
            want.extend_from_slice(format!(":{n}\r\n").as_bytes());
            assert_eq!(&out[..], &want[..], "{n}");
        }
    }
}
