//! The reply parser never panics and honours its limits; what it accepts re-encodes to an equal
//! frame, and every strict prefix of an accepted frame is "incomplete".
#![no_main]

use bytes::BytesMut;
use karst_resp::{Frame, ReplyLimits, ReplyParser, peek_bulk};
use libfuzzer_sys::fuzz_target;

const LIMITS: ReplyLimits =
    ReplyLimits { max_depth: 8, max_bulk_len: 1 << 16, max_elements: 1 << 12 };

/// Equality that treats NaN as equal to itself.
fn same(a: &Frame, b: &Frame) -> bool {
    match (a, b) {
        (Frame::Double(x), Frame::Double(y)) => x == y || (x.is_nan() && y.is_nan()),
        (Frame::Array(x), Frame::Array(y))
        | (Frame::Set(x), Frame::Set(y))
        | (Frame::Push(x), Frame::Push(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Frame::Map(x), Frame::Map(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|((a, b), (c, d))| same(a, c) && same(b, d))
        }
        (
            Frame::Attribute { attributes: x, frame: f },
            Frame::Attribute { attributes: y, frame: g },
        ) => same(&Frame::Map(x.clone()), &Frame::Map(y.clone())) && same(f, g),
        _ => a == b,
    }
}

fn depth(f: &Frame) -> usize {
    match f {
        Frame::Array(x) | Frame::Set(x) | Frame::Push(x) => {
            1 + x.iter().map(depth).max().unwrap_or(0)
        }
        Frame::Map(x) => 1 + x.iter().map(|(a, b)| depth(a).max(depth(b))).max().unwrap_or(0),
        Frame::Attribute { attributes, frame } => {
            1 + attributes
                .iter()
                .map(|(a, b)| depth(a).max(depth(b)))
                .max()
                .unwrap_or(0)
                .max(depth(frame))
        }
        _ => 0,
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = peek_bulk(data, &LIMITS);
    let mut parser = ReplyParser::new(LIMITS);
    let mut buf = BytesMut::from(data);
    let Ok(Some(frame)) = parser.parse(&mut buf) else { return };
    assert!(depth(&frame) <= LIMITS.max_depth + 1);
    let used = data.len() - buf.len();
    for len in 0..used {
        let mut prefix = BytesMut::from(&data[..len]);
        assert_eq!(ReplyParser::new(LIMITS).parse(&mut prefix), Ok(None), "prefix {len}");
    }
    let mut wire = BytesMut::new();
    frame.write_to(&mut wire);
    let again = ReplyParser::new(LIMITS).parse(&mut wire).expect("re-encoded frame parses");
    assert!(again.as_ref().is_some_and(|g| same(g, &frame)), "{frame:?} became {again:?}");
    assert!(wire.is_empty());
});
