// Injected bugs: take correct plans of every algorithm, break one step of one
// rank in a way a real bug would (drop it, send to or receive from the wrong
// peer, shift an offset, flip finalize, repeat a transfer) and require the
// PlanVerifier to reject every single mutant.
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "algorithms/plan_sweep.h"

namespace strata::testing {
namespace {

using plan::CollType;
using plan::Step;

struct BaseCase {
  CollType type;
  int nranks;
  size_t count;
  int root;
  size_t maxStep;
  int nchannels;
};

std::vector<RankOperation> buildBase(const BaseCase& c) {
  plan::PlanOptions options;
  options.maxStepElems = c.maxStep;
  options.nchannels = c.nchannels;
  if (c.type == CollType::kSend) return buildSendRecvPair(c.nranks, 0, 1, c.count, options);
  plan::CollArgs args;
  args.type = c.type;
  args.count = c.count;
  args.root = c.root;
  args.nranks = c.nranks;
  return buildAllRanks(args, options);
}

VerifyOptions optionsFor(const BaseCase& c) {
  VerifyOptions vo;
  plan::PlanOptions options;
  options.maxStepElems = c.maxStep;
  vo.streamCapacity = minimalStreamCapacity(c.type, options);
  return vo;
}

const BaseCase kBaseCases[] = {
    {CollType::kAllReduce, 3, 14, 0, 2, 2},    {CollType::kAllReduce, 1, 5, 0, 2, 1},
    {CollType::kAllReduce, 2, 9, 0, 2, 1},     {CollType::kReduceScatter, 3, 5, 0, 2, 2},
    {CollType::kAllGather, 4, 5, 0, 2, 1},     {CollType::kBroadcast, 4, 7, 1, 3, 2},
    {CollType::kReduce, 4, 7, 2, 3, 2},        {CollType::kAllToAll, 3, 4, 0, 3, 1},
    {CollType::kGather, 3, 4, 2, 3, 1},        {CollType::kScatter, 3, 4, 0, 3, 1},
    {CollType::kSend, 2, 7, 0, 3, 1},
};

// A mutation edits steps[i] of a program; false if it does not apply there.
using Mutation = std::function<bool(std::vector<Step>& steps, size_t i, int nranks)>;

bool dropStep(std::vector<Step>& steps, size_t i, int) {
  steps.erase(steps.begin() + static_cast<std::ptrdiff_t>(i));
  return true;
}

bool swapPeer(std::vector<Step>& steps, size_t i, int nranks) {
  Step& s = steps[i];
  if (plan::opSends(s.op)) {
    s.sendPeer = (s.sendPeer + 1) % nranks;
  } else if (plan::opRecvs(s.op)) {
    s.recvPeer = (s.recvPeer + 1) % nranks;
  } else {
    return false;
  }
  return true;
}

bool shiftSource(std::vector<Step>& steps, size_t i, int) {
  if (!plan::opReadsSrc(steps[i].op)) return false;
  steps[i].src.offset += 1;
  return true;
}

bool shiftDestination(std::vector<Step>& steps, size_t i, int) {
  if (!plan::opWritesDst(steps[i].op)) return false;
  Step& s = steps[i];
  s.dst.offset = s.dst.offset > 0 ? s.dst.offset - 1 : s.dst.offset + 1;
  return true;
}

bool flipFinalize(std::vector<Step>& steps, size_t i, int) {
  steps[i].finalize = !steps[i].finalize;
  return true;
}

bool repeatTransfer(std::vector<Step>& steps, size_t i, int) {
  if (!plan::opSends(steps[i].op) && !plan::opRecvs(steps[i].op)) return false;
  steps.insert(steps.begin() + static_cast<std::ptrdiff_t>(i), steps[i]);
  return true;
}

// Applies `mutation` to every step of every program of every rank in turn;
// returns how many mutants were tried. Each must be rejected.
size_t expectEveryMutantRejected(const char* name, const Mutation& mutation) {
  size_t mutants = 0;
  for (const BaseCase& c : kBaseCases) {
    const std::vector<RankOperation> base = buildBase(c);
    const VerifyOptions vo = optionsFor(c);
    const VerifyReport clean = verifyPlans(base, vo);
    EXPECT_TRUE(clean.ok()) << plan::collName(c.type) << ": " << clean.toString();
    for (size_t o = 0; o < base.size(); ++o) {
      for (size_t p = 0; p < base[o].plan.programs.size(); ++p) {
        for (size_t i = 0; i < base[o].plan.programs[p].steps.size(); ++i) {
          std::vector<RankOperation> mutant = base;
          std::vector<Step>& steps = mutant[o].plan.programs[p].steps;
          const std::string before = plan::toString(steps[i]);
          if (!mutation(steps, i, c.nranks)) continue;
          ++mutants;
          const VerifyReport report = verifyPlans(mutant, vo);
          EXPECT_FALSE(report.ok()) << name << " not caught: " << plan::collName(c.type)
                                    << " rank " << base[o].args.rank << " program " << p
                                    << " step " << i << " [" << before << "]";
        }
      }
    }
  }
  return mutants;
}

TEST(PlanMutation, DroppedStepIsCaught) {
  EXPECT_GT(expectEveryMutantRejected("dropped step", dropStep), 100u);
}

TEST(PlanMutation, WrongPeerIsCaught) {
  EXPECT_GT(expectEveryMutantRejected("wrong peer", swapPeer), 100u);
}

TEST(PlanMutation, WrongSourceOffsetIsCaught) {
  EXPECT_GT(expectEveryMutantRejected("wrong source offset", shiftSource), 50u);
}

TEST(PlanMutation, WrongDestinationOffsetIsCaught) {
  EXPECT_GT(expectEveryMutantRejected("wrong destination offset", shiftDestination), 50u);
}

TEST(PlanMutation, AddedOrRemovedFinalizeIsCaught) {
  EXPECT_GT(expectEveryMutantRejected("flipped finalize", flipFinalize), 100u);
}

TEST(PlanMutation, RepeatedTransferIsCaught) {
  EXPECT_GT(expectEveryMutantRejected("repeated transfer", repeatTransfer), 100u);
}

// The named bugs, with the finding each one produces.
TEST(PlanMutation, NamedBugsGiveTheExpectedFindings) {
  const BaseCase c{CollType::kAllReduce, 3, 12, 0, 4, 1};
  const std::vector<RankOperation> base = buildBase(c);
  const VerifyOptions vo = optionsFor(c);
  ASSERT_TRUE(verifyPlans(base, vo).ok());
  auto mutate = [&](const std::function<void(std::vector<Step>&)>& edit) {
    std::vector<RankOperation> m = base;
    edit(m[1].plan.programs[0].steps);
    return verifyPlans(m, vo);
  };
  // Rank 1's steps: Send, RecvReduceSend, RecvReduceCopySend(finalize),
  // RecvCopySend, Recv.
  EXPECT_TRUE(mutate([](auto& s) { s[2].finalize = false; }).has(Finding::kWrongResult));
  EXPECT_TRUE(mutate([](auto& s) { s.insert(s.begin() + 1, s[1]); }).has(Finding::kDeadlock));
  EXPECT_TRUE(mutate([](auto& s) { s.pop_back(); }).has(Finding::kLeftoverData));
  EXPECT_TRUE(mutate([](auto& s) { s.erase(s.begin()); }).has(Finding::kUnmatchedReceive));
  EXPECT_TRUE(mutate([](auto& s) { s[1].src.offset = 9; }).has(Finding::kOutOfBounds));
  EXPECT_TRUE(mutate([](auto& s) { s[1].src.offset -= 1; }).has(Finding::kWrongResult));
  EXPECT_TRUE(mutate([](auto& s) { s[3].dst = plan::Ref{plan::Buf::kInput, 0}; })
                  .has(Finding::kWritesInput));
  EXPECT_TRUE(mutate([](auto& s) { s[0].sendPeer = 0; }).has(Finding::kDeadlock));
}

// In place, a Copy of the own AllGather block onto itself is redundant, but
// the plan must still be right out of place: only out-of-place verification
// sees that it is missing.
TEST(PlanMutation, InPlaceOnlyRunsCanHideAMissingCopy) {
  const BaseCase c{CollType::kAllGather, 3, 4, 0, 4, 1};
  std::vector<RankOperation> ops = buildBase(c);
  std::vector<Step>& steps = ops[0].plan.programs[0].steps;
  ASSERT_EQ(steps[1].op, plan::Op::kCopy);
  steps.erase(steps.begin() + 1);
  VerifyOptions vo = optionsFor(c);
  vo.inPlace = true;
  EXPECT_TRUE(verifyPlans(ops, vo).ok());
  vo.inPlace = false;
  EXPECT_TRUE(verifyPlans(ops, vo).has(Finding::kWrongResult));
}

}  // namespace
}  // namespace strata::testing
