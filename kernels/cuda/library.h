// CUDA kernels as a library, for the executor and for the compression work:
// reduce N inputs into one or several outputs, convert between fp32 and the
// narrow floats, and quantize/dequantize with a per-block scale. 16-byte
// vector loads and stores with several in flight per thread; fp16, bf16 and
// fp8 accumulate in fp32 and round once. Results equal the host kernels'
// (kernels/host) bit for bit.
//
// Every function enqueues on `stream` (a cudaStream_t) and returns the
// cudaError_t of the launch (0 on success). Pointers are device memory.
#pragma once

#include <cstddef>

#include "core/types.h"

namespace strata::cuda_kernels {

inline constexpr int kMaxReduceInputs = 8;
inline constexpr int kMaxCopyOutputs = 8;

// For every output j < ndst: dsts[j][i] = srcs[0][i] OP srcs[1][i] OP ...
// (left to right), 1 <= nsrc <= 8, 1 <= ndst <= 8. Outputs may alias inputs
// exactly. With nsrc == 1 it is a copy to several destinations.
int reduceCopy(DataType type, ReduceOp op, void* const* dsts, int ndst, const void* const* srcs,
               int nsrc, size_t count, void* stream);

inline int reduce(DataType type, ReduceOp op, void* dst, const void* const* srcs, int nsrc,
                  size_t count, void* stream) {
  return reduceCopy(type, op, &dst, 1, srcs, nsrc, count, stream);
}

// dst (type `to`) <- src (type `from`); one of them must be kFloat32 and the
// other fp16, bf16, fp8 e4m3 or fp8 e5m2 (or both kFloat32: a copy).
int convert(DataType to, void* dst, DataType from, const void* src, size_t count, void* stream);

// Per-block scaling for a narrow format: for each block b of `block`
// elements (the last may be shorter), scales[b] = amax / formatMax (1 when
// the block is all zero; formatMax: e4m3 448, e5m2 57344, fp16 65504) and
// q[i] = narrow(src[i] / scales[b]). bf16 keeps fp32's range: scale 1.
// block: a power of two in [32, 4096].
int quantize(DataType to, void* q, float* scales, const float* src, size_t count, int block,
             void* stream);
// dst[i] = float(q[i]) * scales[i / block].
int dequantize(DataType from, float* dst, const void* q, const float* scales, size_t count,
               int block, void* stream);

// formatMax above (1 for bf16 and fp32, 0 for other types).
float quantizeFormatMax(DataType t);

}  // namespace strata::cuda_kernels
