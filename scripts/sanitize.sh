#!/usr/bin/env bash
# Builds Strata with sanitizers and runs the test suites under them:
#   address,undefined  every test whose ranks are threads (gtest suites, the
#                      drop-in sweep as threads and InitAll, emulated hosts)
#   thread             the suites whose ranks are threads (forking tests excluded:
#                      TSan cannot start threads in a child of a threaded process)
# Sanitizers slow everything several-fold on a 2-core machine, so a test that
# fails is run once more before the pass fails (timing, not correctness,
# is what varies); a real sanitizer report fails both runs.
# Usage: scripts/sanitize.sh [asan|tsan|all]   (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-all}
JOBS=${JOBS:-$(nproc)}

run_asan() {
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTRATA_SANITIZE=address,undefined \
    -DSTRATA_BUILD_BENCH=ON > /dev/null
  cmake --build build-asan -j "$JOBS"
  # Tests that fork ranks out of a process whose other threads are running
  # (the bootstrap root) are left to the plain build: this toolchain's ASan
  # runtime can deadlock in such a child. Everything with ranks as threads,
  # and the emulated-host tests (fork+exec), run here. The mpirun tests are
  # left to the plain build too: LeakSanitizer reports Open MPI's own
  # allocations that it keeps until exit.
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    ctest --output-on-failure -j "${TEST_JOBS:-2}" --schedule-random --repeat until-pass:2 \
      -E "Process|procs|Fork|EnvInit|Killed|Died|Exits|RankThatLeaves|perf_|mpirun")
}

run_tsan() {
  # CUDA off: the device kernels are not instrumented, and the host side of
  # the CUDA path (test_cuda_host, whose emulation runs the kernel's
  # protocols on threads) builds and runs without it.
  cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTRATA_SANITIZE=thread \
    -DSTRATA_BUILD_BENCH=OFF -DSTRATA_WITH_CUDA=OFF > /dev/null
  cmake --build build-tsan -j "$JOBS" --target test_api test_transports test_bootstrap test_kernels \
    test_cuda_host
  # Tests that fork children which then start threads are excluded.
  (cd build-tsan && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    ctest --output-on-failure -j "${TEST_JOBS:-2}" --repeat until-pass:2 \
      -L "api|transports|bootstrap|kernels|cuda_host" \
      -E "Process|Fork|EnvInit|Shm|Killed|Died|Exits|RankThatLeaves" )
}

case "$which" in
  asan) run_asan ;;
  tsan) run_tsan ;;
  all) run_asan; run_tsan ;;
  *) echo "usage: $0 [asan|tsan|all]"; exit 2 ;;
esac
