//! RESP2 and RESP3, the Redis protocol, for karst: no I/O and no keyspace, only bytes.
//!
//! # Components
//!
//! - [`RequestParser`] (server side) takes every complete request at the front of a read buffer
//!   into a reusable [`Batch`]: arguments are spans of the buffer, never copies, and nothing is
//!   allocated per request. Inline requests (`PING\r\n`, with Redis's quoting) work too. A large
//!   bulk that has started can be received out of line into a buffer of its exact size
//!   ([`Need::Payload`]). Limits and error texts are Redis 7's ([`Limits`], [`ProtocolError`]).
//! - [`Output`] (server side) encodes every reply type in the RESP2 or RESP3 form the connection
//!   negotiated, and queues large [`bytes::Bytes`] payloads by reference for a vectored write.
//! - [`ReplyParser`] (client side) parses every RESP3 type into a [`Frame`], zero-copy and with
//!   bounded nesting; [`peek_bulk`] stops after a `$len` header so a caller can receive a large
//!   payload straight into its own memory.
//! - [`num`]: Redis's integer parsing (`string2ll`) and double formatting (`%.17g`).
//!
//! # Guarantees
//!
//! - No input makes any function here panic; limits bound what a peer can make it allocate.
//! - Need-more-bytes is a status ([`Need`], `Ok(None)`), not an error.
//! - Every frame written by [`Frame::write_to`] parses back to an equal frame.
//!
//! # Example
//!
//! ```
//! use bytes::BytesMut;
//! use karst_resp::{Batch, Limits, Need, Output, Protocol, RequestParser};
//!
//! let mut parser = RequestParser::new(Limits::default());
//! let mut batch = Batch::new();
//! let mut buf = BytesMut::from(&b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n*1\r\n$4\r\nPI"[..]);
//!
//! let need = parser.parse(&mut buf, &mut batch).unwrap();
//! assert_eq!(batch.len(), 2);
//! assert_eq!(batch.get(0).unwrap().get(1), Some(&b"k"[..]));
//! assert_eq!(need, Need::More); // the third request has started
//!
//! let mut out = Output::new(Protocol::Resp3);
//! out.null();
//! out.simple("PONG");
//! assert_eq!(&out.take()[..], b"_\r\n+PONG\r\n");
//! ```

#![forbid(unsafe_code)]

mod encode;
mod frame;
pub mod num;
mod reply;
mod request;

pub use encode::{BY_REFERENCE_MIN, Output, Protocol};
pub use frame::Frame;
pub use reply::{Head, ReplyError, ReplyLimits, ReplyParser, peek_bulk};
pub use request::{
    Args, Batch, Limits, Need, ProtocolError, RequestParser, UNAUTHENTICATED_MAX_ARGS,
    UNAUTHENTICATED_MAX_BULK,
};
