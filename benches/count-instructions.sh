#!/usr/bin/env bash
# Instructions a server executes per request of one redis-benchmark test, counted by valgrind.
#
#   benches/count-instructions.sh [--redis] [SERVER_BINARY] TEST [DEPTH]
#
# Runs the server under callgrind twice, for 100,000 and for 300,000 requests of TEST
# (redis-benchmark -c 50 -P DEPTH -r 1000 -d 64, DEPTH 16 by default), and prints the difference
# of the two totals over 200,000: start-up, shutdown and the load generator's connections cancel
# out. The count moves by about 5 instructions from run to run, where CPU time per request moves
# by 15% on a noisy machine, so it shows changes of a few percent that timing cannot. It
# measures work, not time: it says nothing of cache misses or of the kernel's share, so it is
# a proxy for user time on tests whose data stays in cache (one hot key, as redis-benchmark's
# list, set and hash tests have), and nothing more.
#
# --redis counts redis-server instead (same options), for the ratio of the two. Needs valgrind,
# redis-benchmark and redis-cli (apt-get install valgrind redis-tools).
set -euo pipefail

redis=0
if [[ "${1:-}" == "--redis" ]]; then
    redis=1
    shift
fi
if [[ $redis == 0 && $# -ge 2 ]]; then
    bin=$1
    shift
else
    bin=target/release/karst-server
fi
test=${1:?usage: count-instructions.sh [--redis] [SERVER_BINARY] TEST [DEPTH]}
depth=${2:-16}
port=${PORT:-7199}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

for tool in valgrind callgrind_annotate redis-benchmark redis-cli; do
    command -v "$tool" >/dev/null || { echo "count-instructions: $tool not found" >&2; exit 1; }
done

run() {
    local n=$1
    if [[ $redis == 1 ]]; then
        valgrind --tool=callgrind --callgrind-out-file="$out/$n" \
            redis-server --port "$port" --save "" --appendonly no >/dev/null 2>&1 &
    else
        valgrind --tool=callgrind --callgrind-out-file="$out/$n" \
            "$bin" --port "$port" --threads 1 --save "" >/dev/null 2>&1 &
    fi
    local pid=$!
    for _ in $(seq 150); do
        redis-cli -p "$port" ping >/dev/null 2>&1 && break
        sleep 0.2
    done
    redis-benchmark -p "$port" -c 50 -P "$depth" -r 1000 -d 64 -t "$test" -n "$n" -q >/dev/null
    redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
    wait "$pid" || true
}

total() {
    callgrind_annotate "$out/$1" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'
}

run 100000
run 300000
a=$(total 100000)
b=$(total 300000)
name=$([[ $redis == 1 ]] && echo redis-server || basename "$bin")
echo "$name $test -P $depth: $(((b - a) / 200000)) instructions per request"
