// Hand-picked values with known answers: wrap-around, truncating division,
// rounding ties, fp8 saturation, infinities and NaN. Each list runs through
// every implementation both as written (the scalar tail) and repeated 16
// times (the vector body).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/host/convert.h"
#include "kernels/host/reduce.h"
#include "kernels/host/reduce_loops.h"

namespace strata::kernels {
namespace {

using detail::HostReduceImpl;

std::vector<const HostReduceImpl*> impls() {
  std::vector<const HostReduceImpl*> v = {&detail::genericReduceImpl()};
  if (const HostReduceImpl* fast = detail::avx2ReduceImpl()) v.push_back(fast);
  return v;
}

template <class S>
std::vector<S> repeat(const std::vector<S>& v, size_t times) {
  std::vector<S> out;
  for (size_t k = 0; k < times; ++k) out.insert(out.end(), v.begin(), v.end());
  return out;
}

template <class S>
bool sameValue(S got, S want) {
  if constexpr (std::is_floating_point_v<S>) {
    if (std::isnan(got) && std::isnan(want)) return true;
  }
  return std::memcmp(&got, &want, sizeof(S)) == 0;
}

// Checks dst = post?(a OP pre?(b)) (or, with b empty, dst = post?(pre?(a)))
// equals want, through every implementation, short and repeated.
template <class S>
void expectResult(DataType t, const Reduction& r, const std::vector<S>& a,
                  const std::vector<S>& b, const std::vector<S>& want,
                  bool (*same)(S, S) = sameValue<S>) {
  const bool binary = !b.empty();
  for (const HostReduceImpl* impl : impls()) {
    for (size_t times : {1, 16}) {
      const std::vector<S> ra = repeat(a, times), rb = binary ? repeat(b, times) : ra;
      std::vector<S> got(ra.size());
      impl->apply(t, r, binary, r.hasPreScale, r.postDivisor > 1, got.data(), ra.data(),
                  rb.data(), got.size());
      for (size_t i = 0; i < got.size(); ++i) {
        const size_t k = i % a.size();
        ASSERT_TRUE(same(got[i], want[k]))
            << impl->name << " " << dataTypeName(t) << " x" << times << " element " << k
            << ": got " << +got[i] << " want " << +want[k];
      }
    }
  }
}

Reduction op(ReduceOp o) {
  Reduction r;
  r.op = o;
  return r;
}

Reduction avg(ReduceOp o, uint64_t divisor) {
  Reduction r = op(o);
  r.postDivisor = divisor;
  return r;
}

Reduction scaled(ReduceOp o, DataType t, double f, int64_t i) {
  Reduction r = op(o);
  r.hasPreScale = true;
  r.preScale.type = t;
  r.preScale.f = f;
  r.preScale.i = i;
  r.preScale.u = uint64_t(i);
  return r;
}

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

TEST(ReduceValues, Float) {
  expectResult<float>(DataType::kFloat32, op(ReduceOp::kSum), {1.5f, -2.0f, 3.0f, 0.1f, 3e38f},
                      {2.25f, 0.5f, -3.0f, 0.2f, 3e38f}, {3.75f, -1.5f, 0.0f, 0.3f, kInf});
  expectResult<float>(DataType::kFloat32, op(ReduceOp::kProd), {1.5f, -2.0f, kInf},
                      {4.0f, 0.25f, 0.0f}, {6.0f, -0.5f, kNaN});
  expectResult<float>(DataType::kFloat32, op(ReduceOp::kMax), {kNaN, 1.0f, -0.5f, -kInf},
                      {1.0f, kNaN, -0.25f, -3.0f}, {kNaN, kNaN, -0.25f, -3.0f});
  expectResult<float>(DataType::kFloat32, op(ReduceOp::kMin), {kNaN, 1.0f, -0.5f, -kInf},
                      {1.0f, kNaN, -0.25f, -3.0f}, {kNaN, kNaN, -0.5f, -kInf});
  // a + 0.5 * b, then / 3 (divided, not multiplied by a rounded 1/3).
  expectResult<float>(DataType::kFloat32, scaled(ReduceOp::kSum, DataType::kFloat32, 0.5, 0),
                      {1.0f, 2.0f}, {4.0f, -2.0f}, {3.0f, 1.0f});
  expectResult<float>(DataType::kFloat32, avg(ReduceOp::kSum, 3), {0.5f, 2.0f, 1e-45f},
                      {0.5f, 1.0f, 0.0f}, {0.333333343f, 1.0f, 0.0f});
}

TEST(ReduceValues, Double) {
  expectResult<double>(DataType::kFloat64, op(ReduceOp::kSum), {0.1, 1e308, -1.0},
                       {0.2, 1e308, 1.0}, {0.30000000000000004, INFINITY, 0.0});
  expectResult<double>(DataType::kFloat64, avg(ReduceOp::kSum, 3), {1.0}, {0.0},
                       {0.33333333333333331});
  expectResult<double>(DataType::kFloat64, op(ReduceOp::kMax), {std::nan(""), 2.0}, {1.0, 3.0},
                       {std::nan(""), 3.0});
}

TEST(ReduceValues, IntegersWrapAndTruncate) {
  expectResult<int8_t>(DataType::kInt8, op(ReduceOp::kSum), {100, -128, 127, -1},
                       {100, -1, 1, 1}, {-56, 127, -128, 0});
  expectResult<int8_t>(DataType::kInt8, op(ReduceOp::kProd), {16, -128, -3, 7}, {16, -1, -3, 0},
                       {0, -128, 9, 0});
  expectResult<int8_t>(DataType::kInt8, avg(ReduceOp::kSum, 128), {-128, 127, -64},
                       {0, 0, -64}, {-1, 0, -1});
  expectResult<uint8_t>(DataType::kUint8, op(ReduceOp::kSum), {200, 255}, {100, 1}, {44, 0});
  expectResult<uint8_t>(DataType::kUint8, op(ReduceOp::kMax), {200, 3}, {100, 250}, {200, 250});
  expectResult<int32_t>(DataType::kInt32, avg(ReduceOp::kSum, 2), {7, -7, 5, -1, INT32_MIN},
                        {0, 0, 4, 0, 0}, {3, -3, 4, 0, INT32_MIN / 2});
  expectResult<int32_t>(DataType::kInt32, scaled(ReduceOp::kSum, DataType::kInt32, 0, -3),
                        {1, 10, 0}, {2, -4, INT32_MAX}, {-5, 22, INT32_MIN + 3});
  expectResult<int32_t>(DataType::kInt32, op(ReduceOp::kMin), {INT32_MIN, 5}, {0, -5},
                        {INT32_MIN, -5});
  expectResult<uint32_t>(DataType::kUint32, op(ReduceOp::kProd), {65536, 3}, {65536, 5}, {0, 15});
  expectResult<uint32_t>(DataType::kUint32, avg(ReduceOp::kSum, 7), {UINT32_MAX, 13}, {0, 0},
                         {613566756u, 1});
  expectResult<int64_t>(DataType::kInt64, op(ReduceOp::kSum), {INT64_MAX, -5}, {1, 5},
                        {INT64_MIN, 0});
  expectResult<int64_t>(DataType::kInt64, avg(ReduceOp::kSum, 10), {-25, INT64_MIN},
                        {0, 0}, {-2, INT64_MIN / 10});
  expectResult<uint64_t>(DataType::kUint64, avg(ReduceOp::kSum, 3), {UINT64_MAX, 10}, {0, 0},
                         {6148914691236517205ull, 3});
  expectResult<uint64_t>(DataType::kUint64, op(ReduceOp::kMax), {UINT64_MAX, 1}, {0, 2},
                         {UINT64_MAX, 2});
}

bool sameHalf(uint16_t g, uint16_t w) {
  return g == w || (std::isnan(halfToFloat(g)) && std::isnan(halfToFloat(w)));
}
bool sameE4m3(uint8_t g, uint8_t w) {
  return g == w || (std::isnan(fp8e4m3ToFloat(g)) && std::isnan(fp8e4m3ToFloat(w)));
}
bool sameE5m2(uint8_t g, uint8_t w) {
  return g == w || (std::isnan(fp8e5m2ToFloat(g)) && std::isnan(fp8e5m2ToFloat(w)));
}

TEST(ReduceValues, HalfRoundsOnceToEven) {
  // 1 + 2^-11 ties to 1.0; (1 + 2^-10) + 2^-11 ties to 1 + 2^-9; 65504 + 65504
  // overflows to inf; -inf + 1 = -inf; NaN + 1 = NaN.
  expectResult<uint16_t>(DataType::kFloat16, op(ReduceOp::kSum),
                         {0x3c00, 0x3c01, 0x7bff, 0xfc00, 0x7e00},
                         {0x1000, 0x1000, 0x7bff, 0x3c00, 0x3c00},
                         {0x3c00, 0x3c02, 0x7c00, 0xfc00, 0x7e00}, sameHalf);
  // (2 + 3 * 0.5) / 2 = 1.75: computed in fp32, rounded once.
  Reduction r = scaled(ReduceOp::kSum, DataType::kFloat16, 0.5, 0);
  r.postDivisor = 2;
  expectResult<uint16_t>(DataType::kFloat16, r, {0x4000}, {0x4200}, {0x3f00}, sameHalf);
  expectResult<uint16_t>(DataType::kFloat16, op(ReduceOp::kMax), {0x7e00, 0xbc00}, {0x3c00, 0x3c00},
                         {0x7e00, 0x3c00}, sameHalf);
}

TEST(ReduceValues, Bf16RoundsOnceToEven) {
  // 1 + 2^-8 ties to 1.0; (1 + 2^-7) + 2^-8 ties to 1 + 2^-6.
  expectResult<uint16_t>(DataType::kBfloat16, op(ReduceOp::kSum), {0x3f80, 0x3f81, 0x7f7f},
                         {0x3b80, 0x3b80, 0x7f7f}, {0x3f80, 0x3f82, 0x7f80});
  expectResult<uint16_t>(DataType::kBfloat16, avg(ReduceOp::kSum, 3), {0x3f80}, {0x0000},
                         {0x3eab});  // 1/3 = 0.333984375 after rounding
}

TEST(ReduceValues, Fp8SaturatesAndKeepsNaN) {
  // e4m3: 448+448 and 448+16 (a tie with 480) saturate; NaN sticks; 1+1 = 2;
  // 2^-9 + 2^-9 = 2^-8.
  expectResult<uint8_t>(DataType::kFloat8e4m3, op(ReduceOp::kSum),
                        {0x7e, 0xfe, 0x7e, 0x7f, 0x38, 0x01},
                        {0x7e, 0xfe, 0x58, 0x38, 0x38, 0x01},
                        {0x7e, 0xfe, 0x7e, 0x7f, 0x40, 0x02}, sameE4m3);
  expectResult<uint8_t>(DataType::kFloat8e4m3, op(ReduceOp::kMin), {0x7f, 0x38}, {0x38, 0xb8},
                        {0x7f, 0xb8}, sameE4m3);
  // e5m2: finite overflow saturates, inf stays, inf - inf is NaN.
  expectResult<uint8_t>(DataType::kFloat8e5m2, op(ReduceOp::kSum), {0x7b, 0x7c, 0x7c, 0x3c},
                        {0x7b, 0x3c, 0xfc, 0x3c}, {0x7b, 0x7c, 0x7e, 0x40}, sameE5m2);
  expectResult<uint8_t>(DataType::kFloat8e5m2, op(ReduceOp::kProd), {0x7b, 0x3e}, {0xc0, 0x3e},
                        {0xfb, 0x40}, sameE5m2);  // -114688 saturates; 2.25 ties to 2
}

TEST(ReduceValues, UnaryForms) {
  Reduction r = scaled(ReduceOp::kSum, DataType::kFloat32, -2.0, -2);
  r.postDivisor = 4;
  const std::vector<float> src = {1.0f, -3.0f, 6.0f};
  std::vector<float> dst(3);
  transform(DataType::kFloat32, r, dst.data(), src.data(), 3);
  EXPECT_EQ(dst, (std::vector<float>{-0.5f, 1.5f, -3.0f}));
  preScale(DataType::kFloat32, r, dst.data(), src.data(), 3);
  EXPECT_EQ(dst, (std::vector<float>{-2.0f, 6.0f, -12.0f}));
  postDivide(DataType::kFloat32, r, dst.data(), src.data(), 3);
  EXPECT_EQ(dst, (std::vector<float>{0.25f, -0.75f, 1.5f}));
  std::vector<int32_t> isrc = {7, -9, 100}, idst(3);
  r.preScale.type = DataType::kInt32;
  transform(DataType::kInt32, r, idst.data(), isrc.data(), 3);
  EXPECT_EQ(idst, (std::vector<int32_t>{-3, 4, -50}));
  // In place, e4m3: 448 * -2 saturates to -448.
  std::vector<uint8_t> e = {0x7e, 0x38};
  preScale(DataType::kFloat8e4m3, scaled(ReduceOp::kSum, DataType::kFloat32, -2.0, 0), e.data(),
           e.data(), 2);
  EXPECT_EQ(e, (std::vector<uint8_t>{0xfe, 0xc0}));
}

TEST(ScalarFromBytes, ReadsEveryType) {
  const int8_t i8 = -5;
  Scalar s = Scalar::fromBytes(DataType::kInt8, &i8);
  EXPECT_EQ(s.type, DataType::kInt8);
  EXPECT_EQ(s.i, -5);
  EXPECT_EQ(s.f, -5.0);
  EXPECT_EQ(s.u, uint64_t(-5));
  const uint8_t u8 = 250;
  s = Scalar::fromBytes(DataType::kUint8, &u8);
  EXPECT_EQ(s.u, 250u);
  EXPECT_EQ(s.i, 250);
  EXPECT_EQ(s.f, 250.0);
  const int64_t i64 = INT64_MIN;
  EXPECT_EQ(Scalar::fromBytes(DataType::kInt64, &i64).i, INT64_MIN);
  const uint64_t u64 = UINT64_MAX;
  EXPECT_EQ(Scalar::fromBytes(DataType::kUint64, &u64).u, UINT64_MAX);
  const uint32_t u32 = 4000000000u;
  EXPECT_EQ(Scalar::fromBytes(DataType::kUint32, &u32).u, 4000000000u);
  const int32_t i32 = -70000;
  EXPECT_EQ(Scalar::fromBytes(DataType::kInt32, &i32).i, -70000);

  const float f = -2.75f;
  s = Scalar::fromBytes(DataType::kFloat32, &f);
  EXPECT_EQ(s.type, DataType::kFloat32);
  EXPECT_EQ(s.f, -2.75);
  EXPECT_EQ(s.i, -2);
  EXPECT_EQ(s.u, 0u);
  const double d = 1e300;
  s = Scalar::fromBytes(DataType::kFloat64, &d);
  EXPECT_EQ(s.f, 1e300);
  EXPECT_EQ(s.i, INT64_MAX);
  EXPECT_EQ(s.u, UINT64_MAX);
  const uint16_t h = 0x3555;  // 0.333251953125
  EXPECT_EQ(Scalar::fromBytes(DataType::kFloat16, &h).f, 0.333251953125);
  const uint16_t bf = 0xc049;  // -3.140625
  EXPECT_EQ(Scalar::fromBytes(DataType::kBfloat16, &bf).f, -3.140625);
  const uint8_t e4 = 0x7e, e5 = 0xfb;
  EXPECT_EQ(Scalar::fromBytes(DataType::kFloat8e4m3, &e4).f, 448.0);
  EXPECT_EQ(Scalar::fromBytes(DataType::kFloat8e5m2, &e5).f, -57344.0);
  const uint8_t nan8 = 0x7f;
  s = Scalar::fromBytes(DataType::kFloat8e4m3, &nan8);
  EXPECT_TRUE(std::isnan(s.f));
  EXPECT_EQ(s.i, 0);
  EXPECT_EQ(s.u, 0u);
}

}  // namespace
}  // namespace strata::kernels
