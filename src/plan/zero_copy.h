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
// The analysis sees one plan with Input and Output either as separate
// buffers or, for in-place calls, as one buffer with Input at a given element
// of Output (NCCL's in-place layouts: at 0 for all-reduce, broadcast and
// reduce, at rank * count for all-gather, at -rank * count for
// reduce-scatter). Which of the two maps fits a call, and what other
// operations of the same phase touch, is for the executor to check (it gives
// up zero copy for a task that neither map fits). Scratch is never used in
// place.
//
// Steps an algorithm marks Step::returnsOwn relax the rules within their
// program: such a step may receive into elements that earlier steps only
// read, and its writes do not unsettle earlier sends of those elements,
// because the bytes it receives cannot exist before the bytes those steps
// read have left this rank.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
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
  // Analysed with Input and Output as one buffer, Input's element 0 at
  // Output's element inputAt.
  bool aliased = false;
  int64_t inputAt = 0;

  uint8_t at(size_t program, size_t step) const {
    return program < flags.size() && step < flags[program].size() ? flags[program][step] : 0;
  }
};

// inputAt: analyse Input and Output as one buffer, Input's element 0 being
// Output's element *inputAt (negative when Input begins before Output).
ZeroCopyMap analyzeZeroCopy(const RankPlan& plan, std::optional<int64_t> inputAt = std::nullopt);

// Where NCCL's in-place form of `args` puts Input within Output, in elements;
// nullopt for operations without one (all-to-all, gather, scatter, send, recv).
std::optional<int64_t> inPlaceInputAt(const CollArgs& args);

}  // namespace strata::plan
