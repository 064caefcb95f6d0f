//! Shared helpers of the integration tests: a store on a mock clock, a canonical text form of
//! replies (the same as `data/record.py` prints for redis-server), and script replay.

#![allow(dead_code)]

use bytes::Bytes;
use karst_resp::{Args, Output, Protocol};
use karst_store::{Frame, MockClock, Session, Store};

pub fn store() -> (Store, MockClock) {
    let clock = MockClock::default();
    let store = Store::builder().shards(16).clock(clock.clone()).build();
    (store, clock)
}

fn escape(b: &[u8]) -> String {
    let mut s = String::new();
    for &c in b {
        match c {
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s
}

/// The canonical text of a reply.
pub fn canon(f: &Frame) -> String {
    match f {
        Frame::Simple(b) => format!("+{}", escape(b)),
        Frame::Error(b) => format!("-{}", escape(b)),
        Frame::Integer(i) => format!(":{i}"),
        Frame::Bulk(b) => format!("${}", escape(b)),
        Frame::Null | Frame::NullBulk | Frame::NullArray => "_".into(),
        Frame::Array(v) | Frame::Set(v) | Frame::Push(v) => {
            format!("[{}]", v.iter().map(canon).collect::<Vec<_>>().join(","))
        }
        Frame::Map(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{}:{}", canon(k), canon(v)))
                .collect::<Vec<_>>()
                .join(",")
        ),
        Frame::Double(d) => format!(",{d}"),
        Frame::Boolean(b) => format!("#{}", if *b { "t" } else { "f" }),
        other => format!("?{other:?}"),
    }
}

/// Splits a command line like a shell: spaces separate, "double quotes" group.
pub fn split(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut quoted, mut any) = (false, false);
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            ' ' if !quoted => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            c => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Replays a recorded script (`command<TAB>reply` lines) through one session and returns the
/// lines whose reply differs, as `command: want … got …`.
pub fn replay(store: &Store, script: &str) -> Vec<String> {
    let mut session = Session::new();
    let mut diffs = Vec::new();
    for line in script.lines() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let Some((cmd, want)) = line.split_once('\t') else { continue };
        let got = canon(&store.execute_in(&mut session, split(cmd)));
        if got != want {
            diffs.push(format!("{cmd}: want {want} got {got}"));
        }
    }
    diffs
}

/// Runs one command and returns its canonical reply.
pub fn run(store: &Store, cmd: &str) -> String {
    canon(&store.execute(split(cmd)))
}

/// Runs one command in a fresh session speaking `proto` and returns the reply's raw bytes.
pub fn raw(store: &Store, proto: Protocol, cmd: &str) -> String {
    let args: Vec<Bytes> = split(cmd).into_iter().map(Bytes::from).collect();
    let mut out = Output::new(proto);
    let _ = store.dispatch(&mut Session::new(), Args::from_slice(&args), &mut out);
    String::from_utf8_lossy(&out.take()).into_owned()
}
