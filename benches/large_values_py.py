#!/usr/bin/env python3
"""karst's Python client against redis-py, side by side, on one server.

    python3 benches/large_values_py.py --port 6379 [--chunks 100] [--chunk-mb 32] [--threads 4]

1. Large values: `--chunks` chunks of `--chunk-mb` MB. SET, then GET into a preallocated buffer:
   karst (`mget_into` in batches; `get` from threads) vs redis-py (`get` + copy into the buffer,
   as LMCache's redis connector does; one thread and `--threads` threads).
2. Batches of 64 and 128 keys with values of 512 B–8 KB: latency percentiles of one batch GET
   (and SET) — karst `mget_into`/`mset` vs redis-py one call per key vs redis-py pipelines.

Prints Markdown tables. Timings are wall-clock on a shared machine: compare rows of one run.
"""

from __future__ import annotations

import argparse
import random
import statistics
import threading
import time

import karst
import redis

MB = 1 << 20


def gbps(nbytes: int, secs: float) -> float:
    return nbytes / secs / 1e9


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def large_values(port: int, chunks: int, chunk: int, threads: int, rounds: int, connections: int):
    kc = karst.RedisClient("127.0.0.1", port, connections=connections)
    rp = redis.Redis(host="127.0.0.1", port=port, max_connections=threads * 2)
    keys = [f"lv:{i}" for i in range(chunks)]
    payload = bytearray(random.randbytes(chunk))
    batch = min(16, chunks)
    bufs = [bytearray(chunk) for _ in range(batch)]
    total = chunks * chunk

    def karst_set():
        for i in range(0, chunks, batch):
            kc.mset(keys[i : i + batch], [payload] * len(keys[i : i + batch]))

    def redis_set():
        for k in keys:
            rp.set(k, payload)

    def karst_mget():
        for i in range(0, chunks, batch):
            ks = keys[i : i + batch]
            got = kc.mget_into(ks, bufs[: len(ks)])
            assert all(n == chunk for n in got)

    def run_threads(fn):
        ts = [threading.Thread(target=fn, args=(t,)) for t in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()

    def karst_get_threads():
        def work(t):
            buf = bytearray(chunk)
            for k in keys[t::threads]:
                assert kc.get(k, buf) == chunk

        run_threads(work)

    def redis_get_one():
        buf = memoryview(bytearray(chunk))
        for k in keys:
            v = rp.get(k)
            buf[: len(v)] = v

    def redis_get_threads():
        def work(t):
            buf = memoryview(bytearray(chunk))
            for k in keys[t::threads]:
                v = rp.get(k)
                buf[: len(v)] = v

        run_threads(work)

    # One untimed pass first: the server's memory grows once, not in whichever client runs first.
    karst_set()
    redis_get_one()
    cases = [
        ("SET", "karst mset (batches of %d)" % batch, karst_set),
        ("SET", "redis-py set, 1 thread", redis_set),
        ("GET", "karst mget_into (batches of %d)" % batch, karst_mget),
        ("GET", "karst get into buffer, %d threads" % threads, karst_get_threads),
        ("GET", "redis-py get + copy, 1 thread", redis_get_one),
        ("GET", "redis-py get + copy, %d threads" % threads, redis_get_threads),
    ]
    best = {name: float("inf") for _, name, _ in cases}
    for _ in range(rounds):  # rounds interleave the clients, so drifting load hits all alike
        for _, name, fn in cases:
            best[name] = min(best[name], timed(fn))
    rows = [(op, name, gbps(total, best[name])) for op, name, _ in cases]
    kc.delete_many(keys)
    kc.close()
    rp.close()
    return rows


def pct(samples, p):
    s = sorted(samples)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def batches(port: int, sizes, iters: int):
    kc = karst.RedisClient("127.0.0.1", port, connections=8)
    rp = redis.Redis(host="127.0.0.1", port=port)
    rng = random.Random(7)
    out = []
    for n in sizes:
        keys = [f"bt:{n}:{i}" for i in range(n)]
        vals = [rng.randbytes(rng.randint(512, 8192)) for _ in range(n)]
        bufs = [bytearray(8192) for _ in range(n)]
        kc.mset(keys, vals)

        def k_get():
            kc.mget_into(keys, bufs)

        def k_set():
            kc.mset(keys, vals)

        def r_get_each():
            for k in keys:
                rp.get(k)

        def r_set_each():
            for k, v in zip(keys, vals):
                rp.set(k, v)

        def r_get_pipe():
            p = rp.pipeline(transaction=False)
            for k in keys:
                p.get(k)
            p.execute()

        def r_set_pipe():
            p = rp.pipeline(transaction=False)
            for k, v in zip(keys, vals):
                p.set(k, v)
            p.execute()

        def r_mget():
            rp.mget(keys)

        for op, name, fn in [
            ("GET", "karst mget_into", k_get),
            ("GET", "redis-py pipeline", r_get_pipe),
            ("GET", "redis-py MGET", r_mget),
            ("GET", "redis-py one call per key", r_get_each),
            ("SET", "karst mset", k_set),
            ("SET", "redis-py pipeline", r_set_pipe),
            ("SET", "redis-py one call per key", r_set_each),
        ]:
            for _ in range(max(3, iters // 20)):
                fn()  # warm up connections
            samples = [timed(fn) * 1e6 for _ in range(iters)]
            out.append((n, op, name, pct(samples, 50), pct(samples, 95), pct(samples, 99)))
        kc.delete_many(keys)
    kc.close()
    rp.close()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=6379)
    ap.add_argument("--label", default="redis-server")
    ap.add_argument("--chunks", type=int, default=100)
    ap.add_argument("--chunk-mb", type=int, default=32)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--iters", type=int, default=300)
    ap.add_argument("--skip-large", action="store_true")
    ap.add_argument("--skip-batches", action="store_true")
    a = ap.parse_args()

    if not a.skip_large:
        rows = large_values(a.port, a.chunks, a.chunk_mb * MB, a.threads, a.rounds, a.connections)
        print(f"\n#### Python, {a.chunks} chunks of {a.chunk_mb} MB, {a.label} (best of {a.rounds})\n")
        print("| op | client | GB/s |\n|---|---|---:|")
        for op, name, v in rows:
            print(f"| {op} | {name} | {v:.2f} |")
        get = {name: v for op, name, v in rows if op == "GET"}
        best_k = max(v for n, v in get.items() if n.startswith("karst"))
        best_r = max(v for n, v in get.items() if n.startswith("redis-py"))
        r1 = get["redis-py get + copy, 1 thread"]
        print(f"\nGET: best karst / best redis-py = {best_k / best_r:.1f}x; best karst / redis-py 1 thread = {best_k / r1:.1f}x")
    if not a.skip_batches:
        rows = batches(a.port, (64, 128), a.iters)
        print(f"\n#### Python, batch latency, values of 512 B–8 KB, {a.label} ({a.iters} batches each)\n")
        print("| keys | op | client | p50 µs | p95 µs | p99 µs |\n|---:|---|---|---:|---:|---:|")
        for n, op, name, p50, p95, p99 in rows:
            print(f"| {n} | {op} | {name} | {p50:.0f} | {p95:.0f} | {p99:.0f} |")


if __name__ == "__main__":
    main()
