#!/usr/bin/env bash
# The checks that need a GPU, in one go, for a machine with one NVIDIA
# H100/H200 and a staged build (scripts/gpu_stage.sh puts the binaries and
# libraries in .gpu/). Each step has its own time limit and its own log in
# ${OUT:-/tmp/strata-gpu}; a summary table is printed last.
#   bash scripts/gpu_check.sh [steps...]   steps: info symbols tests sweep sanitizer_quick kernels allreduce latency torch sanitizer
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/strata-gpu}
mkdir -p "$OUT"
G=${STAGE:-.gpu}
export LD_LIBRARY_PATH=$PWD/$G/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export STRATA_TIMEOUT=${STRATA_TIMEOUT:-30}
steps=${*:-info tests kernels allreduce latency torch}
summary=()
step() {  # name limit command...
  local name=$1 limit=$2
  shift 2
  local t0=$SECONDS
  timeout -k 5 "$limit" "$@" > "$OUT/$name.log" 2>&1
  local rc=$?
  summary+=("$(printf '%-22s rc=%-4s %4ss' "$name" "$rc" $((SECONDS - t0)))")
  echo "== $name rc=$rc"; tail -n "${TAILN:-15}" "$OUT/$name.log"
}
for s in $steps; do
  case $s in
    info)
      step info 60 bash -c 'nvidia-smi; nvcc --version | tail -2; ldd '"$G"'/bin/test_cuda | grep -E "not found|strata|nccl"; ldd '"$G"'/lib/libnccl.so.2 | grep "not found"; true' ;;
    symbols)  # NCCL functions PyTorch needs that this libnccl.so.2 lacks (none expected)
      step symbols 60 bash -c '
        tl=$(python3 -c "import torch, os; print(os.path.dirname(torch.__file__))")/lib/libtorch_cuda.so
        python3 -c "import torch; print(\"torch\", torch.__version__, \"built with NCCL\", torch.cuda.nccl.version())"
        python3 scripts/elf_symbols.py --undefined "$tl" --prefix nccl > "$0/torch_nccl.txt"
        python3 scripts/elf_symbols.py --defined '"$G"'/lib/libnccl.so.2 --prefix nccl > "$0/ours.txt"
        echo "missing:"; LC_ALL=C comm -23 "$0/torch_nccl.txt" "$0/ours.txt"
        h=$(find / -name nccl.h -path "*nvidia*" 2>/dev/null | head -1); [ -n "$h" ] && cp "$h" "$0/nccl_torch.h"
        true' "$OUT" ;;
    tests)
      step tests 300 "$G/bin/test_cuda" --gtest_filter="${GTEST_FILTER:-*}" ;;
    kernels)
      step kernels 120 "$G/bin/cuda_kernel_bench" --bytes 256M --iters 20 ;;
    allreduce)
      for c in ${CHANNELS:-8 16 32}; do
        step "allreduce_c$c" 120 "$G/bin/cuda_allreduce_bench" --ranks 2 --channels "$c" --min 1M --max 256M --iters 20
      done ;;
    sweep)  # bandwidth over channels x slot bytes x slots (docs/PERFORMANCE.md), latency over block sizes
      for cfg in 32:65536:4 32:131072:4 32:262144:4 63:262144:4 63:524288:4 63:1048576:4 \
                 63:262144:8 63:524288:8; do
        IFS=: read -r c slot nslots <<< "$cfg"
        TAILN=3 step "bw_c${c}_s${slot}_n${nslots}" 60 env STRATA_CUDA_SLOT_BYTES="$slot" \
          STRATA_CUDA_NSLOTS="$nslots" \
          "$G/bin/cuda_allreduce_bench" --ranks 2 --channels "$c" --min 64M --max 256M --iters 20
      done
      for t in 128 256 512; do
        TAILN=4 step "lat_t$t" 60 env STRATA_CUDA_THREADS=$t \
          "$G/bin/cuda_allreduce_bench" --ranks 2 --min 8 --max 8 --latency-iters 1000 --graph
      done
      TAILN=4 step lat_r1 60 "$G/bin/cuda_allreduce_bench" --ranks 1 --min 8 --max 8 --latency-iters 1000 --graph ;;
    latency)
      step latency 120 "$G/bin/cuda_allreduce_bench" --ranks 2 --min 8 --max 8 --latency-iters 1000 --graph ;;
    torch)
      step torch 240 python3 tests/cuda/torch_dropin.py --lib "$G/lib/libnccl.so.2" ;;
    sanitizer_quick)  # memcheck on the short GPU tests, racecheck on a send/recv ring
      cs=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
      step memcheck 300 "$cs" --tool memcheck --error-exitcode 1 "$G/bin/test_cuda" \
        --gtest_filter='CudaKernels.ConvertMatchesTheHostConversions:CudaKernels.BlockQuantizeRoundTrip:CudaKernels.RejectsBadArguments:GpuCollectives.SendRecvRing:GpuCollectives.StreamOrdering:GpuCollectives.GraphCaptureOfAllReduce:GpuCollectives.MemAllocBuffers'
      step racecheck 200 "$cs" --tool racecheck --error-exitcode 1 "$G/bin/test_cuda" --gtest_filter='GpuCollectives.SendRecvRing' ;;
    sanitizer)
      step sanitizer 400 bash tests/cuda/compute_sanitizer.sh "$G/bin/test_cuda" "$G/bin/cuda_kernel_bench" ;;
  esac
done
echo "== summary"
printf '%s\n' "${summary[@]}"
