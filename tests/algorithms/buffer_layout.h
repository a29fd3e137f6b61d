// Where a rank's Input and Output live for the plan verifier: the sizes from
// plan.h's table and, for in-place calls, the aliasing NCCL defines. Both
// buffers are windows onto one array of user memory, so a plan that
// overwrites Input it still needs reads the new value, as on real memory.
//
// Buffers NCCL uses only at the root are absent (size 0) elsewhere:
// Broadcast Input, Reduce Output, Gather Output, Scatter Input.
#pragma once

#include <cstddef>
#include <string>

#include "plan/plan.h"

namespace strata::testing {

struct BufferLayout {
  size_t inputSize = 0;
  size_t outputSize = 0;
  size_t inputBase = 0;   // offset of Input[0] in user memory
  size_t outputBase = 0;  // offset of Output[0] in user memory
  size_t memorySize = 0;  // elements of user memory
  bool aliased = false;   // Input and Output overlap
};

// Whether plan.h defines an in-place form of the collective.
bool hasInPlaceForm(plan::CollType type);

// The layout of args.rank's buffers; inPlace must only be set where
// hasInPlaceForm(args.type).
BufferLayout bufferLayout(const plan::CollArgs& args, bool inPlace);

}  // namespace strata::testing
