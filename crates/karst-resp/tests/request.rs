//! The request parser against Redis 7's behaviour: pipelines, incremental input, inline
//! requests, limits and every protocol error.

use bytes::{Bytes, BytesMut};
use karst_resp::{Batch, Limits, Need, ProtocolError, RequestParser};

/// Parses `input` in one go and returns the requests and what the parser needs next.
fn parse_all(input: &[u8]) -> (Vec<Vec<Vec<u8>>>, Result<Need, ProtocolError>) {
    parse_with(Limits::default(), true, input)
}

fn parse_with(
    limits: Limits,
    authenticated: bool,
    input: &[u8],
) -> (Vec<Vec<Vec<u8>>>, Result<Need, ProtocolError>) {
    let mut parser = RequestParser::new(limits);
    parser.set_authenticated(authenticated);
    let mut batch = Batch::new();
    let mut buf = BytesMut::from(input);
    let result = parser.parse(&mut buf, &mut batch);
    (collect(&batch), result)
}

fn collect(batch: &Batch) -> Vec<Vec<Vec<u8>>> {
    batch.iter().map(|args| args.iter().map(<[u8]>::to_vec).collect()).collect()
}

fn req(args: &[&str]) -> Vec<Vec<u8>> {
    args.iter().map(|a| a.as_bytes().to_vec()).collect()
}

fn multibulk(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[test]
fn pipeline_of_multibulk_and_inline_requests() {
    let mut input = multibulk(&[b"SET", b"key", b"value"]);
    input.extend_from_slice(b"GET key\r\n");
    input.extend_from_slice(&multibulk(&[b"GET", b"key"]));
    input.extend_from_slice(b"PING\n");
    let (reqs, need) = parse_all(&input);
    assert_eq!(
        reqs,
        vec![
            req(&["SET", "key", "value"]),
            req(&["GET", "key"]),
            req(&["GET", "key"]),
            req(&["PING"])
        ]
    );
    assert_eq!(need, Ok(Need::Nothing));
}

#[test]
fn binary_arguments_and_empty_bulks() {
    let input = multibulk(&[b"SET", b"\r\n\0\xff", b""]);
    let (reqs, need) = parse_all(&input);
    assert_eq!(reqs, vec![vec![b"SET".to_vec(), b"\r\n\0\xff".to_vec(), vec![]]]);
    assert_eq!(need, Ok(Need::Nothing));
}

#[test]
fn every_split_point_gives_the_same_requests() {
    let mut input = multibulk(&[b"SET", b"k", &[b'v'; 100]]);
    input.extend_from_slice(b"ECHO \"a b\"\r\n");
    input.extend_from_slice(&multibulk(&[b"GET", b"k"]));
    let (want, _) = parse_all(&input);
    assert_eq!(want.len(), 3);
    for split in 0..=input.len() {
        let mut parser = RequestParser::new(Limits::default());
        let mut batch = Batch::new();
        let mut buf = BytesMut::from(&input[..split]);
        let mut got = Vec::new();
        parser.parse(&mut buf, &mut batch).unwrap();
        got.extend(collect(&batch));
        buf.extend_from_slice(&input[split..]);
        assert_eq!(parser.parse(&mut buf, &mut batch).unwrap(), Need::Nothing);
        got.extend(collect(&batch));
        assert_eq!(got, want, "split at {split}");
        assert!(buf.is_empty());
    }
}

#[test]
fn one_byte_at_a_time() {
    let input = multibulk(&[b"MSET", b"a", b"1", b"b", b"2"]);
    let mut parser = RequestParser::new(Limits::default());
    let mut batch = Batch::new();
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    for &byte in &input {
        buf.extend_from_slice(&[byte]);
        parser.parse(&mut buf, &mut batch).unwrap();
        got.extend(collect(&batch));
    }
    assert_eq!(got, vec![req(&["MSET", "a", "1", "b", "2"])]);
    assert!(!parser.is_pending());
}

/// A whole request in the buffer takes the parser's one-pass path; fed a byte at a time, the
/// same bytes go through its state machine. Both must agree on every request and every error,
/// for lengths written plainly and otherwise, at and past each limit.
#[test]
fn whole_and_byte_by_byte_parsing_agree() {
    let cases: &[&[u8]] = &[
        b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$8\r\n12345678\r\n",
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$9\r\n123456789\r\n",
        b"*4\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n",
        b"*1\r\n$0\r\n\r\n",
        b"*1\r\n$00\r\n\r\n",
        b"*01\r\n$1\r\na\r\n",
        b"*1\r\n$+1\r\na\r\n",
        b"*1\r\n$-1\r\n",
        b"*-1\r\n*1\r\n$1\r\na\r\n",
        b"*0\r\n*1\r\n$1\r\na\r\n",
        b"*1\r\n$1x\r\na\r\n",
        b"*1\r\n$1\rXaYZ",
        b"*1\r\n:1\r\na\r\n",
        b"*1\r\n$10000\r\na\r\n",
        b"*1\r\n$1\r\na\r\n*2\r\n$1\r\nb",
        b"*99999999999999999999\r\n",
        // One- and two-digit lengths, which the one-pass path reads from a single load.
        b"*2\r\n$2\r\nab\r\n$1\r\nc\r\n",
        b"*1\r\n$05\r\nabcde\r\n",
        b"*1\r\n$12\r\n123456789012\r\n",
        b"*1\r\n$1\nXa\r\n",
        b"*1\r\n$1a\ra\r\n",
        b"*10\r\n$1\r\na\r\n",
        b"*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\n",
    ];
    // Header lines at, under and well past the inline limit.
    let limits = [1, 2, 3, 4].map(|max_inline_len| Limits {
        max_bulk_len: 8,
        max_multibulk_len: 3,
        max_inline_len,
        ..Limits::default()
    });
    for (&input, limits) in cases.iter().flat_map(|c| limits.iter().map(move |l| (c, *l))) {
        for authenticated in [true, false] {
            let whole = parse_with(limits, authenticated, input);
            let mut parser = RequestParser::new(limits);
            parser.set_authenticated(authenticated);
            let (mut batch, mut buf, mut got) = (Batch::new(), BytesMut::new(), Vec::new());
            let mut result = Ok(Need::Nothing);
            for &byte in input {
                buf.extend_from_slice(&[byte]);
                result = parser.parse(&mut buf, &mut batch);
                got.extend(collect(&batch));
                if result.is_err() {
                    break;
                }
            }
            assert_eq!(
                (got, result),
                whole,
                "{} (inline limit {})",
                String::from_utf8_lossy(input),
                limits.max_inline_len
            );
        }
    }
}

#[test]
fn every_strict_prefix_is_incomplete() {
    for input in [
        multibulk(&[b"SET", b"key", b"value"]),
        b"PING\r\n".to_vec(),
        b"SET a \"b c\"\r\n".to_vec(),
    ] {
        for len in 0..input.len() {
            let (reqs, need) = parse_all(&input[..len]);
            assert!(reqs.is_empty(), "prefix {len} of {input:?}");
            let want = if len == 0 { Need::Nothing } else { Need::More };
            assert_eq!(need, Ok(want), "prefix {len}");
        }
    }
}

#[test]
fn arguments_are_slices_of_the_read_buffer() {
    let input = multibulk(&[b"SET", b"key", b"value"]);
    let mut buf = BytesMut::from(&input[..]);
    let base = buf.as_ptr() as usize;
    let mut parser = RequestParser::new(Limits::default());
    let mut batch = Batch::new();
    parser.parse(&mut buf, &mut batch).unwrap();
    let args = batch.get(0).unwrap();
    let value = args.bytes(2).unwrap();
    let offset = input.windows(5).position(|w| w == b"value").unwrap();
    assert_eq!(value.as_ptr() as usize, base + offset, "no copy");
    // detach() copies an argument that shares the read buffer…
    let detached = args.detach(2).unwrap();
    assert_eq!(detached, value);
    assert_ne!(detached.as_ptr(), value.as_ptr());
}

#[test]
fn zero_and_negative_multibulk_counts_are_skipped() {
    let (reqs, need) = parse_all(b"*0\r\n*-1\r\n*-7\r\nPING\r\n");
    assert_eq!(reqs, vec![req(&["PING"])]);
    assert_eq!(need, Ok(Need::Nothing));
}

#[test]
fn blank_inline_lines_are_skipped() {
    let (reqs, need) = parse_all(b"\r\n\n   \r\nPING\r\n");
    assert_eq!(reqs, vec![req(&["PING"])]);
    assert_eq!(need, Ok(Need::Nothing));
}

#[test]
fn inline_quoting_follows_redis() {
    let cases: &[(&[u8], &[&[u8]])] = &[
        (b"SET a b", &[b"SET", b"a", b"b"]),
        (b"  SET\ta   b  ", &[b"SET", b"a", b"b"]),
        (b"SET \"a b\" c", &[b"SET", b"a b", b"c"]),
        (b"ECHO \"\\x41\\n\\t\\\"\\\\\"", &[b"ECHO", b"A\n\t\"\\"]),
        (b"ECHO \"\\xZZ\"", &[b"ECHO", b"xZZ"]),
        (b"ECHO 'it\\'s'", &[b"ECHO", b"it's"]),
        (b"ECHO 'a\\nb'", &[b"ECHO", b"a\\nb"]),
        (b"ECHO a\"b c\"", &[b"ECHO", b"ab c"]),
        (b"ECHO \"\"", &[b"ECHO", b""]),
        (b"ECHO a\0b c", &[b"ECHO", b"a"]),
        (b"ECHO a\rb", &[b"ECHO", b"a", b"b"]),
    ];
    for (line, want) in cases {
        let mut input = line.to_vec();
        input.extend_from_slice(b"\r\n");
        let (reqs, need) = parse_all(&input);
        let want: Vec<Vec<u8>> = want.iter().map(|a| a.to_vec()).collect();
        assert_eq!(reqs, vec![want], "{:?}", String::from_utf8_lossy(line));
        assert_eq!(need, Ok(Need::Nothing));
    }
}

#[test]
fn unbalanced_quotes() {
    for line in [&b"ECHO \"abc"[..], b"ECHO 'abc", b"ECHO \"a\"b", b"ECHO 'a'b"] {
        let mut input = line.to_vec();
        input.extend_from_slice(b"\r\n");
        let (reqs, need) = parse_all(&input);
        assert!(reqs.is_empty());
        assert_eq!(need, Err(ProtocolError::UnbalancedQuotes), "{line:?}");
    }
}

#[test]
fn requests_before_an_error_are_kept() {
    let mut input = multibulk(&[b"SET", b"a", b"1"]);
    input.extend_from_slice(b"*1\r\n+PING\r\n");
    let (reqs, need) = parse_all(&input);
    assert_eq!(reqs, vec![req(&["SET", "a", "1"])]);
    assert_eq!(need, Err(ProtocolError::ExpectedDollar(b'+')));
}

#[test]
fn protocol_errors_have_redis_wording() {
    let big_header = format!("*1\r\n${}\r\n", 512 * 1024 * 1024 + 1);
    let cases: Vec<(Vec<u8>, ProtocolError, &str)> = vec![
        (b"*x\r\n".to_vec(), ProtocolError::InvalidMultibulkLength, "invalid multibulk length"),
        (
            b"*2147483648\r\n".to_vec(),
            ProtocolError::InvalidMultibulkLength,
            "invalid multibulk length",
        ),
        (b"*1\r\n$x\r\n".to_vec(), ProtocolError::InvalidBulkLength, "invalid bulk length"),
        (b"*1\r\n$-1\r\n".to_vec(), ProtocolError::InvalidBulkLength, "invalid bulk length"),
        (big_header.into_bytes(), ProtocolError::InvalidBulkLength, "invalid bulk length"),
        (b"*1\r\nfoo\r\n".to_vec(), ProtocolError::ExpectedDollar(b'f'), "expected '$', got 'f'"),
        (b"ECHO \"x\r\n".to_vec(), ProtocolError::UnbalancedQuotes, "unbalanced quotes in request"),
    ];
    for (input, err, text) in cases {
        let (_, need) = parse_all(&input);
        assert_eq!(need, Err(err));
        assert_eq!(err.to_string(), format!("ERR Protocol error: {text}"));
    }
}

#[test]
fn line_limits() {
    let limits = Limits { max_inline_len: 16, ..Limits::default() };
    let long = vec![b'a'; 17];
    assert_eq!(parse_with(limits, true, &long).1, Err(ProtocolError::TooBigInline));
    assert_eq!(parse_with(limits, true, &long[..16]).1, Ok(Need::More));

    let mut count = b"*".to_vec();
    count.extend_from_slice(&[b'1'; 16]);
    assert_eq!(parse_with(limits, true, &count).1, Err(ProtocolError::TooBigMultibulkCount));

    let mut bulk = b"*1\r\n$".to_vec();
    bulk.extend_from_slice(&[b'1'; 16]);
    assert_eq!(parse_with(limits, true, &bulk).1, Err(ProtocolError::TooBigBulkCount));

    assert_eq!(
        ProtocolError::TooBigInline.to_string(),
        "ERR Protocol error: too big inline request"
    );
    assert_eq!(
        ProtocolError::TooBigMultibulkCount.to_string(),
        "ERR Protocol error: too big mbulk count string"
    );
    assert_eq!(
        ProtocolError::TooBigBulkCount.to_string(),
        "ERR Protocol error: too big bulk count string"
    );
}

#[test]
fn configured_bulk_and_multibulk_limits() {
    let limits = Limits { max_bulk_len: 10, max_multibulk_len: 3, ..Limits::default() };
    assert_eq!(
        parse_with(limits, true, b"*1\r\n$10\r\n0123456789\r\n").0,
        vec![req(&["0123456789"])]
    );
    assert_eq!(parse_with(limits, true, b"*1\r\n$11\r\n").1, Err(ProtocolError::InvalidBulkLength));
    assert_eq!(parse_with(limits, true, b"*3\r\n").1, Ok(Need::More));
    assert_eq!(parse_with(limits, true, b"*4\r\n").1, Err(ProtocolError::InvalidMultibulkLength));
}

#[test]
fn unauthenticated_limits() {
    let (_, need) = parse_with(Limits::default(), false, b"*11\r\n");
    assert_eq!(need, Err(ProtocolError::UnauthenticatedMultibulkLength));
    assert_eq!(
        ProtocolError::UnauthenticatedMultibulkLength.to_string(),
        "ERR Protocol error: unauthenticated multibulk length"
    );
    let (_, need) = parse_with(Limits::default(), false, b"*1\r\n$16385\r\n");
    assert_eq!(need, Err(ProtocolError::UnauthenticatedBulkLength));
    assert_eq!(
        ProtocolError::UnauthenticatedBulkLength.to_string(),
        "ERR Protocol error: unauthenticated bulk length"
    );
    let (_, need) = parse_with(Limits::default(), false, b"*10\r\n$16384\r\n");
    assert_eq!(need, Ok(Need::More));
}

#[test]
fn a_million_element_header_allocates_nothing_up_front() {
    // The count alone must not make the parser reserve a million slots.
    let (reqs, need) = parse_all(b"*1000000\r\n$3\r\nSET\r\n");
    assert!(reqs.is_empty());
    assert_eq!(need, Ok(Need::More));
}

#[test]
fn after_an_error_the_parser_starts_clean() {
    let mut parser = RequestParser::new(Limits::default());
    let mut batch = Batch::new();
    let mut buf = BytesMut::from(&b"*1\r\n$x\r\n"[..]);
    assert!(parser.parse(&mut buf, &mut batch).is_err());
    assert!(!parser.is_pending());
    let mut buf = BytesMut::from(&b"PING\r\n"[..]);
    parser.parse(&mut buf, &mut batch).unwrap();
    assert_eq!(collect(&batch), vec![req(&["PING"])]);
}

/// Receives the payload of a large bulk out of line, as the network layer does.
#[test]
fn large_payload_out_of_line() {
    let value = vec![b'x'; 100_000];
    let mut input = multibulk(&[b"SET", b"big", &value]);
    input.extend_from_slice(&multibulk(&[b"GET", b"big"]));
    let header_end = input.windows(8).position(|w| w == b"$100000\r").unwrap() + 9;

    let mut parser = RequestParser::new(Limits::default());
    let mut batch = Batch::new();
    // The header and 1000 payload bytes have arrived.
    let mut buf = BytesMut::from(&input[..header_end + 1000]);
    let need = parser.parse(&mut buf, &mut batch).unwrap();
    assert_eq!(need, Need::Payload { len: 100_000 });
    assert!(batch.is_empty());

    let len = parser.begin_payload(&mut buf).unwrap();
    assert_eq!(len, 100_000);
    assert_eq!(buf.len(), 1000, "buf begins at the payload");
    let mut payload = Vec::with_capacity(len);
    payload.extend_from_slice(&buf.split_to(1000));
    // The rest "comes from the socket" straight into the payload buffer.
    payload.extend_from_slice(&input[header_end + 1000..header_end + len]);
    let payload = Bytes::from(payload);
    let payload_ptr = payload.as_ptr();
    parser.end_payload(payload).unwrap();

    // The CRLF and the next request arrive through the read buffer.
    buf.extend_from_slice(&input[header_end + len..]);
    assert_eq!(parser.parse(&mut buf, &mut batch).unwrap(), Need::Nothing);
    assert_eq!(batch.len(), 2);
    let set = batch.get(0).unwrap();
    assert_eq!(set.get(0), Some(&b"SET"[..]));
    assert_eq!(set.get(1), Some(&b"big"[..]));
    assert_eq!(set.get(2), Some(&value[..]));
    // The stored value is the received buffer itself.
    assert_eq!(set.detach(2).unwrap().as_ptr(), payload_ptr);
    assert_eq!(batch.get(1).unwrap().get(1), Some(&b"big"[..]));
}

#[test]
fn large_payload_may_also_arrive_through_the_buffer() {
    let value = vec![b'y'; 40_000];
    let input = multibulk(&[b"SET", b"k", &value]);
    let mut parser = RequestParser::new(Limits::default());
    let mut batch = Batch::new();
    let mut buf = BytesMut::from(&input[..100]);
    assert!(matches!(parser.parse(&mut buf, &mut batch), Ok(Need::Payload { len: 40_000 })));
    buf.extend_from_slice(&input[100..]);
    assert_eq!(parser.parse(&mut buf, &mut batch), Ok(Need::Nothing));
    assert_eq!(batch.get(0).unwrap().get(2), Some(&value[..]));
}

#[test]
fn end_payload_rejects_a_wrong_length() {
    let input = multibulk(&[b"SET", b"k", &[b'z'; 50_000]]);
    let mut parser = RequestParser::new(Limits::default());
    let mut batch = Batch::new();
    let mut buf = BytesMut::from(&input[..30]);
    parser.parse(&mut buf, &mut batch).unwrap();
    assert_eq!(parser.begin_payload(&mut buf), Some(50_000));
    assert_eq!(
        parser.end_payload(Bytes::from_static(b"short")),
        Err(ProtocolError::InvalidBulkLength)
    );
    assert!(!parser.is_pending());
}

#[test]
fn begin_payload_without_a_pending_payload_does_nothing() {
    let mut parser = RequestParser::new(Limits::default());
    let mut buf = BytesMut::from(&b"*1\r\n$3\r\nab"[..]);
    let mut batch = Batch::new();
    parser.parse(&mut buf, &mut batch).unwrap();
    assert_eq!(parser.begin_payload(&mut buf), None);
    assert_eq!(buf.len(), 10);
}

/// Fuzz regression: a `*` line longer than the limit used to be "invalid multibulk length" when it
/// arrived whole and "too big mbulk count string" when it arrived in pieces.
#[test]
fn regression_overlong_count_line_is_too_big_however_it_arrives() {
    let limits = Limits { max_inline_len: 16, ..Limits::default() };
    let mut line = b"*515515555".to_vec();
    line.extend_from_slice(&[0; 20]);
    line.extend_from_slice(b"\r\n");
    assert_eq!(parse_with(limits, true, &line).1, Err(ProtocolError::TooBigMultibulkCount));
    let mut inline = vec![b'a'; 20];
    inline.extend_from_slice(b"\r\n");
    assert_eq!(parse_with(limits, true, &inline).1, Err(ProtocolError::TooBigInline));
    let mut bulk = b"*1\r\n$1".to_vec();
    bulk.extend_from_slice(&[b'0'; 20]);
    bulk.extend_from_slice(b"\r\n");
    assert_eq!(parse_with(limits, true, &bulk).1, Err(ProtocolError::TooBigBulkCount));
}
