// Conversions between float and the narrow floating formats:
//   fp16  IEEE 754 binary16: 1 sign, 5 exponent (bias 15), 10 mantissa bits.
//   bf16  bfloat16: the top 16 bits of a float (8 exponent bits, bias 127).
//   e4m3  OCP FP8 E4M3FN: 4 exponent (bias 7), 3 mantissa bits, no
//         infinities, NaN = S.1111.111, largest finite +-448.
//   e5m2  OCP FP8 E5M2: 5 exponent (bias 15), 2 mantissa bits, IEEE-like
//         infinities and NaNs, largest finite +-57344.
//
// Narrowing rounds to nearest, ties to even. Overflow goes to infinity for
// fp16 and bf16; the fp8 encoders saturate finite overflow to the largest
// finite value (e4m3 also maps +-inf there, having no infinity; e5m2 keeps
// +-inf). NaN stays NaN (quieted, sign kept). Widening to float is exact.
//
// The scalar functions are inline and branch free so that loops over them
// vectorise; they assume the default floating-point environment (round to
// nearest, no flush of subnormals).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

#include "core/types.h"

namespace strata::kernels {

namespace convert_detail {
inline uint32_t bitsOf(float f) { return std::bit_cast<uint32_t>(f); }
inline float floatOf(uint32_t u) { return std::bit_cast<float>(u); }
// c ? t : f through a mask. Written this way (not as a branch) so the
// vectoriser can if-convert loops whose other arm holds a float operation,
// which it otherwise refuses to speculate under -ftrapping-math.
inline uint32_t pick(bool c, uint32_t t, uint32_t f) {
  const uint32_t m = 0u - uint32_t(c);
  return (t & m) | (f & ~m);
}
}  // namespace convert_detail

// ---- fp16 ----------------------------------------------------------------

inline float halfToFloat(uint16_t h) {
  using namespace convert_detail;
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t mag = h & 0x7fffu;
  const uint32_t exp = mag >> 10;
  uint32_t bits = (mag << 13) + (112u << 23);  // rebias 15 -> 127
  bits += pick(exp == 31, 112u << 23, 0u);  // inf/NaN: exponent 255
  // Subnormal (and zero): mantissa * 2^-24, exact in float.
  const uint32_t sub = bitsOf(float(mag) * 0x1p-24f);
  bits = pick(exp == 0, sub, bits);
  return floatOf(sign | bits);
}

inline uint16_t floatToHalf(float f) {
  using namespace convert_detail;
  const uint32_t x = bitsOf(f);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t a = x & 0x7fffffffu;
  // Normal range: rebias and round the 13 dropped bits to nearest even; a
  // mantissa carry moves into the exponent as it should.
  uint32_t r = (a - (112u << 23) + 0xfffu + ((a >> 13) & 1u)) >> 13;
  // Below 2^-14: adding 0.5 (whose ulp is 2^-24, the fp16 subnormal step)
  // lets the FPU do the rounding; the difference in bits is the result.
  const uint32_t sub = bitsOf(floatOf(a) + 0.5f) - 0x3f000000u;
  r = pick(a < 0x38800000u, sub, r);  // < 2^-14
  r = pick(a >= 0x477ff000u, 0x7c00u, r);  // >= 65520: inf
  r = pick(a > 0x7f800000u, 0x7e00u | ((a >> 13) & 0x3ffu), r);  // NaN, quiet
  return uint16_t(sign | r);
}

// ---- bf16 ----------------------------------------------------------------

inline float bf16ToFloat(uint16_t b) { return convert_detail::floatOf(uint32_t(b) << 16); }

inline uint16_t floatToBf16(float f) {
  using namespace convert_detail;
  const uint32_t x = bitsOf(f);
  uint32_t r = (x + 0x7fffu + ((x >> 16) & 1u)) >> 16;
  r = pick((x & 0x7fffffffu) > 0x7f800000u, (x >> 16) | 0x40u, r);  // NaN, quiet
  return uint16_t(r);
}

// ---- fp8 e4m3 (E4M3FN) ---------------------------------------------------

inline constexpr float kFp8e4m3Max = 448.0f;
inline constexpr float kFp8e5m2Max = 57344.0f;

inline float fp8e4m3ToFloat(uint8_t v) {
  using namespace convert_detail;
  const uint32_t sign = uint32_t(v & 0x80u) << 24;
  const uint32_t mag = v & 0x7fu;
  uint32_t bits = (mag << 20) + (120u << 23);  // rebias 7 -> 127
  const uint32_t sub = bitsOf(float(mag) * 0x1p-9f);
  bits = pick(mag < 8, sub, bits);  // subnormal: m * 2^-9
  bits = pick(mag == 0x7f, 0x7fc00000u, bits);  // the only NaN
  return floatOf(sign | bits);
}

inline uint8_t floatToFp8e4m3(float f) {
  using namespace convert_detail;
  const uint32_t x = bitsOf(f);
  const uint32_t sign = (x >> 24) & 0x80u;
  const uint32_t a = x & 0x7fffffffu;
  uint32_t r = (a - (120u << 23) + 0x7ffffu + ((a >> 20) & 1u)) >> 20;
  // Below 2^-6 the step is 2^-9, the ulp of 16384.0f.
  const uint32_t sub = bitsOf(floatOf(a) + 16384.0f) - 0x46800000u;
  r = pick(a < 0x3c800000u, sub, r);  // < 2^-6
  r = pick(a > 0x43e00000u, 0x7eu, r);  // > 448, inf included: saturate
  r = pick(a > 0x7f800000u, 0x7fu, r);  // NaN
  return uint8_t(sign | r);
}

// ---- fp8 e5m2 ------------------------------------------------------------

inline float fp8e5m2ToFloat(uint8_t v) {
  using namespace convert_detail;
  const uint32_t sign = uint32_t(v & 0x80u) << 24;
  const uint32_t mag = v & 0x7fu;
  uint32_t bits = (mag << 21) + (112u << 23);  // rebias 15 -> 127
  bits += pick(mag >= 0x7c, 112u << 23, 0u);  // inf/NaN: exponent 255
  const uint32_t sub = bitsOf(float(mag) * 0x1p-16f);
  bits = pick(mag < 4, sub, bits);  // subnormal: m * 2^-16
  return floatOf(sign | bits);
}

inline uint8_t floatToFp8e5m2(float f) {
  using namespace convert_detail;
  const uint32_t x = bitsOf(f);
  const uint32_t sign = (x >> 24) & 0x80u;
  const uint32_t a = x & 0x7fffffffu;
  uint32_t r = (a - (112u << 23) + 0xfffffu + ((a >> 21) & 1u)) >> 21;
  // Below 2^-14 the step is 2^-16, the ulp of 128.0f.
  const uint32_t sub = bitsOf(floatOf(a) + 128.0f) - 0x43000000u;
  r = pick(a < 0x38800000u, sub, r);  // < 2^-14
  r = pick(a > 0x47600000u, 0x7bu, r);  // > 57344: saturate
  r = pick(a == 0x7f800000u, 0x7cu, r);  // inf stays inf
  r = pick(a > 0x7f800000u, 0x7eu, r);  // NaN, quiet
  return uint8_t(sign | r);
}

// ---- Buffers -------------------------------------------------------------

// dst[i] = float(src[i]) for any floating datatype but kFloat64 (a float
// source is copied). Returns false, writing nothing, for other datatypes.
bool convertToFloat(DataType type, float* dst, const void* src, size_t count);

// dst[i] = narrow(src[i]), rounding as above. Same datatypes as convertToFloat.
bool convertFromFloat(DataType type, void* dst, const float* src, size_t count);

}  // namespace strata::kernels
