// Internal to the host reduce kernels (reduce.cc, reduce_avx2.cc and their
// tests): how each datatype is stored and computed, the element operators,
// the generic loop, and the dispatcher from run-time arguments to a
// compile-time specialised kernel.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "kernels/host/convert.h"
#include "kernels/host/reduce.h"

// Tells the vectoriser the loop's iterations are independent (dst may be
// a or b exactly, never a partial overlap).
#if defined(__clang__)
#define STRATA_IVDEP _Pragma("clang loop vectorize(assume_safety)")
#elif defined(__GNUC__)
#define STRATA_IVDEP _Pragma("GCC ivdep")
#else
#define STRATA_IVDEP
#endif

namespace strata::kernels::detail {

// ---- Storage: Store is the element in memory, Calc the type computed in.

template <class S>
struct NativeCodec {
  using Store = S;
  using Calc = S;
  static Calc load(Store v) { return v; }
  static Store store(Calc v) { return v; }
};

template <class S, float (*kLoad)(S), S (*kStore)(float)>
struct NarrowCodec {
  using Store = S;
  using Calc = float;
  static float load(Store v) { return kLoad(v); }
  static Store store(float v) { return kStore(v); }
};

template <DataType D> struct Codec;
template <> struct Codec<DataType::kInt8> : NativeCodec<int8_t> {};
template <> struct Codec<DataType::kUint8> : NativeCodec<uint8_t> {};
template <> struct Codec<DataType::kInt32> : NativeCodec<int32_t> {};
template <> struct Codec<DataType::kUint32> : NativeCodec<uint32_t> {};
template <> struct Codec<DataType::kInt64> : NativeCodec<int64_t> {};
template <> struct Codec<DataType::kUint64> : NativeCodec<uint64_t> {};
template <> struct Codec<DataType::kFloat32> : NativeCodec<float> {};
template <> struct Codec<DataType::kFloat64> : NativeCodec<double> {};
template <> struct Codec<DataType::kFloat16> : NarrowCodec<uint16_t, halfToFloat, floatToHalf> {};
template <> struct Codec<DataType::kBfloat16> : NarrowCodec<uint16_t, bf16ToFloat, floatToBf16> {};
template <>
struct Codec<DataType::kFloat8e4m3> : NarrowCodec<uint8_t, fp8e4m3ToFloat, floatToFp8e4m3> {};
template <>
struct Codec<DataType::kFloat8e5m2> : NarrowCodec<uint8_t, fp8e5m2ToFloat, floatToFp8e5m2> {};

// ---- Scalars: a Scalar read in the value domain it was written in.

inline bool isSignedInteger(DataType t) {
  return t == DataType::kInt8 || t == DataType::kInt32 || t == DataType::kInt64;
}

inline double scalarAsDouble(const Scalar& s) {
  if (isFloatingPoint(s.type)) return s.f;
  return isSignedInteger(s.type) ? double(s.i) : double(s.u);
}

// The scalar as an integer modulo 2^64 (floats truncated and saturated).
inline uint64_t scalarAsBits(const Scalar& s) {
  if (!isFloatingPoint(s.type)) return isSignedInteger(s.type) ? uint64_t(s.i) : s.u;
  const double f = s.f;
  if (!(f == f)) return 0;
  if (f <= -0x1p63) return uint64_t(std::numeric_limits<int64_t>::min());
  if (f < 0) return uint64_t(int64_t(f));
  if (f >= 0x1p64) return std::numeric_limits<uint64_t>::max();
  return uint64_t(f);
}

// ---- Arithmetic in the compute type.

template <class T, bool = std::is_integral_v<T>>
struct Arith;

// Integers: sum and product wrap (done on the unsigned type); division
// truncates. Up to 32 bits the quotient is computed as trunc(double(x) / d),
// which is exact there (and vectorises); 64-bit types divide natively.
template <class T>
struct Arith<T, true> {
  using U = std::make_unsigned_t<T>;
  using Div = std::conditional_t<(sizeof(T) <= 4), double, T>;
  static T add(T a, T b) { return T(U(U(a) + U(b))); }
  static T mul(T a, T b) { return T(U(U(a) * U(b))); }
  static T max(T a, T b) { return a > b ? a : b; }
  static T min(T a, T b) { return a < b ? a : b; }
  static T div(T x, Div d) {
    if constexpr (sizeof(T) > 4) {
      return T(x / d);
    } else if constexpr (std::is_signed_v<T> || sizeof(T) < 4) {
      return T(int32_t(double(x) / d));
    } else {
      return T(int64_t(double(x) / d));
    }
  }
  static T scale(const Scalar& s) { return T(scalarAsBits(s)); }
  static Div divisor(uint64_t d) {
    if constexpr (sizeof(T) <= 4) {
      return double(d);
    } else if constexpr (std::is_signed_v<T>) {
      return d > uint64_t(std::numeric_limits<T>::max()) ? std::numeric_limits<T>::max() : T(d);
    } else {
      return d;
    }
  }
};

// Floating point: max and min propagate NaN from either side; otherwise
// max(a, b) = a > b ? a : b (so +0 and -0 give b), likewise min.
template <class T>
struct Arith<T, false> {
  using Div = T;
  static T add(T a, T b) { return a + b; }
  static T mul(T a, T b) { return a * b; }
  static T max(T a, T b) { return (a > b || a != a) ? a : b; }
  static T min(T a, T b) { return (a < b || a != a) ? a : b; }
  static T div(T x, Div d) { return x / d; }
  static T scale(const Scalar& s) { return T(scalarAsDouble(s)); }
  static Div divisor(uint64_t d) { return T(d); }
};

struct OpSum {
  template <class T> static T apply(T a, T b) { return Arith<T>::add(a, b); }
};
struct OpProd {
  template <class T> static T apply(T a, T b) { return Arith<T>::mul(a, b); }
};
struct OpMax {
  template <class T> static T apply(T a, T b) { return Arith<T>::max(a, b); }
};
struct OpMin {
  template <class T> static T apply(T a, T b) { return Arith<T>::min(a, b); }
};

// The per-call constants of a Reduction in datatype D's compute type.
template <DataType D>
struct Params {
  using T = typename Codec<D>::Calc;
  using A = Arith<T>;
  T scale;
  typename A::Div divisor;
  explicit Params(const Reduction& r)
      : scale(A::scale(r.preScale)), divisor(A::divisor(r.postDivisor)) {}
};

// ---- The generic loop.
//   binary: dst[i] = post(a[i] OP pre(b[i]))
//   unary:  dst[i] = post(pre(a[i]))          (b is not read)
// Elements are independent, so dst may be a or b (STRATA_IVDEP tells the
// vectoriser so). Always inlined: reduce_avx2.cc instantiates it inside AVX2 functions.
template <DataType D, class Op, bool kBinary, bool kPre, bool kPost>
[[gnu::always_inline]] inline void genericLoop(void* dstv, const void* av, const void* bv,
                                                size_t n, const Params<D>& p) {
  using C = Codec<D>;
  using S = typename C::Store;
  using T = typename C::Calc;
  using A = Arith<T>;
  S* dst = static_cast<S*>(dstv);
  const S* a = static_cast<const S*>(av);
  const S* b = static_cast<const S*>(bv);
  const T scale = p.scale;
  const auto divisor = p.divisor;
  STRATA_IVDEP
  for (size_t i = 0; i < n; ++i) {
    T y = C::load(kBinary ? b[i] : a[i]);
    if constexpr (kPre) y = A::mul(y, scale);
    if constexpr (kBinary) y = Op::apply(C::load(a[i]), y);
    if constexpr (kPost) y = A::div(y, divisor);
    dst[i] = C::store(y);
  }
}

// ---- Dispatch: K<D, Op, kBinary, kPre, kPost>::run(dst, a, b, n, r).

template <template <DataType, class, bool, bool, bool> class K, DataType D, class Op, bool kBin>
void dispatchFlags(const Reduction& r, bool pre, bool post, void* dst, const void* a,
                   const void* b, size_t n) {
  if (pre) {
    if (post) {
      K<D, Op, kBin, true, true>::run(dst, a, b, n, r);
    } else {
      K<D, Op, kBin, true, false>::run(dst, a, b, n, r);
    }
  } else if (post) {
    K<D, Op, kBin, false, true>::run(dst, a, b, n, r);
  } else {
    K<D, Op, kBin, false, false>::run(dst, a, b, n, r);
  }
}

template <template <DataType, class, bool, bool, bool> class K, DataType D>
void dispatchOp(const Reduction& r, bool binary, bool pre, bool post, void* dst, const void* a,
                const void* b, size_t n) {
  if (!binary) return dispatchFlags<K, D, OpSum, false>(r, pre, post, dst, a, a, n);
  switch (r.op) {
    case ReduceOp::kSum: return dispatchFlags<K, D, OpSum, true>(r, pre, post, dst, a, b, n);
    case ReduceOp::kProd: return dispatchFlags<K, D, OpProd, true>(r, pre, post, dst, a, b, n);
    case ReduceOp::kMax: return dispatchFlags<K, D, OpMax, true>(r, pre, post, dst, a, b, n);
    case ReduceOp::kMin: return dispatchFlags<K, D, OpMin, true>(r, pre, post, dst, a, b, n);
  }
}

template <template <DataType, class, bool, bool, bool> class K>
void dispatch(DataType t, const Reduction& r, bool binary, bool pre, bool post, void* dst,
              const void* a, const void* b, size_t n) {
  using enum DataType;
  switch (t) {
    case kInt8: return dispatchOp<K, kInt8>(r, binary, pre, post, dst, a, b, n);
    case kUint8: return dispatchOp<K, kUint8>(r, binary, pre, post, dst, a, b, n);
    case kInt32: return dispatchOp<K, kInt32>(r, binary, pre, post, dst, a, b, n);
    case kUint32: return dispatchOp<K, kUint32>(r, binary, pre, post, dst, a, b, n);
    case kInt64: return dispatchOp<K, kInt64>(r, binary, pre, post, dst, a, b, n);
    case kUint64: return dispatchOp<K, kUint64>(r, binary, pre, post, dst, a, b, n);
    case kFloat16: return dispatchOp<K, kFloat16>(r, binary, pre, post, dst, a, b, n);
    case kFloat32: return dispatchOp<K, kFloat32>(r, binary, pre, post, dst, a, b, n);
    case kFloat64: return dispatchOp<K, kFloat64>(r, binary, pre, post, dst, a, b, n);
    case kBfloat16: return dispatchOp<K, kBfloat16>(r, binary, pre, post, dst, a, b, n);
    case kFloat8e4m3: return dispatchOp<K, kFloat8e4m3>(r, binary, pre, post, dst, a, b, n);
    case kFloat8e5m2: return dispatchOp<K, kFloat8e5m2>(r, binary, pre, post, dst, a, b, n);
  }
}

// ---- Implementations.

// One implementation of the element loops. apply() computes, for count > 0
// and at least one of pre/post when !binary:
//   binary: dst = post?(a OP pre?(b));  unary: dst = post?(pre?(a)).
struct HostReduceImpl {
  const char* name;
  void (*apply)(DataType t, const Reduction& r, bool binary, bool pre, bool post, void* dst,
                const void* a, const void* b, size_t count);
};

// Plain C++ the compiler vectorises; always available.
const HostReduceImpl& genericReduceImpl();
// AVX2 + F16C; nullptr where the CPU (or the build target) lacks them.
const HostReduceImpl* avx2ReduceImpl();
// The one reduce()/transform() use: AVX2 where available, else generic.
const HostReduceImpl& activeReduceImpl();

}  // namespace strata::kernels::detail
