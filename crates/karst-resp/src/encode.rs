//! The reply encoder: every reply type, in the RESP2 or RESP3 form the connection negotiated.

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::frame::{Frame, header};
use crate::num::format_double;

/// The protocol a connection speaks: RESP2 until the client sends `HELLO 3`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// RESP2: no maps, sets, doubles, booleans or a distinct null.
    #[default]
    Resp2,
    /// RESP3.
    Resp3,
}

/// Bulk payloads at least this long are queued by reference instead of copied.
pub const BY_REFERENCE_MIN: usize = 16 * 1024;

/// The replies waiting to be written to one connection.
///
/// Small replies are encoded into one growing buffer. A large stored value is not copied: the
/// buffer so far is frozen into a segment, the value's own [`Bytes`] is queued after it, and the
/// network layer writes all segments with one vectored write ([`Output::io_slices`]).
///
/// Every method picks the RESP2 or RESP3 form of its reply from [`Output::protocol`]: a map is a
/// flat array in RESP2, a set an array, a double a bulk string, a boolean an integer, and a null is
/// `$-1` (or `*-1` for [`Output::null_array`]).
#[derive(Debug, Default)]
pub struct Output {
    protocol: Protocol,
    /// Frozen segments that come before `buf`, oldest first.
    queue: VecDeque<Bytes>,
    queued_len: usize,
    buf: BytesMut,
}

impl Output {
    /// An empty output for `protocol`.
    pub fn new(protocol: Protocol) -> Output {
        Output { protocol, ..Output::default() }
    }

    /// The protocol replies are encoded in.
    #[inline]
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Switches the protocol for the replies that follow.
    pub fn set_protocol(&mut self, protocol: Protocol) {
        self.protocol = protocol;
    }

    /// True when RESP3 is in use.
    #[inline]
    pub fn is_resp3(&self) -> bool {
        self.protocol == Protocol::Resp3
    }

    /// Bytes waiting to be written.
    #[inline]
    pub fn len(&self) -> usize {
        self.queued_len + self.buf.len()
    }

    /// True when nothing waits to be written.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops everything not yet written.
    pub fn clear(&mut self) {
        self.queue.clear();
        self.queued_len = 0;
        self.buf.clear();
    }

    /// The position a later [`Output::truncate`] can return to. Only valid while nothing has been
    /// queued by reference or written since.
    pub fn mark(&self) -> usize {
        self.len()
    }

    /// Drops replies written after `mark`, if they are all still in the buffer (used to undo a
    /// partly written reply). Returns false when they were not.
    pub fn truncate(&mut self, mark: usize) -> bool {
        if mark < self.queued_len {
            return false;
        }
        self.buf.truncate(mark - self.queued_len);
        true
    }

    /// Fills `dst` with the segments to write, in order, and returns how many it filled.
    pub fn io_slices<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let mut n = 0;
        for seg in self.queue.iter().map(|b| &b[..]).chain(std::iter::once(&self.buf[..])) {
            if n == dst.len() {
                break;
            }
            if !seg.is_empty() {
                dst[n] = IoSlice::new(seg);
                n += 1;
            }
        }
        n
    }

    /// Forgets the first `n` bytes, which the caller has written.
    pub fn advance(&mut self, mut n: usize) {
        while n > 0 {
            let Some(front) = self.queue.front_mut() else {
                self.buf.advance(n);
                return;
            };
            if n < front.len() {
                front.advance(n);
                self.queued_len -= n;
                return;
            }
            n -= front.len();
            self.queued_len -= front.len();
            self.queue.pop_front();
        }
    }

    /// All pending bytes as one buffer (copies when segments were queued by reference), and the
    /// output is left empty. For tests and for in-process callers; the network path uses
    /// [`Output::io_slices`].
    pub fn take(&mut self) -> Bytes {
        if self.queue.is_empty() {
            return self.buf.split().freeze();
        }
        let mut all = BytesMut::with_capacity(self.len());
        for seg in self.queue.drain(..) {
            all.put_slice(&seg);
        }
        all.put_slice(&self.buf);
        self.buf.clear();
        self.queued_len = 0;
        all.freeze()
    }

    /// The reply buffer itself, for encoders outside this crate that build unusual replies.
    pub fn raw(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    // --- replies -------------------------------------------------------------------------------

    /// `+OK`
    #[inline]
    pub fn ok(&mut self) {
        self.buf.put_slice(b"+OK\r\n");
    }

    /// A simple string. CR and LF, which would break the framing, become spaces.
    pub fn simple(&mut self, s: impl AsRef<[u8]>) {
        self.buf.put_u8(b'+');
        put_line_safe(&mut self.buf, s.as_ref());
        self.buf.put_slice(b"\r\n");
    }

    /// An error; `msg` starts with its code, as in `ERR syntax error` or `WRONGTYPE Operation…`.
    /// CR and LF become spaces, as Redis does.
    pub fn error(&mut self, msg: impl AsRef<[u8]>) {
        self.buf.put_u8(b'-');
        put_line_safe(&mut self.buf, msg.as_ref());
        self.buf.put_slice(b"\r\n");
    }

    /// An integer.
    #[inline]
    pub fn integer(&mut self, n: i64) {
        header(&mut self.buf, b':', n);
    }

    /// A bulk string, copied.
    #[inline]
    pub fn bulk(&mut self, s: impl AsRef<[u8]>) {
        let s = s.as_ref();
        self.bulk_header(s.len());
        self.buf.put_slice(s);
        self.buf.put_slice(b"\r\n");
    }

    /// A bulk string from a shared buffer: copied when small, queued by reference (no copy) when
    /// at least [`BY_REFERENCE_MIN`] bytes long.
    pub fn bulk_shared(&mut self, s: &Bytes) {
        if s.len() < BY_REFERENCE_MIN {
            return self.bulk(s);
        }
        self.bulk_header(s.len());
        self.push_segment(s.clone());
        self.buf.put_slice(b"\r\n");
    }

    /// The `$len\r\n` header of a bulk string whose payload the caller writes next.
    #[inline]
    pub fn bulk_header(&mut self, len: usize) {
        header(&mut self.buf, b'$', len as i64);
    }

    /// An integer rendered as a bulk string (`$2\r\n42`), as GET replies for integer values.
    pub fn bulk_integer(&mut self, n: i64) {
        let mut digits = itoa::Buffer::new();
        self.bulk(digits.format(n));
    }

    /// The null reply: `$-1` in RESP2, `_` in RESP3.
    #[inline]
    pub fn null(&mut self) {
        self.buf.put_slice(match self.protocol {
            Protocol::Resp2 => b"$-1\r\n",
            Protocol::Resp3 => b"_\r\n",
        });
    }

    /// The null of commands that reply with a null array in RESP2 (`*-1`), `_` in RESP3.
    #[inline]
    pub fn null_array(&mut self) {
        self.buf.put_slice(match self.protocol {
            Protocol::Resp2 => b"*-1\r\n",
            Protocol::Resp3 => b"_\r\n",
        });
    }

    /// The header of an array of `n` elements.
    #[inline]
    pub fn array(&mut self, n: usize) {
        header(&mut self.buf, b'*', n as i64);
    }

    /// The header of a map of `n` pairs: `%n` in RESP3, an array of `2n` elements in RESP2.
    #[inline]
    pub fn map(&mut self, n: usize) {
        match self.protocol {
            Protocol::Resp2 => header(&mut self.buf, b'*', 2 * n as i64),
            Protocol::Resp3 => header(&mut self.buf, b'%', n as i64),
        }
    }

    /// The header of a set of `n` elements: `~n` in RESP3, an array in RESP2.
    #[inline]
    pub fn set(&mut self, n: usize) {
        match self.protocol {
            Protocol::Resp2 => header(&mut self.buf, b'*', n as i64),
            Protocol::Resp3 => header(&mut self.buf, b'~', n as i64),
        }
    }

    /// The header of a push of `n` elements: `>n` in RESP3, an array in RESP2.
    #[inline]
    pub fn push(&mut self, n: usize) {
        match self.protocol {
            Protocol::Resp2 => header(&mut self.buf, b'*', n as i64),
            Protocol::Resp3 => header(&mut self.buf, b'>', n as i64),
        }
    }

    /// The header of `n` attribute pairs (RESP3 only). RESP2 has no attributes: this writes
    /// nothing and returns false, and the caller must skip the pairs.
    pub fn attribute(&mut self, n: usize) -> bool {
        match self.protocol {
            Protocol::Resp2 => false,
            Protocol::Resp3 => {
                header(&mut self.buf, b'|', n as i64);
                true
            }
        }
    }

    /// A double, printed as Redis 7.0 prints it (`%.17g`, `inf`, `-inf`): `,1.5` in RESP3, a
    /// bulk string in RESP2.
    pub fn double(&mut self, d: f64) {
        let text = format_double(d);
        match self.protocol {
            Protocol::Resp2 => self.bulk(text.as_bytes()),
            Protocol::Resp3 => {
                self.buf.put_u8(b',');
                self.buf.put_slice(text.as_bytes());
                self.buf.put_slice(b"\r\n");
            }
        }
    }

    /// A boolean: `#t`/`#f` in RESP3, `:1`/`:0` in RESP2.
    pub fn boolean(&mut self, b: bool) {
        match self.protocol {
            Protocol::Resp2 => self.integer(i64::from(b)),
            Protocol::Resp3 => self.buf.put_slice(if b { b"#t\r\n" } else { b"#f\r\n" }),
        }
    }

    /// A big number given as its decimal digits: `(…` in RESP3, a bulk string in RESP2.
    pub fn big_number(&mut self, digits: &[u8]) {
        match self.protocol {
            Protocol::Resp2 => self.bulk(digits),
            Protocol::Resp3 => {
                self.buf.put_u8(b'(');
                put_line_safe(&mut self.buf, digits);
                self.buf.put_slice(b"\r\n");
            }
        }
    }

    /// A verbatim string such as `txt` text: `=len\r\ntxt:…` in RESP3, a bulk string in RESP2.
    pub fn verbatim(&mut self, format: &[u8; 3], text: &[u8]) {
        match self.protocol {
            Protocol::Resp2 => self.bulk(text),
            Protocol::Resp3 => {
                header(&mut self.buf, b'=', (text.len() + 4) as i64);
                self.buf.put_slice(format);
                self.buf.put_u8(b':');
                self.buf.put_slice(text);
                self.buf.put_slice(b"\r\n");
            }
        }
    }

    /// Any frame, converted to this output's protocol.
    pub fn frame(&mut self, frame: &Frame) {
        match frame {
            Frame::Simple(s) => self.simple(s),
            Frame::Error(s) => self.error(s),
            Frame::Integer(n) => self.integer(*n),
            Frame::Bulk(b) => self.bulk_shared(b),
            Frame::NullBulk | Frame::Null => self.null(),
            Frame::NullArray => self.null_array(),
            Frame::Array(items) => {
                self.array(items.len());
                items.iter().for_each(|f| self.frame(f));
            }
            Frame::Set(items) => {
                self.set(items.len());
                items.iter().for_each(|f| self.frame(f));
            }
            Frame::Push(items) => {
                self.push(items.len());
                items.iter().for_each(|f| self.frame(f));
            }
            Frame::Map(pairs) => {
                self.map(pairs.len());
                for (k, v) in pairs {
                    self.frame(k);
                    self.frame(v);
                }
            }
            Frame::Double(d) => self.double(*d),
            Frame::Boolean(b) => self.boolean(*b),
            Frame::BigNumber(n) => self.big_number(n),
            Frame::Verbatim { format, text } => self.verbatim(format, text),
            Frame::Attribute { attributes, frame } => {
                if self.attribute(attributes.len()) {
                    for (k, v) in attributes {
                        self.frame(k);
                        self.frame(v);
                    }
                }
                self.frame(frame);
            }
        }
    }

    fn push_segment(&mut self, seg: Bytes) {
        if !self.buf.is_empty() {
            let head = self.buf.split().freeze();
            self.queued_len += head.len();
            self.queue.push_back(head);
        }
        self.queued_len += seg.len();
        self.queue.push_back(seg);
    }
}

/// Copies `s`, turning CR and LF into spaces so a line-framed reply stays one line.
fn put_line_safe(buf: &mut BytesMut, s: &[u8]) {
    if !s.iter().any(|&c| c == b'\r' || c == b'\n') {
        buf.put_slice(s);
        return;
    }
    buf.extend(s.iter().map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c }));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(protocol: Protocol, f: impl FnOnce(&mut Output)) -> Vec<u8> {
        let mut out = Output::new(protocol);
        f(&mut out);
        out.take().to_vec()
    }

    #[test]
    fn resp2_and_resp3_forms() {
        use Protocol::*;
        let both = |f: fn(&mut Output)| (render(Resp2, f), render(Resp3, f));
        assert_eq!(both(|o| o.null()), (b"$-1\r\n".to_vec(), b"_\r\n".to_vec()));
        assert_eq!(both(|o| o.null_array()), (b"*-1\r\n".to_vec(), b"_\r\n".to_vec()));
        assert_eq!(both(|o| o.map(2)), (b"*4\r\n".to_vec(), b"%2\r\n".to_vec()));
        assert_eq!(both(|o| o.set(3)), (b"*3\r\n".to_vec(), b"~3\r\n".to_vec()));
        assert_eq!(both(|o| o.push(1)), (b"*1\r\n".to_vec(), b">1\r\n".to_vec()));
        assert_eq!(both(|o| o.double(1.5)), (b"$3\r\n1.5\r\n".to_vec(), b",1.5\r\n".to_vec()));
        assert_eq!(
            both(|o| o.double(f64::NEG_INFINITY)),
            (b"$4\r\n-inf\r\n".to_vec(), b",-inf\r\n".to_vec())
        );
        assert_eq!(both(|o| o.boolean(true)), (b":1\r\n".to_vec(), b"#t\r\n".to_vec()));
        assert_eq!(
            both(|o| o.big_number(b"123")),
            (b"$3\r\n123\r\n".to_vec(), b"(123\r\n".to_vec())
        );
        assert_eq!(
            both(|o| o.verbatim(b"txt", b"hi")),
            (b"$2\r\nhi\r\n".to_vec(), b"=6\r\ntxt:hi\r\n".to_vec())
        );
        assert_eq!(both(|o| o.integer(-7)).0, b":-7\r\n");
        assert_eq!(both(|o| o.bulk_integer(-7)).0, b"$2\r\n-7\r\n");
    }

    #[test]
    fn errors_and_simple_strings_stay_on_one_line() {
        let got = render(Protocol::Resp2, |o| o.error("ERR bad\r\nthing"));
        assert_eq!(got, b"-ERR bad  thing\r\n");
        let got = render(Protocol::Resp2, |o| o.simple("a\nb"));
        assert_eq!(got, b"+a b\r\n");
    }

    #[test]
    fn large_bulk_is_queued_by_reference() {
        let value = Bytes::from(vec![7u8; BY_REFERENCE_MIN]);
        let mut out = Output::new(Protocol::Resp2);
        out.integer(1);
        out.bulk_shared(&value);
        out.ok();
        let mut slices = [IoSlice::new(&[]); 8];
        let n = out.io_slices(&mut slices);
        assert_eq!(n, 3);
        // The middle segment is the stored value itself, not a copy.
        assert_eq!(slices[1].as_ptr(), value.as_ptr());
        let total = out.len();
        assert_eq!(total, 4 + 8 + BY_REFERENCE_MIN + 2 + 5);

        // Partial writes across segment boundaries.
        out.advance(6);
        let mut rest = out.take().to_vec();
        let mut want = b":1\r\n$16384\r\n".to_vec();
        want.extend_from_slice(&value);
        want.extend_from_slice(b"\r\n+OK\r\n");
        assert_eq!(rest.len(), total - 6);
        assert_eq!(rest.split_off(0), want[6..].to_vec());
    }

    #[test]
    fn advance_over_every_boundary() {
        let value = Bytes::from(vec![1u8; BY_REFERENCE_MIN + 3]);
        let mut want = Vec::new();
        {
            let mut out = Output::new(Protocol::Resp2);
            out.bulk_shared(&value);
            out.bulk_shared(&value);
            want.extend_from_slice(&out.take());
        }
        for step in [1, 7, 100, 16_390, 40_000] {
            let mut out = Output::new(Protocol::Resp2);
            out.bulk_shared(&value);
            out.bulk_shared(&value);
            let mut got = Vec::new();
            while !out.is_empty() {
                let mut slices = [IoSlice::new(&[]); 4];
                let n = out.io_slices(&mut slices);
                let mut written = 0;
                for s in &slices[..n] {
                    let take = (step - written).min(s.len());
                    got.extend_from_slice(&s[..take]);
                    written += take;
                    if written == step {
                        break;
                    }
                }
                out.advance(written);
            }
            assert!(got == want, "step {step}: {} bytes, want {}", got.len(), want.len());
        }
    }

    #[test]
    fn frame_conversion_to_resp2() {
        let f = Frame::Map(vec![(Frame::simple("a"), Frame::Double(2.0))]);
        assert_eq!(render(Protocol::Resp2, |o| o.frame(&f)), b"*2\r\n+a\r\n$1\r\n2\r\n");
        assert_eq!(render(Protocol::Resp3, |o| o.frame(&f)), b"%1\r\n+a\r\n,2\r\n");
    }
}
