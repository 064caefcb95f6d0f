#!/usr/bin/env python3
"""A whole-keyspace SCAN on karst-server and redis-server, measured in one run.

Starts both servers (release build of karst) on spare ports, loads the same N string keys into
each (`redis-cli --pipe`), then, REPS times and alternately, walks the keyspace with

    SCAN cursor COUNT C    (from cursor 0 until it comes back to 0, one call at a time)

and reports the wall time of the walk, the distinct keys it returned, the SCAN calls it took
(from INFO commandstats) and each server's CPU time per call (/proc/PID/stat before and after);
then sends as many PINGs, one at a time, whose CPU is the round trip's share: what remains is
SCAN's own.

--baseline PATH adds another karst-server binary (an older build) as a third server.

Usage: benches/scan-compare.py [--keys 1000000] [--count 10] [--reps 3] [--no-build]
                               [--baseline path/to/older/karst-server] [--karst path/to/karst-server]
"""

import argparse
import importlib.util
import os
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_spec = importlib.util.spec_from_file_location("compare", os.path.join(ROOT, "benches", "compare-redis.py"))
compare = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(compare)


def load(port, keys):
    """SET key:<i> to a 32-byte value for i < keys, through one pipe."""
    def commands():
        for i in range(keys):
            k = f"key:{i:012}".encode()
            yield b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$32\r\n%s\r\n" % (len(k), k, b"v" * 32)
    p = subprocess.Popen(["redis-cli", "-p", str(port), "--pipe"], stdin=subprocess.PIPE,
                         stdout=subprocess.DEVNULL)
    batch = []
    for c in commands():
        batch.append(c)
        if len(batch) == 10_000:
            p.stdin.write(b"".join(batch))
            batch.clear()
    p.stdin.write(b"".join(batch))
    p.stdin.close()
    if p.wait() != 0:
        raise RuntimeError(f"loading port {port} failed")


def scan_calls(port):
    out = subprocess.run(["redis-cli", "-p", str(port), "INFO", "commandstats"],
                         check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith("cmdstat_scan:"):
            return int(line.split("calls=")[1].split(",")[0])
    return 0


def walk(port, count):
    """SCAN from cursor 0 until it comes back to 0; (seconds, distinct keys)."""
    sock = socket.create_connection(("127.0.0.1", port))
    f = sock.makefile("rb")

    def bulk():
        n = int(f.readline()[1:])
        data = f.read(n + 2)
        return data[:-2]

    keys, cursor = set(), b"0"
    t = time.perf_counter()
    while True:
        c = str(count).encode()
        sock.sendall(b"*4\r\n$4\r\nSCAN\r\n$%d\r\n%s\r\n$5\r\nCOUNT\r\n$%d\r\n%s\r\n"
                     % (len(cursor), cursor, len(c), c))
        assert f.readline() == b"*2\r\n"
        cursor = bulk()
        for _ in range(int(f.readline()[1:])):
            keys.add(bulk())
        if cursor == b"0":
            break
    secs = time.perf_counter() - t
    sock.close()
    return secs, len(keys)


def pings(port, calls):
    """`calls` PINGs one at a time, as the walk sends its SCANs: the cost of a round trip."""
    sock = socket.create_connection(("127.0.0.1", port))
    f = sock.makefile("rb")
    for _ in range(calls):
        sock.sendall(b"*1\r\n$4\r\nPING\r\n")
        f.readline()
    sock.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--count", type=int, default=10)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--baseline")
    ap.add_argument("--karst", help="the karst-server binary (default: this tree's release build)")
    args = ap.parse_args()
    karst_bin = args.karst or os.path.join(ROOT, "target", "release", "karst-server")
    if not args.no_build and not args.karst:
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "karst-server"], cwd=ROOT, check=True)
    rport, kport = compare.free_port(), compare.free_port()
    servers = [
        ("redis", subprocess.Popen(
            ["redis-server", "--port", str(rport), "--save", "", "--appendonly", "no",
             "--bind", "127.0.0.1", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), rport),
        ("karst", subprocess.Popen([karst_bin, "--port", str(kport), "--loglevel", "warning"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), kport),
    ]
    if args.baseline:
        bport = compare.free_port()
        servers.append(("base", subprocess.Popen(
            [args.baseline, "--port", str(bport), "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), bport))
    results = {}
    try:
        for name, _, port in servers:
            compare.wait_port(port)
            load(port, args.keys)
        for rep in range(args.reps):
            for name, proc, port in servers:
                calls0, (u0, s0) = scan_calls(port), compare.cpu_ticks(proc.pid)
                secs, keys = walk(port, args.count)
                (u1, s1), calls = compare.cpu_ticks(proc.pid), scan_calls(port) - calls0
                cpu = (u1 + s1 - u0 - s0) / compare.CLK_TCK
                u0, s0 = compare.cpu_ticks(proc.pid)
                pings(port, calls)
                u1, s1 = compare.cpu_ticks(proc.pid)
                ping = (u1 + s1 - u0 - s0) / compare.CLK_TCK
                results.setdefault(name, []).append((secs, keys, calls, cpu, ping))
                print(f"  {name:5} rep {rep}: {secs:.2f} s, {keys:,} keys, {calls:,} calls, "
                      f"cpu {cpu:.2f} s, as many PINGs {ping:.2f} s", file=sys.stderr)
    finally:
        for _, proc, _ in servers:
            proc.terminate()
        for _, proc, _ in servers:
            proc.wait(timeout=10)
    print(f"{args.keys:,} keys, SCAN COUNT {args.count}, medians of {args.reps}\n")
    print("| server | walk s | distinct keys | SCAN calls | server CPU s | µs per call | "
          "as many PINGs, µs per call | SCAN's own µs per call |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, _, _ in servers:
        secs, keys, calls, cpu, ping = (statistics.median(r[i] for r in results[name]) for i in range(5))
        per = cpu * 1e6 / calls if calls else float("nan")
        ping_per = ping * 1e6 / calls if calls else float("nan")
        print(f"| {name} | {secs:.2f} | {keys:,.0f} | {calls:,.0f} | {cpu:.2f} | {per:.1f} | "
              f"{ping_per:.1f} | {per - ping_per:.1f} |")


if __name__ == "__main__":
    main()
