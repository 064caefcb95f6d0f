//! The reply parser and the frame encoder: every RESP3 type, round trips, prefixes, limits.

use bytes::{Bytes, BytesMut};
use karst_resp::{Frame, Head, Output, Protocol, ReplyError, ReplyLimits, ReplyParser, peek_bulk};

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// One frame of every type, nested.
fn every_type() -> Vec<Frame> {
    vec![
        Frame::Simple(b("OK")),
        Frame::Error(b("ERR something bad")),
        Frame::Integer(-42),
        Frame::Integer(i64::MIN),
        Frame::Bulk(b("hello\r\nworld")),
        Frame::Bulk(Bytes::new()),
        Frame::NullBulk,
        Frame::NullArray,
        Frame::Null,
        Frame::Array(vec![]),
        Frame::Array(vec![Frame::Integer(1), Frame::Array(vec![Frame::Null, Frame::bulk("x")])]),
        Frame::Map(vec![
            (Frame::simple("key"), Frame::Double(1.5)),
            (Frame::Integer(2), Frame::Null),
        ]),
        Frame::Set(vec![Frame::bulk("a"), Frame::bulk("b")]),
        Frame::Double(1.1),
        Frame::Double(f64::INFINITY),
        Frame::Double(f64::NEG_INFINITY),
        Frame::Double(-0.0),
        Frame::Double(1e300),
        Frame::Boolean(true),
        Frame::Boolean(false),
        Frame::BigNumber(b("-3492890328409238509324850943850943825024385")),
        Frame::Verbatim { format: *b"txt", text: b("Some string") },
        Frame::Push(vec![Frame::bulk("message"), Frame::bulk("chan"), Frame::bulk("hi")]),
        Frame::Attribute {
            attributes: vec![(Frame::simple("ttl"), Frame::Integer(3600))],
            frame: Box::new(Frame::Array(vec![Frame::Integer(1)])),
        },
    ]
}

fn encode(frame: &Frame) -> Vec<u8> {
    let mut buf = BytesMut::new();
    frame.write_to(&mut buf);
    buf.to_vec()
}

#[test]
fn every_type_round_trips() {
    for frame in every_type() {
        let wire = encode(&frame);
        let mut buf = BytesMut::from(&wire[..]);
        let got = ReplyParser::default().parse(&mut buf).unwrap();
        assert_eq!(got.as_ref(), Some(&frame), "{}", String::from_utf8_lossy(&wire));
        assert!(buf.is_empty());
        assert_eq!(encode(&frame), wire, "write_to is deterministic");
    }
}

#[test]
fn nan_round_trips_as_nan() {
    let wire = encode(&Frame::Double(f64::NAN));
    assert_eq!(wire, b",nan\r\n");
    let got = ReplyParser::default().parse(&mut BytesMut::from(&wire[..])).unwrap();
    assert!(matches!(got, Some(Frame::Double(d)) if d.is_nan()));
}

#[test]
fn every_strict_prefix_is_incomplete() {
    for frame in every_type() {
        let wire = encode(&frame);
        for len in 0..wire.len() {
            let mut parser = ReplyParser::default();
            let mut buf = BytesMut::from(&wire[..len]);
            assert_eq!(parser.parse(&mut buf), Ok(None), "{:?} prefix {len}", frame);
            assert_eq!(buf.len(), len, "nothing consumed");
            // Completing the buffer then yields the frame.
            buf.extend_from_slice(&wire[len..]);
            assert_eq!(parser.parse(&mut buf).unwrap().as_ref(), Some(&frame));
        }
    }
}

#[test]
fn frames_back_to_back() {
    let mut wire = Vec::new();
    for frame in every_type() {
        wire.extend_from_slice(&encode(&frame));
    }
    let mut buf = BytesMut::from(&wire[..]);
    let mut parser = ReplyParser::default();
    let mut got = Vec::new();
    while let Some(frame) = parser.parse(&mut buf).unwrap() {
        got.push(frame);
    }
    assert_eq!(got, every_type());
}

#[test]
fn bulk_payloads_are_slices_of_the_buffer() {
    let wire = b"$5\r\nhello\r\n";
    let mut buf = BytesMut::from(&wire[..]);
    let base = buf.as_ptr() as usize;
    let Some(Frame::Bulk(payload)) = ReplyParser::default().parse(&mut buf).unwrap() else {
        panic!("not a bulk");
    };
    assert_eq!(payload.as_ptr() as usize, base + 4);
}

#[test]
fn invalid_replies() {
    let cases: &[(&[u8], ReplyError)] = &[
        (b"?x\r\n", ReplyError::UnknownType(b'?')),
        (b":12a\r\n", ReplyError::InvalidInteger),
        (b",1.5x\r\n", ReplyError::InvalidDouble),
        (b"#x\r\n", ReplyError::InvalidValue),
        (b"_x\r\n", ReplyError::InvalidValue),
        (b"$-2\r\n", ReplyError::InvalidLength),
        (b"$3\r\nabcde", ReplyError::MissingCrlf),
        (b"+OK\rx", ReplyError::MissingCrlf),
        (b"~-1\r\n", ReplyError::InvalidLength),
        (b"=2\r\nab\r\n", ReplyError::InvalidLength),
        (b"=5\r\ntxtab\r\n", ReplyError::MissingCrlf),
        (b"(12a\r\n", ReplyError::InvalidInteger),
    ];
    for (wire, err) in cases {
        let got = ReplyParser::default().parse(&mut BytesMut::from(&wire[..]));
        assert_eq!(got, Err(*err), "{}", String::from_utf8_lossy(wire));
    }
}

#[test]
fn nesting_is_bounded() {
    let limits = ReplyLimits { max_depth: 3, ..ReplyLimits::default() };
    let mut parser = ReplyParser::new(limits);
    assert!(matches!(
        parser.parse(&mut BytesMut::from(&b"*1\r\n*1\r\n*1\r\n:1\r\n"[..])),
        Ok(Some(_))
    ));
    let deep = b"*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n";
    assert_eq!(parser.parse(&mut BytesMut::from(&deep[..])), Err(ReplyError::TooDeep));
    // Deep nesting with the default limit fails cleanly instead of overflowing the stack.
    let mut wire = b"*1\r\n".repeat(100_000);
    wire.extend_from_slice(b":1\r\n");
    assert_eq!(
        ReplyParser::default().parse(&mut BytesMut::from(&wire[..])),
        Err(ReplyError::TooDeep)
    );
}

#[test]
fn element_and_bulk_limits() {
    let limits = ReplyLimits { max_elements: 2, max_bulk_len: 4, ..ReplyLimits::default() };
    let mut parser = ReplyParser::new(limits);
    assert_eq!(parser.parse(&mut BytesMut::from(&b"*3\r\n"[..])), Err(ReplyError::InvalidLength));
    assert_eq!(parser.parse(&mut BytesMut::from(&b"$5\r\n"[..])), Err(ReplyError::InvalidLength));
    // A huge announced aggregate allocates nothing before its elements arrive.
    let mut parser = ReplyParser::default();
    assert_eq!(parser.parse(&mut BytesMut::from(&b"*2000000000\r\n:1\r\n"[..])), Ok(None));
}

#[test]
fn peek_bulk_reads_only_the_header() {
    let limits = ReplyLimits::default();
    assert_eq!(
        peek_bulk(b"$1048576\r\nabc", &limits),
        Ok(Some(Head::Bulk { len: 1_048_576, header: 10 }))
    );
    assert_eq!(peek_bulk(b"$10", &limits), Ok(None));
    assert_eq!(peek_bulk(b"", &limits), Ok(None));
    assert_eq!(peek_bulk(b"$-1\r\n", &limits), Ok(Some(Head::Other)));
    assert_eq!(peek_bulk(b"_\r\n", &limits), Ok(Some(Head::Other)));
    assert_eq!(peek_bulk(b"-ERR x\r\n", &limits), Ok(Some(Head::Other)));
    assert_eq!(peek_bulk(b"$x\r\n", &limits), Err(ReplyError::InvalidLength));
}

#[test]
fn output_replies_parse_back_in_both_protocols() {
    for protocol in [Protocol::Resp2, Protocol::Resp3] {
        let mut out = Output::new(protocol);
        for frame in every_type() {
            out.frame(&frame);
        }
        let wire = out.take();
        let mut buf = BytesMut::from(&wire[..]);
        let mut parser = ReplyParser::default();
        let mut n = 0;
        while let Some(frame) = parser.parse(&mut buf).unwrap() {
            if protocol == Protocol::Resp2 {
                assert!(
                    !matches!(
                        frame,
                        Frame::Map(_)
                            | Frame::Set(_)
                            | Frame::Double(_)
                            | Frame::Null
                            | Frame::Boolean(_)
                    ),
                    "RESP2 output has no RESP3 types: {frame:?}"
                );
            }
            n += 1;
        }
        assert_eq!(n, every_type().len(), "{protocol:?}");
        assert!(buf.is_empty());
    }
}

/// Fuzz regression: a blob error holding CR LF was written back as a `-` line, which ended early.
#[test]
fn regression_blob_error_with_crlf_round_trips() {
    let wire = b"!8\r\nERR a\r\nb\r\n";
    let frame = ReplyParser::default().parse(&mut BytesMut::from(&wire[..])).unwrap().unwrap();
    assert_eq!(frame, Frame::Error(b("ERR a\r\nb")));
    assert_eq!(encode(&frame), wire);
    let plain = Frame::Error(b("ERR plain"));
    assert_eq!(encode(&plain), b"-ERR plain\r\n");
}
