#!/usr/bin/env bash
# Runs GPU tests under compute-sanitizer: memcheck on the kernel library and
# on collectives, racecheck on a send/recv ring. Exits 77 (skipped) without
# compute-sanitizer or a usable GPU.
#   tests/cuda/compute_sanitizer.sh build/tests/cuda/test_cuda build/bench/cuda_kernel_bench
set -u
test_bin=$1
probe=$2
cs=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
if [ ! -x "$cs" ]; then
  echo "SKIP: compute-sanitizer not found"
  exit 77
fi
"$probe" --bytes 1M --iters 1 > /dev/null
if [ $? -eq 77 ]; then
  echo "SKIP: no usable GPU"
  exit 77
fi
"$cs" --tool memcheck --error-exitcode 1 "$test_bin" \
  --gtest_filter='CudaKernels.*:GpuCollectives.SendRecvRing:GpuCollectives.StreamOrdering:GpuCollectives.GraphCaptureOfAllReduce:GpuCollectives.MemAllocBuffers' || exit 1
"$cs" --tool racecheck --error-exitcode 1 "$test_bin" --gtest_filter='GpuCollectives.SendRecvRing' || exit 1
"$cs" --tool synccheck --error-exitcode 1 "$test_bin" --gtest_filter='GpuCollectives.SendRecvRing' || exit 1
echo PASS
