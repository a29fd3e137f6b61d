// Plan kernel instantiations: kInt8, kUint8, kInt32, kUint32, kInt64, kUint64.
#include "kernels/cuda/executor_kernel.cuh"

namespace strata::cuda_kernels {
STRATA_INSTANTIATE_PLAN_LAUNCH(DataType::kInt8)
STRATA_INSTANTIATE_PLAN_LAUNCH(DataType::kUint8)
STRATA_INSTANTIATE_PLAN_LAUNCH(DataType::kInt32)
STRATA_INSTANTIATE_PLAN_LAUNCH(DataType::kUint32)
STRATA_INSTANTIATE_PLAN_LAUNCH(DataType::kInt64)
STRATA_INSTANTIATE_PLAN_LAUNCH(DataType::kUint64)
}  // namespace strata::cuda_kernels
