// Point-to-point plans: AllToAll, Gather, Scatter sweeps, Send/Recv between
// every pair of ranks, and groups of sends and receives run together.
#include <gtest/gtest.h>

#include <set>
#include <tuple>

#include "algorithms/algorithms.h"
#include "algorithms/plan_sweep.h"

namespace strata::testing {
namespace {

using plan::CollType;
using plan::Op;

TEST(P2pSweep, AllToAll) {
  const SweepStats stats = sweepCollective(CollType::kAllToAll, "p2p");
  EXPECT_GT(stats.cases, 500u);
}

TEST(P2pSweep, Gather) {
  const SweepStats stats = sweepCollective(CollType::kGather, "p2p");
  EXPECT_GT(stats.cases, 1000u);
}

TEST(P2pSweep, Scatter) {
  const SweepStats stats = sweepCollective(CollType::kScatter, "p2p");
  EXPECT_GT(stats.cases, 1000u);
}

TEST(P2pSendRecv, EveryPairIncludingSelf) {
  size_t cases = 0;
  for (int n = 1; n <= 8; ++n) {
    for (int sender = 0; sender < n; ++sender) {
      for (int receiver = 0; receiver < n; ++receiver) {
        for (size_t count : {0, 1, 5, 17, 1000}) {
          for (size_t maxStep : {1, 3, 64, 4096}) {
            plan::PlanOptions options;
            options.maxStepElems = maxStep;
            options.p2pChannel = (sender + receiver) % 3;
            const std::vector<RankOperation> ops =
                buildSendRecvPair(n, sender, receiver, count, options);
            ASSERT_EQ(ops.size(), 2u);
            checkPlanShape(ops, options, "send/recv");
            VerifyOptions vo;
            vo.streamCapacity = 1;
            const VerifyReport report = verifyPlans(ops, vo);
            ASSERT_TRUE(report.ok()) << n << " ranks, " << sender << " -> " << receiver
                                     << ", count " << count << ", maxStepElems " << maxStep
                                     << "\n"
                                     << report.toString();
            ++cases;
          }
        }
      }
    }
  }
  EXPECT_GT(cases, 4000u);
}

// A group: every rank sends to rank+k and receives from rank-k, for every
// shift k at once, as ncclGroupStart/End would run them.
TEST(P2pSendRecv, GroupsOfShiftsRunTogether) {
  for (int n = 2; n <= 6; ++n) {
    for (size_t count : {1, 7, 100}) {
      plan::PlanOptions options;
      options.maxStepElems = 3;
      std::vector<RankOperation> ops;
      for (int rank = 0; rank < n; ++rank) {
        for (int k = 1; k < n; ++k) {
          for (CollType type : {CollType::kSend, CollType::kRecv}) {
            RankOperation op;
            op.args.type = type;
            op.args.count = count;
            op.args.rank = rank;
            op.args.nranks = n;
            op.args.peer = type == CollType::kSend ? (rank + k) % n : (rank - k + n) % n;
            auto built = algorithms::buildPlan(op.args, options);
            ASSERT_TRUE(built.ok()) << built.status().toString();
            op.plan = std::move(built).value();
            ops.push_back(std::move(op));
          }
        }
      }
      VerifyOptions vo;
      vo.streamCapacity = 1;
      const VerifyReport report = verifyPlans(ops, vo);
      EXPECT_TRUE(report.ok()) << n << " ranks, count " << count << "\n" << report.toString();
    }
  }
}

TEST(P2pAllToAll, OneProgramPerDirectedStreamPlusTheLocalCopy) {
  plan::CollArgs args;
  args.type = CollType::kAllToAll;
  args.count = 10;
  args.rank = 2;
  args.nranks = 5;
  plan::PlanOptions options;
  options.maxStepElems = 4;
  options.p2pChannel = 3;
  auto built = algorithms::buildPlan(args, options);
  ASSERT_TRUE(built.ok());
  const plan::RankPlan& p = built.value();
  EXPECT_EQ(p.algorithm, "p2p");
  ASSERT_EQ(p.programs.size(), 9u);
  std::set<std::tuple<bool, int>> streams;
  int copies = 0;
  for (const plan::ChannelProgram& prog : p.programs) {
    EXPECT_EQ(prog.channel, 3);
    EXPECT_EQ(prog.steps.size(), 3u);  // 10 elements in steps of at most 4
    const plan::Step& s = prog.steps[0];
    if (s.op == Op::kCopy) {
      ++copies;
      EXPECT_EQ(s.src.offset, 20u);
      EXPECT_EQ(s.dst.offset, 20u);
    } else if (s.op == Op::kSend) {
      EXPECT_TRUE(streams.emplace(true, s.sendPeer).second);
      EXPECT_EQ(s.src.offset, static_cast<size_t>(s.sendPeer) * 10);
    } else {
      ASSERT_EQ(s.op, Op::kRecv);
      EXPECT_TRUE(streams.emplace(false, s.recvPeer).second);
      EXPECT_EQ(s.dst.offset, static_cast<size_t>(s.recvPeer) * 10);
    }
  }
  EXPECT_EQ(copies, 1);
  EXPECT_EQ(streams.size(), 8u);
}

TEST(P2pGather, RootReceivesFromEveryPeerAndCopiesItsOwnBlock) {
  plan::CollArgs args;
  args.type = CollType::kGather;
  args.count = 6;
  args.root = 1;
  args.rank = 1;
  args.nranks = 4;
  plan::PlanOptions options;
  options.maxStepElems = 6;
  auto built = algorithms::buildPlan(args, options);
  ASSERT_TRUE(built.ok());
  ASSERT_EQ(built->programs.size(), 4u);
  const plan::Step& copy = built->programs[0].steps[0];
  EXPECT_EQ(copy.op, Op::kCopy);
  EXPECT_EQ(copy.src.offset, 0u);
  EXPECT_EQ(copy.dst.offset, 6u);
  for (size_t i = 1; i < 4; ++i) {
    const plan::Step& s = built->programs[i].steps[0];
    EXPECT_EQ(s.op, Op::kRecv);
    EXPECT_EQ(s.dst.offset, static_cast<size_t>(s.recvPeer) * 6);
  }
  args.rank = 3;
  built = algorithms::buildPlan(args, options);
  ASSERT_TRUE(built.ok());
  ASSERT_EQ(built->programs.size(), 1u);
  EXPECT_EQ(built->programs[0].steps[0].op, Op::kSend);
  EXPECT_EQ(built->programs[0].steps[0].sendPeer, 1);
}

}  // namespace
}  // namespace strata::testing
