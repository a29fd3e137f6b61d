#!/usr/bin/env bash
# Installs dependencies, builds, and runs the whole test suite with ctest.
# Every test has a time limit, so a hang fails instead of stalling.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure --schedule-random -j "${TEST_JOBS:-2}" ${CTEST_ARGS:-}
