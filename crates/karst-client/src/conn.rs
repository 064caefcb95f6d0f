//! One blocking connection: command encoding, vectored writes, replies, and bulk payloads read
//! straight into the caller's memory.

use std::io::{self, IoSlice, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};

use karst_resp::{Frame, Head, ReplyLimits, ReplyParser, peek_bulk};

use crate::config::{Config, Protocol};
use crate::error::{Error, Result};

/// Arguments at least this long are sent from the caller's memory by reference (one more
/// `IoSlice`) instead of being copied into the write buffer.
const BY_REFERENCE: usize = 16 * 1024;
/// The read buffer starts this large; reads into it ask for at least this much room.
const READ_CHUNK: usize = 64 * 1024;
/// Payload bytes drained at a time when a value is skipped.
const DRAIN_CHUNK: usize = 256 * 1024;

/// Commands encoded for one vectored write: owned header bytes, with large arguments referenced.
#[derive(Debug, Default)]
pub(crate) struct Request<'a> {
    own: Vec<u8>,
    /// Owned ranges and borrowed slices, in wire order.
    parts: Vec<Part<'a>>,
    /// Start of the owned bytes not yet in `parts`.
    mark: usize,
}

#[derive(Debug)]
enum Part<'a> {
    Own(usize, usize),
    Ref(&'a [u8]),
}

impl<'a> Request<'a> {
    pub(crate) fn new() -> Request<'a> {
        Request::default()
    }

    /// Starts a command of `argc` arguments.
    pub(crate) fn array(&mut self, argc: usize) -> &mut Self {
        header(&mut self.own, b'*', argc);
        self
    }

    /// Appends one argument.
    pub(crate) fn arg(&mut self, arg: &'a [u8]) -> &mut Self {
        header(&mut self.own, b'$', arg.len());
        if arg.len() >= BY_REFERENCE {
            self.parts.push(Part::Own(self.mark, self.own.len()));
            self.parts.push(Part::Ref(arg));
            self.mark = self.own.len();
        } else {
            self.own.extend_from_slice(arg);
        }
        self.own.extend_from_slice(b"\r\n");
        self
    }

    /// Appends a whole command.
    pub(crate) fn command(&mut self, args: &[&'a [u8]]) -> &mut Self {
        self.array(args.len());
        for a in args {
            self.arg(a);
        }
        self
    }

    fn slices(&self) -> Vec<IoSlice<'_>> {
        let mut out = Vec::with_capacity(self.parts.len() + 1);
        for part in &self.parts {
            match *part {
                Part::Own(a, b) if a < b => out.push(IoSlice::new(&self.own[a..b])),
                Part::Own(..) => {}
                Part::Ref(r) => out.push(IoSlice::new(r)),
            }
        }
        if self.mark < self.own.len() {
            out.push(IoSlice::new(&self.own[self.mark..]));
        }
        out
    }
}

fn header(out: &mut Vec<u8>, tag: u8, n: usize) {
    out.push(tag);
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// What a reply must be, read without building a frame for bulk payloads.
pub(crate) enum Bulk<'b> {
    /// Copy into this buffer; the reply is its length.
    Into(&'b mut [u8]),
    /// Allocate a vector of the exact length.
    Owned,
}

/// A bulk reply read by [`Connection::read_bulk`].
pub(crate) enum BulkReply {
    Len(usize),
    Owned(Vec<u8>),
    Null,
}

/// One blocking connection to one server.
#[derive(Debug)]
pub struct Connection {
    stream: TcpStream,
    addr: String,
    /// Read buffer: bytes `start..end` are received and not yet consumed. Always initialised.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    parser: ReplyParser,
    limits: ReplyLimits,
    protocol: Protocol,
    /// Bytes received so far, to tell a connection that died idle from one that died mid-reply.
    received: u64,
}

impl Connection {
    /// Connects to `addr` (`host:port`) and authenticates as `config` says.
    pub fn connect(addr: &str, config: &Config) -> Result<Connection> {
        let mut last = None;
        let mut stream = None;
        for sa in addr.to_socket_addrs()? {
            let attempt = match config.connect_timeout {
                Some(t) => TcpStream::connect_timeout(&sa, t),
                None => TcpStream::connect(sa),
            };
            match attempt {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let stream = match (stream, last) {
            (Some(s), _) => s,
            (None, Some(e)) => return Err(Error::Io(e)),
            (None, None) => {
                return Err(Error::Io(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{addr} resolves to no address"),
                )));
            }
        };
        stream.set_nodelay(true)?;
        stream.set_read_timeout(config.read_timeout)?;
        stream.set_write_timeout(config.write_timeout)?;
        let limits = ReplyLimits::default();
        let mut conn = Connection {
            stream,
            addr: addr.to_string(),
            buf: vec![0; READ_CHUNK],
            start: 0,
            end: 0,
            parser: ReplyParser::new(limits),
            limits,
            protocol: config.protocol,
            received: 0,
        };
        conn.handshake(config)?;
        Ok(conn)
    }

    fn handshake(&mut self, config: &Config) -> Result<()> {
        let user = config.username.as_deref().unwrap_or("default");
        match (config.protocol, &config.password) {
            (Protocol::Resp3, Some(pw)) => {
                self.command(&[b"HELLO", b"3", b"AUTH", user.as_bytes(), pw.as_bytes()])?;
            }
            (Protocol::Resp3, None) => {
                self.command(&[b"HELLO", b"3"])?;
            }
            (Protocol::Resp2, Some(pw)) => match &config.username {
                Some(u) => self.command(&[b"AUTH", u.as_bytes(), pw.as_bytes()]).map(drop)?,
                None => self.command(&[b"AUTH", pw.as_bytes()]).map(drop)?,
            },
            (Protocol::Resp2, None) => {}
        }
        if config.db != 0 {
            let db = config.db.to_string();
            self.command(&[b"SELECT", db.as_bytes()])?;
        }
        Ok(())
    }

    /// The `host:port` this connection was opened to.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Bytes received on this connection so far.
    pub(crate) fn received(&self) -> u64 {
        self.received
    }

    /// The protocol negotiated.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Sends one command and reads its reply; an error reply becomes [`Error::Server`].
    pub fn command(&mut self, args: &[&[u8]]) -> Result<Frame> {
        let mut req = Request::new();
        req.command(args);
        self.send(&req)?;
        let frame = self.read_frame()?;
        match frame {
            Frame::Error(text) => Err(server_error(&text)),
            other => Ok(other),
        }
    }

    /// Writes every byte of `req` with vectored writes; large arguments are never copied.
    pub(crate) fn send(&mut self, req: &Request<'_>) -> Result<()> {
        let mut slices = req.slices();
        let mut bufs: &mut [IoSlice<'_>] = &mut slices;
        // writev takes at most IOV_MAX (1024) slices; the kernel writes what it can.
        while !bufs.is_empty() {
            let take = bufs.len().min(1024);
            match self.stream.write_vectored(&bufs[..take]) {
                Ok(0) => {
                    return Err(Error::Io(io::Error::new(
                        io::ErrorKind::WriteZero,
                        "the server stopped reading",
                    )));
                }
                Ok(n) => IoSlice::advance_slices(&mut bufs, n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::Io(e)),
            }
        }
        Ok(())
    }

    /// Reads more bytes into the buffer; fails when the server closed the connection.
    fn fill(&mut self) -> Result<()> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            // A large reply grew the buffer; do not keep megabytes per idle connection.
            if self.buf.len() > 16 * READ_CHUNK {
                self.buf = vec![0; READ_CHUNK];
            }
        }
        if self.buf.len() - self.end < READ_CHUNK / 4 {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            if self.buf.len() - self.end < READ_CHUNK / 4 {
                let grown = (self.buf.len() * 2).max(READ_CHUNK);
                self.buf.resize(grown, 0);
            }
        }
        loop {
            match self.stream.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    return Err(Error::Io(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "connection closed by the server",
                    )));
                }
                Ok(n) => {
                    self.end += n;
                    self.received += n as u64;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::Io(e)),
            }
        }
    }

    /// Reads one whole reply. Error replies are returned as [`Frame::Error`]; RESP3 pushes are
    /// skipped and attributes unwrapped.
    pub fn read_frame(&mut self) -> Result<Frame> {
        loop {
            match self.parser.parse_slice(&self.buf[self.start..self.end])? {
                Some((frame, used)) => {
                    self.start += used;
                    match frame {
                        Frame::Push(_) => continue,
                        Frame::Attribute { frame, .. } => return Ok(*frame),
                        other => return Ok(other),
                    }
                }
                None => self.fill()?,
            }
        }
    }

    /// Reads a reply that is a bulk string or a null, taking the payload into `how` without a
    /// frame. Error replies are [`Error::Server`]; a payload too large for the buffer is
    /// drained and reported as [`Error::BufferTooSmall`].
    pub(crate) fn read_bulk(&mut self, how: Bulk<'_>) -> Result<BulkReply> {
        let (len, header) = loop {
            match peek_bulk(&self.buf[self.start..self.end], &self.limits)? {
                Some(Head::Bulk { len, header }) => break (len, header),
                Some(Head::Other) if self.buf[self.start] == b'>' => {
                    // A RESP3 push (an invalidation, a message) is out of band: skip it.
                    match self.parser.parse_slice(&self.buf[self.start..self.end])? {
                        Some((_, used)) => self.start += used,
                        None => self.fill()?,
                    }
                }
                Some(Head::Other) => {
                    return match self.read_frame()? {
                        f if f.is_null() => Ok(BulkReply::Null),
                        Frame::Error(text) => Err(server_error(&text)),
                        // A bulk behind an attribute arrives whole.
                        Frame::Bulk(b) => match how {
                            Bulk::Into(dst) if dst.len() < b.len() => {
                                Err(Error::BufferTooSmall { needed: b.len(), capacity: dst.len() })
                            }
                            Bulk::Into(dst) => {
                                dst[..b.len()].copy_from_slice(&b);
                                Ok(BulkReply::Len(b.len()))
                            }
                            Bulk::Owned => Ok(BulkReply::Owned(b.to_vec())),
                        },
                        other => Err(unexpected("a bulk string", &other)),
                    };
                }
                None => self.fill()?,
            }
        };
        self.start += header;
        match how {
            Bulk::Into(dst) if dst.len() < len => {
                self.skip(len)?;
                self.expect_crlf()?;
                Err(Error::BufferTooSmall { needed: len, capacity: dst.len() })
            }
            Bulk::Into(dst) => {
                self.receive(&mut dst[..len])?;
                self.expect_crlf()?;
                Ok(BulkReply::Len(len))
            }
            Bulk::Owned => {
                let mut v = vec![0; len];
                self.receive(&mut v)?;
                self.expect_crlf()?;
                Ok(BulkReply::Owned(v))
            }
        }
    }

    /// Fills `dst` with the next payload bytes: what is buffered first, then straight from the
    /// socket into `dst`, with no intermediate copy.
    fn receive(&mut self, dst: &mut [u8]) -> Result<()> {
        let have = (self.end - self.start).min(dst.len());
        dst[..have].copy_from_slice(&self.buf[self.start..self.start + have]);
        self.start += have;
        let mut at = have;
        while at < dst.len() {
            match self.stream.read(&mut dst[at..]) {
                Ok(0) => {
                    return Err(Error::Io(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "connection closed in the middle of a value",
                    )));
                }
                Ok(n) => {
                    at += n;
                    self.received += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::Io(e)),
            }
        }
        Ok(())
    }

    /// Discards the next `n` payload bytes.
    fn skip(&mut self, mut n: usize) -> Result<()> {
        let have = (self.end - self.start).min(n);
        self.start += have;
        n -= have;
        if n > 0 {
            let mut scratch = vec![0; n.min(DRAIN_CHUNK)];
            while n > 0 {
                let take = n.min(scratch.len());
                self.receive(&mut scratch[..take])?;
                n -= take;
            }
        }
        Ok(())
    }

    fn expect_crlf(&mut self) -> Result<()> {
        while self.end - self.start < 2 {
            self.fill()?;
        }
        if &self.buf[self.start..self.start + 2] != b"\r\n" {
            return Err(Error::Protocol(karst_resp::ReplyError::MissingCrlf));
        }
        self.start += 2;
        Ok(())
    }
}

pub(crate) fn server_error(text: &[u8]) -> Error {
    Error::Server(String::from_utf8_lossy(text).into_owned())
}

pub(crate) fn unexpected(wanted: &str, got: &Frame) -> Error {
    let mut shown = format!("{got:?}");
    if shown.len() > 120 {
        let mut cut = 120;
        while !shown.is_char_boundary(cut) {
            cut -= 1;
        }
        shown.truncate(cut);
        shown.push('…');
    }
    Error::UnexpectedReply(format!("wanted {wanted}, got {shown}"))
}
