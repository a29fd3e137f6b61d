// What an executor runs: the work of one communicator for one group call.
//
//   RankWork  = phases, run one after another
//   Phase     = lanes, run concurrently
//   Lane      = tasks, run one after another
//   Task      = one channel program of a plan bound to buffers and a reduction
//
// A collective becomes one phase with a lane per channel program. The
// send/recv operations of a group become one phase with a lane per (peer,
// direction), so that several operations towards one peer keep their order.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "core/types.h"
#include "plan/plan.h"

namespace strata {
class Communicator;
}

namespace strata::exec {

struct Buffers {
  const void* input = nullptr;
  void* output = nullptr;
};

struct Task {
  std::shared_ptr<const plan::RankPlan> plan;  // keeps the program alive
  const plan::ChannelProgram* program = nullptr;
  Buffers buffers;
  DataType type = DataType::kFloat32;
  Reduction reduction;
  // Final writes to the output bypass the caches (non-temporal stores): set
  // for operations whose output is much larger than the caches.
  bool streamOutput = false;
};

struct Lane {
  std::vector<Task> tasks;
};

// A collective that the ranks of one host run by reading each other's
// buffers directly (see single_copy.h) instead of through plans and FIFOs.
struct SingleCopyTask {
  plan::CollArgs args;
  Buffers buffers;
  DataType type = DataType::kFloat32;
  Reduction reduction;
  // Run only if every buffer that a rank of another process must read lies
  // in a shared host buffer; otherwise every rank declines after the first
  // exchange and the phase runs its lanes instead.
  bool ifShared = false;
};

// A small all-reduce between ranks that reach each other through memory,
// run with the low-latency protocol (see low_latency.h).
struct LowLatencyTask {
  size_t count = 0;
  Buffers buffers;
  DataType type = DataType::kFloat32;
  Reduction reduction;
};

struct Phase {
  // Not value-initialised member by member: a phase is created per call and
  // zeroing the optionals' storage shows up in small calls.
  Phase() {}  // NOLINT(modernize-use-equals-default)
  std::vector<Lane> lanes;
  size_t scratchBytes = 0;
  // Set: the phase is this task, and has no lanes unless the task may be
  // declined (ifShared): the lanes then run only after a decline.
  std::optional<SingleCopyTask> singleCopy;
  std::optional<LowLatencyTask> lowLatency;
};

struct RankWork {
  Communicator* comm = nullptr;
  std::vector<Phase> phases;
};

}  // namespace strata::exec
