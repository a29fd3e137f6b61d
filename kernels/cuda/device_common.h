// Element arithmetic shared by the CUDA kernels and by their host-side
// emulation in the tests: storage <-> compute conversion (fp16, bf16 and fp8
// are computed in fp32 and rounded once, as the host kernels do), the four
// operators, and the pre-scale / post-division of a Reduction. Everything
// here is plain data and inline functions that compile both with nvcc
// (__host__ __device__) and with the host compiler alone.
//
// The narrow-float conversions are bit-for-bit the ones of
// kernels/host/convert.h (round to nearest even, fp8 saturating), so a
// kernel result can be compared exactly with the host reference.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "core/types.h"

#if defined(__CUDACC__)
#define STRATA_HD __host__ __device__ __forceinline__
#else
#define STRATA_HD inline
#endif

namespace strata::cuda_kernels {

STRATA_HD uint32_t bitsOf(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
#endif
}
STRATA_HD float floatOf(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, 4);
  return f;
#endif
}
STRATA_HD uint32_t pick(bool c, uint32_t t, uint32_t f) {
  const uint32_t m = 0u - uint32_t(c);
  return (t & m) | (f & ~m);
}

STRATA_HD float halfToFloat(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t mag = h & 0x7fffu;
  const uint32_t exp = mag >> 10;
  uint32_t bits = (mag << 13) + (112u << 23);
  bits += pick(exp == 31, 112u << 23, 0u);
  const uint32_t sub = bitsOf(float(mag) * 0x1p-24f);
  bits = pick(exp == 0, sub, bits);
  return floatOf(sign | bits);
}
STRATA_HD uint16_t floatToHalf(float f) {
  const uint32_t x = bitsOf(f);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t a = x & 0x7fffffffu;
  uint32_t r = (a - (112u << 23) + 0xfffu + ((a >> 13) & 1u)) >> 13;
  const uint32_t sub = bitsOf(floatOf(a) + 0.5f) - 0x3f000000u;
  r = pick(a < 0x38800000u, sub, r);
  r = pick(a >= 0x477ff000u, 0x7c00u, r);
  r = pick(a > 0x7f800000u, 0x7e00u | ((a >> 13) & 0x3ffu), r);
  return uint16_t(sign | r);
}
STRATA_HD float bf16ToFloat(uint16_t b) { return floatOf(uint32_t(b) << 16); }
STRATA_HD uint16_t floatToBf16(float f) {
  const uint32_t x = bitsOf(f);
  uint32_t r = (x + 0x7fffu + ((x >> 16) & 1u)) >> 16;
  r = pick((x & 0x7fffffffu) > 0x7f800000u, (x >> 16) | 0x40u, r);
  return uint16_t(r);
}
STRATA_HD float fp8e4m3ToFloat(uint8_t v) {
  const uint32_t sign = uint32_t(v & 0x80u) << 24;
  const uint32_t mag = v & 0x7fu;
  uint32_t bits = (mag << 20) + (120u << 23);
  const uint32_t sub = bitsOf(float(mag) * 0x1p-9f);
  bits = pick(mag < 8, sub, bits);
  bits = pick(mag == 0x7f, 0x7fc00000u, bits);
  return floatOf(sign | bits);
}
STRATA_HD uint8_t floatToFp8e4m3(float f) {
  const uint32_t x = bitsOf(f);
  const uint32_t sign = (x >> 24) & 0x80u;
  const uint32_t a = x & 0x7fffffffu;
  uint32_t r = (a - (120u << 23) + 0x7ffffu + ((a >> 20) & 1u)) >> 20;
  const uint32_t sub = bitsOf(floatOf(a) + 16384.0f) - 0x46800000u;
  r = pick(a < 0x3c800000u, sub, r);
  r = pick(a > 0x43e00000u, 0x7eu, r);
  r = pick(a > 0x7f800000u, 0x7fu, r);
  return uint8_t(sign | r);
}
STRATA_HD float fp8e5m2ToFloat(uint8_t v) {
  const uint32_t sign = uint32_t(v & 0x80u) << 24;
  const uint32_t mag = v & 0x7fu;
  uint32_t bits = (mag << 21) + (112u << 23);
  bits += pick(mag >= 0x7c, 112u << 23, 0u);
  const uint32_t sub = bitsOf(float(mag) * 0x1p-16f);
  bits = pick(mag < 4, sub, bits);
  return floatOf(sign | bits);
}
STRATA_HD uint8_t floatToFp8e5m2(float f) {
  const uint32_t x = bitsOf(f);
  const uint32_t sign = (x >> 24) & 0x80u;
  const uint32_t a = x & 0x7fffffffu;
  uint32_t r = (a - (112u << 23) + 0xfffffu + ((a >> 21) & 1u)) >> 21;
  const uint32_t sub = bitsOf(floatOf(a) + 128.0f) - 0x43000000u;
  r = pick(a < 0x38800000u, sub, r);
  r = pick(a > 0x47600000u, 0x7bu, r);
  r = pick(a == 0x7f800000u, 0x7cu, r);
  r = pick(a > 0x7f800000u, 0x7eu, r);
  return uint8_t(sign | r);
}

// ---- Storage (S) and compute (C) types per datatype.

template <class S_>
struct NativeElem {
  using S = S_;
  using C = S_;
  STRATA_HD static C load(S v) { return v; }
  STRATA_HD static S store(C v) { return v; }
};
template <DataType D> struct Elem;
template <> struct Elem<DataType::kInt8> : NativeElem<int8_t> {};
template <> struct Elem<DataType::kUint8> : NativeElem<uint8_t> {};
template <> struct Elem<DataType::kInt32> : NativeElem<int32_t> {};
template <> struct Elem<DataType::kUint32> : NativeElem<uint32_t> {};
template <> struct Elem<DataType::kInt64> : NativeElem<int64_t> {};
template <> struct Elem<DataType::kUint64> : NativeElem<uint64_t> {};
template <> struct Elem<DataType::kFloat32> : NativeElem<float> {};
template <> struct Elem<DataType::kFloat64> : NativeElem<double> {};
template <> struct Elem<DataType::kFloat16> {
  using S = uint16_t;
  using C = float;
  STRATA_HD static C load(S v) { return halfToFloat(v); }
  STRATA_HD static S store(C v) { return floatToHalf(v); }
};
template <> struct Elem<DataType::kBfloat16> {
  using S = uint16_t;
  using C = float;
  STRATA_HD static C load(S v) { return bf16ToFloat(v); }
  STRATA_HD static S store(C v) { return floatToBf16(v); }
};
template <> struct Elem<DataType::kFloat8e4m3> {
  using S = uint8_t;
  using C = float;
  STRATA_HD static C load(S v) { return fp8e4m3ToFloat(v); }
  STRATA_HD static S store(C v) { return floatToFp8e4m3(v); }
};
template <> struct Elem<DataType::kFloat8e5m2> {
  using S = uint8_t;
  using C = float;
  STRATA_HD static C load(S v) { return fp8e5m2ToFloat(v); }
  STRATA_HD static S store(C v) { return floatToFp8e5m2(v); }
};

// ---- A Reduction as plain data a kernel takes by value.
struct DevReduction {
  int32_t op = 0;            // ReduceOp
  uint32_t reserved = 0;
  double scaleF = 1.0;       // pre-scale for floating types
  uint64_t scaleBits = 1;    // pre-scale for integer types (mod 2^64)
  uint64_t divisor = 1;      // post-division; 1: none
};

// ---- Arithmetic in the compute type (same results as the host kernels:
// integers wrap, division truncates, max/min propagate NaN).
template <class T>
struct Arith {
  static constexpr bool kInt = std::is_integral<T>::value;
  STRATA_HD static T add(T a, T b) {
    if constexpr (kInt) {
      using U = typename std::make_unsigned<T>::type;
      return T(U(U(a) + U(b)));
    } else {
      return a + b;
    }
  }
  STRATA_HD static T mul(T a, T b) {
    if constexpr (kInt) {
      using U = typename std::make_unsigned<T>::type;
      return T(U(U(a) * U(b)));
    } else {
      return a * b;
    }
  }
  STRATA_HD static T max(T a, T b) {
    if constexpr (kInt) return a > b ? a : b;
    else return (a > b || a != a) ? a : b;
  }
  STRATA_HD static T min(T a, T b) {
    if constexpr (kInt) return a < b ? a : b;
    else return (a < b || a != a) ? a : b;
  }
  STRATA_HD static T scale(const DevReduction& r) {
    if constexpr (kInt) return T(r.scaleBits);
    else return T(r.scaleF);
  }
  STRATA_HD static T div(T x, uint64_t d) {
    if constexpr (!kInt) {
      return x / T(d);
    } else if constexpr (sizeof(T) > 4) {
      if constexpr (std::is_signed<T>::value) {
        const uint64_t lim = uint64_t(INT64_MAX);
        return T(x / T(d > lim ? lim : d));
      } else {
        return T(x / T(d));
      }
    } else if constexpr (std::is_signed<T>::value || sizeof(T) < 4) {
      return T(int32_t(double(x) / double(d)));
    } else {
      return T(int64_t(double(x) / double(d)));
    }
  }
};

template <ReduceOp Op, class T>
STRATA_HD T applyOp(T a, T b) {
  if constexpr (Op == ReduceOp::kSum) return Arith<T>::add(a, b);
  else if constexpr (Op == ReduceOp::kProd) return Arith<T>::mul(a, b);
  else if constexpr (Op == ReduceOp::kMax) return Arith<T>::max(a, b);
  else return Arith<T>::min(a, b);
}

// The DevReduction for a Reduction: scalar conversions as the host kernels
// do them (kernels/host/reduce_loops.h).
DevReduction toDevReduction(const Reduction& r);

}  // namespace strata::cuda_kernels
