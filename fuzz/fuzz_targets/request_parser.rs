//! The request parser never panics, honours its limits, and gives the same requests however the
//! input is split across reads; what it accepts re-encodes to requests it parses the same way.
#![no_main]

use bytes::{BufMut, BytesMut};
use karst_resp::{Batch, Limits, Need, ProtocolError, RequestParser};
use libfuzzer_sys::fuzz_target;

type Requests = Vec<Vec<Vec<u8>>>;

const LIMITS: Limits =
    Limits { max_bulk_len: 4096, max_multibulk_len: 64, max_inline_len: 256, large_bulk_min: 128 };

/// Feeds `input` in pieces of the given sizes (cycled); receives announced large payloads out of
/// line when `out_of_line` is set.
fn run(input: &[u8], pieces: &[u8], out_of_line: bool) -> (Requests, Result<(), ProtocolError>) {
    run_with(LIMITS, input, pieces, out_of_line)
}

fn run_with(
    limits: Limits,
    input: &[u8],
    pieces: &[u8],
    out_of_line: bool,
) -> (Requests, Result<(), ProtocolError>) {
    let mut parser = RequestParser::new(limits);
    let mut batch = Batch::new();
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    let mut fed = 0;
    let mut piece = 0;
    loop {
        let step = if pieces.is_empty() {
            input.len()
        } else {
            usize::from(pieces[piece % pieces.len()]) + 1
        };
        piece += 1;
        let end = (fed + step).min(input.len());
        buf.extend_from_slice(&input[fed..end]);
        fed = end;
        let need = parser.parse(&mut buf, &mut batch);
        for args in batch.iter() {
            assert!(!args.is_empty(), "requests have a command name");
            assert!(args.len() <= LIMITS.max_multibulk_len.max(LIMITS.max_inline_len));
            for arg in args.iter() {
                assert!(arg.len() <= LIMITS.max_bulk_len.max(LIMITS.max_inline_len));
            }
            got.push(args.iter().map(<[u8]>::to_vec).collect());
        }
        match need {
            Err(e) => return (got, Err(e)),
            Ok(Need::Payload { len }) if out_of_line => {
                assert!(len >= LIMITS.large_bulk_min && len <= LIMITS.max_bulk_len);
                let Some(n) = parser.begin_payload(&mut buf) else { continue };
                assert_eq!(n, len);
                // Take what is buffered, then the rest "from the socket".
                let mut payload = Vec::with_capacity(len);
                let have = buf.len().min(len);
                payload.extend_from_slice(&buf.split_to(have));
                let more = (len - payload.len()).min(input.len() - fed);
                payload.extend_from_slice(&input[fed..fed + more]);
                fed += more;
                if payload.len() < len {
                    return (got, Ok(())); // the input ended inside the payload
                }
                parser.end_payload(payload.into()).expect("exact length");
            }
            Ok(_) if fed == input.len() => return (got, Ok(())),
            Ok(_) => {}
        }
    }
}

fn encode(requests: &Requests) -> Vec<u8> {
    let mut out = BytesMut::new();
    for req in requests {
        out.put_slice(format!("*{}\r\n", req.len()).as_bytes());
        for arg in req {
            out.put_slice(format!("${}\r\n", arg.len()).as_bytes());
            out.put_slice(arg);
            out.put_slice(b"\r\n");
        }
    }
    out.to_vec()
}

fuzz_target!(|data: &[u8]| {
    let (pieces, input) = match data.split_first() {
        Some((&n, rest)) => rest.split_at((usize::from(n) % 8).min(rest.len())),
        None => return,
    };
    let whole = run(input, &[], false);
    let split = run(input, pieces, false);
    let out_of_line = run(input, pieces, true);
    assert_eq!(whole, split, "splitting the input changes the result");
    assert_eq!(whole, out_of_line, "receiving payloads out of line changes the result");
    // Whatever was accepted re-encodes as multibulk requests that parse the same way.
    // (An inline request may have more arguments than the multibulk limit, which counts `*n`.)
    let relaxed = Limits { max_multibulk_len: LIMITS.max_inline_len, ..LIMITS };
    let again = run_with(relaxed, &encode(&whole.0), &[], false);
    assert_eq!(again, (whole.0, Ok(())));
});
