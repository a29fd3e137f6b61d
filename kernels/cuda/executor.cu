// The plan kernel's entry point: dispatch on the datatype to the launchers
// instantiated in executor_*.cu.
#include "kernels/cuda/executor_kernel.cuh"

namespace strata::cuda_kernels {

// Instantiated in executor_int.cu, executor_float.cu, executor_half.cu and executor_fp8.cu.
extern template int launchTyped<DataType::kInt8>(ReduceOp, const DevLaunch&, int, int, cudaStream_t);
extern template int launchTyped<DataType::kUint8>(ReduceOp, const DevLaunch&, int, int, cudaStream_t);
extern template int launchTyped<DataType::kInt32>(ReduceOp, const DevLaunch&, int, int, cudaStream_t);
extern template int launchTyped<DataType::kUint32>(ReduceOp, const DevLaunch&, int, int, cudaStream_t);
extern template int launchTyped<DataType::kInt64>(ReduceOp, const DevLaunch&, int, int, cudaStream_t);
extern template int launchTyped<DataType::kUint64>(ReduceOp, const DevLaunch&, int, int, cudaStream_t);
extern template int launchTyped<DataType::kFloat16>(ReduceOp, const DevLaunch&, int, int, cudaStream_t);
extern template int launchTyped<DataType::kFloat32>(ReduceOp, const DevLaunch&, int, int, cudaStream_t);
extern template int launchTyped<DataType::kFloat64>(ReduceOp, const DevLaunch&, int, int, cudaStream_t);
extern template int launchTyped<DataType::kBfloat16>(ReduceOp, const DevLaunch&, int, int, cudaStream_t);
extern template int launchTyped<DataType::kFloat8e4m3>(ReduceOp, const DevLaunch&, int, int, cudaStream_t);
extern template int launchTyped<DataType::kFloat8e5m2>(ReduceOp, const DevLaunch&, int, int, cudaStream_t);

int launchPlan(DataType type, ReduceOp op, const DevLaunch& l, int nlanes, int threads,
               void* stream) {
  if (nlanes <= 0 || threads <= 0 || threads > kMaxPlanThreads) return cudaErrorInvalidValue;
  auto s = static_cast<cudaStream_t>(stream);
  switch (type) {
    case DataType::kInt8: return launchTyped<DataType::kInt8>(op, l, nlanes, threads, s);
    case DataType::kUint8: return launchTyped<DataType::kUint8>(op, l, nlanes, threads, s);
    case DataType::kInt32: return launchTyped<DataType::kInt32>(op, l, nlanes, threads, s);
    case DataType::kUint32: return launchTyped<DataType::kUint32>(op, l, nlanes, threads, s);
    case DataType::kInt64: return launchTyped<DataType::kInt64>(op, l, nlanes, threads, s);
    case DataType::kUint64: return launchTyped<DataType::kUint64>(op, l, nlanes, threads, s);
    case DataType::kFloat16: return launchTyped<DataType::kFloat16>(op, l, nlanes, threads, s);
    case DataType::kFloat32: return launchTyped<DataType::kFloat32>(op, l, nlanes, threads, s);
    case DataType::kFloat64: return launchTyped<DataType::kFloat64>(op, l, nlanes, threads, s);
    case DataType::kBfloat16: return launchTyped<DataType::kBfloat16>(op, l, nlanes, threads, s);
    case DataType::kFloat8e4m3: return launchTyped<DataType::kFloat8e4m3>(op, l, nlanes, threads, s);
    case DataType::kFloat8e5m2: return launchTyped<DataType::kFloat8e5m2>(op, l, nlanes, threads, s);
  }
  return cudaErrorInvalidValue;
}

}  // namespace strata::cuda_kernels
