#!/usr/bin/env bash
# Copies what scripts/gpu_check.sh needs from a CUDA build into .gpu/ (git
# ignores it), small enough to travel to a GPU machine.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD_DIR:-build}
rm -rf .gpu && mkdir -p .gpu/bin .gpu/lib
cp "$B/tests/cuda/test_cuda" "$B/bench/cuda_kernel_bench" "$B/bench/cuda_allreduce_bench" .gpu/bin/
cp -L "$B/libnccl.so.2" .gpu/lib/
cp -L "$B/libstrata.so.0" .gpu/lib/
strip --strip-debug .gpu/bin/* .gpu/lib/* 2>/dev/null || true
du -sh .gpu
