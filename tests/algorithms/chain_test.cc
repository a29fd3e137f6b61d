// Chain Broadcast and Reduce: the full sweep (every root) through the
// PlanVerifier, plus the shape of the chain.
#include <gtest/gtest.h>

#include "algorithms/algorithms.h"
#include "algorithms/plan_sweep.h"

namespace strata::testing {
namespace {

using plan::CollType;
using plan::Op;

plan::RankPlan build(CollType type, size_t count, int rank, int root, int nranks,
                     size_t maxStep, int nchannels) {
  plan::CollArgs args;
  args.type = type;
  args.count = count;
  args.rank = rank;
  args.root = root;
  args.nranks = nranks;
  plan::PlanOptions options;
  options.maxStepElems = maxStep;
  options.nchannels = nchannels;
  auto built = algorithms::buildPlan(args, options, "chain");
  EXPECT_TRUE(built.ok()) << built.status().toString();
  return built.ok() ? std::move(built).value() : plan::RankPlan{};
}

TEST(ChainSweep, Broadcast) {
  const SweepStats stats = sweepCollective(CollType::kBroadcast, "chain");
  EXPECT_GT(stats.cases, 1000u);
}

TEST(ChainSweep, Reduce) {
  const SweepStats stats = sweepCollective(CollType::kReduce, "chain");
  EXPECT_GT(stats.cases, 1000u);
}

TEST(ChainBroadcast, RootSendsAndCopiesMiddleForwardsLastReceives) {
  // 4 ranks, root 2: the chain on channel 0 is 2 -> 3 -> 0 -> 1.
  const plan::RankPlan root = build(CollType::kBroadcast, 10, 2, 2, 4, 4, 1);
  ASSERT_EQ(root.programs.size(), 1u);
  ASSERT_EQ(root.programs[0].steps.size(), 6u);  // 3 slices: Send + Copy each
  EXPECT_EQ(root.programs[0].steps[0].op, Op::kSend);
  EXPECT_EQ(root.programs[0].steps[0].sendPeer, 3);
  EXPECT_EQ(root.programs[0].steps[1].op, Op::kCopy);

  const plan::RankPlan middle = build(CollType::kBroadcast, 10, 0, 2, 4, 4, 1);
  for (const plan::Step& s : middle.programs[0].steps) {
    EXPECT_EQ(s.op, Op::kRecvCopySend);
    EXPECT_EQ(s.recvPeer, 3);
    EXPECT_EQ(s.sendPeer, 1);
    EXPECT_EQ(s.dst.buf, plan::Buf::kOutput);
  }
  const plan::RankPlan last = build(CollType::kBroadcast, 10, 1, 2, 4, 4, 1);
  for (const plan::Step& s : last.programs[0].steps) {
    EXPECT_EQ(s.op, Op::kRecv);
    EXPECT_EQ(s.recvPeer, 0);
  }
}

TEST(ChainReduce, EndsAtTheRootWithAFinalizingReduce) {
  // 4 ranks, root 1: the chain on channel 0 is 2 -> 3 -> 0 -> 1.
  const plan::RankPlan first = build(CollType::kReduce, 8, 2, 1, 4, 8, 1);
  ASSERT_EQ(first.programs[0].steps.size(), 1u);
  EXPECT_EQ(first.programs[0].steps[0].op, Op::kSend);
  EXPECT_EQ(first.programs[0].steps[0].sendPeer, 3);

  const plan::RankPlan middle = build(CollType::kReduce, 8, 0, 1, 4, 8, 1);
  EXPECT_EQ(middle.programs[0].steps[0].op, Op::kRecvReduceSend);
  EXPECT_EQ(middle.programs[0].steps[0].recvPeer, 3);
  EXPECT_EQ(middle.programs[0].steps[0].sendPeer, 1);

  const plan::RankPlan root = build(CollType::kReduce, 8, 1, 1, 4, 8, 1);
  const plan::Step& s = root.programs[0].steps[0];
  EXPECT_EQ(s.op, Op::kRecvReduceCopy);
  EXPECT_EQ(s.recvPeer, 0);
  EXPECT_TRUE(s.finalize);
  EXPECT_EQ(s.dst.buf, plan::Buf::kOutput);
}

TEST(ChainReduce, NonRootsNeverTouchOutput) {
  for (int rank = 0; rank < 5; ++rank) {
    if (rank == 3) continue;
    const plan::RankPlan p = build(CollType::kReduce, 50, rank, 3, 5, 7, 3);
    for (const plan::ChannelProgram& prog : p.programs) {
      for (const plan::Step& s : prog.steps) {
        EXPECT_NE(s.src.buf, plan::Buf::kOutput);
        EXPECT_NE(s.dst.buf, plan::Buf::kOutput);
        EXPECT_FALSE(s.finalize);
      }
    }
  }
}

TEST(ChainBroadcast, OddChannelsRunTheChainBackwards) {
  const plan::RankPlan root = build(CollType::kBroadcast, 100, 2, 2, 4, 100, 2);
  ASSERT_EQ(root.programs.size(), 2u);
  EXPECT_EQ(root.programs[0].steps[0].sendPeer, 3);
  EXPECT_EQ(root.programs[1].steps[0].sendPeer, 1);
}

}  // namespace
}  // namespace strata::testing
