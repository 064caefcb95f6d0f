#!/usr/bin/env bash
# The one test entry point, for developers and CI alike.
#
# Installs what the tests need on a fresh machine (Debian and pip packages, cargo-fuzz), then runs:
# rustfmt, clippy, every unit/integration/doc test, the loom models, Miri on the crates with
# unsafe code, the benches (compiled and smoke-run), and each fuzz target for a short time.
#
#   scripts/test.sh                 everything
#   FUZZ_SECONDS=600 scripts/test.sh   longer fuzzing
#
# Whatever cannot run here is skipped with the reason printed; nothing is skipped silently.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS="${FUZZ_SECONDS:-30}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
skipped=()

step() { printf '\n==> %s\n' "$*"; }
skip() { printf 'SKIP: %s\n' "$*"; skipped+=("$*"); }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else return 1; fi; }

# --- what the tests need -------------------------------------------------------------------------
step "installing test dependencies"
if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
  if as_root true 2>/dev/null; then
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools >/dev/null
  else
    skip "redis-server/redis-tools are not installed and this user cannot install Debian packages: differential and real-client tests skip"
  fi
fi
# The Debian package starts a redis-server on 6379; the tests start their own on free ports.
if command -v redis-server >/dev/null; then echo "redis-server: $(redis-server --version | head -1)"; fi

PYTHON="${PYTHON:-python3}"
if command -v "$PYTHON" >/dev/null; then
  "$PYTHON" -m pip install -q --disable-pip-version-check redis pytest 2>/dev/null \
    || skip "pip could not install redis/pytest: Python client tests skip"
fi

have_nightly=false
if rustup toolchain list 2>/dev/null | grep -q nightly; then have_nightly=true; fi
if $have_nightly && ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked -q || true
fi

# --- static checks -------------------------------------------------------------------------------
step "cargo fmt --check"
cargo fmt --all -- --check
(cd fuzz && cargo fmt -- --check)

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets -q -- -D warnings
# The Python extension is outside the workspace (maturin builds it): checked on its own.
(cd crates/karst-py && cargo fmt -- --check && CARGO_TARGET_DIR="$PWD/../../target/py" cargo clippy -q -- -D warnings)

# --- tests ---------------------------------------------------------------------------------------
step "cargo test (unit, integration, doc)"
# Tests that drive the karst-server binary (karst-client's, the Python ones) use this build.
cargo build -q -p karst-server
export KARST_SERVER="$PWD/target/debug/karst-server"
cargo test --workspace

step "loom models"
# A target dir of its own: the cfg changes every crate's build.
RUSTFLAGS="--cfg karst_loom" LOOM_MAX_PREEMPTIONS=2 CARGO_TARGET_DIR=target/loom \
  cargo test --release -q --workspace --lib -- loom

step "Miri (crates with unsafe code)"
if $have_nightly && ! cargo +nightly miri --version >/dev/null 2>&1; then
  rustup component add --toolchain nightly miri rust-src >/dev/null 2>&1 || true
fi
if $have_nightly && cargo +nightly miri --version >/dev/null 2>&1; then
  # The unsafe code of the project: karst-mem (all of it), karst-store's entry module and the
  # shard locks kept across a pipeline (store.rs, tested in hold::). Those tests park threads in
  # parking_lot, whose queue casts integers to pointers: permissive provenance there.
  MIRIFLAGS="-Zmiri-strict-provenance" cargo +nightly miri test -q -p karst-mem --lib
  MIRIFLAGS="-Zmiri-strict-provenance" cargo +nightly miri test -q -p karst-store --lib -- entry:: table::
  MIRIFLAGS="-Zmiri-permissive-provenance" cargo +nightly miri test -q -p karst-store --lib -- hold::
else
  skip "no nightly toolchain with Miri"
fi

# --- karst-py: the Python package of karst-client (owner: karst-client) ---------------------------
# Built and installed before the Python tests below run, so tests/python exercises this tree's code.
step "building and installing the karst Python package (crates/karst-py)"
if command -v "$PYTHON" >/dev/null && "$PYTHON" -m pip --version >/dev/null 2>&1; then
  "$PYTHON" -m pip install -q --disable-pip-version-check numpy 2>/dev/null \
    || echo "numpy could not be installed: the numpy buffer cases of the karst tests skip"
  # Its own target dir: the extension is built outside the cargo workspace, by maturin.
  CARGO_TARGET_DIR="$PWD/target/py" "$PYTHON" -m pip install -q --disable-pip-version-check \
    --force-reinstall --no-deps ./crates/karst-py
  "$PYTHON" -c 'import karst; print("karst package:", karst.__file__)'
else
  skip "no $PYTHON with pip: the karst Python package is not built and its tests skip"
fi
# --- end karst-py ----------------------------------------------------------------------------------

if [ -d tests/python ] && command -v "$PYTHON" >/dev/null && "$PYTHON" -c 'import pytest, redis' 2>/dev/null; then
  step "Python tests"
  "$PYTHON" -m pytest -q tests/python
else
  skip "pytest or redis-py is not importable: the Python tests (tests/python) do not run"
fi

# --- benches -------------------------------------------------------------------------------------
step "benches: compile and smoke-run"
cargo bench --workspace --no-run -q
# Criterion's --test mode runs every benchmark once, checking it still works.
cargo bench --workspace -q -- --test >/dev/null
echo "every bench ran once"
# The comparison with redis-server, once and short: it checks that the script still runs (its
# figures mean nothing on a shared CI machine; docs/benchmarks.md says how to measure).
if command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null; then
  "$PYTHON" benches/compare-redis.py --quick --reps 1 --depths 16 --tests get,lpush >/dev/null 2>&1 \
    || { echo "benches/compare-redis.py failed"; exit 1; }
  echo "the redis-server comparison ran once"
else
  skip "redis-server/redis-benchmark are not installed: the comparison with redis-server skips"
fi

# --- fuzzing -------------------------------------------------------------------------------------
step "fuzz targets, ${FUZZ_SECONDS}s each"
if $have_nightly && cargo fuzz --version >/dev/null 2>&1; then
  (
    cd fuzz
    for target in $(cargo +nightly fuzz list); do
      log="target/fuzz-$target.log"
      mkdir -p target
      if ! cargo +nightly fuzz run "$target" -- -max_total_time="$FUZZ_SECONDS" >"$log" 2>&1; then
        tail -n 40 "$log"
        echo "fuzz target $target failed: the crashing input is under fuzz/artifacts/$target/"
        exit 1
      fi
      echo "fuzz $target: $(grep -E '^Done' "$log" | tail -1)"
    done
  )
else
  skip "no nightly toolchain with cargo-fuzz: fuzz targets not run"
fi

step "done"
if [ ${#skipped[@]} -gt 0 ]; then printf 'skipped: %s\n' "${skipped[@]}"; fi
echo "all checks passed"
