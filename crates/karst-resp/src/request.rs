//! The server-side request parser: multibulk (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`) and inline
//! (`GET k\r\n`) requests, incremental and zero-copy.
//!
//! [`RequestParser::parse`] takes every complete request at the front of a read buffer, splits
//! those bytes off once, and records each argument as a span of them in a reusable [`Batch`]; no
//! argument is copied and nothing is allocated per request once the batch's vectors have grown.
//! A request that is not complete yet stays in the buffer, and the parser keeps its position so the
//! next call resumes where it stopped instead of scanning again.
//!
//! Large payloads can bypass the read buffer: when a bulk of at least
//! [`Limits::large_bulk_min`] bytes has started but is not all buffered, the parser reports
//! [`Need::Payload`]. The caller then calls [`RequestParser::begin_payload`], receives exactly
//! that many bytes into a buffer of its own (the part already buffered first, then straight from
//! the socket), and hands it back with [`RequestParser::end_payload`]. The payload becomes the
//! argument as it is: no copy, and a buffer of exactly its size.

use std::fmt;

use bytes::{Bytes, BytesMut};

use crate::num::parse_len;

/// Limits that protect the server from what a client sends. Defaults are Redis 7's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest bulk string (`proto-max-bulk-len`, 512 MB).
    pub max_bulk_len: usize,
    /// Most arguments in one multibulk request (Redis: `INT_MAX`).
    pub max_multibulk_len: usize,
    /// Longest inline request, and longest `*`/`$` header line (64 KB).
    pub max_inline_len: usize,
    /// Bulks at least this long that are not yet all buffered are offered to the caller to
    /// receive out of line ([`Need::Payload`]). Redis uses 32 KB for the same purpose.
    pub large_bulk_min: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_len: 512 * 1024 * 1024,
            max_multibulk_len: i32::MAX as usize,
            max_inline_len: 64 * 1024,
            large_bulk_min: 32 * 1024,
        }
    }
}

/// Until a connection authenticates, Redis accepts at most this many arguments per request…
pub const UNAUTHENTICATED_MAX_ARGS: usize = 10;
/// …and bulks of at most this many bytes.
pub const UNAUTHENTICATED_MAX_BULK: usize = 16 * 1024;

/// A request that breaks the protocol. The connection replies with the error and closes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// An inline request longer than [`Limits::max_inline_len`] with no newline.
    TooBigInline,
    /// An inline request whose quotes do not close, or close before a non-space.
    UnbalancedQuotes,
    /// A `*` line longer than [`Limits::max_inline_len`] with no CR.
    TooBigMultibulkCount,
    /// A `*` count that is not an integer or is too large.
    InvalidMultibulkLength,
    /// More than [`UNAUTHENTICATED_MAX_ARGS`] arguments before authentication.
    UnauthenticatedMultibulkLength,
    /// A `$` line longer than [`Limits::max_inline_len`] with no CR.
    TooBigBulkCount,
    /// An argument that does not start with `$`; holds the byte found instead.
    ExpectedDollar(u8),
    /// A `$` length that is not an integer, negative, or over [`Limits::max_bulk_len`].
    InvalidBulkLength,
    /// A bulk over [`UNAUTHENTICATED_MAX_BULK`] bytes before authentication.
    UnauthenticatedBulkLength,
}

impl fmt::Display for ProtocolError {
    /// The error line Redis 7 sends, without the leading `-`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ERR Protocol error: ")?;
        match self {
            ProtocolError::TooBigInline => f.write_str("too big inline request"),
            ProtocolError::UnbalancedQuotes => f.write_str("unbalanced quotes in request"),
            ProtocolError::TooBigMultibulkCount => f.write_str("too big mbulk count string"),
            ProtocolError::InvalidMultibulkLength => f.write_str("invalid multibulk length"),
            ProtocolError::UnauthenticatedMultibulkLength => {
                f.write_str("unauthenticated multibulk length")
            }
            ProtocolError::TooBigBulkCount => f.write_str("too big bulk count string"),
            ProtocolError::ExpectedDollar(c) => write!(f, "expected '$', got '{}'", *c as char),
            ProtocolError::InvalidBulkLength => f.write_str("invalid bulk length"),
            ProtocolError::UnauthenticatedBulkLength => f.write_str("unauthenticated bulk length"),
        }
    }
}

impl std::error::Error for ProtocolError {}

/// What the parser is waiting for after the complete requests it returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// Nothing: the buffer held whole requests only.
    Nothing,
    /// More bytes of a request that has started.
    More,
    /// The payload of a large bulk that has started: `len` bytes, then CRLF. The caller may
    /// receive it out of line ([`RequestParser::begin_payload`]) or just read more.
    Payload {
        /// Payload length in bytes.
        len: usize,
    },
}

/// Where one argument lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Span {
    /// `chunk[start..end]`
    Chunk(usize, usize),
    /// `owned[i]`: a payload received out of line, or an unquoted inline argument.
    Owned(usize),
}

/// The requests one [`RequestParser::parse`] call found, reused from call to call.
#[derive(Debug, Default)]
pub struct Batch {
    chunk: Bytes,
    spans: Vec<Span>,
    /// `ends[i]` is the end of request `i` in `spans`.
    ends: Vec<usize>,
    owned: Vec<Bytes>,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Batch {
        Batch::default()
    }

    /// Number of requests.
    #[inline]
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when there are no requests.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Request `i`.
    #[inline]
    pub fn get(&self, i: usize) -> Option<Args<'_>> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(Args {
            repr: Repr::Batch {
                chunk: &self.chunk,
                owned: &self.owned,
                spans: &self.spans[start..end],
            },
        })
    }

    /// The requests in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Args<'_>> + '_ {
        (0..self.len()).map(|i| self.get(i).unwrap_or(Args::EMPTY))
    }

    /// Forgets the requests, keeping the vectors' capacity. Releases the read-buffer chunk.
    pub fn clear(&mut self) {
        self.chunk = Bytes::new();
        self.spans.clear();
        self.ends.clear();
        self.owned.clear();
    }
}

#[derive(Clone, Copy, Debug)]
enum Repr<'a> {
    Batch { chunk: &'a Bytes, owned: &'a [Bytes], spans: &'a [Span] },
    Slice(&'a [Bytes]),
}

/// The arguments of one request, command name first. Cheap to copy.
#[derive(Clone, Copy, Debug)]
pub struct Args<'a> {
    repr: Repr<'a>,
}

impl<'a> Args<'a> {
    const EMPTY: Args<'static> = Args { repr: Repr::Slice(&[]) };

    /// Arguments that are already separate buffers, as an embedding application passes them.
    pub fn from_slice(args: &'a [Bytes]) -> Args<'a> {
        Args { repr: Repr::Slice(args) }
    }

    /// Number of arguments, the command name included.
    #[inline]
    pub fn len(&self) -> usize {
        match self.repr {
            Repr::Batch { spans, .. } => spans.len(),
            Repr::Slice(s) => s.len(),
        }
    }

    /// True when there are no arguments.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Argument `i`.
    #[inline]
    pub fn get(&self, i: usize) -> Option<&'a [u8]> {
        match self.repr {
            Repr::Batch { chunk, owned, spans } => match *spans.get(i)? {
                Span::Chunk(s, e) => chunk.get(s..e),
                Span::Owned(o) => owned.get(o).map(|b| &b[..]),
            },
            Repr::Slice(s) => s.get(i).map(|b| &b[..]),
        }
    }

    /// Argument `i` as a [`Bytes`] that shares the buffer it came from (no copy). It keeps the
    /// whole read buffer alive; to store a value, use [`Args::detach`].
    pub fn bytes(&self, i: usize) -> Option<Bytes> {
        match self.repr {
            Repr::Batch { chunk, owned, spans } => match *spans.get(i)? {
                Span::Chunk(s, e) => Some(chunk.slice(s..e)),
                Span::Owned(o) => owned.get(o).cloned(),
            },
            Repr::Slice(s) => s.get(i).cloned(),
        }
    }

    /// Argument `i` as a [`Bytes`] that owns exactly its bytes, to be kept after the request:
    /// a payload received out of line (or given as its own buffer) is handed over as it is; an
    /// argument inside the shared read buffer is copied, so storing it does not pin that buffer.
    pub fn detach(&self, i: usize) -> Option<Bytes> {
        match self.repr {
            Repr::Batch { chunk, owned, spans } => match *spans.get(i)? {
                Span::Chunk(s, e) => chunk.get(s..e).map(Bytes::copy_from_slice),
                Span::Owned(o) => owned.get(o).cloned(),
            },
            Repr::Slice(s) => s.get(i).cloned(),
        }
    }

    /// The arguments in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &'a [u8]> + 'a {
        let args = *self;
        (0..args.len()).map(move |i| args.get(i).unwrap_or_default())
    }
}

/// Where the parser is inside the request at the front of the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Between requests.
    Idle,
    /// An inline request whose first `pos` bytes hold no newline.
    Inline,
    /// A multibulk request whose `*<count>` line is not complete.
    Count,
    /// A multibulk request with `left` arguments to go; `bulk` is the length of the argument
    /// whose `$` line has been read.
    Multibulk { left: usize, bulk: Option<usize> },
}

/// The incremental request parser of one connection. See the [module docs](self).
#[derive(Debug)]
pub struct RequestParser {
    limits: Limits,
    authenticated: bool,
    state: State,
    /// Bytes of the pending request already checked, from the front of the buffer.
    pos: usize,
    /// Arguments of the pending request; `Chunk` spans are relative to the front of the buffer.
    spans: Vec<Span>,
    /// Its out-of-line arguments (`Span::Owned` indexes here until the request completes).
    owned: Vec<Bytes>,
}

enum Step {
    /// A request of this many bytes is complete (it may have no arguments: skip it).
    Complete(usize),
    /// The request needs more.
    Wait(Need),
}

impl RequestParser {
    /// A parser with `limits`, for an authenticated connection (see
    /// [`RequestParser::set_authenticated`]).
    pub fn new(limits: Limits) -> RequestParser {
        RequestParser {
            limits,
            authenticated: true,
            state: State::Idle,
            pos: 0,
            spans: Vec::new(),
            owned: Vec::new(),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Changes the limits for requests that start from now on.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// While false, Redis's tighter limits for unauthenticated clients apply: at most
    /// [`UNAUTHENTICATED_MAX_ARGS`] arguments and [`UNAUTHENTICATED_MAX_BULK`]-byte bulks.
    pub fn set_authenticated(&mut self, authenticated: bool) {
        self.authenticated = authenticated;
    }

    /// True when a request has started and is not complete.
    pub fn is_pending(&self) -> bool {
        self.state != State::Idle
    }

    /// Moves every complete request at the front of `buf` into `batch` (cleared first) and
    /// returns what the rest of `buf` still needs.
    ///
    /// On a protocol error `batch` still holds the well-formed requests that came before the bad
    /// one: a server executes them, replies with the error and closes the connection.
    pub fn parse(&mut self, buf: &mut BytesMut, batch: &mut Batch) -> Result<Need, ProtocolError> {
        batch.clear();
        let mut start = 0;
        let result = loop {
            let data = &buf[start..];
            if self.state == State::Idle {
                match data.first() {
                    None => break Ok(Need::Nothing),
                    Some(b'*') => {
                        if let Some(len) = self.whole_multibulk(data, batch, start) {
                            start += len;
                            continue;
                        }
                        self.state = State::Count;
                    }
                    Some(_) => self.state = State::Inline,
                }
                self.pos = 0;
            }
            let step = match self.state {
                State::Inline => self.inline(data),
                _ => self.multibulk(data),
            };
            match step {
                Ok(Step::Complete(len)) => {
                    self.finish(batch, start);
                    start += len;
                }
                Ok(Step::Wait(need)) => break Ok(need),
                Err(e) => break Err(e),
            }
        };
        if start > 0 {
            batch.chunk = buf.split_to(start).freeze();
        }
        if result.is_err() {
            self.reset();
        }
        result
    }

    /// Starts out-of-line receipt of the payload announced by [`Need::Payload`] and returns its
    /// length. Afterwards `buf` begins with the payload's first bytes (if any arrived): the caller
    /// takes exactly `len` bytes, first from `buf` and then from the socket, into a buffer of its
    /// own, and passes it to [`RequestParser::end_payload`]. The CRLF after the payload is left
    /// for [`RequestParser::parse`].
    ///
    /// Returns `None`, changing nothing, when no payload is pending.
    pub fn begin_payload(&mut self, buf: &mut BytesMut) -> Option<usize> {
        let State::Multibulk { bulk: Some(len), .. } = self.state else {
            return None;
        };
        if len < self.limits.large_bulk_min
            || self.pos > buf.len()
            || buf.len() - self.pos >= len + 2
        {
            return None;
        }
        // The arguments before the payload move out of `buf` so that it can begin at the payload.
        let head = buf.split_to(self.pos).freeze();
        for span in &mut self.spans {
            if let Span::Chunk(s, e) = *span {
                *span = Span::Owned(self.owned.len());
                self.owned.push(head.slice(s..e));
            }
        }
        self.pos = 0;
        Some(len)
    }

    /// Completes the argument whose payload the caller received out of line.
    ///
    /// `payload` must be exactly the length [`RequestParser::begin_payload`] returned; anything
    /// else is the caller's bug and is reported as [`ProtocolError::InvalidBulkLength`].
    pub fn end_payload(&mut self, payload: Bytes) -> Result<(), ProtocolError> {
        let State::Multibulk { left, bulk: Some(len) } = self.state else {
            return Err(ProtocolError::InvalidBulkLength);
        };
        if payload.len() != len || self.pos != 0 {
            self.reset();
            return Err(ProtocolError::InvalidBulkLength);
        }
        self.spans.push(Span::Owned(self.owned.len()));
        self.owned.push(payload);
        // The CRLF after the payload is still to come; like Redis, it is skipped unchecked.
        self.pos = 2;
        self.state = State::Multibulk { left: left - 1, bulk: None };
        Ok(())
    }

    fn reset(&mut self) {
        self.state = State::Idle;
        self.pos = 0;
        self.spans.clear();
        self.owned.clear();
    }

    /// Moves the completed request into `batch`, rebasing its spans onto the batch chunk.
    fn finish(&mut self, batch: &mut Batch, start: usize) {
        self.state = State::Idle;
        if self.spans.is_empty() {
            // `*0`, `*-1` and blank inline lines are no request at all.
            self.owned.clear();
            return;
        }
        let owned_base = batch.owned.len();
        batch.spans.extend(self.spans.drain(..).map(|span| match span {
            Span::Chunk(s, e) => Span::Chunk(start + s, start + e),
            Span::Owned(o) => Span::Owned(owned_base + o),
        }));
        batch.owned.append(&mut self.owned);
        batch.ends.push(batch.spans.len());
    }

    fn inline(&mut self, data: &[u8]) -> Result<Step, ProtocolError> {
        let Some(nl) = data[self.pos..].iter().position(|&c| c == b'\n') else {
            if data.len() > self.limits.max_inline_len {
                return Err(ProtocolError::TooBigInline);
            }
            self.pos = data.len();
            return Ok(Step::Wait(Need::More));
        };
        let nl = self.pos + nl;
        if nl > self.limits.max_inline_len {
            // Redis only notices a long line while waiting for its end; karst refuses it however
            // the bytes arrive, so the outcome never depends on how reads split the stream.
            return Err(ProtocolError::TooBigInline);
        }
        let mut line = &data[..nl];
        if let [rest @ .., b'\r'] = line {
            line = rest;
        }
        // Redis splits the line as a C string: a NUL ends it.
        if let Some(nul) = line.iter().position(|&c| c == 0) {
            line = &line[..nul];
        }
        split_inline(line, &mut self.spans, &mut self.owned)?;
        Ok(Step::Complete(nl + 1))
    }

    /// The common case of a pipeline, in one pass: a whole multibulk request at the front of
    /// `data`, every length written plainly (digits, no sign, no leading zero) and within the
    /// limits, goes straight into `batch` (its spans offset by `start`) and its length is
    /// returned. Anything else (`*0`, a request not all here yet, a large payload to offer, a
    /// limit passed, a malformed line) returns `None` with `batch` as it was, and the state
    /// machine below takes the request from its first byte, reaching the same result or error.
    #[inline]
    fn whole_multibulk(&self, data: &[u8], batch: &mut Batch, start: usize) -> Option<usize> {
        let limits = &self.limits;
        let line_max = limits.max_inline_len;
        let (count, mut pos) = plain_header(data, 0, b'*', line_max)?;
        let (args_max, bulk_max) = if self.authenticated {
            (limits.max_multibulk_len, limits.max_bulk_len)
        } else {
            (
                limits.max_multibulk_len.min(UNAUTHENTICATED_MAX_ARGS),
                limits.max_bulk_len.min(UNAUTHENTICATED_MAX_BULK),
            )
        };
        if count == 0 || count > args_max {
            return None;
        }
        let mark = batch.spans.len();
        for _ in 0..count {
            let whole = plain_header(data, pos, b'$', line_max)
                .filter(|&(len, at)| len <= bulk_max && data.len() - at >= len + 2);
            let Some((len, at)) = whole else {
                batch.spans.truncate(mark);
                return None;
            };
            batch.spans.push(Span::Chunk(start + at, start + at + len));
            // As below, the two bytes after the payload are not checked.
            pos = at + len + 2;
        }
        batch.ends.push(batch.spans.len());
        Some(pos)
    }

    fn multibulk(&mut self, data: &[u8]) -> Result<Step, ProtocolError> {
        let (mut left, mut bulk) = match self.state {
            State::Multibulk { left, bulk } => (left, bulk),
            _ => (0, None),
        };
        if self.state == State::Count {
            // The `*<count>` line.
            let Some(cr) = find_cr(data) else {
                if data.len() > self.limits.max_inline_len {
                    return Err(ProtocolError::TooBigMultibulkCount);
                }
                return Ok(Step::Wait(Need::More));
            };
            if cr > self.limits.max_inline_len {
                return Err(ProtocolError::TooBigMultibulkCount);
            }
            if cr + 1 >= data.len() {
                return Ok(Step::Wait(Need::More));
            }
            let count = match parse_len(&data[1..cr]) {
                Some(Ok(n)) if n <= self.limits.max_multibulk_len => n,
                Some(Err(neg)) if neg <= 0 => 0,
                _ => return Err(ProtocolError::InvalidMultibulkLength),
            };
            if count > UNAUTHENTICATED_MAX_ARGS && !self.authenticated {
                return Err(ProtocolError::UnauthenticatedMultibulkLength);
            }
            self.pos = cr + 2;
            left = count;
            bulk = None;
        }
        let result = loop {
            if left == 0 {
                break if self.pos <= data.len() {
                    Ok(Step::Complete(self.pos))
                } else {
                    Ok(Step::Wait(Need::More))
                };
            }
            if self.pos > data.len() {
                break Ok(Step::Wait(Need::More));
            }
            let rest = &data[self.pos..];
            match bulk {
                None => {
                    let Some(cr) = find_cr(rest) else {
                        if rest.len() > self.limits.max_inline_len {
                            break Err(ProtocolError::TooBigBulkCount);
                        }
                        break Ok(Step::Wait(Need::More));
                    };
                    if cr > self.limits.max_inline_len {
                        break Err(ProtocolError::TooBigBulkCount);
                    }
                    if cr + 1 >= rest.len() {
                        break Ok(Step::Wait(Need::More));
                    }
                    if rest[0] != b'$' {
                        break Err(ProtocolError::ExpectedDollar(rest[0]));
                    }
                    let len = match parse_len(&rest[1..cr]) {
                        Some(Ok(n)) if n <= self.limits.max_bulk_len => n,
                        _ => break Err(ProtocolError::InvalidBulkLength),
                    };
                    if len > UNAUTHENTICATED_MAX_BULK && !self.authenticated {
                        break Err(ProtocolError::UnauthenticatedBulkLength);
                    }
                    self.pos += cr + 2;
                    bulk = Some(len);
                }
                Some(len) => {
                    if rest.len() >= len + 2 {
                        self.spans.push(Span::Chunk(self.pos, self.pos + len));
                        // Like Redis, the two bytes after the payload are not checked.
                        self.pos += len + 2;
                        left -= 1;
                        bulk = None;
                    } else if len >= self.limits.large_bulk_min {
                        break Ok(Step::Wait(Need::Payload { len }));
                    } else {
                        break Ok(Step::Wait(Need::More));
                    }
                }
            }
        };
        self.state = State::Multibulk { left, bulk };
        result
    }
}

/// A header line at `data[at..]`: `sigil`, then a length written plainly ("0", or up to 18
/// digits with no leading zero: no overflow is possible), then CR and one more byte (Redis does
/// not check that it is LF). Returns the length and the position after the line; `None` for
/// anything else, including a line longer than `line_max`, as the full parser would reject it.
#[inline(always)]
fn plain_header(data: &[u8], at: usize, sigil: u8, line_max: usize) -> Option<(usize, usize)> {
    let line = data.get(at..)?;
    // Most headers have one or two digits (`*3`, `$5`, `$64`): tell them from one load.
    // The same checks as below: no leading zero, CR after the digits, one more byte after it.
    if let Some(&[s, a, b, c, _]) = line.first_chunk::<5>() {
        if s != sigil {
            return None;
        }
        let (da, db) = (a.wrapping_sub(b'0'), b.wrapping_sub(b'0'));
        if da <= 9 && b == b'\r' && line_max >= 2 {
            return Some((usize::from(da), at + 4));
        }
        if (1..=9).contains(&da) && db <= 9 && c == b'\r' && line_max >= 3 {
            return Some((usize::from(da * 10 + db), at + 5));
        }
    }
    if *line.first()? != sigil {
        return None;
    }
    let mut n = 0usize;
    let mut i = 1;
    loop {
        let d = line.get(i)?.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        n = n * 10 + usize::from(d);
        i += 1;
        if i > 19 {
            return None;
        }
    }
    let digits = i - 1;
    if digits == 0 || (digits > 1 && line[1] == b'0') || line[i] != b'\r' || i > line_max {
        return None;
    }
    (line.len() >= i + 2).then_some((n, at + i + 2))
}

#[inline]
fn find_cr(data: &[u8]) -> Option<usize> {
    // Header lines are a few bytes long: a plain loop beats a call into memchr here.
    data.iter().position(|&c| c == b'\r')
}

/// Splits an inline request line into arguments as Redis's `sdssplitargs` does: blanks separate
/// arguments; `"…"` supports `\n \r \t \b \a \\ \" \xHH` escapes; `'…'` supports `\'`; a closing
/// quote must be followed by a blank or the end of the line.
///
/// Plain arguments become spans of the line; quoted ones are unescaped into owned buffers.
fn split_inline(
    line: &[u8],
    spans: &mut Vec<Span>,
    owned: &mut Vec<Bytes>,
) -> Result<(), ProtocolError> {
    let is_blank = |c: u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
    let mut p = 0;
    loop {
        while p < line.len() && is_blank(line[p]) {
            p += 1;
        }
        if p == line.len() {
            return Ok(());
        }
        let start = p;
        // Fast path: a token with no quote is a span of the line.
        while p < line.len() && !matches!(line[p], b' ' | b'\n' | b'\r' | b'\t' | b'"' | b'\'') {
            p += 1;
        }
        if p == line.len() || line[p] != b'"' && line[p] != b'\'' {
            spans.push(Span::Chunk(start, p));
            continue;
        }
        // Slow path: unescape the token into its own buffer.
        let mut token = line[start..p].to_vec();
        let mut in_double = false;
        let mut in_single = false;
        loop {
            let c = line.get(p).copied();
            let next = line.get(p + 1).copied();
            if in_double {
                match c {
                    None => return Err(ProtocolError::UnbalancedQuotes),
                    Some(b'\\') if next == Some(b'x') => {
                        let hex = |i: usize| line.get(i).and_then(|&c| (c as char).to_digit(16));
                        if let (Some(h), Some(l)) = (hex(p + 2), hex(p + 3)) {
                            token.push((h * 16 + l) as u8);
                            p += 3;
                        } else {
                            p += 1;
                            token.push(b'x');
                        }
                    }
                    Some(b'\\') if next.is_some() => {
                        p += 1;
                        token.push(match line[p] {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 0x08,
                            b'a' => 0x07,
                            other => other,
                        });
                    }
                    Some(b'"') => {
                        if next.is_some_and(|n| !is_blank(n)) {
                            return Err(ProtocolError::UnbalancedQuotes);
                        }
                        p += 1;
                        break;
                    }
                    Some(other) => token.push(other),
                }
            } else if in_single {
                match c {
                    None => return Err(ProtocolError::UnbalancedQuotes),
                    Some(b'\\') if next == Some(b'\'') => {
                        p += 1;
                        token.push(b'\'');
                    }
                    Some(b'\'') => {
                        if next.is_some_and(|n| !is_blank(n)) {
                            return Err(ProtocolError::UnbalancedQuotes);
                        }
                        p += 1;
                        break;
                    }
                    Some(other) => token.push(other),
                }
            } else {
                match c {
                    None | Some(b' ' | b'\n' | b'\r' | b'\t') => break,
                    Some(b'"') => in_double = true,
                    Some(b'\'') => in_single = true,
                    Some(other) => token.push(other),
                }
            }
            p += 1;
        }
        spans.push(Span::Owned(owned.len()));
        owned.push(Bytes::from(token));
    }
}
