//! encode∘parse is the identity: a frame built from fuzz input, written with `Frame::write_to`,
//! parses back to an equal frame; written through `Output` in RESP2 and RESP3 it parses as one
//! frame that uses the whole output.
#![no_main]

use bytes::{Bytes, BytesMut};
use karst_resp::{Frame, Output, Protocol, ReplyParser};
use libfuzzer_sys::fuzz_target;

struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        let Some((&b, rest)) = self.0.split_first() else { return 0 };
        self.0 = rest;
        b
    }
    fn bytes(&mut self) -> Bytes {
        let n = usize::from(self.byte()).min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Bytes::copy_from_slice(head)
    }
    fn line(&mut self) -> Bytes {
        let b = self.bytes();
        Bytes::from(
            b.iter().map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c }).collect::<Vec<_>>(),
        )
    }
    fn i64(&mut self) -> i64 {
        i64::from_le_bytes(std::array::from_fn(|_| self.byte()))
    }
    fn frame(&mut self, depth: usize) -> Frame {
        let kind = self.byte() % if depth > 4 { 11 } else { 16 };
        match kind {
            0 => Frame::Simple(self.line()),
            1 => Frame::Error(self.line()),
            2 => Frame::Integer(self.i64()),
            3 => Frame::Bulk(self.bytes()),
            4 => Frame::NullBulk,
            5 => Frame::NullArray,
            6 => Frame::Null,
            7 => Frame::Double(f64::from_bits(self.i64() as u64)),
            8 => Frame::Boolean(self.byte() & 1 == 1),
            9 => Frame::BigNumber(Bytes::from(self.i64().to_string())),
            10 => Frame::Verbatim { format: *b"txt", text: self.bytes() },
            11 => Frame::Array(self.items(depth)),
            12 => Frame::Set(self.items(depth)),
            13 => Frame::Push(self.items(depth)),
            14 => {
                let n = usize::from(self.byte() % 4);
                Frame::Map((0..n).map(|_| (self.frame(depth + 1), self.frame(depth + 1))).collect())
            }
            _ => {
                let n = usize::from(self.byte() % 3);
                let attributes =
                    (0..n).map(|_| (self.frame(depth + 1), self.frame(depth + 1))).collect();
                Frame::Attribute { attributes, frame: Box::new(self.frame(depth + 1)) }
            }
        }
    }
    fn items(&mut self, depth: usize) -> Vec<Frame> {
        let n = usize::from(self.byte() % 5);
        (0..n).map(|_| self.frame(depth + 1)).collect()
    }
}

fn resp3_nulls(f: &Frame) -> Frame {
    let all = |items: &[Frame]| items.iter().map(resp3_nulls).collect();
    let pairs =
        |p: &[(Frame, Frame)]| p.iter().map(|(k, v)| (resp3_nulls(k), resp3_nulls(v))).collect();
    match f {
        Frame::NullBulk | Frame::NullArray => Frame::Null,
        Frame::Array(x) => Frame::Array(all(x)),
        Frame::Set(x) => Frame::Set(all(x)),
        Frame::Push(x) => Frame::Push(all(x)),
        Frame::Map(x) => Frame::Map(pairs(x)),
        Frame::Attribute { attributes, frame } => {
            Frame::Attribute { attributes: pairs(attributes), frame: Box::new(resp3_nulls(frame)) }
        }
        other => other.clone(),
    }
}

fn same(a: &Frame, b: &Frame) -> bool {
    let (mut x, mut y) = (BytesMut::new(), BytesMut::new());
    a.write_to(&mut x);
    b.write_to(&mut y);
    x == y
}

fuzz_target!(|data: &[u8]| {
    let frame = Input(data).frame(0);
    let mut wire = BytesMut::new();
    frame.write_to(&mut wire);
    let len = wire.len();
    let parsed = ReplyParser::default().parse(&mut wire).expect("valid").expect("complete");
    assert!(wire.is_empty(), "one frame uses all {len} bytes");
    // Doubles compare by their text: NaN payloads and -0.0 print the same as RESP spells them.
    assert!(same(&parsed, &frame), "{frame:?} parsed as {parsed:?}");

    for protocol in [Protocol::Resp2, Protocol::Resp3] {
        let mut out = Output::new(protocol);
        out.frame(&frame);
        let mut bytes = BytesMut::from(&out.take()[..]);
        let got = ReplyParser::default().parse(&mut bytes).expect("valid").expect("complete");
        assert!(bytes.is_empty(), "{protocol:?}: one frame");
        if protocol == Protocol::Resp3 {
            // RESP3 output is the frame itself, with RESP3's single null for RESP2's two.
            assert!(same(&got, &resp3_nulls(&frame)), "{frame:?} went out as {got:?}");
        }
    }
});
