// Host entry points of the plan kernel (executor.cu). The stream is a
// cudaStream_t passed as void* so that callers need no CUDA headers.
#pragma once

#include "core/types.h"
#include "kernels/cuda/device_plan.h"

namespace strata::cuda_kernels {

// Launches one block of `threads` threads per lane on `stream`. Returns the
// cudaError_t of the launch (0 on success).
int launchPlan(DataType type, ReduceOp op, const DevLaunch& launch, int nlanes, int threads,
               void* stream);

// The largest `threads` launchPlan accepts.
inline constexpr int kMaxPlanThreads = 512;

}  // namespace strata::cuda_kernels
