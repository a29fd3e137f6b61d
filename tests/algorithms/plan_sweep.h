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

// One sweep point, for messages: "AllReduce nranks=4 count=17 ...".
std::string describeCase(const plan::CollArgs& args, const plan::PlanOptions& options,
                         bool inPlace);

}  // namespace strata::testing
