// The plan kernel and its per-datatype launcher, included by the
// executor_*.cu files that instantiate it (split so that a parallel build
// compiles the datatypes side by side).
#pragma once

#include <cuda_runtime.h>

#include "kernels/cuda/executor.h"
#include "kernels/cuda/plan_interp.h"

namespace strata::cuda_kernels {

// A thread block as the interpreter's execution context. Counters are
// read with acquire loads and published with release stores (no full
// fence), at GPU scope when every peer of the launch runs on this GPU
// (ranks sharing it, in this process or through CUDA IPC) and at system
// scope otherwise (peers on other GPUs). Thread 0 publishes after a block
// barrier: the barrier orders the other threads' writes before the
// release, which is cumulative.
struct BlockCtx {
  bool systemScope;
  __device__ int tid() const { return threadIdx.x; }
  __device__ int nthreads() const { return blockDim.x; }
  __device__ void barrier() { __syncthreads(); }
  __device__ uint64_t loadAcquire(const uint64_t* p) {
    uint64_t v;
    if (systemScope) {
      asm volatile("ld.acquire.sys.u64 %0, [%1];" : "=l"(v) : "l"(p) : "memory");
    } else {
      asm volatile("ld.acquire.gpu.u64 %0, [%1];" : "=l"(v) : "l"(p) : "memory");
    }
    return v;
  }
  __device__ void storeRelease(uint64_t* p, uint64_t v) {
    if (systemScope) {
      asm volatile("st.release.sys.u64 [%0], %1;" : : "l"(p), "l"(v) : "memory");
    } else {
      asm volatile("st.release.gpu.u64 [%0], %1;" : : "l"(p), "l"(v) : "memory");
    }
  }
  __device__ uint64_t loadVolatile(const uint64_t* p) {
    return *reinterpret_cast<const volatile uint64_t*>(p);
  }
  __device__ void storeVolatile(uint64_t* p, uint64_t v) {
    *reinterpret_cast<volatile uint64_t*>(p) = v;
  }
  __device__ uint64_t nowNs() {
    uint64_t t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
    return t;
  }
  // Poll at full speed first (a peer's data usually lands within a few
  // microseconds), then back off so that long waits leave the memory
  // system to the ranks doing work.
  __device__ void pause(uint64_t spins) {
    if (spins > 2048) __nanosleep(spins > 65536 ? 1000 : 100);
  }
  __device__ void setError(int32_t* word, int32_t code) {
    if (word != nullptr) atomicCAS(reinterpret_cast<int*>(word), 0, code);
  }
};

template <DataType D, ReduceOp Op>
__global__ void __launch_bounds__(kMaxPlanThreads) planKernel(DevLaunch launch) {
  __shared__ ChunkState shared;
  if (threadIdx.x == 0) shared.error = kDevOk;
  __syncthreads();
  BlockCtx ctx{launch.systemScope != 0};
  runLane<D, Op>(ctx, launch, launch.lanes[blockIdx.x], shared);
}

template <DataType D>
int launchTyped(ReduceOp op, const DevLaunch& l, int nlanes, int threads, cudaStream_t s) {
  switch (op) {
    case ReduceOp::kSum: planKernel<D, ReduceOp::kSum><<<nlanes, threads, 0, s>>>(l); break;
    case ReduceOp::kProd: planKernel<D, ReduceOp::kProd><<<nlanes, threads, 0, s>>>(l); break;
    case ReduceOp::kMax: planKernel<D, ReduceOp::kMax><<<nlanes, threads, 0, s>>>(l); break;
    case ReduceOp::kMin: planKernel<D, ReduceOp::kMin><<<nlanes, threads, 0, s>>>(l); break;
    default: return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}


#define STRATA_INSTANTIATE_PLAN_LAUNCH(D)                                                  \
  template int launchTyped<D>(ReduceOp op, const DevLaunch& l, int nlanes, int threads, \
                              cudaStream_t s);

}  // namespace strata::cuda_kernels
