// Large values: take + fill + freeze + drop of a pooled buffer against a fresh `Vec` each
// time, as bytes/s. Run: `cargo bench -p karst-mem --bench pool -- --warm-up-time 1
// --measurement-time 3` (and `--bench pool_mimalloc` for the same under mimalloc).

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use karst_mem::LargePool;

fn large_values(c: &mut Criterion) {
    let src = vec![0xA5u8; 32 << 20];
    let pool = LargePool::new(256 << 20);
    for size in [4usize << 20, 32 << 20] {
        let src = &src[..size];
        let mut g = c.benchmark_group(format!("large/{}MiB", size >> 20));
        g.throughput(Throughput::Bytes(size as u64));
        g.sample_size(20);
        g.bench_function("pool_take_fill_freeze_drop", |b| {
            b.iter(|| {
                let mut buf = pool.take(size);
                buf.fill_from_slice(src);
                drop(black_box(buf.freeze()));
            })
        });
        g.bench_function("vec_zeroed_copy_drop", |b| {
            b.iter(|| {
                let mut v = vec![0u8; size];
                v.copy_from_slice(src);
                drop(black_box(Bytes::from(v)));
            })
        });
        g.bench_function("vec_with_capacity_extend_drop", |b| {
            b.iter(|| {
                let mut v = Vec::with_capacity(size);
                v.extend_from_slice(src);
                drop(black_box(Bytes::from(v)));
            })
        });
        g.finish();
    }

    // The same 32 MiB round trip after 20 ms of idleness (not timed), as between the large SETs
    // of a real server: an allocator may purge (madvise) what it cached in the meantime.
    let size = 32usize << 20;
    let src = &src[..size];
    let mut g = c.benchmark_group("large_after_idle/32MiB");
    g.throughput(Throughput::Bytes(size as u64));
    g.sample_size(10);
    let idle = Duration::from_millis(20);
    g.bench_function("pool_take_fill_freeze_drop", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                std::thread::sleep(idle);
                let t = Instant::now();
                let mut buf = pool.take(size);
                buf.fill_from_slice(src);
                drop(black_box(buf.freeze()));
                total += t.elapsed();
            }
            total
        })
    });
    g.bench_function("vec_with_capacity_extend_drop", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                std::thread::sleep(idle);
                let t = Instant::now();
                let mut v = Vec::with_capacity(size);
                v.extend_from_slice(src);
                drop(black_box(Bytes::from(v)));
                total += t.elapsed();
            }
            total
        })
    });
    g.finish();
}

criterion_group!(benches, large_values);
criterion_main!(benches);
