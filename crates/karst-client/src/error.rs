//! The one error type of the client.

use std::fmt;
use std::io;

use karst_resp::ReplyError;

/// What can go wrong talking to a server.
///
/// [`Error::Server`] and [`Error::BufferTooSmall`] leave the connection usable; the other kinds
/// mean the connection is out of sync or gone, and the pool drops it (the next use reconnects).
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The socket failed, timed out, or the server closed it.
    Io(io::Error),
    /// The server sent bytes that are not RESP.
    Protocol(ReplyError),
    /// The server answered with an error reply, such as `ERR …`, `WRONGTYPE …` or `MOVED …`:
    /// the text after `-`, prefix included.
    Server(String),
    /// A reply of a type the command never returns.
    UnexpectedReply(String),
    /// A value did not fit the caller's buffer. Its payload was drained: the connection is fine.
    BufferTooSmall {
        /// The value's length.
        needed: usize,
        /// The buffer's length.
        capacity: usize,
    },
    /// Cluster routing failed: no slot map, an uncovered slot, or too many redirections.
    Cluster(String),
    /// The caller passed something unusable, such as keys and buffers of different counts.
    InvalidArgument(String),
}

impl Error {
    /// True when the connection that saw this error cannot be used any more.
    pub fn is_connection_error(&self) -> bool {
        matches!(self, Error::Io(_) | Error::Protocol(_) | Error::UnexpectedReply(_))
    }

    /// The first word of a server error (`ERR`, `WRONGTYPE`, `MOVED`…), if this is one.
    pub fn server_code(&self) -> Option<&str> {
        match self {
            Error::Server(text) => text.split(' ').next(),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "I/O error: {e}"),
            Error::Protocol(e) => write!(f, "protocol error: {e}"),
            Error::Server(text) => write!(f, "server error: {text}"),
            Error::UnexpectedReply(what) => write!(f, "unexpected reply: {what}"),
            Error::BufferTooSmall { needed, capacity } => {
                write!(f, "value of {needed} bytes does not fit a buffer of {capacity} bytes")
            }
            Error::Cluster(what) => write!(f, "cluster: {what}"),
            Error::InvalidArgument(what) => write!(f, "invalid argument: {what}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            Error::Protocol(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::Io(e)
    }
}

impl From<ReplyError> for Error {
    fn from(e: ReplyError) -> Error {
        Error::Protocol(e)
    }
}

/// The client's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
