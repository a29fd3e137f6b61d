// Data types and reduction operators as the core sees them.
#pragma once

#include <cstddef>
#include <cstdint>

namespace strata {

// Values equal ncclDataType_t.
enum class DataType : int {
  kInt8 = 0,
  kUint8 = 1,
  kInt32 = 2,
  kUint32 = 3,
  kInt64 = 4,
  kUint64 = 5,
  kFloat16 = 6,
  kFloat32 = 7,
  kFloat64 = 8,
  kBfloat16 = 9,
  kFloat8e4m3 = 10,
  kFloat8e5m2 = 11,
};
inline constexpr int kNumDataTypes = 12;

size_t dataTypeSize(DataType t);
const char* dataTypeName(DataType t);
bool isFloatingPoint(DataType t);
bool isValidDataType(int t);

// The binary operator applied element by element.
enum class ReduceOp : int { kSum = 0, kProd = 1, kMax = 2, kMin = 3 };
const char* reduceOpName(ReduceOp op);

// A scalar in the value domain of a datatype: floating types keep it as a
// double, signed integers as int64, unsigned as uint64.
struct Scalar {
  DataType type = DataType::kFloat32;
  double f = 0.0;
  int64_t i = 0;
  uint64_t u = 0;

  // Reads one element of type t from p.
  static Scalar fromBytes(DataType t, const void* p);
};

// The reduction a collective performs, as the executor applies it:
//   out = post( pre(in_0) op pre(in_1) op ... )
// pre multiplies a rank's own input by preScale (PreMulSum); post divides the
// finished value by postDivisor (Avg). Both are off by default.
struct Reduction {
  ReduceOp op = ReduceOp::kSum;
  bool hasPreScale = false;
  Scalar preScale;
  uint64_t postDivisor = 1;
};

}  // namespace strata
