// Plan kernel instantiations: kFloat32, kFloat64.
#include "kernels/cuda/executor_kernel.cuh"

namespace strata::cuda_kernels {
STRATA_INSTANTIATE_PLAN_LAUNCH(DataType::kFloat32)
STRATA_INSTANTIATE_PLAN_LAUNCH(DataType::kFloat64)
}  // namespace strata::cuda_kernels
