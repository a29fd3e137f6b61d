// Every datatype x op x {pre-scale, post-divide} through every implementation
// the CPU can run (generic and AVX2), at counts 0, 1, 7, 33, 1000, 100003,
// out of place, misaligned by one element, and in place on either operand,
// compared element by element with the reference in reduce_ref.h.
#include <gtest/gtest.h>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/host/reduce.h"
#include "kernels/host/reduce_loops.h"
#include "reduce_ref.h"

namespace strata::kernels {
namespace {

using detail::HostReduceImpl;
using namespace testref;

constexpr size_t kCounts[] = {0, 1, 7, 33, 1000, 100003};
constexpr size_t kMaxCount = 100003;

std::vector<const HostReduceImpl*> impls() {
  std::vector<const HostReduceImpl*> v = {&detail::genericReduceImpl()};
  if (const HostReduceImpl* fast = detail::avx2ReduceImpl()) v.push_back(fast);
  return v;
}

enum class Layout { kOutOfPlace, kMisaligned, kInPlaceA, kInPlaceB };
const char* layoutName(Layout l) {
  switch (l) {
    case Layout::kOutOfPlace: return "out-of-place";
    case Layout::kMisaligned: return "misaligned";
    case Layout::kInPlaceA: return "dst==a";
    case Layout::kInPlaceB: return "dst==b";
  }
  return "?";
}

Reduction toReduction(const Case& c) {
  Reduction r;
  r.op = c.op;
  r.hasPreScale = c.pre;
  r.preScale = c.scale;
  r.postDivisor = c.post ? c.divisor : 1;
  return r;
}

// Checks got[0, n) against want[0, n); reports the first difference only.
template <class Ref, class S>
void expectSame(const Case& c, const S* got, const S* want, const S* a, const S* b, size_t n,
                const std::string& where) {
  for (size_t i = 0; i < n; ++i) {
    if (!Ref::same(c, got[i], want[i])) {
      ADD_FAILURE() << where << ": element " << i << " of " << n << ": a=" << Ref::show(a[i])
                    << (c.binary ? " b=" + Ref::show(b[i]) : std::string())
                    << " got " << Ref::show(got[i]) << " want " << Ref::show(want[i]);
      return;
    }
  }
}

// Runs one case through impl in every layout and count. a and b hold
// kMaxCount inputs; want the expected outputs.
template <class Ref>
void runLayouts(const HostReduceImpl& impl, DataType type, const Case& c,
                const std::vector<typename Ref::Store>& a,
                const std::vector<typename Ref::Store>& b,
                const std::vector<typename Ref::Store>& want) {
  using S = typename Ref::Store;
  const Reduction r = toReduction(c);
  // A spare element in front (misalignment, underrun canary) and behind
  // (overrun canary).
  std::vector<S> bufA(kMaxCount + 2), bufB(kMaxCount + 2), bufD(kMaxCount + 2);
  S canary;
  std::memset(&canary, 0x5a, sizeof(S));
  for (Layout layout : {Layout::kOutOfPlace, Layout::kMisaligned, Layout::kInPlaceA,
                        Layout::kInPlaceB}) {
    if (!c.binary && layout == Layout::kInPlaceB) continue;
    for (size_t n : kCounts) {
      const std::string where = std::string(impl.name) + " " + dataTypeName(type) + " " +
                                reduceOpName(c.op) + (c.binary ? "" : " unary") +
                                (c.pre ? " pre" : "") + (c.post ? " post" : "") + " " +
                                layoutName(layout) + " n=" + std::to_string(n);
      const size_t off = layout == Layout::kMisaligned ? 1 : 0;
      S* pa = bufA.data() + off;
      S* pb = bufB.data() + off;
      S* pd = bufD.data() + off;
      std::copy_n(a.begin(), n, pa);
      std::copy_n(b.begin(), n, pb);
      if (layout == Layout::kInPlaceA) pd = pa;
      if (layout == Layout::kInPlaceB) pd = pb;
      pd[n] = canary;
      if (off != 0) pd[-1] = canary;
      if (pd != pa && pd != pb) std::fill_n(pd, n, canary);
      if (n > 0) impl.apply(type, r, c.binary, c.pre, c.post, pd, pa, c.binary ? pb : pa, n);
      expectSame<Ref>(c, pd, want.data(), a.data(), b.data(), n, where);
      EXPECT_EQ(std::memcmp(&pd[n], &canary, sizeof(S)), 0) << where << ": wrote past the end";
      if (off != 0) {
        EXPECT_EQ(std::memcmp(&pd[-1], &canary, sizeof(S)), 0) << where << ": wrote before";
      }
    }
  }
}

template <class Ref>
void sweep(DataType type, const Case& base) {
  using S = typename Ref::Store;
  const std::vector<S> a = generate<Ref>(kMaxCount, 11 + int(type));
  const std::vector<S> b = generate<Ref>(kMaxCount, 97 + int(type));
  std::vector<S> want(kMaxCount);
  for (int flags = 0; flags < 4; ++flags) {
    Case c = base;
    c.pre = (flags & 1) != 0;
    c.post = (flags & 2) != 0;
    if (!c.binary && !c.pre && !c.post) continue;  // a copy: tested through the API
    for (size_t i = 0; i < kMaxCount; ++i) want[i] = Ref::expect(c, a[i], b[i]);
    for (const HostReduceImpl* impl : impls()) runLayouts<Ref>(*impl, type, c, a, b, want);
  }
}

struct SweepParam {
  DataType type;
  ReduceOp op;
};

class ReduceSweep : public ::testing::TestWithParam<SweepParam> {};

TEST_P(ReduceSweep, MatchesReference) {
  const SweepParam p = GetParam();
  Case c;
  c.op = p.op;
  c.binary = true;
  c.scale = testScale(p.type);
  c.divisor = 3;
  withType(p.type, [&](auto ref) { sweep<decltype(ref)>(p.type, c); });
}

std::vector<SweepParam> allSweeps() {
  std::vector<SweepParam> v;
  for (DataType t : allDataTypes()) {
    for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kProd, ReduceOp::kMax, ReduceOp::kMin}) {
      v.push_back({t, op});
    }
  }
  return v;
}

INSTANTIATE_TEST_SUITE_P(AllTypesAndOps, ReduceSweep, ::testing::ValuesIn(allSweeps()),
                         [](const auto& info) {
                           return std::string(dataTypeName(info.param.type)) + "_" +
                                  reduceOpName(info.param.op);
                         });

class UnarySweep : public ::testing::TestWithParam<DataType> {};

// transform / preScale / postDivide: pre-scale by a negative inexact factor
// (floats) and divide by 5.
TEST_P(UnarySweep, MatchesReference) {
  const DataType t = GetParam();
  Case c;
  c.binary = false;
  c.scale = testScale(t, -1.7, -7, 7);
  c.divisor = 5;
  withType(t, [&](auto ref) { sweep<decltype(ref)>(t, c); });
}

INSTANTIATE_TEST_SUITE_P(AllTypes, UnarySweep, ::testing::ValuesIn(allDataTypes()),
                         [](const auto& info) { return std::string(dataTypeName(info.param)); });

// The public entry points, on the implementation chosen at run time.
class ReduceApi : public ::testing::TestWithParam<DataType> {};

TEST_P(ReduceApi, EntryPointsApplyTheRightSteps) {
  const DataType t = GetParam();
  withType(t, [&](auto ref) {
    using Ref = decltype(ref);
    using S = typename Ref::Store;
    constexpr size_t n = 1003;
    const std::vector<S> a = generate<Ref>(n + 1, 5), b = generate<Ref>(n + 1, 6);
    const Scalar scale = testScale(t);
    const Reduction r = toReduction(Case{ReduceOp::kSum, true, true, true, scale, 4});
    std::vector<S> want(n), got(n + 1);
    auto check = [&](const Case& cc, const char* what) {
      for (size_t i = 0; i < n; ++i) want[i] = Ref::expect(cc, a[i], b[i]);
      expectSame<Ref>(cc, got.data(), want.data(), a.data(), b.data(), n,
                      std::string(what) + " " + dataTypeName(t));
    };
    for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kProd, ReduceOp::kMax, ReduceOp::kMin}) {
      Reduction ro = r;
      ro.op = op;
      reduce(t, ro, got.data(), a.data(), b.data(), n);
      check(Case{op, true, true, true, scale, 4}, "reduce");
      // In place on a, with neither pre nor post.
      got = a;
      reduce(t, Reduction{op, false, scale, 1}, got.data(), got.data(), b.data(), n);
      check(Case{op, true, false, false, scale, 1}, "reduce in place");
    }
    transform(t, r, got.data(), a.data(), n);
    check(Case{ReduceOp::kSum, false, true, true, scale, 4}, "transform");
    preScale(t, r, got.data(), a.data(), n);
    check(Case{ReduceOp::kSum, false, true, false, scale, 4}, "preScale");
    postDivide(t, r, got.data(), a.data(), n);
    check(Case{ReduceOp::kSum, false, false, true, scale, 4}, "postDivide");
    // Neither step configured: a copy, also in place.
    transform(t, Reduction{}, got.data(), a.data(), n);
    EXPECT_EQ(std::memcmp(got.data(), a.data(), n * sizeof(S)), 0);
    transform(t, Reduction{}, got.data(), got.data(), n);
    EXPECT_EQ(std::memcmp(got.data(), a.data(), n * sizeof(S)), 0);
    // Count 0 touches nothing, even through null pointers.
    got[0] = b[0];
    reduce(t, r, got.data(), a.data(), a.data(), 0);
    transform(t, r, got.data(), a.data(), 0);
    reduce(t, r, nullptr, nullptr, nullptr, 0);
    transform(t, r, nullptr, nullptr, 0);
    EXPECT_EQ(std::memcmp(&got[0], &b[0], sizeof(S)), 0);
  });
}

INSTANTIATE_TEST_SUITE_P(AllTypes, ReduceApi, ::testing::ValuesIn(allDataTypes()),
                         [](const auto& info) { return std::string(dataTypeName(info.param)); });

TEST(ReduceImpl, ReportsTheImplementationInUse) {
  const std::string name = reduceImplName();
#if defined(__x86_64__)
  __builtin_cpu_init();
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  const bool f16c = __get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && (ecx & (1u << 29)) != 0;
  const bool avx2 = __builtin_cpu_supports("avx2") && f16c;
  EXPECT_EQ(name, avx2 ? "avx2" : "generic");
  EXPECT_EQ(detail::avx2ReduceImpl() != nullptr, avx2);
#else
  EXPECT_EQ(name, "generic");
#endif
  EXPECT_STREQ(detail::genericReduceImpl().name, "generic");
}

}  // namespace
}  // namespace strata::kernels
