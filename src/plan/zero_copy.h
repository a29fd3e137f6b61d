// Which steps of a plan may let a transport use the user's buffers in place:
// send bytes straight from them, or receive bytes straight into them, instead
// of through a copy in a FIFO slot (see SendConnection::postReference and
// RecvConnection::postTarget).
//
// Sending by reference: the transport reads the step's bytes some time after
// the step posted them, until the executor sees the connection idle (at the
// end of the phase). So the region must not change meanwhile: no later step
// of the same program and no step of another program (programs run
// concurrently) may write an overlapping region of the same buffer.
//
// Receiving into a target: the transport may write the step's region as soon
// as its bytes arrive, before the program reaches the step. So no earlier
// step of the same program and no step of another program may read or write
// an overlapping region of the same buffer.
//
// The analysis sees one plan with Input and Output as separate buffers.
// Whether they alias at run time (in-place calls), and what other operations
// of the same phase touch, is for the executor to check (it then gives up
// zero copy for the task). Scratch is never used in place.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "plan/plan.h"

namespace strata::plan {

enum ZeroCopyFlag : uint8_t {
  // The bytes the step sends (Send: its src; RecvCopySend and
  // RecvReduceCopySend: its dst once written) stay unchanged until the end
  // of the plan.
  kStableSend = 1,
  // The step's dst (Recv, RecvCopySend) is touched by nothing before it in
  // its program nor by any other program.
  kUntouchedRecv = 2,
};

struct ZeroCopyMap {
  // [program][step]: ZeroCopyFlag bits.
  std::vector<std::vector<uint8_t>> flags;
  // [program][step]: for receiving steps, the elements the program receives
  // from the same peer before this step (the step's position in its stream).
  std::vector<std::vector<size_t>> recvPosition;
  // Elements of Input and Output the plan touches (highest index + 1).
  size_t inputExtent = 0;
  size_t outputExtent = 0;
  bool writesInput = false;

  uint8_t at(size_t program, size_t step) const {
    return program < flags.size() && step < flags[program].size() ? flags[program][step] : 0;
  }
};

ZeroCopyMap analyzeZeroCopy(const RankPlan& plan);

}  // namespace strata::plan
