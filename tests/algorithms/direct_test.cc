// Direct all-reduce: the full sweep through the PlanVerifier, and the
// property that makes it safe to pick by size: every rank reduces in the
// same order, so results are bit-identical across ranks.
#include <gtest/gtest.h>

#include "algorithms/algorithms.h"
#include "algorithms/plan_sweep.h"

namespace strata::testing {
namespace {

using plan::CollType;
using plan::Op;

TEST(DirectSweep, AllReduce) {
  const SweepStats stats = sweepCollective(CollType::kAllReduce, "direct");
  EXPECT_GT(stats.cases, 1000u);
}

TEST(DirectAllReduce, ReducesInRankOrderOnEveryRank) {
  const int n = 4;
  for (int me = 0; me < n; ++me) {
    plan::CollArgs args;
    args.type = CollType::kAllReduce;
    args.count = 3;
    args.rank = me;
    args.nranks = n;
    plan::PlanOptions options;
    options.maxStepElems = 8;
    auto built = algorithms::buildPlan(args, options, "direct");
    ASSERT_TRUE(built.ok()) << built.status().toString();
    ASSERT_EQ(built->programs.size(), 1u);
    const auto& steps = built->programs[0].steps;
    ASSERT_EQ(steps.size(), static_cast<size_t>(2 * n - 1));
    // n-1 sends, then contributions of ranks 0..n-1 in order.
    for (int k = 0; k < n - 1; ++k) EXPECT_EQ(steps[k].op, Op::kSend);
    for (int q = 0; q < n; ++q) {
      const plan::Step& s = steps[n - 1 + q];
      if (q == me) {
        EXPECT_TRUE(s.op == Op::kCopy || s.op == Op::kLocalReduce) << plan::toString(s);
      } else {
        EXPECT_EQ(s.recvPeer, q) << plan::toString(s);
      }
      EXPECT_EQ(s.finalize, q == n - 1);
    }
  }
}

}  // namespace
}  // namespace strata::testing
