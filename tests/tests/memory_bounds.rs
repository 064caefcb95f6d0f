//! Memory bounds under abuse, measured as the RSS of this test process (the server runs
//! in-process). In a file of their own, and one at a time, so other tests' buffers do not count.

use std::sync::Mutex;
use std::thread;
use std::time::Duration;

use karst_tests::{TestServer, never_reading_client, rss_bytes};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

#[test]
fn a_million_element_multibulk_header_stays_bounded() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let server = TestServer::start();
    let before = rss_bytes();
    let mut w = server.wire();
    w.send(b"*1000000\r\n$1\r\na\r\n$1\r\nb\r\n");
    let mut other = server.wire();
    for _ in 0..10 {
        other.send(b"PING\r\n");
        other.expect(b"+PONG\r\n");
    }
    let grown = rss_bytes().saturating_sub(before);
    assert!(grown < 64 * 1024 * 1024, "RSS grew by {grown} bytes for a header");
    // A second one on another connection, and the first one abandoned mid-request.
    let mut w2 = server.wire();
    w2.send(b"*1048576\r\n");
    drop(w);
    other.send(b"PING\r\n");
    other.expect(b"+PONG\r\n");
}

#[test]
fn a_client_that_never_reads_holds_bounded_memory_without_limits() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let server = TestServer::start();
    let before = rss_bytes();
    // 200 MB of replies requested; the server pauses at its threshold instead of buffering them.
    let (_w, _writer) = never_reading_client(&server, 20_000, 10_000);
    let mut other = server.wire();
    for _ in 0..20 {
        other.send(b"PING\r\n");
        other.expect(b"+PONG\r\n");
        thread::sleep(Duration::from_millis(50));
    }
    let grown = rss_bytes().saturating_sub(before);
    assert!(grown < 100 * 1024 * 1024, "RSS grew by {grown} bytes");
}
