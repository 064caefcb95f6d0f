//! karst-resp throughput: parsing pipelines of SET/GET requests and large bulks, and encoding
//! their replies.
//!
//! `cargo bench -p karst-benches --bench resp`

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use karst_resp::{Batch, Limits, Need, Output, Protocol, RequestParser};

fn multibulk(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// `n` requests as redis-benchmark sends them: 16-byte keys, 64-byte values.
fn pipeline(n: usize, set: bool) -> Vec<u8> {
    let value = [b'x'; 64];
    let mut out = Vec::new();
    for i in 0..n {
        let key = format!("key:{i:012}");
        if set {
            multibulk(&mut out, &[b"SET", key.as_bytes(), &value]);
        } else {
            multibulk(&mut out, &[b"GET", key.as_bytes()]);
        }
    }
    out
}

fn parse_pipelines(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    for (name, set) in [("set", true), ("get", false)] {
        for depth in [1, 16, 64] {
            let input = pipeline(depth, set);
            group.throughput(Throughput::Elements(depth as u64));
            let mut parser = RequestParser::new(Limits::default());
            let mut batch = Batch::new();
            group.bench_function(format!("{name}/pipeline-{depth}"), |b| {
                b.iter_batched_ref(
                    || BytesMut::from(&input[..]),
                    |buf| {
                        let need = parser.parse(buf, &mut batch).unwrap();
                        assert_eq!(batch.len(), depth);
                        black_box((need, batch.get(0).unwrap().get(1)));
                    },
                    BatchSize::SmallInput,
                );
            });
        }
    }
    group.finish();
}

fn parse_large(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse-large");
    group.sample_size(20);
    for mb in [4, 32] {
        let value = vec![b'v'; mb << 20];
        let mut input = Vec::new();
        multibulk(&mut input, &[b"SET", b"chunk", &value]);
        group.throughput(Throughput::Bytes(input.len() as u64));
        // The whole request already buffered: the parser only checks lengths.
        // (Buffers are made and freed outside the timed part: freeing 32 MB is not parsing.)
        let mut parser = RequestParser::new(Limits::default());
        group.bench_function(format!("{mb}MB/buffered"), |b| {
            b.iter_batched(
                || (BytesMut::from(&input[..]), Batch::new()),
                |(mut buf, mut batch)| {
                    parser.parse(&mut buf, &mut batch).unwrap();
                    black_box(batch.get(0).unwrap().get(2).map(<[u8]>::len));
                    (buf, batch)
                },
                BatchSize::LargeInput,
            );
        });
        let mut batch = Batch::new();
        // Out of line: the header arrives, the payload lands in its own buffer, which the
        // request then holds without a copy.
        let header_len = input.len() - value.len() - 2;
        let payload = Bytes::from(value.clone());
        group.bench_function(format!("{mb}MB/out-of-line"), |b| {
            b.iter(|| {
                let mut buf = BytesMut::from(&input[..header_len]);
                let need = parser.parse(&mut buf, &mut batch).unwrap();
                assert_eq!(need, Need::Payload { len: value.len() });
                parser.begin_payload(&mut buf).unwrap();
                parser.end_payload(payload.clone()).unwrap();
                buf.extend_from_slice(b"\r\n");
                parser.parse(&mut buf, &mut batch).unwrap();
                black_box(batch.get(0).unwrap().get(2).map(<[u8]>::len));
            });
        });
    }
    group.finish();
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    let value = Bytes::from(vec![b'x'; 64]);
    for depth in [1, 16, 64] {
        group.throughput(Throughput::Elements(depth as u64));
        let mut out = Output::new(Protocol::Resp2);
        group.bench_function(format!("get-reply/pipeline-{depth}"), |b| {
            b.iter(|| {
                for _ in 0..depth {
                    out.bulk_shared(black_box(&value));
                }
                black_box(out.len());
                out.clear();
            });
        });
        group.bench_function(format!("set-reply/pipeline-{depth}"), |b| {
            b.iter(|| {
                for _ in 0..depth {
                    out.ok();
                }
                black_box(out.len());
                out.clear();
            });
        });
    }
    for mb in [4, 32] {
        let value = Bytes::from(vec![b'v'; mb << 20]);
        group.throughput(Throughput::Bytes(value.len() as u64));
        let mut out = Output::new(Protocol::Resp2);
        group.bench_function(format!("{mb}MB/by-reference"), |b| {
            b.iter(|| {
                out.bulk_shared(black_box(&value));
                black_box(out.len());
                out.clear();
            });
        });
        group.bench_function(format!("{mb}MB/copied"), |b| {
            b.iter(|| {
                out.bulk(black_box(&value[..]));
                black_box(out.len());
                out.clear();
            });
        });
    }
    group.finish();
}

criterion_group!(benches, parse_pipelines, parse_large, encode);
criterion_main!(benches);
