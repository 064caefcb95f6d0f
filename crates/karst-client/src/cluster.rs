//! Redis Cluster routing: hash slots, the slot map, and `MOVED`/`ASK` redirections.

use karst_resp::Frame;

use crate::error::{Error, Result};

/// Number of hash slots in a Redis Cluster.
pub const SLOTS: usize = 16384;

/// CRC16-XMODEM (polynomial 0x1021, initial value 0), the checksum Redis Cluster hashes keys with.
pub fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in data {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 };
        }
    }
    crc
}

/// The hash slot of `key`: CRC16 of the key, or of its `{hash tag}` when the key has a `{`
/// followed later by a `}` with at least one byte between them.
pub fn key_slot(key: &[u8]) -> u16 {
    let hashed = match key.iter().position(|&c| c == b'{') {
        Some(open) => match key[open + 1..].iter().position(|&c| c == b'}') {
            Some(len) if len > 0 => &key[open + 1..open + 1 + len],
            _ => key,
        },
        None => key,
    };
    crc16(hashed) % SLOTS as u16
}

/// Which node serves each slot.
#[derive(Debug, Clone)]
pub(crate) struct SlotMap {
    /// Index into `nodes` per slot; `u16::MAX` for a slot no node serves.
    slots: Vec<u16>,
    /// `host:port` of each primary.
    pub(crate) nodes: Vec<String>,
}

const UNSERVED: u16 = u16::MAX;

impl SlotMap {
    /// The primary serving `slot`.
    pub(crate) fn node(&self, slot: u16) -> Option<&str> {
        self.node_index(slot).map(|i| self.nodes[i].as_str())
    }

    /// The index in `nodes` of the primary serving `slot`.
    pub(crate) fn node_index(&self, slot: u16) -> Option<usize> {
        match self.slots.get(usize::from(slot)) {
            Some(&i) if usize::from(i) < self.nodes.len() => Some(usize::from(i)),
            _ => None,
        }
    }

    fn from_ranges(ranges: Vec<(usize, usize, String)>) -> Result<SlotMap> {
        let mut map = SlotMap { slots: vec![UNSERVED; SLOTS], nodes: Vec::new() };
        for (start, end, addr) in ranges {
            if start > end || end >= SLOTS {
                return Err(Error::Cluster(format!("bad slot range {start}-{end}")));
            }
            let i = match map.nodes.iter().position(|n| *n == addr) {
                Some(i) => i,
                None => {
                    map.nodes.push(addr);
                    map.nodes.len() - 1
                }
            };
            let i = u16::try_from(i).map_err(|_| Error::Cluster("too many nodes".into()))?;
            map.slots[start..=end].fill(i);
        }
        if map.nodes.is_empty() {
            return Err(Error::Cluster("the node reported no slots".into()));
        }
        Ok(map)
    }

    /// Parses a `CLUSTER SLOTS` reply; `asked_host` replaces an empty host.
    pub(crate) fn from_cluster_slots(reply: &Frame, asked_host: &str) -> Result<SlotMap> {
        let Frame::Array(entries) = reply else {
            return Err(bad("CLUSTER SLOTS", reply));
        };
        let mut ranges = Vec::with_capacity(entries.len());
        for entry in entries {
            let Frame::Array(fields) = entry else {
                return Err(bad("CLUSTER SLOTS entry", entry));
            };
            let (Some(start), Some(end), Some(Frame::Array(primary))) =
                (fields.first().and_then(int), fields.get(1).and_then(int), fields.get(2))
            else {
                return Err(bad("CLUSTER SLOTS entry", entry));
            };
            let host = primary.first().and_then(text).unwrap_or_default();
            let port = primary.get(1).and_then(int);
            let Some(port) = port else {
                return Err(bad("CLUSTER SLOTS node", entry));
            };
            ranges.push((start, end, node_addr(&host, port, asked_host)));
        }
        SlotMap::from_ranges(ranges)
    }

    /// Parses a `CLUSTER SHARDS` reply (RESP3 maps or RESP2 flat arrays).
    pub(crate) fn from_cluster_shards(reply: &Frame, asked_host: &str) -> Result<SlotMap> {
        let Frame::Array(shards) = reply else {
            return Err(bad("CLUSTER SHARDS", reply));
        };
        let mut ranges = Vec::new();
        for shard in shards {
            let fields = pairs(shard).ok_or_else(|| bad("CLUSTER SHARDS entry", shard))?;
            let slots = field(&fields, "slots").and_then(list).unwrap_or_default();
            let nodes = field(&fields, "nodes").and_then(list).unwrap_or_default();
            let primary = nodes.iter().filter_map(pairs).find(|n| {
                matches!(field(n, "role").and_then(text).as_deref(), Some("master" | "primary"))
            });
            let Some(primary) = primary else { continue };
            let host = field(&primary, "ip")
                .or_else(|| field(&primary, "endpoint"))
                .and_then(text)
                .unwrap_or_default();
            let Some(port) = field(&primary, "port").and_then(int) else { continue };
            let addr = node_addr(&host, port, asked_host);
            for pair in slots.chunks(2) {
                if let [s, e] = pair {
                    if let (Some(s), Some(e)) = (int(s), int(e)) {
                        ranges.push((s, e, addr.clone()));
                    }
                }
            }
        }
        SlotMap::from_ranges(ranges)
    }
}

fn node_addr(host: &str, port: usize, asked_host: &str) -> String {
    let host = if host.is_empty() || host == "?" { asked_host } else { host };
    if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") }
}

fn bad(what: &str, got: &Frame) -> Error {
    crate::conn::unexpected(what, got)
}

fn int(f: &Frame) -> Option<usize> {
    match f {
        Frame::Integer(n) => usize::try_from(*n).ok(),
        Frame::Bulk(b) | Frame::Simple(b) => {
            karst_resp::num::parse_i64(b).and_then(|n| usize::try_from(n).ok())
        }
        _ => None,
    }
}

fn text(f: &Frame) -> Option<String> {
    f.as_bytes().map(|b| String::from_utf8_lossy(b).into_owned())
}

fn list(f: &Frame) -> Option<Vec<Frame>> {
    match f {
        Frame::Array(v) | Frame::Set(v) => Some(v.clone()),
        _ => None,
    }
}

fn pairs(f: &Frame) -> Option<Vec<(Frame, Frame)>> {
    match f {
        Frame::Map(p) => Some(p.clone()),
        Frame::Array(v) => Some(
            v.chunks(2).filter_map(|c| Some((c.first()?.clone(), c.get(1)?.clone()))).collect(),
        ),
        _ => None,
    }
}

fn field<'a>(pairs: &'a [(Frame, Frame)], name: &str) -> Option<&'a Frame> {
    pairs
        .iter()
        .find(|(k, _)| k.as_bytes().is_some_and(|b| b.eq_ignore_ascii_case(name.as_bytes())))
        .map(|(_, v)| v)
}

/// A cluster redirection carried by an error reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Redirect {
    Moved(String),
    Ask(String),
}

/// Reads `MOVED <slot> <host>:<port>` or `ASK …`; an empty host means the node asked.
pub(crate) fn redirect(err: &Error, asked: &str) -> Option<Redirect> {
    let Error::Server(text) = err else { return None };
    let mut words = text.split(' ');
    let kind = words.next()?;
    let _slot = words.next()?;
    let target = words.next()?;
    let target = match target.strip_prefix(':') {
        Some(port) => {
            let host = asked.rsplit_once(':').map_or(asked, |(h, _)| h);
            format!("{host}:{port}")
        }
        None => target.to_string(),
    };
    match kind {
        "MOVED" => Some(Redirect::Moved(target)),
        "ASK" => Some(Redirect::Ask(target)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc16_check_value() {
        assert_eq!(crc16(b"123456789"), 0x31C3);
    }

    #[test]
    fn slots_match_redis() {
        assert_eq!(key_slot(b"somekey"), 11058);
        assert_eq!(key_slot(b"foo{hash_tag}"), 2515);
        assert_eq!(key_slot(b"foo{hash_tag}"), key_slot(b"hash_tag"));
        // An empty tag hashes the whole key; the first `{` and the next `}` delimit the tag.
        assert_eq!(key_slot(b"foo{}{bar}"), crc16(b"foo{}{bar}") % 16384);
        assert_eq!(key_slot(b"foo{{bar}}zap"), key_slot(b"{bar"));
        assert_eq!(key_slot(b"foo{bar}{zap}"), key_slot(b"bar"));
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"{user1000}.followers"));
    }

    #[test]
    fn redirects() {
        let moved = Error::Server("MOVED 3999 127.0.0.1:6381".into());
        assert_eq!(redirect(&moved, "x:1"), Some(Redirect::Moved("127.0.0.1:6381".into())));
        let ask = Error::Server("ASK 3999 :6381".into());
        assert_eq!(redirect(&ask, "10.0.0.1:7000"), Some(Redirect::Ask("10.0.0.1:6381".into())));
        assert_eq!(redirect(&Error::Server("ERR no".into()), "x:1"), None);
    }

    #[test]
    fn parses_cluster_slots() {
        let node = |h: &str, p: i64| {
            Frame::Array(vec![Frame::bulk(h), Frame::Integer(p), Frame::bulk("id")])
        };
        let reply = Frame::Array(vec![
            Frame::Array(vec![Frame::Integer(0), Frame::Integer(8191), node("", 7000)]),
            Frame::Array(vec![
                Frame::Integer(8192),
                Frame::Integer(16383),
                node("127.0.0.2", 7001),
                node("127.0.0.3", 7002),
            ]),
        ]);
        let map = SlotMap::from_cluster_slots(&reply, "h").unwrap();
        assert_eq!(map.node(0), Some("h:7000"));
        assert_eq!(map.node(16383), Some("127.0.0.2:7001"));
        assert!(SlotMap::from_cluster_slots(&Frame::Integer(1), "h").is_err());
    }

    #[test]
    fn parses_cluster_shards_resp2() {
        let shard = Frame::Array(vec![
            Frame::bulk("slots"),
            Frame::Array(vec![
                Frame::Integer(0),
                Frame::Integer(100),
                Frame::Integer(200),
                Frame::Integer(16383),
            ]),
            Frame::bulk("nodes"),
            Frame::Array(vec![Frame::Array(vec![
                Frame::bulk("ip"),
                Frame::bulk("127.0.0.1"),
                Frame::bulk("port"),
                Frame::Integer(7000),
                Frame::bulk("role"),
                Frame::bulk("master"),
            ])]),
        ]);
        let map = SlotMap::from_cluster_shards(&Frame::Array(vec![shard]), "h").unwrap();
        assert_eq!(map.node(50), Some("127.0.0.1:7000"));
        assert_eq!(map.node(150), None);
        assert_eq!(map.node(300), Some("127.0.0.1:7000"));
    }
}
