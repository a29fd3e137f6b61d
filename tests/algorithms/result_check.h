// The semantic half of the PlanVerifier: after a complete run, every Output
// element of every rank must hold what the collective defines.
//   reducing (AllReduce, ReduceScatter, Reduce at the root): exactly one
//     contribution (r, i) from every rank r, for the index i the collective
//     reduces there; each pre-scaled exactly once and the value finalized
//     exactly once, where the options ask for those semantics
//   moving (AllGather, Broadcast, AllToAll, Gather, Scatter, Recv): exactly
//     the one symbol (rank, index) that belongs there, untouched
#pragma once

#include <vector>

#include "algorithms/plan_simulator.h"
#include "algorithms/verifier.h"

namespace strata::testing {

void checkResults(const std::vector<RankOperation>& ops, const PlanSimulator& sim,
                  const VerifyOptions& options, VerifyReport& report);

}  // namespace strata::testing
