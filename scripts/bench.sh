#!/usr/bin/env bash
# Installs dependencies, builds, and runs the all-reduce bandwidth benchmark
# on 4 local ranks (shared memory), printing the nccl-tests style table.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
BUILD_DIR=${BUILD_DIR:-build}
"$BUILD_DIR"/strata-run -n "${NRANKS:-4}" -- "$BUILD_DIR"/bench/all_reduce_perf \
  -b "${MIN_BYTES:-8}" -e "${MAX_BYTES:-64M}" -f 4 -n "${ITERS:-20}" -w 5 -c 1
