//! Rough single-thread speed of `Store::dispatch` for pipelined SET and GET (no network).
//! `cargo run --release -p karst-store --example dispatch_speed`

use std::time::Instant;

use bytes::BytesMut;
use karst_resp::{Batch, Limits, Output, Protocol, RequestParser};
use karst_store::{Session, Store};

const KEYS: usize = 100_000;

fn main() {
    let store = Store::new();
    let n = 1_000_000;
    for (cmd, has_value) in [("SET", true), ("GET", false)] {
        let mut buf = BytesMut::new();
        for i in 0..n {
            let key = format!("key:{:012}", i % KEYS);
            if has_value {
                let v = "v".repeat(32);
                buf.extend_from_slice(
                    format!("*3\r\n$3\r\n{cmd}\r\n${}\r\n{key}\r\n$32\r\n{v}\r\n", key.len())
                        .as_bytes(),
                );
            } else {
                buf.extend_from_slice(
                    format!("*2\r\n$3\r\n{cmd}\r\n${}\r\n{key}\r\n", key.len()).as_bytes(),
                );
            }
        }
        let mut parser = RequestParser::new(Limits::default());
        let mut batch = Batch::new();
        let mut out = Output::new(Protocol::Resp2);
        let mut session = Session::new();
        let t = Instant::now();
        let mut done = 0;
        while done < n {
            batch.clear();
            parser.parse(&mut buf, &mut batch).expect("valid requests");
            for args in batch.iter() {
                store.dispatch(&mut session, args, &mut out);
            }
            done += batch.len();
            out.clear();
        }
        let el = t.elapsed();
        println!("{cmd}: {:.0} ns/op", el.as_nanos() as f64 / n as f64);
    }
}
