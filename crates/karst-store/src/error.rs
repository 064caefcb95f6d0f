//! Errors of commands and of the embedded API, with Redis's exact wording.

use std::fmt;

/// An error a command can reply with. `Display` is Redis's text, prefix included
/// (`WRONGTYPE Operation against a key holding the wrong kind of value`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The key holds another type.
    WrongType,
    /// Malformed options.
    Syntax,
    /// An argument or a stored value is not a 64-bit integer.
    NotInteger,
    /// An argument or a stored value is not a float.
    NotFloat,
    /// INCR/INCRBY would leave the i64 range.
    Overflow,
    /// DECRBY by i64::MIN.
    DecrementOverflow,
    /// INCRBYFLOAT would produce NaN or an infinity.
    NanOrInfinity,
    /// An expire time that is not positive or overflows; holds the command's name.
    InvalidExpire(&'static str),
    /// A string would pass proto-max-bulk-len.
    TooBig,
    /// SETRANGE/GETRANGE offset below zero or too large.
    OffsetOutOfRange,
    /// A database index out of range.
    DbIndexOutOfRange,
    /// RENAME of a missing key.
    NoSuchKey,
    /// MOVE/COPY onto the same key.
    SameObject,
    /// Over maxmemory with nothing to evict (or noeviction).
    OutOfMemory,
    /// Any other error, as Redis words it (prefix included).
    Other(String),
}

impl Error {
    /// The message without allocation for the fixed errors.
    pub(crate) fn text(&self) -> std::borrow::Cow<'static, str> {
        use std::borrow::Cow::Borrowed;
        match self {
            Error::WrongType => {
                Borrowed("WRONGTYPE Operation against a key holding the wrong kind of value")
            }
            Error::Syntax => Borrowed("ERR syntax error"),
            Error::NotInteger => Borrowed("ERR value is not an integer or out of range"),
            Error::NotFloat => Borrowed("ERR value is not a valid float"),
            Error::Overflow => Borrowed("ERR increment or decrement would overflow"),
            Error::DecrementOverflow => Borrowed("ERR decrement would overflow"),
            Error::NanOrInfinity => Borrowed("ERR increment would produce NaN or Infinity"),
            Error::InvalidExpire(cmd) => {
                std::borrow::Cow::Owned(format!("ERR invalid expire time in '{cmd}' command"))
            }
            Error::TooBig => {
                Borrowed("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
            }
            Error::OffsetOutOfRange => Borrowed("ERR offset is out of range"),
            Error::DbIndexOutOfRange => Borrowed("ERR DB index is out of range"),
            Error::NoSuchKey => Borrowed("ERR no such key"),
            Error::SameObject => Borrowed("ERR source and destination objects are the same"),
            Error::OutOfMemory => {
                Borrowed("OOM command not allowed when used memory > 'maxmemory'.")
            }
            Error::Other(s) => std::borrow::Cow::Owned(s.clone()),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}

impl std::error::Error for Error {}

/// Result of an engine operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Redis's reply to a subcommand `cmd` does not have: `ERR unknown subcommand 'x'. Try CMD
/// HELP.`, with the subcommand cut to 128 bytes as Redis cuts it.
pub fn unknown_subcommand(cmd: &str, sub: &[u8]) -> String {
    let sub = String::from_utf8_lossy(sub.get(..128).unwrap_or(sub));
    format!("ERR unknown subcommand '{sub}'. Try {cmd} HELP.")
}
