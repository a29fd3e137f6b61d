// Host reduction kernels. All datatypes x {sum, prod, max, min}, with the
// optional pre-scale (PreMulSum) of the second operand and post-division (Avg)
// of the result. fp16, bf16 and fp8 are computed in fp32 and rounded once
// (round to nearest even; fp8 e4m3 saturates to +-448, e5m2 to +-57344... see
// convert.h). Dispatches at run time to AVX2/F16C code where the CPU has it.
#pragma once

#include <cstddef>

#include "core/types.h"

namespace strata::kernels {

// dst[i] = post( a[i] OP pre(b[i]) ), 0 <= i < count.
// pre(x) = x * r.preScale if r.hasPreScale; post(x) = x / r.postDivisor if
// r.postDivisor > 1 (integer division for integer types). dst may equal a or b.
void reduce(DataType type, const Reduction& r, void* dst, const void* a, const void* b,
            size_t count);

// dst[i] = post( pre(src[i]) ): the one-operand case (a single rank's value).
// dst may equal src. With neither pre nor post it is a copy.
void transform(DataType type, const Reduction& r, void* dst, const void* src, size_t count);

// dst[i] = pre(src[i]) only (no post-division).
void preScale(DataType type, const Reduction& r, void* dst, const void* src, size_t count);

// dst[i] = post(src[i]) only.
void postDivide(DataType type, const Reduction& r, void* dst, const void* src, size_t count);

// Name of the implementation chosen at run time ("avx2" or "generic").
const char* reduceImplName();

}  // namespace strata::kernels
