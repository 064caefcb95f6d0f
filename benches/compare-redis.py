#!/usr/bin/env python3
"""Side-by-side throughput of karst-server and redis-server, measured in one run.

Starts redis-server and karst-server (release build) on spare ports, then runs

    redis-benchmark -c 50 -r 1000000 -d 64 -t <test> -P <depth> -n <n> --csv

for each test (SET and GET by default; --tests picks others, e.g. the collection tests
lpush,rpop,sadd,hset,zadd,lrange_100) and depth (1, 16, 64 by default), interleaved
(redis, karst, redis, karst, ...),
REPS times each. Reports the median ops/s, p50/p99 latency and each server's CPU time per
request (utime+stime from /proc/PID/stat before and after each run), prints a markdown table
with karst/redis ratios (of the medians; the range of each rep's CPU ratio to the redis run
beside it; and, from 5 reps, those ratios' median with a 95% bootstrap interval), and with
--svg PATH writes an SVG chart. A second table splits each
server's CPU into user and system time and counts how often its threads went to sleep
(voluntary context switches, from /proc/PID/task/*/status): the server that keeps up with
redis-benchmark sleeps and wakes in epoll_wait, the one that falls behind never does.

LRANGE_100 is run as redis-benchmark's custom command `LRANGE mylist 0 99` after an unmeasured
LPUSH fill, so its CPU figure counts LRANGE alone (`-t lrange_100` would fold the fill in).

--baseline PATH adds another karst-server binary (an older build, say) as a third server in the
same interleaving, and a column comparing karst with it: a before/after in one run.

Usage: benches/compare-redis.py [--reps 3] [--threads N] [--svg docs/bench-server.svg]
                                [--tests set,get] [--depths 1,16,64] [--no-build] [--quick]
                                [--baseline path/to/older/karst-server]
"""

import argparse
import csv
import io
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def cpu_ticks(pid):
    """(utime, stime) of a process and all its threads, in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return int(rest[11]), int(rest[12])


def sleeps(pid):
    """Voluntary context switches of a process's threads: the times one went to sleep waiting
    (in epoll_wait, for a lock). A server that is always behind its clients never sleeps."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                total += sum(int(l.split()[1]) for l in f if l.startswith("voluntary_ctxt_switches"))
        except OSError:
            pass  # a thread that ended meanwhile
    return total


# Tests run as a custom command after an unmeasured fill: name -> (fill test, command).
CUSTOM = {"lrange_100": ("lpush", ["LRANGE", "mylist", "0", "99"])}


def benchmark(port, depth, n, what):
    out = subprocess.run(
        ["redis-benchmark", "-p", str(port), "-c", "50", "-r", "1000000", "-d", "64",
         "-P", str(depth), "-n", str(n), "--csv"] + what,
        check=True, capture_output=True, text=True).stdout
    rows = list(csv.reader(io.StringIO(out)))
    rec = dict(zip(rows[0], rows[-1]))
    return float(rec["rps"]), float(rec["p50_latency_ms"]), float(rec["p99_latency_ms"])


def prepare(port, test):
    """The unmeasured fill a custom test needs."""
    if test in CUSTOM:
        benchmark(port, 16, 10_000, ["-t", CUSTOM[test][0]])


def bench(port, test, depth, n):
    if test in CUSTOM:
        return benchmark(port, depth, n, CUSTOM[test][1])
    return benchmark(port, depth, n, ["-t", test])


def spread(results, test, depth):
    """The lowest and highest of each rep's CPU ratio, karst's run over the redis run just
    before it: how far one rep can stray from the medians' ratio on a noisy machine."""
    pairs = zip(results[("redis", test, depth)], results[("karst", test, depth)])
    ratios = [k[3] / r[3] for r, k in pairs if r[3]]
    if not ratios:
        return "–"
    return f"{min(ratios):.2f}–{max(ratios):.2f}×"


def interval(results, test, depth, resamples=2000):
    """The median of each rep's CPU ratio (karst's run over the redis run just before it, so a
    drift of the machine between reps cancels out) and its 95% bootstrap interval: the reps
    drawn again with replacement 2,000 times (fixed seed), the 2.5th and 97.5th percentiles of
    the resampled medians. A target is met with this run's confidence when the whole interval
    is on its side."""
    pairs = zip(results[("redis", test, depth)], results[("karst", test, depth)])
    ratios = [k[3] / r[3] for r, k in pairs if r[3]]
    if len(ratios) < 5:
        return "–"
    rng = random.Random(1)
    medians = sorted(statistics.median(rng.choices(ratios, k=len(ratios))) for _ in range(resamples))
    low, high = medians[resamples * 25 // 1000], medians[resamples * 975 // 1000 - 1]
    return f"{statistics.median(ratios):.2f}× ({low:.2f}–{high:.2f})"


def run(args):
    if not shutil.which("redis-benchmark") or not shutil.which("redis-server"):
        sys.exit("redis-server and redis-benchmark must be installed")
    karst_bin = os.path.join(ROOT, "target", "release", "karst-server")
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "karst-server"], cwd=ROOT, check=True)
    rport, kport = free_port(), free_port()
    redis = subprocess.Popen(
        ["redis-server", "--port", str(rport), "--save", "", "--appendonly", "no",
         "--bind", "127.0.0.1", "--loglevel", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kargs = [karst_bin, "--port", str(kport), "--loglevel", "warning"]
    if args.threads:
        kargs += ["--threads", str(args.threads)]
    if args.thread_model:
        kargs += ["--thread-model", args.thread_model]
    karst = subprocess.Popen(kargs, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    servers = [("redis", redis, rport), ("karst", karst, kport)]
    if args.baseline:
        bport = free_port()
        bargs = [args.baseline, "--port", str(bport)] + kargs[3:]
        base = subprocess.Popen(bargs, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        servers.append(("base", base, bport))
    # (server, test, depth) -> list of (rps, p50, p99, cpu µs/req, user µs/req, system µs/req,
    # sleeps per 1,000 requests)
    results = {}
    try:
        for _, _, port in servers:
            wait_port(port)
        depths = args.depths
        sizes = {1: 100_000, 16: 1_000_000, 64: 2_000_000}
        if args.quick:
            sizes = {d: n // 5 for d, n in sizes.items()}
        for depth in depths:
            for test in args.tests:
                for rep in range(args.reps):
                    for name, proc, port in servers:
                        n = sizes.get(depth, 1_000_000)
                        prepare(port, test)
                        (u0, s0), v0 = cpu_ticks(proc.pid), sleeps(proc.pid)
                        rps, p50, p99 = bench(port, test, depth, n)
                        (u1, s1), v1 = cpu_ticks(proc.pid), sleeps(proc.pid)
                        user_us, sys_us = ((b - a) * 1e6 / CLK_TCK / n for a, b in ((u0, u1), (s0, s1)))
                        cpu_us = user_us + sys_us
                        results.setdefault((name, test, depth), []).append(
                            (rps, p50, p99, cpu_us, user_us, sys_us, (v1 - v0) * 1000 / n))
                        print(f"  {name:5} {test:3} -P {depth:<2} rep {rep}: {rps:>12,.0f} ops/s  "
                              f"p50 {p50:.3f} ms  p99 {p99:.3f} ms  cpu {cpu_us:.2f} us/req",
                              file=sys.stderr)
    finally:
        for _, proc, _ in servers:
            proc.terminate()
        for _, proc, _ in servers:
            proc.wait(timeout=10)

    med = {k: tuple(statistics.median(x[i] for x in v) for i in range(7)) for k, v in results.items()}
    lines = [
        "| test | -P | redis ops/s | karst ops/s | karst/redis | p50 ms redis / karst | "
        "p99 ms redis / karst | CPU µs/req redis | CPU µs/req karst | CPU karst/redis | "
        "each rep, lowest–highest | each rep, median (95% interval) |"
        + (" CPU µs/req base | CPU base/redis |" if args.baseline else ""),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---:|---:|" if args.baseline else ""),
    ]
    rows = []
    for depth in args.depths:
        for test in args.tests:
            r, k = med[("redis", test, depth)], med[("karst", test, depth)]
            rows.append((test.upper(), depth, r, k))
            line = (
                f"| {test.upper()} | {depth} | {r[0]:,.0f} | {k[0]:,.0f} | {k[0] / r[0]:.2f}× | "
                f"{r[1]:.3f} / {k[1]:.3f} | {r[2]:.3f} / {k[2]:.3f} | {r[3]:.2f} | {k[3]:.2f} | "
                f"{k[3] / r[3] if r[3] else float('nan'):.2f}× | {spread(results, test, depth)} | "
                f"{interval(results, test, depth)} |")
            if args.baseline:
                b = med[("base", test, depth)]
                line += f" {b[3]:.2f} | {b[3] / r[3] if r[3] else float('nan'):.2f}× |"
            lines.append(line)
    names = [name for name, _, _ in servers]
    lines += [
        "",
        "| test | -P | " + " | ".join(f"{n} user / system µs/req | {n} sleeps per 1,000 req" for n in names) + " |",
        "|---|---:|" + "---:|---:|" * len(names),
    ]
    for depth in args.depths:
        for test in args.tests:
            cells = []
            for n in names:
                m = med[(n, test, depth)]
                cells += [f"{m[4]:.2f} / {m[5]:.2f}", f"{m[6]:.1f}"]
            lines.append(f"| {test.upper()} | {depth} | " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    print(table)
    if args.svg:
        write_svg(args.svg, rows)
        print(f"\nchart: {args.svg}", file=sys.stderr)


def write_svg(path, rows):
    """Two grouped bar charts: ops/s and CPU µs per request, redis vs karst."""
    w, h, pad = 900, 330, 60
    panels = [("ops/s (higher is better)", 0), ("server CPU µs per request (lower is better)", 3)]
    colors = {"redis": "#c0392b", "karst": "#2471a3"}
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h * 2}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h * 2}" fill="white"/>']
    for p, (title, idx) in enumerate(panels):
        top = p * h
        vals = [v for _, _, r, k in rows for v in (r[idx], k[idx])]
        vmax = max(vals) * 1.15 or 1
        svg.append(f'<text x="{w / 2}" y="{top + 20}" text-anchor="middle" font-size="14">{title}</text>')
        plot_h = h - pad - 40
        base = top + 30 + plot_h
        svg.append(f'<line x1="{pad}" y1="{base}" x2="{w - 20}" y2="{base}" stroke="black"/>')
        group_w = (w - pad - 20) / len(rows)
        bar_w = group_w * 0.35
        for g, (test, depth, r, k) in enumerate(rows):
            x0 = pad + g * group_w + group_w * 0.12
            for j, (name, v) in enumerate([("redis", r[idx]), ("karst", k[idx])]):
                bh = plot_h * v / vmax
                x = x0 + j * bar_w
                svg.append(f'<rect x="{x:.1f}" y="{base - bh:.1f}" width="{bar_w:.1f}" height="{bh:.1f}" '
                           f'fill="{colors[name]}"/>')
                label = f"{v / 1000:.0f}k" if idx == 0 else f"{v:.2f}"
                svg.append(f'<text x="{x + bar_w / 2:.1f}" y="{base - bh - 3:.1f}" text-anchor="middle" '
                           f'font-size="10">{label}</text>')
            svg.append(f'<text x="{x0 + bar_w:.1f}" y="{base + 16}" text-anchor="middle">{test} -P {depth}</text>')
        for j, name in enumerate(["redis", "karst"]):
            svg.append(f'<rect x="{w - 160 + j * 70}" y="{top + 30}" width="12" height="12" fill="{colors[name]}"/>')
            svg.append(f'<text x="{w - 144 + j * 70}" y="{top + 41}">{name}</text>')
    svg.append("</svg>")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(svg) + "\n")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="karst loop threads (default: one per core)")
    ap.add_argument("--thread-model", default="", help="karst thread model: reuseport or shared")
    ap.add_argument("--svg", help="also draw the results as an SVG chart at this path "
                    "(docs/bench-server.svg is the chart of the default run)")
    ap.add_argument("--tests", type=lambda v: v.lower().split(","), default=["set", "get"],
                    help="redis-benchmark tests, comma-separated (default set,get)")
    ap.add_argument("--depths", type=lambda v: [int(d) for d in v.split(",")], default=[1, 16, 64],
                    help="pipeline depths, comma-separated (default 1,16,64)")
    ap.add_argument("--baseline", default="", help="another karst-server binary to run alongside")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--quick", action="store_true", help="a fifth of the requests, for a smoke run")
    run(ap.parse_args())
