#!/usr/bin/env bash
# Large values (4 MB and 32 MB): GB/s of SET and GET, all in one run, side by side:
#   - the loopback TCP ceiling (iperf3, one stream and four),
#   - redis-benchmark (-d SIZE, few requests) against redis-server (and karst-server),
#   - karst-client (Rust, crates/karst-client/examples/bulk.rs) against the same servers,
#   - Python: karst's client vs redis-py (benches/large_values_py.py), chunks and small batches.
#
#   benches/large_values.sh                 everything, results on stdout
#   CHUNKS=40 benches/large_values.sh       fewer 32 MB chunks in the Python run
#
# karst-server is included when target/release/karst-server exists
# (cargo build --release -p karst-server). Needs redis-server, redis-benchmark, iperf3, python3.
set -euo pipefail
cd "$(dirname "$0")/.."

CHUNKS="${CHUNKS:-100}"
PY="${PYTHON:-python3}"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }

echo "# Large values — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg)"
cargo build --release -q -p karst-client --example bulk
"$PY" -c 'import karst' 2>/dev/null || "$PY" -m pip install -q ./crates/karst-py
"$PY" -c 'import redis' 2>/dev/null || "$PY" -m pip install -q redis

servers=()
rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no >/dev/null &
pids+=($!)
wait_port "$rport"
servers+=("redis-server:$rport")
if [ -x target/release/karst-server ]; then
  kport=$(free_port)
  target/release/karst-server --port "$kport" >/dev/null 2>&1 &
  pids+=($!)
  if wait_port "$kport"; then servers+=("karst-server:$kport"); else echo "karst-server did not start: skipped"; fi
else
  echo "target/release/karst-server not built: karst-server rows skipped"
fi

echo
echo "## Loopback ceiling (iperf3, 5 s)"
iport=$(free_port)
iperf3 -s -p "$iport" >/dev/null 2>&1 &
pids+=($!)
sleep 0.3
for streams in 1 4; do
  gbit=$(iperf3 -c 127.0.0.1 -p "$iport" -t 5 -P "$streams" -f g -J | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9)')
  printf 'iperf3 %d stream(s): %.2f GB/s\n' "$streams" "$("$PY" -c "print($gbit/8)")"
done

for s in "${servers[@]}"; do
  name=${s%%:*}; port=${s##*:}
  echo
  echo "## $name"
  for size in 4194304 33554432; do
    n=$(( size == 4194304 ? 200 : 40 ))
    redis-benchmark -p "$port" -t set,get -d "$size" -n "$n" -c 4 --csv 2>/dev/null \
      | "$PY" -c "
import csv, sys
for row in csv.DictReader(sys.stdin):
    print(f'redis-benchmark -d $size -n $n -c 4 {row[\"test\"]:>4}: {float(row[\"rps\"]) * $size / 1e9:.2f} GB/s')"
    count=$(( size == 4194304 ? 256 : 48 ))
    target/release/examples/bulk --port "$port" --size "$size" --count "$count" --connections 8 --batch 16 --threads 4 --rounds 2
  done
  "$PY" benches/large_values_py.py --port "$port" --label "$name" --chunks "$CHUNKS" --rounds 2 --iters 300
done
