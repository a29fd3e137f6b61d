// Single-stream programs shared by the p2p builders: a buffer range sent to
// or received from one peer in steps of at most maxStep elements.
#pragma once

#include <cstddef>

#include "plan/plan.h"

namespace strata::algorithms {

// Sends Input[srcOffset, srcOffset+count) to `to`.
void addSendProgram(plan::RankPlan& plan, int channel, int to, size_t srcOffset, size_t count,
                    size_t maxStep);

// Receives Output[dstOffset, dstOffset+count) from `from`.
void addRecvProgram(plan::RankPlan& plan, int channel, int from, size_t dstOffset, size_t count,
                    size_t maxStep);

// Copies Input[srcOffset, +count) to Output[dstOffset, +count).
void addCopyProgram(plan::RankPlan& plan, int channel, size_t srcOffset, size_t dstOffset,
                    size_t count, size_t maxStep);

}  // namespace strata::algorithms
