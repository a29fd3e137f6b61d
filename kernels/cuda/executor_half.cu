// Plan kernel instantiations: kFloat16, kBfloat16.
#include "kernels/cuda/executor_kernel.cuh"

namespace strata::cuda_kernels {
STRATA_INSTANTIATE_PLAN_LAUNCH(DataType::kFloat16)
STRATA_INSTANTIATE_PLAN_LAUNCH(DataType::kBfloat16)
}  // namespace strata::cuda_kernels
