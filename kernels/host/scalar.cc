// Scalar::fromBytes: one element of a datatype read into all three fields.
//   floating types: f = the value; i and u = the value truncated toward zero
//                   and saturated to their range (NaN gives 0).
//   signed ints:    i = the value; f = double(i); u = its two's complement bits.
//   unsigned ints:  u = the value; f = double(u); i = the same bits as int64.
// So an integer multiply by .u or .i agrees modulo 2^width either way.
#include <cstring>
#include <limits>

#include "core/types.h"
#include "kernels/host/convert.h"

namespace strata {
namespace {

template <class T>
T readAs(const void* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

Scalar fromFloating(DataType t, double f) {
  Scalar s;
  s.type = t;
  s.f = f;
  if (f != f) return s;  // NaN: integers stay 0
  if (f <= -0x1p63) {
    s.i = std::numeric_limits<int64_t>::min();
  } else if (f >= 0x1p63) {
    s.i = std::numeric_limits<int64_t>::max();
  } else {
    s.i = int64_t(f);
  }
  if (f <= 0) {
    s.u = 0;
  } else if (f >= 0x1p64) {
    s.u = std::numeric_limits<uint64_t>::max();
  } else {
    s.u = uint64_t(f);
  }
  return s;
}

Scalar fromSigned(DataType t, int64_t v) {
  Scalar s;
  s.type = t;
  s.i = v;
  s.f = double(v);
  s.u = uint64_t(v);
  return s;
}

Scalar fromUnsigned(DataType t, uint64_t v) {
  Scalar s;
  s.type = t;
  s.u = v;
  s.f = double(v);
  s.i = int64_t(v);
  return s;
}

}  // namespace

Scalar Scalar::fromBytes(DataType t, const void* p) {
  using namespace kernels;
  switch (t) {
    case DataType::kInt8: return fromSigned(t, readAs<int8_t>(p));
    case DataType::kUint8: return fromUnsigned(t, readAs<uint8_t>(p));
    case DataType::kInt32: return fromSigned(t, readAs<int32_t>(p));
    case DataType::kUint32: return fromUnsigned(t, readAs<uint32_t>(p));
    case DataType::kInt64: return fromSigned(t, readAs<int64_t>(p));
    case DataType::kUint64: return fromUnsigned(t, readAs<uint64_t>(p));
    case DataType::kFloat16: return fromFloating(t, halfToFloat(readAs<uint16_t>(p)));
    case DataType::kFloat32: return fromFloating(t, readAs<float>(p));
    case DataType::kFloat64: return fromFloating(t, readAs<double>(p));
    case DataType::kBfloat16: return fromFloating(t, bf16ToFloat(readAs<uint16_t>(p)));
    case DataType::kFloat8e4m3: return fromFloating(t, fp8e4m3ToFloat(readAs<uint8_t>(p)));
    case DataType::kFloat8e5m2: return fromFloating(t, fp8e5m2ToFloat(readAs<uint8_t>(p)));
  }
  Scalar s;
  s.type = t;
  return s;
}

}  // namespace strata
