// Reduce / reduce-copy, conversion and block quantisation kernels.
#include <cuda_runtime.h>

#include "kernels/cuda/library.h"
#include "kernels/cuda/plan_interp.h"

namespace strata::cuda_kernels {
namespace {

constexpr int kThreads = 512;

struct ReduceCopyArgs {
  const uint8_t* srcs[kMaxReduceInputs];
  uint8_t* dsts[kMaxCopyOutputs];
  int nsrc;
  int ndst;
  uint64_t bytes;
};

// fp32 (or the native type) accumulators for one 16-byte unit.
template <DataType D>
struct Acc {
  using E = Elem<D>;
  using S = typename E::S;
  using C = typename E::C;
  static constexpr int kPer = kUnitBytes / int(sizeof(S));
  C v[kPer];
  __device__ void load(const Unit& u) {
#pragma unroll
    for (int k = 0; k < kPer; ++k) v[k] = E::load(unitGet<S>(u, k));
  }
  template <ReduceOp Op>
  __device__ void combine(const Unit& u) {
#pragma unroll
    for (int k = 0; k < kPer; ++k) v[k] = applyOp<Op>(v[k], E::load(unitGet<S>(u, k)));
  }
  __device__ void store(Unit& u) const {
#pragma unroll
    for (int k = 0; k < kPer; ++k) unitSet<S>(u, k, E::store(v[k]));
  }
};

template <DataType D, ReduceOp Op>
__global__ void __launch_bounds__(kThreads) reduceCopyKernel(ReduceCopyArgs a) {
  const uint64_t units = (a.bytes + kUnitBytes - 1) / kUnitBytes;
  const uint64_t nt = uint64_t(gridDim.x) * blockDim.x;
  for (uint64_t base = uint64_t(blockIdx.x) * blockDim.x + threadIdx.x; base < units;
       base += nt * kUnroll) {
    Acc<D> acc[kUnroll];
    Unit in[kUnroll];
    int len[kUnroll];
#pragma unroll
    for (int k = 0; k < kUnroll; ++k) {
      uint64_t u = base + k * nt;
      len[k] = u < units ? int(a.bytes - u * kUnitBytes < kUnitBytes ? a.bytes - u * kUnitBytes
                                                                      : kUnitBytes)
                         : 0;
      if (len[k] != 0) loadUnit(in[k], a.srcs[0] + u * kUnitBytes, len[k]);
    }
#pragma unroll
    for (int k = 0; k < kUnroll; ++k) acc[k].load(in[k]);
    for (int s = 1; s < a.nsrc; ++s) {
#pragma unroll
      for (int k = 0; k < kUnroll; ++k) {
        if (len[k] != 0) loadUnit(in[k], a.srcs[s] + (base + k * nt) * kUnitBytes, len[k]);
      }
#pragma unroll
      for (int k = 0; k < kUnroll; ++k) acc[k].template combine<Op>(in[k]);
    }
#pragma unroll
    for (int k = 0; k < kUnroll; ++k) {
      if (len[k] == 0) continue;
      Unit out;
      acc[k].store(out);
      for (int d = 0; d < a.ndst; ++d) storeUnit(a.dsts[d] + (base + k * nt) * kUnitBytes, out, len[k]);
    }
  }
}

int multiprocessors() {
  static int sms = [] {
    int dev = 0, n = 0;
    if (cudaGetDevice(&dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess) {
      cudaGetLastError();
      n = 32;
    }
    return n;
  }();
  return sms;
}

// Blocks for `units` of work when each block does kThreads * kUnroll per
// pass, at most `cap`.
int gridFor(uint64_t units, uint64_t cap) {
  uint64_t perBlock = uint64_t(kThreads) * kUnroll;
  uint64_t need = (units + perBlock - 1) / perBlock;
  return int(need < 1 ? 1 : (need > cap ? cap : need));
}
// Enough blocks to fill the GPU a few times over, no more than the work.
int gridFor(uint64_t units) { return gridFor(units, uint64_t(multiprocessors()) * 4); }

template <DataType D, ReduceOp Op>
int launchReduceCopyOp(const ReduceCopyArgs& a, cudaStream_t s) {
  // A persistent grid: as many blocks as are resident at once, so none
  // waits for a second wave.
  static const int resident = [] {
    int n = 0;
    if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, reduceCopyKernel<D, Op>, kThreads, 0) !=
            cudaSuccess || n < 1) {
      cudaGetLastError();
      n = 1;
    }
    return n * multiprocessors();
  }();
  int grid = gridFor((a.bytes + kUnitBytes - 1) / kUnitBytes, uint64_t(resident));
  reduceCopyKernel<D, Op><<<grid, kThreads, 0, s>>>(a);
  return cudaGetLastError();
}

template <DataType D>
int launchReduceCopy(ReduceOp op, const ReduceCopyArgs& a, cudaStream_t s) {
  switch (op) {
    case ReduceOp::kSum: return launchReduceCopyOp<D, ReduceOp::kSum>(a, s);
    case ReduceOp::kProd: return launchReduceCopyOp<D, ReduceOp::kProd>(a, s);
    case ReduceOp::kMax: return launchReduceCopyOp<D, ReduceOp::kMax>(a, s);
    case ReduceOp::kMin: return launchReduceCopyOp<D, ReduceOp::kMin>(a, s);
    default: return cudaErrorInvalidValue;
  }
}

// ---- Conversion and quantisation (fp32 <-> narrow).

template <DataType D>
__device__ float toFloat(const void* p, uint64_t i) {
  return Elem<D>::load(static_cast<const typename Elem<D>::S*>(p)[i]);
}
template <DataType D>
__device__ void fromFloat(void* p, uint64_t i, float v) {
  static_cast<typename Elem<D>::S*>(p)[i] = Elem<D>::store(v);
}

template <DataType D>
__global__ void __launch_bounds__(kThreads) narrowKernel(void* dst, const float* src, uint64_t n) {
  for (uint64_t i = uint64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += uint64_t(gridDim.x) * blockDim.x) {
    fromFloat<D>(dst, i, src[i]);
  }
}
template <DataType D>
__global__ void __launch_bounds__(kThreads) widenKernel(float* dst, const void* src, uint64_t n) {
  for (uint64_t i = uint64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += uint64_t(gridDim.x) * blockDim.x) {
    dst[i] = toFloat<D>(src, i);
  }
}

// One warp per quantisation block.
template <DataType D>
__global__ void __launch_bounds__(kThreads) quantizeKernel(void* q, float* scales, const float* src,
                                                           uint64_t n, int block, float fmax) {
  const uint64_t warp = (uint64_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  const uint64_t nblocks = (n + block - 1) / block;
  const uint64_t warps = uint64_t(gridDim.x) * blockDim.x / 32;
  for (uint64_t b = warp; b < nblocks; b += warps) {
    const uint64_t begin = b * block;
    const uint64_t end = begin + block < n ? begin + block : n;
    float amax = 0.0f;
    for (uint64_t i = begin + lane; i < end; i += 32) amax = fmaxf(amax, fabsf(src[i]));
    for (int o = 16; o > 0; o /= 2) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
    float scale = (fmax == 1.0f || amax == 0.0f || !(amax == amax)) ? 1.0f : amax / fmax;
    if (lane == 0) scales[b] = scale;
    for (uint64_t i = begin + lane; i < end; i += 32) fromFloat<D>(q, i, src[i] / scale);
  }
}

template <DataType D>
__global__ void __launch_bounds__(kThreads) dequantizeKernel(float* dst, const void* q,
                                                             const float* scales, uint64_t n,
                                                             int block) {
  for (uint64_t i = uint64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += uint64_t(gridDim.x) * blockDim.x) {
    dst[i] = toFloat<D>(q, i) * scales[i / block];
  }
}

uint64_t elemBytes(DataType t) {
  switch (t) {
    case DataType::kInt8: case DataType::kUint8: case DataType::kFloat8e4m3:
    case DataType::kFloat8e5m2: return 1;
    case DataType::kFloat16: case DataType::kBfloat16: return 2;
    case DataType::kInt32: case DataType::kUint32: case DataType::kFloat32: return 4;
    default: return 8;
  }
}

bool isNarrow(DataType t) {
  return t == DataType::kFloat16 || t == DataType::kBfloat16 || t == DataType::kFloat8e4m3 ||
         t == DataType::kFloat8e5m2;
}

#define STRATA_NARROW_DISPATCH(t, CALL)                                \
  switch (t) {                                                         \
    case DataType::kFloat16: { constexpr DataType D = DataType::kFloat16; CALL; break; }       \
    case DataType::kBfloat16: { constexpr DataType D = DataType::kBfloat16; CALL; break; }     \
    case DataType::kFloat8e4m3: { constexpr DataType D = DataType::kFloat8e4m3; CALL; break; } \
    case DataType::kFloat8e5m2: { constexpr DataType D = DataType::kFloat8e5m2; CALL; break; } \
    default: return cudaErrorInvalidValue;                             \
  }

}  // namespace

int reduceCopy(DataType type, ReduceOp op, void* const* dsts, int ndst, const void* const* srcs,
               int nsrc, size_t count, void* stream) {
  if (nsrc < 1 || nsrc > kMaxReduceInputs || ndst < 1 || ndst > kMaxCopyOutputs) {
    return cudaErrorInvalidValue;
  }
  if (count == 0) return cudaSuccess;
  ReduceCopyArgs a{};
  for (int i = 0; i < nsrc; ++i) a.srcs[i] = static_cast<const uint8_t*>(srcs[i]);
  for (int i = 0; i < ndst; ++i) a.dsts[i] = static_cast<uint8_t*>(dsts[i]);
  a.nsrc = nsrc;
  a.ndst = ndst;
  a.bytes = uint64_t(count) * elemBytes(type);
  auto s = static_cast<cudaStream_t>(stream);
  switch (type) {
    case DataType::kInt8: return launchReduceCopy<DataType::kInt8>(op, a, s);
    case DataType::kUint8: return launchReduceCopy<DataType::kUint8>(op, a, s);
    case DataType::kInt32: return launchReduceCopy<DataType::kInt32>(op, a, s);
    case DataType::kUint32: return launchReduceCopy<DataType::kUint32>(op, a, s);
    case DataType::kInt64: return launchReduceCopy<DataType::kInt64>(op, a, s);
    case DataType::kUint64: return launchReduceCopy<DataType::kUint64>(op, a, s);
    case DataType::kFloat16: return launchReduceCopy<DataType::kFloat16>(op, a, s);
    case DataType::kFloat32: return launchReduceCopy<DataType::kFloat32>(op, a, s);
    case DataType::kFloat64: return launchReduceCopy<DataType::kFloat64>(op, a, s);
    case DataType::kBfloat16: return launchReduceCopy<DataType::kBfloat16>(op, a, s);
    case DataType::kFloat8e4m3: return launchReduceCopy<DataType::kFloat8e4m3>(op, a, s);
    case DataType::kFloat8e5m2: return launchReduceCopy<DataType::kFloat8e5m2>(op, a, s);
  }
  return cudaErrorInvalidValue;
}

int convert(DataType to, void* dst, DataType from, const void* src, size_t count, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  if (count == 0) return cudaSuccess;
  if (to == DataType::kFloat32 && from == DataType::kFloat32) {
    return cudaMemcpyAsync(dst, src, count * 4, cudaMemcpyDeviceToDevice, s);
  }
  int grid = gridFor((count + kUnroll - 1) / kUnroll);
  if (from == DataType::kFloat32 && isNarrow(to)) {
    STRATA_NARROW_DISPATCH(to, (narrowKernel<D><<<grid, kThreads, 0, s>>>(
                                   dst, static_cast<const float*>(src), count)));
    return cudaGetLastError();
  }
  if (to == DataType::kFloat32 && isNarrow(from)) {
    STRATA_NARROW_DISPATCH(from, (widenKernel<D><<<grid, kThreads, 0, s>>>(
                                     static_cast<float*>(dst), src, count)));
    return cudaGetLastError();
  }
  return cudaErrorInvalidValue;
}

float quantizeFormatMax(DataType t) {
  switch (t) {
    case DataType::kFloat8e4m3: return 448.0f;
    case DataType::kFloat8e5m2: return 57344.0f;
    case DataType::kFloat16: return 65504.0f;
    case DataType::kBfloat16:
    case DataType::kFloat32: return 1.0f;
    default: return 0.0f;
  }
}

int quantize(DataType to, void* q, float* scales, const float* src, size_t count, int block,
             void* stream) {
  if (!isNarrow(to) || block < 32 || block > 4096 || (block & (block - 1)) != 0) {
    return cudaErrorInvalidValue;
  }
  if (count == 0) return cudaSuccess;
  auto s = static_cast<cudaStream_t>(stream);
  uint64_t nblocks = (count + block - 1) / block;
  int grid = gridFor(nblocks * 32 / kUnroll + 1);
  float fmax = quantizeFormatMax(to);
  STRATA_NARROW_DISPATCH(to, (quantizeKernel<D><<<grid, kThreads, 0, s>>>(q, scales, src, count,
                                                                          block, fmax)));
  return cudaGetLastError();
}

int dequantize(DataType from, float* dst, const void* q, const float* scales, size_t count,
               int block, void* stream) {
  if (!isNarrow(from) || block < 32 || block > 4096 || (block & (block - 1)) != 0) {
    return cudaErrorInvalidValue;
  }
  if (count == 0) return cudaSuccess;
  auto s = static_cast<cudaStream_t>(stream);
  int grid = gridFor((count + kUnroll - 1) / kUnroll);
  STRATA_NARROW_DISPATCH(from, (dequantizeKernel<D><<<grid, kThreads, 0, s>>>(dst, q, scales,
                                                                              count, block)));
  return cudaGetLastError();
}

}  // namespace strata::cuda_kernels
