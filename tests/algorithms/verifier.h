// PlanVerifier: runs every rank's plan for one operation together on
// symbolic data and proves (or refutes) that the plans implement the
// collective.
//
// Model. Every element of a rank's Input starts as the symbol (rank, index).
// Reductions build multisets of contributions (symbolic_value.h); reading
// Input in a reducing collective pre-scales what is read, a step with
// `finalize` post-divides what it produces. Input and Output are windows
// onto one user memory (buffer_layout.h), aliased as NCCL defines for
// in-place calls. Streams between (sender, receiver, channel) are FIFOs of
// at most streamCapacity elements. A step moves its elements one at a time:
// each element needs one received element (if it receives) and room for one
// (if it sends), so a step can move part of its elements, block and go on
// later, as executors do slot by slot. All channel programs of all ranks
// take turns round-robin, each moving up to `quantum` elements per turn.
//
// Findings: structural (bad arguments, malformed steps, out-of-bounds
// ranges, writes to Input, two programs of a rank on one directed stream),
// dynamic (reads of never-written Output/Scratch, memory touched by two
// programs of a rank where one writes, deadlock with the blocked steps,
// receives whose sender has nothing left to send, elements left in streams)
// and semantic (a final Output element that is not what the collective
// defines).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "plan/plan.h"

namespace strata::testing {

// One rank's part of the operation: the arguments its plan was built for and
// the plan. A collective has one per rank; point-to-point operations name
// only the ranks involved and a rank may have several (a group).
struct RankOperation {
  plan::CollArgs args;
  plan::RankPlan plan;
};

struct VerifyOptions {
  // Elements one directed stream holds. 0: the largest step of the plans
  // plus one, the least a ring needs (every rank first sends a whole step;
  // each receive-and-forward then needs room for one more element).
  size_t streamCapacity = 0;
  size_t quantum = 0;         // elements per program turn; 0: streamCapacity
  bool inPlace = false;       // Input and Output alias (collectives that define it)
  bool preScale = true;       // require every contribution pre-scaled exactly once
  bool postDivide = true;     // require every reduced value finalized exactly once
};

enum class Finding {
  kBadOperation,     // inconsistent arguments across ranks, plan/args mismatch
  kMalformedStep,    // missing operand, peer out of range, empty step, ...
  kOutOfBounds,      // a step's range leaves its buffer
  kWritesInput,      // a step writes the Input buffer
  kStreamShared,     // two programs of a rank use one directed stream
  kUnwrittenRead,    // Output or Scratch read before anything wrote it
  kMemoryConflict,   // two programs of a rank touch an element, one writing
  kDeadlock,         // nothing can move and some programs are not done
  kUnmatchedReceive, // a receive whose sender will never send more
  kLeftoverData,     // elements left in a stream at the end
  kWrongResult,      // a final Output element is wrong
};
const char* findingName(Finding f);

struct VerifyReport {
  struct Entry {
    Finding kind;
    std::string message;
  };
  std::vector<Entry> findings;
  size_t elementsMoved = 0;  // element steps simulated

  bool ok() const { return findings.empty(); }
  bool has(Finding f) const;
  void add(Finding f, std::string message);
  std::string toString() const;
};

VerifyReport verifyPlans(const std::vector<RankOperation>& ops, const VerifyOptions& options);

}  // namespace strata::testing
