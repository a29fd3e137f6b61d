// Plan builders: pure functions from (collective, sizes, options) to one
// rank's plan. No I/O, no threads, no transport includes.
#pragma once

#include <string>

#include "core/status.h"
#include "plan/plan.h"

namespace strata::algorithms {

// Builds args.rank's plan. `algo` is "" for the default choice, or a name
// from availableAlgorithms(args.type) ("ring", "chain", "p2p").
// InvalidArgument for an algorithm that does not implement args.type.
StatusOr<plan::RankPlan> buildPlan(const plan::CollArgs& args, const plan::PlanOptions& options,
                                   const std::string& algo = "");

// Names accepted by buildPlan for a collective, default first.
std::vector<std::string> availableAlgorithms(plan::CollType type);

}  // namespace strata::algorithms
