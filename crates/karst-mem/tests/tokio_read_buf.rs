//! The network path: a payload read from an async stream straight into a pooled buffer with
//! tokio's `read_buf` (no zeroing, no copy), then frozen into the `Bytes` the store keeps.

use karst_mem::LargePool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test(flavor = "current_thread")]
async fn payload_from_a_stream_into_a_pooled_buffer() {
    let pool = LargePool::new(1 << 20);
    let payload: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
    let (mut client, mut server) = tokio::io::duplex(4096);
    let sent = payload.clone();
    let writer = tokio::spawn(async move { client.write_all(&sent).await.unwrap() });

    // As the connection would: the first bytes were already in its read buffer.
    let mut buf = pool.take(payload.len());
    let mut head = [0u8; 10];
    server.read_exact(&mut head).await.unwrap();
    buf.fill_from_slice(&head);
    while !buf.is_full() {
        let n = server.read_buf(&mut buf).await.unwrap();
        assert!(n > 0, "early end of stream");
    }
    writer.await.unwrap();

    let value = buf.freeze();
    assert_eq!(value, payload);
    drop(value);
    assert_eq!(pool.stats().idle_bytes, 40 * 1024, "back in the pool (class of 40 KiB)");
}
