// Plan kernel instantiations: kFloat8e4m3, kFloat8e5m2.
#include "kernels/cuda/executor_kernel.cuh"

namespace strata::cuda_kernels {
STRATA_INSTANTIATE_PLAN_LAUNCH(DataType::kFloat8e4m3)
STRATA_INSTANTIATE_PLAN_LAUNCH(DataType::kFloat8e5m2)
}  // namespace strata::cuda_kernels
