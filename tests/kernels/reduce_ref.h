// A plain element-by-element reference for the host reduce kernels, written
// from the specification in kernels/host/reduce.h, plus deterministic input
// data for every datatype. Shared by the kernel tests.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "core/types.h"
#include "kernels/host/convert.h"

namespace strata::kernels::testref {

// What to compute: binary dst = post?(a OP pre?(b)); unary dst = post?(pre?(a)).
struct Case {
  ReduceOp op = ReduceOp::kSum;
  bool binary = true;
  bool pre = false;
  bool post = false;
  Scalar scale;
  uint64_t divisor = 1;
};

// Integer storage: arithmetic modulo 2^64, then truncated to the width.
template <class S>
struct IntRef {
  using Store = S;
  static constexpr bool kSigned = std::is_signed_v<S>;

  static S combine(ReduceOp op, S a, S b) {
    switch (op) {
      case ReduceOp::kSum: return S(uint64_t(a) + uint64_t(b));
      case ReduceOp::kProd: return S(uint64_t(a) * uint64_t(b));
      case ReduceOp::kMax: return a < b ? b : a;
      case ReduceOp::kMin: return b < a ? b : a;
    }
    return 0;
  }
  static S expect(const Case& c, S a, S b) {
    S y = c.binary ? b : a;
    if (c.pre) y = S(uint64_t(y) * (kSigned ? uint64_t(c.scale.i) : c.scale.u));
    S r = c.binary ? combine(c.op, a, y) : y;
    if (c.post) {
      if constexpr (kSigned) {
        r = S(int64_t(r) / int64_t(c.divisor));
      } else {
        r = S(uint64_t(r) / c.divisor);
      }
    }
    return r;
  }
  static bool same(const Case&, S got, S want) { return got == want; }
  static std::string show(S v) {
    std::ostringstream os;
    os << int64_t(v) << " (u " << uint64_t(std::make_unsigned_t<S>(v)) << ")";
    return os.str();
  }
  static S generate(std::mt19937_64& rng) { return S(rng()); }
};

// Floating storage: decoded to C (float, or double for double), computed
// there, encoded once.
template <class S, class C, C (*kDecode)(S), S (*kEncode)(C)>
struct FloatRef {
  using Store = S;

  static C combine(ReduceOp op, C a, C b) {
    switch (op) {
      case ReduceOp::kSum: return a + b;
      case ReduceOp::kProd: return a * b;
      case ReduceOp::kMax:
        if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<C>::quiet_NaN();
        return std::max(a, b);
      case ReduceOp::kMin:
        if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<C>::quiet_NaN();
        return std::min(a, b);
    }
    return 0;
  }
  static S expect(const Case& c, S a, S b) {
    C y = kDecode(c.binary ? b : a);
    if (c.pre) y = y * C(c.scale.f);
    C r = c.binary ? combine(c.op, kDecode(a), y) : y;
    if (c.post) r = r / C(c.divisor);
    return kEncode(r);
  }
  // Bit-exact, except that any NaN matches any NaN and, for max/min, +0
  // matches -0 (which of two equal zeros comes back is not specified).
  static bool same(const Case& c, S got, S want) {
    const C g = kDecode(got), w = kDecode(want);
    if (std::isnan(g) && std::isnan(w)) return true;
    if ((c.op == ReduceOp::kMax || c.op == ReduceOp::kMin) && c.binary && g == w) return true;
    return std::memcmp(&got, &want, sizeof(S)) == 0;
  }
  static std::string show(S v) {
    std::ostringstream os;
    os.precision(17);
    os << double(kDecode(v)) << " (bits 0x" << std::hex;
    if constexpr (sizeof(S) == 8) {
      os << std::bit_cast<uint64_t>(v);
    } else if constexpr (sizeof(S) == 4) {
      os << std::bit_cast<uint32_t>(v);
    } else {
      os << uint32_t(v);
    }
    os << ")";
    return os.str();
  }
  // Mostly moderate values at many scales, some specials, and for the
  // narrow types also arbitrary bit patterns (every code, NaN included).
  static S generate(std::mt19937_64& rng) {
    const uint64_t u = rng();
    const unsigned pick = unsigned(u % 32);
    if constexpr (!std::is_same_v<S, C>) {
      if (pick < 12) return S(u >> 32);
    }
    if (pick == 31) {
      static const C kSpecials[] = {C(0), -C(0), std::numeric_limits<C>::infinity(),
                                    -std::numeric_limits<C>::infinity(),
                                    std::numeric_limits<C>::quiet_NaN(),
                                    std::numeric_limits<C>::denorm_min(),
                                    std::numeric_limits<C>::max(), C(1)};
      return kEncode(kSpecials[(u >> 8) % 8]);
    }
    const double unit = double((u >> 11) & 0xfffff) / double(1 << 20) * 2.0 - 1.0;
    const int exp = int((u >> 40) % 24) - 12;
    return kEncode(C(std::ldexp(unit, exp)));
  }
};

inline float identityF(float x) { return x; }
inline double identityD(double x) { return x; }

using HalfRef = FloatRef<uint16_t, float, halfToFloat, floatToHalf>;
using Bf16Ref = FloatRef<uint16_t, float, bf16ToFloat, floatToBf16>;
using E4m3Ref = FloatRef<uint8_t, float, fp8e4m3ToFloat, floatToFp8e4m3>;
using E5m2Ref = FloatRef<uint8_t, float, fp8e5m2ToFloat, floatToFp8e5m2>;
using F32Ref = FloatRef<float, float, identityF, identityF>;
using F64Ref = FloatRef<double, double, identityD, identityD>;

// Calls f(Ref{}) with the reference type of datatype t.
template <class F>
void withType(DataType t, F&& f) {
  switch (t) {
    case DataType::kInt8: return f(IntRef<int8_t>{});
    case DataType::kUint8: return f(IntRef<uint8_t>{});
    case DataType::kInt32: return f(IntRef<int32_t>{});
    case DataType::kUint32: return f(IntRef<uint32_t>{});
    case DataType::kInt64: return f(IntRef<int64_t>{});
    case DataType::kUint64: return f(IntRef<uint64_t>{});
    case DataType::kFloat16: return f(HalfRef{});
    case DataType::kFloat32: return f(F32Ref{});
    case DataType::kFloat64: return f(F64Ref{});
    case DataType::kBfloat16: return f(Bf16Ref{});
    case DataType::kFloat8e4m3: return f(E4m3Ref{});
    case DataType::kFloat8e5m2: return f(E5m2Ref{});
  }
}

template <class Ref>
std::vector<typename Ref::Store> generate(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<typename Ref::Store> v(n);
  for (auto& x : v) x = Ref::generate(rng);
  return v;
}

// A pre-scale the way a caller builds one: floats 0.3 (inexact, so the
// product rounds), signed ints -3, unsigned 3.
inline Scalar testScale(DataType t, double f = 0.3, int64_t i = -3, uint64_t u = 3) {
  Scalar s;
  s.type = t;
  s.f = f;
  s.i = i;
  s.u = u;
  return s;
}

inline const std::vector<DataType>& allDataTypes() {
  static const std::vector<DataType> kAll = {
      DataType::kInt8,    DataType::kUint8,    DataType::kInt32,      DataType::kUint32,
      DataType::kInt64,   DataType::kUint64,   DataType::kFloat16,    DataType::kFloat32,
      DataType::kFloat64, DataType::kBfloat16, DataType::kFloat8e4m3, DataType::kFloat8e5m2};
  return kAll;
}

}  // namespace strata::kernels::testref
