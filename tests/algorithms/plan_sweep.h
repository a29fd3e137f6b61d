// Helpers for the algorithm tests: build the plans of all ranks of one
// operation and run them through the PlanVerifier.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "algorithms/verifier.h"
#include "plan/plan.h"

namespace strata::testing {

// Plans for every rank (args.rank is ignored). Fails the calling test (and
// returns an empty list) when buildPlan fails.
std::vector<RankOperation> buildAllRanks(const plan::CollArgs& args,
                                         const plan::PlanOptions& options,
                                         const std::string& algo = "");

// A Send from `sender` and the matching Recv on `receiver`.
std::vector<RankOperation> buildSendRecvPair(int nranks, int sender, int receiver, size_t count,
                                             const plan::PlanOptions& options);

// The smallest stream capacity the algorithms' plans are designed for: a
// ring needs one step of buffering plus one element on every link (every
// rank first sends a whole step, then each receive-and-forward needs room
// for one more element); chains and point-to-point plans need one element.
size_t minimalStreamCapacity(plan::CollType type, const plan::PlanOptions& options);

// verifyPlans with the minimal capacity and the given mode.
VerifyReport verifyAllRanks(const std::vector<RankOperation>& ops, plan::CollType type,
                            const plan::PlanOptions& options, bool inPlace,
                            bool reductionSemantics = true);

// What the verifier cannot see: every step moves at most maxStepElems,
// collective programs use channels 0..nchannels-1 and point-to-point ones
// options.p2pChannel, and no program is empty.
void checkPlanShape(const std::vector<RankOperation>& ops, const plan::PlanOptions& options,
                    const std::string& what);

// The sweep every algorithm test runs: nranks 1..8, 13 and 16, every root,
// in place and out of place, counts 0, 1, 2, 5, 17, 100, 1000 and one
// spanning about three pipeline slices per channel, maxStepElems 1, 3, 64
// and 4096, nchannels 1..4. The full product is large, so each (nranks,
// root, in-place) point takes a rotating share of the (count, maxStepElems,
// nchannels) combinations such that, over the roots of a rooted collective,
// every combination is still run; 13 and 16 ranks take a third of that.
// Reducing collectives run a quarter of the cases without pre-scale and
// finalize semantics. Reports the first failures to gtest.
struct SweepStats {
  size_t cases = 0;
  size_t elementsMoved = 0;
};
SweepStats sweepCollective(plan::CollType type, const std::string& algo = "");

// One sweep point, for messages: "AllReduce nranks=4 count=17 ...".
std::string describeCase(const plan::CollArgs& args, const plan::PlanOptions& options,
                         bool inPlace);

}  // namespace strata::testing
