#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang, ASan and UBSan in
# ${FUZZ_BUILD_DIR:-build-fuzz} and runs each for SECONDS (default 20).
#
#   scripts/fuzz.sh              # 20 s per target (a CI smoke run)
#   scripts/fuzz.sh 600          # 10 minutes per target (nightly)
#   scripts/fuzz.sh 60 fuzz_handshake
#
# Each target starts from the seeds it writes itself (valid encodings made
# with the real encoders) plus the corpus kept from earlier runs in
# <build>/fuzz-corpus/<target>. A crash, a failed property, a leak or an
# input running longer than 25 s stops that target and makes the script exit
# non-zero; the input is saved under <build>/fuzz-artifacts/<target>/ and
# replays with `<build>/tests/fuzz/<target> <file>`.
# Installs clang-14 and libFuzzer's runtime with apt-get when missing (root).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-20}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_bootstrap fuzz_handshake fuzz_transport)
if ! [[ $seconds =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "usage: scripts/fuzz.sh [SECONDS] [TARGET...]" >&2
  exit 2
fi
BUILD_DIR=${FUZZ_BUILD_DIR:-build-fuzz}
JOBS=${JOBS:-2}

# --- toolchain
CC=${CC:-clang-14}
CXX=${CXX:-clang++-14}
need=()
command -v cmake >/dev/null 2>&1 || need+=(cmake make)
if [ "$CXX" = clang++-14 ]; then
  command -v clang++-14 >/dev/null 2>&1 || need+=(clang-14)
  # libFuzzer and the sanitizer runtimes
  if command -v dpkg >/dev/null 2>&1 && ! dpkg -s libclang-rt-14-dev >/dev/null 2>&1; then
    need+=(libclang-rt-14-dev)
  fi
elif ! command -v "$CXX" >/dev/null 2>&1; then
  echo "fuzz.sh: CXX=$CXX not found" >&2
  exit 1
fi
if [ ${#need[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "fuzz.sh: missing ${need[*]} and no apt-get to install them" >&2
    exit 1
  fi
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "fuzz.sh: installing ${need[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${need[@]}"
fi

# --- build
CC=$CC CXX=$CXX cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSTRATA_BUILD_FUZZERS=ON -DSTRATA_BUILD_TESTS=OFF -DSTRATA_BUILD_BENCH=OFF >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS" --target "${targets[@]}"

# --- run
failed=()
summary=()
for t in "${targets[@]}"; do
  bin="$BUILD_DIR/tests/fuzz/$t"
  seeds="$BUILD_DIR/fuzz-seeds/$t"
  corpus="$BUILD_DIR/fuzz-corpus/$t"
  artifacts="$BUILD_DIR/fuzz-artifacts/$t"
  log="$BUILD_DIR/fuzz-logs/$t.log"
  rm -rf "$seeds"
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  STRATA_FUZZ_WRITE_SEEDS="$seeds" "$bin" >/dev/null
  echo "== $t: ${seconds} s"
  rc=0
  "$bin" -max_total_time="$seconds" -max_len=4096 -timeout=25 -rss_limit_mb=3072 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" "$seeds" >"$log" 2>&1 || rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1 || true)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1 || true)
  cov=$( (grep -o 'cov: [0-9]*' "$log" || true) | tail -1 | cut -d' ' -f2)
  units=$(find "$corpus" -type f | wc -l)
  line=$(printf '%-16s runs %-10s exec/s %-8s coverage %-6s corpus %-5s' "$t" "${runs:-?}" \
    "${rate:-?}" "${cov:-?}" "$units")
  if [ "$rc" -ne 0 ]; then
    line+="  FAILED (exit $rc, log $log)"
    failed+=("$t")
    grep -E 'ERROR|property violated|SUMMARY|Test unit written' "$log" | head -8 >&2 || true
  fi
  echo "$line"
  summary+=("$line")
done

echo
echo "fuzzing summary (${seconds} s per target):"
printf '  %s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: ${failed[*]} found a problem; inputs are in $BUILD_DIR/fuzz-artifacts/" >&2
  exit 1
fi
