//! Batches: one pipeline per tile of keys, written in one vectored write, replies read in order.

use karst_resp::Frame;

use crate::conn::{Bulk, BulkReply, Connection, Request, server_error, unexpected};
use crate::error::{Error, Result};

/// What to do with one key.
#[derive(Debug)]
pub(crate) enum Op<'a> {
    /// `GET`, the value into a new vector.
    Get,
    /// `GET`, the value into the caller's buffer.
    GetInto(&'a mut [u8]),
    /// `SET key value`, the value sent from the caller's memory.
    Set(&'a [u8]),
    /// `EXISTS key`
    Exists,
    /// `DEL key`
    Del,
}

/// The outcome of one [`Op`].
#[derive(Debug)]
pub(crate) enum Reply {
    Value(Option<Vec<u8>>),
    Len(Option<usize>),
    Done,
    Int(i64),
}

/// One key of a batch, with its position in the caller's order.
#[derive(Debug)]
pub(crate) struct Item<'a> {
    pub(crate) idx: usize,
    pub(crate) key: &'a [u8],
    pub(crate) op: Op<'a>,
}

impl Item<'_> {
    /// Bytes this item moves, to size tiles.
    pub(crate) fn weight(&self) -> usize {
        self.key.len()
            + match &self.op {
                Op::GetInto(b) => b.len(),
                Op::Set(v) => v.len(),
                _ => 0,
            }
    }
}

/// Bytes of large values in flight per connection.
///
/// GET: a server such as redis-server builds each GET reply in memory (a copy of the value)
/// before sending it, so pipelining a hundred 32 MB GETs at once would make it allocate
/// gigabytes; past this many reply bytes a tile is sent in windows, the next window sent before
/// the replies of the current one are read, so the server never waits on the client.
///
/// SET: servers receive a large value fastest when it starts on an empty input buffer (karst and
/// Redis then read it straight into a buffer of its size); pipelined behind other large values,
/// it arrives mixed with their tails. So large SETs go in windows too, each sent when the
/// previous one is acknowledged: one round trip (tens of µs) per window of milliseconds.
const WINDOW_BYTES: usize = 8 << 20;

/// Runs `items` as one pipeline on `conn`. `asking` prefixes each command with `ASKING` (a
/// cluster `ASK` redirection). The outer error means the connection broke; the inner ones are
/// per key and leave the connection usable.
pub(crate) fn run(
    conn: &mut Connection,
    items: &mut [Item<'_>],
    asking: bool,
) -> Result<Vec<Result<Reply>>> {
    // Split into windows of about WINDOW_BYTES of values (at least one item each).
    let mut windows = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    let mut sets = false;
    for (i, item) in items.iter().enumerate() {
        match &item.op {
            Op::GetInto(b) => bytes += b.len(),
            Op::Set(v) => {
                bytes += v.len();
                sets = true;
            }
            _ => {}
        }
        if bytes >= WINDOW_BYTES {
            windows.push(start..i + 1);
            (start, bytes) = (i + 1, 0);
        }
    }
    if start < items.len() {
        windows.push(start..items.len());
    }
    let mut out = Vec::with_capacity(items.len());
    let ahead = usize::from(!sets);
    for w in windows.iter().take(ahead) {
        send(conn, &items[w.clone()], asking)?;
    }
    for w in 0..windows.len() {
        if let Some(next) = windows.get(w + ahead) {
            send(conn, &items[next.clone()], asking)?;
        }
        receive(conn, &mut items[windows[w].clone()], asking, &mut out)?;
    }
    Ok(out)
}

fn send(conn: &mut Connection, items: &[Item<'_>], asking: bool) -> Result<()> {
    let mut req = Request::new();
    for item in items {
        if asking {
            req.command(&[b"ASKING"]);
        }
        match &item.op {
            Op::Get | Op::GetInto(_) => req.command(&[b"GET", item.key]),
            Op::Set(v) => req.command(&[b"SET", item.key, v]),
            Op::Exists => req.command(&[b"EXISTS", item.key]),
            Op::Del => req.command(&[b"DEL", item.key]),
        };
    }
    conn.send(&req)
}

fn receive(
    conn: &mut Connection,
    items: &mut [Item<'_>],
    asking: bool,
    out: &mut Vec<Result<Reply>>,
) -> Result<()> {
    for item in items.iter_mut() {
        if asking {
            // ASKING answers +OK; an error here would surface on the command itself.
            conn.read_frame()?;
        }
        let reply = match &mut item.op {
            Op::Get => bulk(conn.read_bulk(Bulk::Owned)),
            Op::GetInto(buf) => bulk(conn.read_bulk(Bulk::Into(buf))),
            Op::Set(_) => match conn.read_frame()? {
                Frame::Simple(_) => Ok(Reply::Done),
                Frame::Error(e) => Err(server_error(&e)),
                other => return Err(unexpected("+OK", &other)),
            },
            Op::Exists | Op::Del => match conn.read_frame()? {
                Frame::Integer(n) => Ok(Reply::Int(n)),
                Frame::Error(e) => Err(server_error(&e)),
                other => return Err(unexpected("an integer", &other)),
            },
        };
        match reply {
            Err(e) if e.is_connection_error() => return Err(e),
            r => out.push(r),
        }
    }
    Ok(())
}

fn bulk(r: Result<BulkReply>) -> Result<Reply> {
    Ok(match r? {
        BulkReply::Len(n) => Reply::Len(Some(n)),
        BulkReply::Owned(v) => Reply::Value(Some(v)),
        BulkReply::Null => Reply::Value(None),
    })
}

/// Splits `items` into at most `max_tiles` runs of about equal weight, so that each tile moves
/// at least `tile_bytes` or holds at least `tile_keys` keys.
pub(crate) fn tiles<'a>(
    items: Vec<Item<'a>>,
    max_tiles: usize,
    tile_bytes: usize,
    tile_keys: usize,
) -> Vec<Vec<Item<'a>>> {
    let total: usize = items.iter().map(Item::weight).sum();
    let by_bytes = total / tile_bytes.max(1);
    let by_keys = items.len() / tile_keys.max(1);
    let n = by_bytes.max(by_keys).clamp(1, max_tiles.max(1)).min(items.len().max(1));
    if n == 1 {
        return vec![items];
    }
    let per = total.div_ceil(n);
    let per_keys = items.len().div_ceil(n);
    let mut out = Vec::with_capacity(n);
    let mut cur = Vec::new();
    let mut weight = 0;
    for item in items {
        weight += item.weight();
        cur.push(item);
        if (weight >= per || cur.len() >= per_keys) && out.len() + 1 < n {
            out.push(std::mem::take(&mut cur));
            weight = 0;
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// A null GET as the result of a GET that was never a length, and the reverse, are the same miss.
pub(crate) fn as_len(r: Reply) -> Result<Option<usize>> {
    match r {
        Reply::Len(n) => Ok(n),
        Reply::Value(None) => Ok(None),
        other => Err(Error::UnexpectedReply(format!("{other:?}"))),
    }
}
