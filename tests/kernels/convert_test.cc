// Conversions float <-> fp16 / bf16 / fp8 e4m3 / fp8 e5m2, checked against a
// reference written from the format definitions: decoding from the fields
// with ldexp, encoding by searching the sorted list of finite values.
#include "kernels/host/convert.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

namespace strata::kernels {
namespace {

struct Format {
  const char* name;
  int expBits;
  int mantBits;
  int bias;
  bool ieeeSpecials;  // top exponent = inf/NaN; otherwise only S.1..1.1..1 is NaN
  bool saturates;     // finite overflow gives the largest finite value
  float (*decode)(uint32_t);
  uint32_t (*encode)(float);
};

const Format kHalf{"fp16", 5, 10, 15, true, false,
                   [](uint32_t c) { return halfToFloat(uint16_t(c)); },
                   [](float f) -> uint32_t { return floatToHalf(f); }};
const Format kBf16{"bf16", 8, 7, 127, true, false,
                   [](uint32_t c) { return bf16ToFloat(uint16_t(c)); },
                   [](float f) -> uint32_t { return floatToBf16(f); }};
const Format kE4m3{"e4m3", 4, 3, 7, false, true,
                   [](uint32_t c) { return fp8e4m3ToFloat(uint8_t(c)); },
                   [](float f) -> uint32_t { return floatToFp8e4m3(f); }};
const Format kE5m2{"e5m2", 5, 2, 15, true, true,
                   [](uint32_t c) { return fp8e5m2ToFloat(uint8_t(c)); },
                   [](float f) -> uint32_t { return floatToFp8e5m2(f); }};

int totalBits(const Format& f) { return 1 + f.expBits + f.mantBits; }
uint32_t signBit(const Format& f) { return 1u << (f.expBits + f.mantBits); }
uint32_t expMax(const Format& f) { return (1u << f.expBits) - 1; }
uint32_t mantMax(const Format& f) { return (1u << f.mantBits) - 1; }

bool refIsNan(const Format& f, uint32_t code) {
  const uint32_t e = (code >> f.mantBits) & expMax(f);
  const uint32_t m = code & mantMax(f);
  return f.ieeeSpecials ? (e == expMax(f) && m != 0) : (e == expMax(f) && m == mantMax(f));
}

double refDecode(const Format& f, uint32_t code) {
  const bool neg = (code & signBit(f)) != 0;
  const uint32_t e = (code >> f.mantBits) & expMax(f);
  const uint32_t m = code & mantMax(f);
  double v;
  if (refIsNan(f, code)) {
    v = std::numeric_limits<double>::quiet_NaN();
  } else if (f.ieeeSpecials && e == expMax(f)) {
    v = std::numeric_limits<double>::infinity();
  } else if (e == 0) {
    v = std::ldexp(double(m), 1 - f.bias - f.mantBits);
  } else {
    v = std::ldexp(double((1u << f.mantBits) + m), int(e) - f.bias - f.mantBits);
  }
  return neg ? -v : v;
}

// The largest finite positive code.
uint32_t maxFiniteCode(const Format& f) {
  return f.ieeeSpecials ? ((expMax(f) - 1) << f.mantBits) | mantMax(f)
                        : (expMax(f) << f.mantBits) | (mantMax(f) - 1);
}

// Round to nearest even by search over the finite values (codes 0..max are
// ascending for a sign-magnitude format).
uint32_t refEncode(const Format& f, float x) {
  if (std::isnan(x)) return 0xffffffffu;  // caller checks NaN-ness separately
  const uint32_t sign = std::signbit(x) ? signBit(f) : 0;
  const double a = std::fabs(double(x));
  const uint32_t top = maxFiniteCode(f);
  const double maxVal = refDecode(f, top);
  if (std::isinf(a)) return sign | (f.ieeeSpecials ? expMax(f) << f.mantBits : top);
  if (a >= maxVal) {
    if (f.saturates) return sign | top;
    const double halfUlp = (maxVal - refDecode(f, top - 1)) / 2;
    return sign | (a >= maxVal + halfUlp ? expMax(f) << f.mantBits : top);
  }
  uint32_t lo = 0, hi = top;  // invariant: value(lo) <= a < value(hi)
  while (hi - lo > 1) {
    const uint32_t mid = (lo + hi) / 2;
    (refDecode(f, mid) <= a ? lo : hi) = mid;
  }
  const double dLo = a - refDecode(f, lo), dHi = refDecode(f, hi) - a;
  if (dLo < dHi) return sign | lo;
  if (dHi < dLo) return sign | hi;
  return sign | ((lo & 1) ? hi : lo);
}

class ConvertFormat : public ::testing::TestWithParam<const Format*> {};

TEST_P(ConvertFormat, EveryPatternDecodesAndRoundTrips) {
  const Format& f = *GetParam();
  const uint32_t n = 1u << totalBits(f);
  int nans = 0;
  for (uint32_t code = 0; code < n; ++code) {
    const float v = f.decode(code);
    const double want = refDecode(f, code);
    const uint32_t back = f.encode(v);
    if (std::isnan(want)) {
      ++nans;
      ASSERT_TRUE(std::isnan(v)) << f.name << " code " << code;
      ASSERT_TRUE(refIsNan(f, back)) << f.name << " code " << code << " back " << back;
      ASSERT_EQ(back & signBit(f), code & signBit(f)) << f.name << " NaN sign, code " << code;
    } else {
      ASSERT_EQ(double(v), want) << f.name << " code " << code;
      ASSERT_EQ(std::signbit(v), (code & signBit(f)) != 0) << f.name << " code " << code;
      ASSERT_EQ(back, code) << f.name << " code " << code;
    }
  }
  const int expectNans = f.ieeeSpecials ? 2 * int(mantMax(f)) : 2;
  EXPECT_EQ(nans, expectNans) << f.name;
}

TEST_P(ConvertFormat, MidpointsRoundToEven) {
  const Format& f = *GetParam();
  const uint32_t top = maxFiniteCode(f);
  for (uint32_t sign : {0u, signBit(f)}) {
    for (uint32_t c = 0; c < top; ++c) {
      const double lo = refDecode(f, c), hi = refDecode(f, c + 1);
      const float mid = float((lo + hi) / 2);
      ASSERT_EQ(double(mid), (lo + hi) / 2) << "midpoint not exact in float";
      const float s = sign ? -1.0f : 1.0f;
      const uint32_t even = (c & 1) ? c + 1 : c;
      ASSERT_EQ(f.encode(s * mid), sign | even) << f.name << " tie above " << c;
      ASSERT_EQ(f.encode(s * std::nextafter(mid, 0.0f)), sign | c) << f.name << " below tie " << c;
      ASSERT_EQ(f.encode(s * std::nextafter(mid, INFINITY)), sign | (c + 1))
          << f.name << " above tie " << c;
    }
  }
}

TEST_P(ConvertFormat, RandomFloatsMatchNearestEvenSearch) {
  const Format& f = *GetParam();
  std::mt19937_64 rng(1234 + totalBits(f));
  const int minExp = 1 - f.bias - f.mantBits - 3;
  const int maxExp = int(expMax(f)) - f.bias + 3;
  std::uniform_real_distribution<float> mant(1.0f, 2.0f);
  std::uniform_int_distribution<int> expo(minExp, maxExp);
  for (int i = 0; i < 200000; ++i) {
    float x;
    if (i % 4 == 0) {
      x = std::bit_cast<float>(uint32_t(rng()));  // anything, NaN included
    } else {
      x = std::ldexp(mant(rng), expo(rng)) * ((rng() & 1) ? -1.0f : 1.0f);
    }
    const uint32_t got = f.encode(x);
    if (std::isnan(x)) {
      ASSERT_TRUE(refIsNan(f, got)) << f.name << " NaN input gave " << got;
      continue;
    }
    ASSERT_EQ(got, refEncode(f, x)) << f.name << " x=" << x << " bits " << std::hex
                                    << std::bit_cast<uint32_t>(x);
  }
}

INSTANTIATE_TEST_SUITE_P(Formats, ConvertFormat, ::testing::Values(&kHalf, &kBf16, &kE4m3, &kE5m2),
                         [](const auto& info) { return std::string(info.param->name); });

TEST(ConvertFp16, OverflowAndSpecials) {
  EXPECT_EQ(floatToHalf(65504.0f), 0x7bff);
  EXPECT_EQ(floatToHalf(65519.996f), 0x7bff);
  EXPECT_EQ(floatToHalf(65520.0f), 0x7c00);  // tie with odd 65504: rounds to inf
  EXPECT_EQ(floatToHalf(1e10f), 0x7c00);
  EXPECT_EQ(floatToHalf(-INFINITY), 0xfc00);
  EXPECT_EQ(floatToHalf(0x1p-25f), 0x0000);           // tie with 0: even
  EXPECT_EQ(floatToHalf(std::nextafter(0x1p-25f, 1.0f)), 0x0001);
  EXPECT_EQ(floatToHalf(0x1.8p-24f), 0x0002);         // tie 1 / 2: even
  EXPECT_EQ(floatToHalf(-0.0f), 0x8000);
  EXPECT_EQ(floatToHalf(1.0f + 0x1p-11f), 0x3c00);    // tie: 1.0 is even
  EXPECT_EQ(floatToHalf(1.0f + 0x3p-11f), 0x3c02);    // tie: 1+2^-9 is even
  EXPECT_EQ(halfToFloat(0x3555), 0.333251953125f);
  EXPECT_EQ(halfToFloat(0x0001), 0x1p-24f);
  EXPECT_TRUE(std::isnan(halfToFloat(0x7c01)));
  EXPECT_EQ(floatToHalf(halfToFloat(0x7c01)) & 0x7e00, 0x7e00);  // NaN comes back quiet
}

TEST(ConvertBf16, OverflowAndSpecials) {
  EXPECT_EQ(floatToBf16(1.0f), 0x3f80);
  EXPECT_EQ(floatToBf16(1.0f + 0x1p-8f), 0x3f80);   // tie: even
  EXPECT_EQ(floatToBf16(1.0f + 0x3p-8f), 0x3f82);   // tie: even
  EXPECT_EQ(floatToBf16(std::numeric_limits<float>::max()), 0x7f80);
  EXPECT_EQ(floatToBf16(-std::numeric_limits<float>::max()), 0xff80);
  EXPECT_EQ(floatToBf16(std::numeric_limits<float>::denorm_min()), 0x0000);
  EXPECT_EQ(floatToBf16(std::bit_cast<float>(0x7f800001u)), 0x7fc0);  // sNaN -> qNaN
  EXPECT_EQ(floatToBf16(std::bit_cast<float>(0xffc00000u)), 0xffc0);
  EXPECT_EQ(bf16ToFloat(0x4049), 3.140625f);
}

TEST(ConvertFp8, E4m3SaturatesAndHasNoInfinity) {
  EXPECT_EQ(floatToFp8e4m3(448.0f), 0x7e);
  EXPECT_EQ(floatToFp8e4m3(463.99f), 0x7e);
  EXPECT_EQ(floatToFp8e4m3(464.0f), 0x7e);  // would round to 480: saturates
  EXPECT_EQ(floatToFp8e4m3(1e30f), 0x7e);
  EXPECT_EQ(floatToFp8e4m3(INFINITY), 0x7e);
  EXPECT_EQ(floatToFp8e4m3(-INFINITY), 0xfe);
  EXPECT_EQ(floatToFp8e4m3(NAN), 0x7f);
  EXPECT_EQ(floatToFp8e4m3(-NAN), 0xff);
  EXPECT_EQ(floatToFp8e4m3(0x1p-9f), 0x01);
  EXPECT_EQ(floatToFp8e4m3(0x1p-10f), 0x00);   // tie with 0
  EXPECT_EQ(floatToFp8e4m3(0x3p-10f), 0x02);   // tie 1 / 2
  EXPECT_EQ(floatToFp8e4m3(0x1.ep-7f), 0x08);  // rounds up into the normals
  EXPECT_EQ(floatToFp8e4m3(1.0f), 0x38);
  EXPECT_EQ(floatToFp8e4m3(-2.5f), 0xc2);
  EXPECT_EQ(fp8e4m3ToFloat(0x7e), kFp8e4m3Max);
  EXPECT_EQ(fp8e4m3ToFloat(0x01), 0x1p-9f);
  EXPECT_EQ(fp8e4m3ToFloat(0x78), 256.0f);  // S.1111.000 is a number
  EXPECT_TRUE(std::isnan(fp8e4m3ToFloat(0x7f)));
  EXPECT_TRUE(std::isnan(fp8e4m3ToFloat(0xff)));
}

TEST(ConvertFp8, E5m2SaturatesFiniteKeepsInfinity) {
  EXPECT_EQ(floatToFp8e5m2(57344.0f), 0x7b);
  EXPECT_EQ(floatToFp8e5m2(61440.0f), 0x7b);   // would round to inf: saturates
  EXPECT_EQ(floatToFp8e5m2(1e30f), 0x7b);
  EXPECT_EQ(floatToFp8e5m2(-1e30f), 0xfb);
  EXPECT_EQ(floatToFp8e5m2(INFINITY), 0x7c);
  EXPECT_EQ(floatToFp8e5m2(-INFINITY), 0xfc);
  EXPECT_EQ(floatToFp8e5m2(NAN) & 0x7f, 0x7e);
  EXPECT_EQ(floatToFp8e5m2(0x1p-16f), 0x01);
  EXPECT_EQ(floatToFp8e5m2(0x1p-17f), 0x00);   // tie with 0
  EXPECT_EQ(floatToFp8e5m2(1.0f), 0x3c);
  EXPECT_EQ(floatToFp8e5m2(1.125f), 0x3c);     // tie: 1.0 is even
  EXPECT_EQ(floatToFp8e5m2(1.375f), 0x3e);     // tie: 1.5 is even
  EXPECT_EQ(fp8e5m2ToFloat(0x7b), kFp8e5m2Max);
  EXPECT_EQ(fp8e5m2ToFloat(0x7c), INFINITY);
  EXPECT_EQ(fp8e5m2ToFloat(0xfc), -INFINITY);
  EXPECT_TRUE(std::isnan(fp8e5m2ToFloat(0x7d)));
}

#if defined(__FLT16_MANT_DIG__) && (defined(__x86_64__) || defined(__aarch64__))
// The compiler's own _Float16 as a second opinion.
TEST(ConvertFp16, AgreesWithCompilerFloat16) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float want = float(std::bit_cast<_Float16>(uint16_t(h)));
    const float got = halfToFloat(uint16_t(h));
    if (std::isnan(want)) {
      ASSERT_TRUE(std::isnan(got));
    } else {
      ASSERT_EQ(std::bit_cast<uint32_t>(got), std::bit_cast<uint32_t>(want)) << h;
    }
  }
  std::mt19937 rng(7);
  for (int i = 0; i < 1000000; ++i) {
    const float x = std::bit_cast<float>(uint32_t(rng()) >> (i % 3));  // bias toward small
    const uint16_t want = std::bit_cast<uint16_t>(_Float16(x));
    if (std::isnan(x)) continue;
    ASSERT_EQ(floatToHalf(x), want) << x;
  }
}
#endif

TEST(ConvertBuffers, RoundTripAndUnsupportedTypes) {
  const std::vector<float> src = {0.0f, -1.5f, 3.0f, 96.0f, -0.125f, 2.0f, 7.0f};
  for (DataType t : {DataType::kFloat16, DataType::kBfloat16, DataType::kFloat8e4m3,
                     DataType::kFloat8e5m2, DataType::kFloat32}) {
    std::vector<uint8_t> narrow(src.size() * 4);
    std::vector<float> back(src.size(), -99.0f);
    ASSERT_TRUE(convertFromFloat(t, narrow.data(), src.data(), src.size()));
    ASSERT_TRUE(convertToFloat(t, back.data(), narrow.data(), src.size()));
    for (size_t i = 0; i < src.size(); ++i) EXPECT_EQ(back[i], src[i]) << int(t) << " " << i;
  }
  float f = 1.0f;
  EXPECT_FALSE(convertToFloat(DataType::kInt32, &f, &f, 1));
  EXPECT_FALSE(convertFromFloat(DataType::kFloat64, &f, &f, 1));
  EXPECT_EQ(f, 1.0f);
}

}  // namespace
}  // namespace strata::kernels
