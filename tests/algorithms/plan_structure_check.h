// The static half of the PlanVerifier: what can be judged without running
// the plans. Each step is well formed for its op (operands present, peers in
// range, no empty steps, no reduction or finalize in a collective that does
// not reduce), stays inside its buffers, never writes Input, and no two
// programs of one rank use the same directed stream.
#pragma once

#include <vector>

#include "algorithms/buffer_layout.h"
#include "algorithms/verifier.h"

namespace strata::testing {

// Adds findings to `report`; true when the plans can be simulated.
bool checkPlanStructure(const std::vector<RankOperation>& ops,
                        const std::vector<BufferLayout>& layouts, VerifyReport& report);

}  // namespace strata::testing
