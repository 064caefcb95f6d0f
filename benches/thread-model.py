#!/usr/bin/env python3
"""Compares karst-server's thread layouts (and redis-server) under redis-benchmark.

Usage: benches/thread-model.py [CONFIGS] [DEPTHS] [REPS]
  CONFIGS  comma-separated model:threads, model in redis|reuseport|shared
           (default redis:1,reuseport:1,reuseport:2,shared:2)
  DEPTHS   comma-separated pipeline depths (default 1,16,64)
  REPS     runs per point, the median is reported (default 2)

Needs a release build (cargo build --release -p karst-server). The table in docs/design.md,
"karst-net: thread model", was produced with the defaults.
"""

import importlib.util
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("cr", os.path.join(HERE, "compare-redis.py"))
cr = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cr)

configs = [c.split(":") for c in (sys.argv[1] if len(sys.argv) > 1 else
                                  "redis:1,reuseport:1,reuseport:2,shared:2").split(",")]
depths = [int(x) for x in (sys.argv[2] if len(sys.argv) > 2 else "1,16,64").split(",")]
reps = int(sys.argv[3]) if len(sys.argv) > 3 else 2
karst_bin = os.path.join(cr.ROOT, "target", "release", "karst-server")

procs = []
for model, threads in configs:
    port = cr.free_port()
    if model == "redis":
        cmd = ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no", "--loglevel", "warning"]
    else:
        cmd = [karst_bin, "--port", str(port), "--threads", threads, "--thread-model", model, "--loglevel", "warning"]
    procs.append((f"{model}:{threads}", subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), port))
sizes = {1: 150_000, 16: 1_000_000, 64: 2_000_000}
res = {}
try:
    for _, _, port in procs:
        cr.wait_port(port)
    for d in depths:
        for t in ["set", "get"]:
            for _ in range(reps):
                for name, p, port in procs:
                    n = sizes.get(d, 1_000_000)
                    before = cr.cpu_ticks(p.pid)
                    rps, _, p99 = cr.bench(port, t, d, n)
                    cpu = (cr.cpu_ticks(p.pid) - before) * 1e6 / cr.CLK_TCK / n
                    res.setdefault((name, t, d), []).append((rps, p99, cpu))
finally:
    for _, p, _ in procs:
        p.terminate()
print("| layout | test | -P | ops/s | p99 ms | server CPU µs/req |")
print("|---|---|---:|---:|---:|---:|")
for d in depths:
    for t in ["get", "set"]:
        for name, _, _ in procs:
            v = res[(name, t, d)]
            med = [statistics.median(x[i] for x in v) for i in range(3)]
            print(f"| {name} | {t.upper()} | {d} | {med[0]:,.0f} | {med[1]:.2f} | {med[2]:.2f} |")
