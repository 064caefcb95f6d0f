//! Large-value throughput of karst-client against any Redis-compatible server.
//!
//! ```text
//! cargo run --release -p karst-client --example bulk -- --port 6379 --size 33554432 --count 64
//! ```
//!
//! Writes `count` values of `size` bytes with `set_many`, then reads them back with
//! `get_many_into` into preallocated buffers (batches of `batch` keys, tiled over `connections`
//! connections), and also one key at a time with `get_into` on `threads` threads. Prints one
//! line per phase: `phase bytes seconds GB/s`.

use std::time::Instant;

use karst_client::{Client, Config};

fn arg(args: &[String], name: &str, default: usize) -> usize {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn report(phase: &str, bytes: usize, secs: f64) {
    println!("{phase:<28} {bytes:>12} B {secs:>8.3} s {:>7.2} GB/s", bytes as f64 / secs / 1e9);
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let host = args
        .iter()
        .position(|a| a == "--host")
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| "127.0.0.1".into());
    let port = arg(&args, "--port", 6379) as u16;
    let size = arg(&args, "--size", 32 << 20);
    let count = arg(&args, "--count", 32);
    let connections = arg(&args, "--connections", 8);
    let batch = arg(&args, "--batch", 16).max(1);
    let threads = arg(&args, "--threads", 4).max(1);
    let rounds = arg(&args, "--rounds", 3).max(1);

    let client = Client::connect(Config::new(host, port).connections(connections))?;
    let keys: Vec<String> = (0..count).map(|i| format!("bulk:{size}:{i}")).collect();
    let value: Vec<u8> = (0..size).map(|i| (i as u8).wrapping_mul(13)).collect();
    let values: Vec<&[u8]> = (0..count).map(|_| &value[..]).collect();
    let mut bufs: Vec<Vec<u8>> = (0..batch.min(count)).map(|_| vec![1u8; size]).collect();
    let total = size * count;
    println!("# {count} values of {size} bytes, {connections} connections, batches of {batch}");

    for _ in 0..rounds {
        let t = Instant::now();
        for (ks, vs) in keys.chunks(batch).zip(values.chunks(batch)) {
            client.set_many(ks, vs)?;
        }
        report("SET set_many", total, t.elapsed().as_secs_f64());
    }
    for _ in 0..rounds {
        let t = Instant::now();
        for ks in keys.chunks(batch) {
            let mut refs: Vec<&mut [u8]> =
                bufs.iter_mut().take(ks.len()).map(|b| &mut b[..]).collect();
            for r in client.get_many_into(ks, &mut refs)? {
                if r? != Some(size) {
                    return Err("a value is missing or of the wrong size".into());
                }
            }
        }
        report("GET get_many_into", total, t.elapsed().as_secs_f64());
    }
    if bufs[0] != value {
        return Err("the value read back differs".into());
    }
    for _ in 0..rounds {
        let t = Instant::now();
        std::thread::scope(|s| {
            for th in 0..threads {
                let (client, keys) = (&client, &keys);
                s.spawn(move || {
                    let mut buf = vec![0u8; size];
                    for k in keys.iter().skip(th).step_by(threads) {
                        let _ = client.get_into(k, &mut buf);
                    }
                });
            }
        });
        report(&format!("GET get_into x{threads} threads"), total, t.elapsed().as_secs_f64());
    }
    for _ in 0..rounds.min(2) {
        let t = Instant::now();
        let mut buf = vec![0u8; size];
        for k in &keys {
            client.get_into(k, &mut buf)?;
        }
        report("GET get_into 1 thread", total, t.elapsed().as_secs_f64());
    }
    client.del_many(&keys)?;
    Ok(())
}
