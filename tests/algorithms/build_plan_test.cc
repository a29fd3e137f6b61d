// buildPlan's contract: algorithm choice, argument errors, empty operations.
#include <gtest/gtest.h>

#include "algorithms/algorithms.h"

namespace strata::algorithms {
namespace {

using plan::CollArgs;
using plan::CollType;
using plan::PlanOptions;

constexpr CollType kAllTypes[] = {
    CollType::kAllReduce, CollType::kReduceScatter, CollType::kAllGather, CollType::kBroadcast,
    CollType::kReduce,    CollType::kAllToAll,      CollType::kGather,    CollType::kScatter,
    CollType::kSend,      CollType::kRecv,
};

CollArgs argsFor(CollType type, size_t count = 10, int rank = 0, int nranks = 4) {
  CollArgs a;
  a.type = type;
  a.count = count;
  a.rank = rank;
  a.nranks = nranks;
  a.root = 1;
  a.peer = 2;
  return a;
}

PlanOptions options(size_t maxStep = 4, int nchannels = 2) {
  PlanOptions o;
  o.maxStepElems = maxStep;
  o.nchannels = nchannels;
  return o;
}

void expectInvalid(const StatusOr<plan::RankPlan>& r, const std::string& text) {
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find(text), std::string::npos) << r.status().message();
}

TEST(BuildPlan, DefaultAlgorithmPerCollective) {
  EXPECT_EQ(availableAlgorithms(CollType::kAllReduce),
            (std::vector<std::string>{"ring", "direct"}));
  EXPECT_EQ(availableAlgorithms(CollType::kReduceScatter), std::vector<std::string>{"ring"});
  EXPECT_EQ(availableAlgorithms(CollType::kAllGather), std::vector<std::string>{"ring"});
  EXPECT_EQ(availableAlgorithms(CollType::kBroadcast), std::vector<std::string>{"chain"});
  EXPECT_EQ(availableAlgorithms(CollType::kReduce), std::vector<std::string>{"chain"});
  for (CollType t : {CollType::kAllToAll, CollType::kGather, CollType::kScatter, CollType::kSend,
                     CollType::kRecv}) {
    EXPECT_EQ(availableAlgorithms(t), std::vector<std::string>{"p2p"}) << plan::collName(t);
  }
  for (CollType t : kAllTypes) {
    auto byDefault = buildPlan(argsFor(t), options());
    ASSERT_TRUE(byDefault.ok()) << plan::collName(t) << ": " << byDefault.status().toString();
    const std::string name = availableAlgorithms(t).front();
    EXPECT_EQ(byDefault->algorithm, name);
    auto named = buildPlan(argsFor(t), options(), name);
    ASSERT_TRUE(named.ok());
    EXPECT_EQ(plan::toString(named.value()), plan::toString(byDefault.value()));
  }
}

TEST(BuildPlan, RejectsUnknownAndMismatchedAlgorithms) {
  expectInvalid(buildPlan(argsFor(CollType::kAllReduce), options(), "tree"),
                "unknown algorithm 'tree' for AllReduce (available: ring, direct)");
  expectInvalid(buildPlan(argsFor(CollType::kAllReduce), options(), "chain"),
                "algorithm 'chain' does not implement AllReduce");
  expectInvalid(buildPlan(argsFor(CollType::kBroadcast), options(), "ring"),
                "algorithm 'ring' does not implement Broadcast (available: chain)");
  expectInvalid(buildPlan(argsFor(CollType::kSend), options(), "ring"),
                "does not implement Send");
  expectInvalid(buildPlan(argsFor(static_cast<CollType>(99)), options()),
                "no algorithm implements");
}

TEST(BuildPlan, RejectsBadArguments) {
  expectInvalid(buildPlan(argsFor(CollType::kAllReduce, 10, 0, 0), options()), "nranks");
  expectInvalid(buildPlan(argsFor(CollType::kAllReduce, 10, -1, 4), options()), "rank -1");
  expectInvalid(buildPlan(argsFor(CollType::kAllReduce, 10, 4, 4), options()), "rank 4");
  expectInvalid(buildPlan(argsFor(CollType::kAllReduce), options(0)), "maxStepElems");
  expectInvalid(buildPlan(argsFor(CollType::kAllReduce), options(4, 0)), "nchannels");
  PlanOptions badP2p = options();
  badP2p.p2pChannel = -1;
  expectInvalid(buildPlan(argsFor(CollType::kSend), badP2p), "p2pChannel");
  for (CollType t : {CollType::kBroadcast, CollType::kReduce, CollType::kGather,
                     CollType::kScatter}) {
    for (int root : {-1, 4}) {
      CollArgs a = argsFor(t);
      a.root = root;
      expectInvalid(buildPlan(a, options()), "root " + std::to_string(root));
    }
  }
  for (CollType t : {CollType::kSend, CollType::kRecv}) {
    for (int peer : {-1, 4}) {
      CollArgs a = argsFor(t);
      a.peer = peer;
      expectInvalid(buildPlan(a, options()), "peer " + std::to_string(peer));
    }
  }
  // Root and peer only matter where the collective has them.
  CollArgs a = argsFor(CollType::kAllReduce);
  a.root = 99;
  a.peer = 99;
  EXPECT_TRUE(buildPlan(a, options()).ok());
}

TEST(BuildPlan, RejectsBufferSizesThatOverflow) {
  for (CollType t : {CollType::kReduceScatter, CollType::kAllGather, CollType::kAllToAll,
                     CollType::kGather, CollType::kScatter}) {
    expectInvalid(buildPlan(argsFor(t, SIZE_MAX / 3, 0, 4), options()), "overflows");
  }
  // AllReduce of SIZE_MAX elements in one huge step per chunk still builds.
  auto huge = buildPlan(argsFor(CollType::kAllReduce, SIZE_MAX, 3, 4), options(SIZE_MAX, 1));
  ASSERT_TRUE(huge.ok());
  for (const plan::Step& s : huge->programs[0].steps) {
    if (plan::opReadsSrc(s.op)) {
      EXPECT_LE(s.src.offset, SIZE_MAX - s.count);
    }
  }
}

TEST(BuildPlan, EmptyOperationsHaveNoSteps) {
  for (CollType t : kAllTypes) {
    for (int rank = 0; rank < 4; ++rank) {
      auto r = buildPlan(argsFor(t, 0, rank, 4), options());
      ASSERT_TRUE(r.ok()) << plan::collName(t);
      EXPECT_EQ(r->stepCount(), 0u) << plan::collName(t);
      EXPECT_EQ(r->rank, rank);
      EXPECT_EQ(r->nranks, 4);
    }
  }
}

TEST(BuildPlan, PlansCarryRankAndNoScratch) {
  for (CollType t : kAllTypes) {
    auto r = buildPlan(argsFor(t, 33, 3, 5), options(5, 3));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->rank, 3);
    EXPECT_EQ(r->nranks, 5);
    EXPECT_EQ(r->scratchElems, 0u);
    EXPECT_GT(r->stepCount(), 0u);
  }
}

}  // namespace
}  // namespace strata::algorithms
