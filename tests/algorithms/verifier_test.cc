// The PlanVerifier on small hand-written plans: one test per finding, the
// reduction semantics, in-place aliasing, and streaming across step
// boundaries.
#include "algorithms/verifier.h"

#include <gtest/gtest.h>

namespace strata::testing {
namespace {

using plan::Buf;
using plan::CollType;
using plan::Op;
using plan::Ref;
using plan::Step;

Ref in(size_t offset) { return Ref{Buf::kInput, offset}; }
Ref out(size_t offset) { return Ref{Buf::kOutput, offset}; }
Ref scratch(size_t offset) { return Ref{Buf::kScratch, offset}; }

Step send(int to, Ref src, size_t count) {
  Step s;
  s.op = Op::kSend;
  s.sendPeer = to;
  s.src = src;
  s.count = count;
  return s;
}

Step recv(int from, Ref dst, size_t count) {
  Step s;
  s.op = Op::kRecv;
  s.recvPeer = from;
  s.dst = dst;
  s.count = count;
  return s;
}

Step copy(Ref src, Ref dst, size_t count, bool finalize = false) {
  Step s;
  s.op = Op::kCopy;
  s.src = src;
  s.dst = dst;
  s.count = count;
  s.finalize = finalize;
  return s;
}

Step localReduce(Ref a, Ref b, Ref dst, size_t count, bool finalize) {
  Step s;
  s.op = Op::kLocalReduce;
  s.src = a;
  s.src2 = b;
  s.dst = dst;
  s.count = count;
  s.finalize = finalize;
  return s;
}

// One rank's operation with the given programs (channel, steps).
RankOperation rankOp(CollType type, size_t count, int rank, int nranks,
                     std::vector<plan::ChannelProgram> programs, int root = 0, int peer = -1) {
  RankOperation op;
  op.args.type = type;
  op.args.count = count;
  op.args.rank = rank;
  op.args.nranks = nranks;
  op.args.root = root;
  op.args.peer = peer;
  op.plan.rank = rank;
  op.plan.nranks = nranks;
  op.plan.programs = std::move(programs);
  return op;
}

VerifyReport verify(const std::vector<RankOperation>& ops, size_t capacity = 4,
                    bool inPlace = false) {
  VerifyOptions vo;
  vo.streamCapacity = capacity;
  vo.inPlace = inPlace;
  return verifyPlans(ops, vo);
}

// AllGather of 2 ranks written by hand, with a choice of step order.
std::vector<RankOperation> allGatherOfTwo(size_t count, bool receiveFirst) {
  std::vector<RankOperation> ops;
  for (int r = 0; r < 2; ++r) {
    const int peer = 1 - r;
    std::vector<Step> steps = {send(peer, in(0), count),
                               recv(peer, out(static_cast<size_t>(peer) * count), count),
                               copy(in(0), out(static_cast<size_t>(r) * count), count)};
    if (receiveFirst) std::swap(steps[0], steps[1]);
    ops.push_back(rankOp(CollType::kAllGather, count, r, 2, {{0, steps}}));
  }
  return ops;
}

TEST(PlanVerifier, AcceptsACorrectHandWrittenPlanInBothModes) {
  const auto ops = allGatherOfTwo(5, false);
  EXPECT_TRUE(verify(ops, 5).ok()) << verify(ops, 5).toString();
  EXPECT_TRUE(verify(ops, 5, true).ok()) << verify(ops, 5, true).toString();
}

TEST(PlanVerifier, ReportsDeadlockWhenEveryoneReceivesFirst) {
  const VerifyReport report = verify(allGatherOfTwo(5, true), 5);
  ASSERT_TRUE(report.has(Finding::kDeadlock)) << report.toString();
  EXPECT_NE(report.toString().find("waiting for data from rank"), std::string::npos);
}

TEST(PlanVerifier, ReportsDeadlockWhenSendsOutgrowTheStreams) {
  // Both ranks send 5 elements before receiving; streams hold 4.
  const auto ops = allGatherOfTwo(5, false);
  const VerifyReport report = verify(ops, 4);
  ASSERT_TRUE(report.has(Finding::kDeadlock)) << report.toString();
  EXPECT_NE(report.toString().find("stream full"), std::string::npos) << report.toString();
}

TEST(PlanVerifier, StreamsMatchByElementCountNotByStep) {
  std::vector<RankOperation> ops;
  ops.push_back(rankOp(CollType::kSend, 10, 0, 2, {{1, {send(1, in(0), 10)}}}, 0, 1));
  ops.push_back(rankOp(CollType::kRecv, 10, 1, 2,
                       {{1, {recv(0, out(0), 3), recv(0, out(3), 3), recv(0, out(6), 4)}}}, 0,
                       0));
  const VerifyReport report = verify(ops, 2);
  EXPECT_TRUE(report.ok()) << report.toString();
}

TEST(PlanVerifier, ReportsAReceiveThatNeverGetsItsElements) {
  std::vector<RankOperation> ops;
  ops.push_back(rankOp(CollType::kSend, 5, 0, 2, {{1, {send(1, in(0), 3)}}}, 0, 1));
  ops.push_back(rankOp(CollType::kRecv, 5, 1, 2, {{1, {recv(0, out(0), 5)}}}, 0, 0));
  const VerifyReport report = verify(ops);
  EXPECT_TRUE(report.has(Finding::kUnmatchedReceive)) << report.toString();
}

TEST(PlanVerifier, ReportsElementsLeftInAStream) {
  std::vector<RankOperation> ops;
  ops.push_back(rankOp(CollType::kSend, 5, 0, 2, {{1, {send(1, in(0), 5)}}}, 0, 1));
  ops.push_back(rankOp(CollType::kRecv, 5, 1, 2, {{1, {recv(0, out(0), 3)}}}, 0, 0));
  const VerifyReport report = verify(ops, 8);
  EXPECT_TRUE(report.has(Finding::kLeftoverData)) << report.toString();
}

TEST(PlanVerifier, ReportsTwoProgramsOnOneDirectedStream) {
  std::vector<RankOperation> ops;
  ops.push_back(rankOp(CollType::kSend, 4, 0, 2,
                       {{1, {send(1, in(0), 2)}}, {1, {send(1, in(2), 2)}}}, 0, 1));
  ops.push_back(rankOp(CollType::kRecv, 4, 1, 2, {{1, {recv(0, out(0), 4)}}}, 0, 0));
  EXPECT_TRUE(verify(ops).has(Finding::kStreamShared));
  // The same two programs on different channels are fine for the sender.
  ops[0].plan.programs[1].channel = 2;
  ops[1].plan.programs.push_back({2, {recv(0, out(2), 2)}});
  ops[1].plan.programs[0].steps[0].count = 2;
  EXPECT_TRUE(verify(ops).ok()) << verify(ops).toString();
}

TEST(PlanVerifier, ReportsReadsOfUnwrittenOutputAndScratch) {
  std::vector<RankOperation> ops = {
      rankOp(CollType::kAllReduce, 3, 0, 1, {{0, {copy(out(0), out(0), 3, true)}}})};
  EXPECT_TRUE(verify(ops).has(Finding::kUnwrittenRead));
  // In place the memory holds Input, but reading it as Output is still wrong.
  EXPECT_TRUE(verify(ops, 4, true).has(Finding::kUnwrittenRead));
  ops[0].plan.scratchElems = 3;
  ops[0].plan.programs[0].steps = {copy(scratch(0), out(0), 3, true)};
  EXPECT_TRUE(verify(ops).has(Finding::kUnwrittenRead));
}

TEST(PlanVerifier, AcceptsScratchWithinItsSize) {
  std::vector<RankOperation> ops = {rankOp(
      CollType::kAllReduce, 3, 0, 1,
      {{0, {copy(in(0), scratch(1), 3), copy(scratch(1), out(0), 3, true)}}})};
  ops[0].plan.scratchElems = 4;
  EXPECT_TRUE(verify(ops).ok()) << verify(ops).toString();
  ops[0].plan.scratchElems = 3;
  EXPECT_TRUE(verify(ops).has(Finding::kOutOfBounds));
}

TEST(PlanVerifier, ReportsOutOfBoundsRanges) {
  std::vector<RankOperation> ops = {
      rankOp(CollType::kAllReduce, 3, 0, 1, {{0, {copy(in(0), out(2), 2, true)}}})};
  EXPECT_TRUE(verify(ops).has(Finding::kOutOfBounds));
  ops[0].plan.programs[0].steps = {copy(in(SIZE_MAX), out(0), 3, true)};
  EXPECT_TRUE(verify(ops).has(Finding::kOutOfBounds));
}

TEST(PlanVerifier, RootOnlyBuffersAreAbsentElsewhere) {
  // Broadcast: a non-root reading its Input; Reduce: a non-root writing Output.
  std::vector<RankOperation> bcast;
  bcast.push_back(rankOp(CollType::kBroadcast, 2, 0, 2,
                         {{0, {send(1, in(0), 2), copy(in(0), out(0), 2)}}}));
  bcast.push_back(rankOp(CollType::kBroadcast, 2, 1, 2,
                         {{0, {recv(0, out(0), 2), copy(in(0), out(0), 2)}}}));
  EXPECT_TRUE(verify(bcast).has(Finding::kOutOfBounds));
  bcast[1].plan.programs[0].steps.pop_back();
  EXPECT_TRUE(verify(bcast).ok()) << verify(bcast).toString();
}

TEST(PlanVerifier, ReportsWritesToInput) {
  std::vector<RankOperation> ops = {
      rankOp(CollType::kAllReduce, 3, 0, 1, {{0, {copy(in(0), in(0), 3, true)}}})};
  EXPECT_TRUE(verify(ops).has(Finding::kWritesInput));
}

TEST(PlanVerifier, ReportsProgramsOfOneRankTouchingTheSameElements) {
  std::vector<RankOperation> ops = {
      rankOp(CollType::kAllReduce, 4, 0, 1,
             {{0, {copy(in(0), out(0), 3, true)}}, {1, {copy(in(2), out(2), 2, true)}}})};
  EXPECT_TRUE(verify(ops).has(Finding::kMemoryConflict)) << verify(ops).toString();
}

TEST(PlanVerifier, ReportsMalformedSteps) {
  auto single = [](Step s) {
    return std::vector<RankOperation>{rankOp(CollType::kAllReduce, 4, 0, 1, {{0, {s}}})};
  };
  EXPECT_TRUE(verify(single(copy(in(0), out(0), 0, true))).has(Finding::kMalformedStep));
  EXPECT_TRUE(verify(single(copy(Ref{}, out(0), 4, true))).has(Finding::kMalformedStep));
  EXPECT_TRUE(verify(single(send(7, in(0), 4))).has(Finding::kMalformedStep));
  std::vector<RankOperation> badChannel = single(copy(in(0), out(0), 4, true));
  badChannel[0].plan.programs[0].channel = -1;
  EXPECT_TRUE(verify(badChannel).has(Finding::kMalformedStep));
  // Finalize or reduce in a collective that does not reduce.
  std::vector<RankOperation> gather = {
      rankOp(CollType::kAllGather, 4, 0, 1, {{0, {copy(in(0), out(0), 4, true)}}})};
  EXPECT_TRUE(verify(gather).has(Finding::kMalformedStep));
  gather[0].plan.programs[0].steps = {localReduce(in(0), in(0), out(0), 4, false)};
  EXPECT_TRUE(verify(gather).has(Finding::kMalformedStep));
}

TEST(PlanVerifier, ReportsInconsistentOperations) {
  auto ops = allGatherOfTwo(5, false);
  auto differentCount = ops;
  differentCount[1].args.count = 6;
  EXPECT_TRUE(verify(differentCount).has(Finding::kBadOperation));
  auto missingRank = ops;
  missingRank.pop_back();
  EXPECT_TRUE(verify(missingRank).has(Finding::kBadOperation));
  auto wrongPlan = ops;
  wrongPlan[1].plan.rank = 0;
  EXPECT_TRUE(verify(wrongPlan).has(Finding::kBadOperation));
  EXPECT_TRUE(verify({}).has(Finding::kBadOperation));
  std::vector<RankOperation> alltoall = {rankOp(CollType::kAllToAll, 1, 0, 1, {})};
  EXPECT_TRUE(verify(alltoall, 1, true).has(Finding::kBadOperation));
}

TEST(PlanVerifier, ReportsAWrongResult) {
  auto ops = allGatherOfTwo(5, false);
  ops[1].plan.programs[0].steps[1].dst.offset = 1;  // rank 0's block lands one off
  EXPECT_TRUE(verify(ops, 5).has(Finding::kWrongResult));
}

// ---- reduction semantics --------------------------------------------------

std::vector<RankOperation> singleRankAllReduce(std::vector<Step> steps) {
  return {rankOp(CollType::kAllReduce, 4, 0, 1, {{0, std::move(steps)}})};
}

TEST(PlanVerifier, SingleRankAllReduceIsAPrescaledFinalizedCopy) {
  EXPECT_TRUE(verify(singleRankAllReduce({copy(in(0), out(0), 4, true)})).ok());
  EXPECT_TRUE(verify(singleRankAllReduce({copy(in(0), out(0), 4, true)}), 4, true).ok());
}

TEST(PlanVerifier, RequiresFinalizeExactlyOnce) {
  const auto never = singleRankAllReduce({copy(in(0), out(0), 4, false)});
  EXPECT_TRUE(verify(never).has(Finding::kWrongResult));
  const auto twice =
      singleRankAllReduce({copy(in(0), out(0), 4, true), copy(out(0), out(0), 4, true)});
  EXPECT_TRUE(verify(twice).has(Finding::kWrongResult));
  // Without a post-division, finalize does not matter.
  VerifyOptions vo;
  vo.streamCapacity = 4;
  vo.postDivide = false;
  EXPECT_TRUE(verifyPlans(never, vo).ok()) << verifyPlans(never, vo).toString();
  EXPECT_TRUE(verifyPlans(twice, vo).ok());
}

TEST(PlanVerifier, RequiresPrescaleExactlyOnce) {
  // Copying Input twice: in place the second copy reads (and pre-scales) the
  // value the first one wrote.
  const auto ops =
      singleRankAllReduce({copy(in(0), out(0), 4, false), copy(in(0), out(0), 4, true)});
  EXPECT_TRUE(verify(ops).ok()) << verify(ops).toString();
  const VerifyReport inPlace = verify(ops, 4, true);
  EXPECT_TRUE(inPlace.has(Finding::kWrongResult)) << inPlace.toString();
  EXPECT_NE(inPlace.toString().find("pre2"), std::string::npos) << inPlace.toString();
  VerifyOptions vo;
  vo.streamCapacity = 4;
  vo.inPlace = true;
  vo.preScale = false;
  EXPECT_TRUE(verifyPlans(ops, vo).ok()) << verifyPlans(ops, vo).toString();
}

// AllReduce of 2 ranks: exchange inputs, then reduce locally. Correct out of
// place; in place the receive overwrites the Input the local reduce reads.
std::vector<RankOperation> exchangeThenReduce(size_t count) {
  std::vector<RankOperation> ops;
  for (int r = 0; r < 2; ++r) {
    ops.push_back(rankOp(CollType::kAllReduce, count, r, 2,
                         {{0,
                           {send(1 - r, in(0), count), recv(1 - r, out(0), count),
                            localReduce(out(0), in(0), out(0), count, true)}}}));
  }
  return ops;
}

TEST(PlanVerifier, CatchesInPlaceOverwriteOfNeededInput) {
  const auto ops = exchangeThenReduce(6);
  EXPECT_TRUE(verify(ops, 6).ok()) << verify(ops, 6).toString();
  const VerifyReport inPlace = verify(ops, 6, true);
  EXPECT_TRUE(inPlace.has(Finding::kWrongResult)) << inPlace.toString();
}

TEST(PlanVerifier, ReportsReductionOfAFinalizedValue) {
  // Rank 0 finalizes its partial value before rank 1 adds to it.
  auto ops = exchangeThenReduce(3);
  ops[0].plan.programs[0].steps[0].finalize = true;
  ops[0].plan.programs[0].steps[2].finalize = false;
  const VerifyReport report = verify(ops, 3);
  EXPECT_TRUE(report.has(Finding::kWrongResult));
  EXPECT_NE(report.toString().find("reduced after finalize"), std::string::npos)
      << report.toString();
}

TEST(PlanVerifier, ReportsADuplicatedContribution) {
  auto ops = exchangeThenReduce(3);
  ops[1].plan.programs[0].steps.push_back(localReduce(out(0), in(0), out(0), 3, false));
  EXPECT_TRUE(verify(ops, 3).has(Finding::kWrongResult));
}

}  // namespace
}  // namespace strata::testing
