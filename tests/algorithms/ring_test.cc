// Ring AllReduce, ReduceScatter and AllGather: the full sweep through the
// PlanVerifier, plus the step structure the ring promises.
#include <gtest/gtest.h>

#include "algorithms/algorithms.h"
#include "algorithms/plan_sweep.h"

namespace strata::testing {
namespace {

using plan::CollType;
using plan::Op;

plan::RankPlan build(CollType type, size_t count, int rank, int nranks, size_t maxStep,
                     int nchannels) {
  plan::CollArgs args;
  args.type = type;
  args.count = count;
  args.rank = rank;
  args.nranks = nranks;
  plan::PlanOptions options;
  options.maxStepElems = maxStep;
  options.nchannels = nchannels;
  auto built = algorithms::buildPlan(args, options, "ring");
  EXPECT_TRUE(built.ok()) << built.status().toString();
  return built.ok() ? std::move(built).value() : plan::RankPlan{};
}

TEST(RingSweep, AllReduce) {
  const SweepStats stats = sweepCollective(CollType::kAllReduce, "ring");
  EXPECT_GT(stats.cases, 1000u);
}

TEST(RingSweep, ReduceScatter) {
  const SweepStats stats = sweepCollective(CollType::kReduceScatter, "ring");
  EXPECT_GT(stats.cases, 1000u);
}

TEST(RingSweep, AllGather) {
  const SweepStats stats = sweepCollective(CollType::kAllGather, "ring");
  EXPECT_GT(stats.cases, 1000u);
}

TEST(RingAllReduce, OneSliceIsReduceScatterThenAllGather) {
  const int n = 5;
  const plan::RankPlan p = build(CollType::kAllReduce, 5 * 4, 2, n, 4, 1);
  ASSERT_EQ(p.programs.size(), 1u);
  const std::vector<plan::Step>& s = p.programs[0].steps;
  ASSERT_EQ(s.size(), static_cast<size_t>(2 * n - 1));
  EXPECT_EQ(s[0].op, Op::kSend);
  for (int t = 1; t <= n - 2; ++t) EXPECT_EQ(s[t].op, Op::kRecvReduceSend);
  EXPECT_EQ(s[n - 1].op, Op::kRecvReduceCopySend);
  EXPECT_TRUE(s[n - 1].finalize);
  for (int k = n; k <= 2 * n - 3; ++k) EXPECT_EQ(s[k].op, Op::kRecvCopySend);
  EXPECT_EQ(s[2 * n - 2].op, Op::kRecv);
  int finalizing = 0;
  for (const plan::Step& step : s) {
    finalizing += step.finalize ? 1 : 0;
    EXPECT_EQ(step.count, 4u);
    if (plan::opSends(step.op)) {
      EXPECT_EQ(step.sendPeer, 3);
    }
    if (plan::opRecvs(step.op)) {
      EXPECT_EQ(step.recvPeer, 1);
    }
  }
  EXPECT_EQ(finalizing, 1);
  // The finished chunk is the rank's own: chunk 2 of the slice.
  EXPECT_EQ(s[n - 1].dst.offset, 8u);
}

TEST(RingAllReduce, OddChannelsRunTheRingBackwards) {
  const plan::RankPlan p = build(CollType::kAllReduce, 1000, 2, 4, 1000, 2);
  ASSERT_EQ(p.programs.size(), 2u);
  EXPECT_EQ(p.programs[0].channel, 0);
  EXPECT_EQ(p.programs[0].steps[0].sendPeer, 3);
  EXPECT_EQ(p.programs[1].channel, 1);
  EXPECT_EQ(p.programs[1].steps[0].sendPeer, 1);
}

TEST(RingAllReduce, PipelinesSlicesOfAtMostOneStepPerChunk) {
  // 3 ranks, 1 channel, steps of 2: slices of at most 6 elements.
  const plan::RankPlan p = build(CollType::kAllReduce, 13, 0, 3, 2, 1);
  ASSERT_EQ(p.programs.size(), 1u);
  EXPECT_EQ(p.programs[0].steps.size(), 3u * 5u);  // 3 slices of 2n-1 steps
  size_t finalized = 0;
  for (const plan::Step& s : p.programs[0].steps) {
    EXPECT_LE(s.count, 2u);
    if (s.finalize) finalized += s.count;
  }
  // Rank 0 finishes its chunk of every slice: 13 = 5 + 4 + 4, chunks 2+2+2.
  EXPECT_EQ(finalized, 6u);
}

TEST(RingAllReduce, SingleRankIsAFinalizingCopy) {
  const plan::RankPlan p = build(CollType::kAllReduce, 10, 0, 1, 4, 3);
  ASSERT_EQ(p.programs.size(), 1u);
  ASSERT_EQ(p.programs[0].steps.size(), 3u);
  for (const plan::Step& s : p.programs[0].steps) {
    EXPECT_EQ(s.op, Op::kCopy);
    EXPECT_TRUE(s.finalize);
    EXPECT_EQ(s.src.buf, plan::Buf::kInput);
    EXPECT_EQ(s.dst.buf, plan::Buf::kOutput);
    EXPECT_EQ(s.src.offset, s.dst.offset);
  }
}

TEST(RingReduceScatter, FinishesTheOwnBlockIntoOutput) {
  const plan::RankPlan p = build(CollType::kReduceScatter, 7, 1, 3, 100, 1);
  ASSERT_EQ(p.programs.size(), 1u);
  const std::vector<plan::Step>& s = p.programs[0].steps;
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].op, Op::kSend);
  EXPECT_EQ(s[0].src.offset, 0u);  // block of rank 0
  EXPECT_EQ(s[1].op, Op::kRecvReduceSend);
  EXPECT_EQ(s[1].src.offset, 14u);  // block of rank 2
  EXPECT_EQ(s[2].op, Op::kRecvReduceCopy);
  EXPECT_TRUE(s[2].finalize);
  EXPECT_EQ(s[2].src.offset, 7u);  // own block
  EXPECT_EQ(s[2].dst.buf, plan::Buf::kOutput);
  EXPECT_EQ(s[2].dst.offset, 0u);
}

TEST(RingAllGather, CopiesTheOwnBlockAndForwardsTheOthers) {
  const plan::RankPlan p = build(CollType::kAllGather, 4, 1, 3, 100, 1);
  ASSERT_EQ(p.programs.size(), 1u);
  const std::vector<plan::Step>& s = p.programs[0].steps;
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(s[0].op, Op::kSend);
  EXPECT_EQ(s[1].op, Op::kCopy);
  EXPECT_EQ(s[1].dst.offset, 4u);
  EXPECT_EQ(s[2].op, Op::kRecvCopySend);
  EXPECT_EQ(s[2].dst.offset, 0u);  // rank 0's block arrives first
  EXPECT_EQ(s[3].op, Op::kRecv);
  EXPECT_EQ(s[3].dst.offset, 8u);
  for (const plan::Step& step : s) EXPECT_FALSE(step.finalize);
}

// Every rank first sends a whole step, so a ring needs one step of buffering
// plus room for one more element on each link: with exactly maxStepElems the
// ring stalls, and the verifier says so.
TEST(RingBuffering, NeedsMoreThanOneStepOfStreamCapacity) {
  plan::CollArgs args;
  args.type = CollType::kAllReduce;
  args.count = 12;
  args.nranks = 3;
  plan::PlanOptions options;
  options.maxStepElems = 4;
  const std::vector<RankOperation> ops = buildAllRanks(args, options);
  VerifyOptions vo;
  vo.streamCapacity = options.maxStepElems;
  const VerifyReport tight = verifyPlans(ops, vo);
  EXPECT_TRUE(tight.has(Finding::kDeadlock)) << tight.toString();
  vo.streamCapacity = options.maxStepElems + 1;
  const VerifyReport enough = verifyPlans(ops, vo);
  EXPECT_TRUE(enough.ok()) << enough.toString();
  EXPECT_TRUE(verifyPlans(ops, VerifyOptions{}).ok());  // the default capacity
  vo.streamCapacity = 2 * options.maxStepElems;
  vo.quantum = 1;
  const VerifyReport fineGrained = verifyPlans(ops, vo);
  EXPECT_TRUE(fineGrained.ok()) << fineGrained.toString();
}

}  // namespace
}  // namespace strata::testing
