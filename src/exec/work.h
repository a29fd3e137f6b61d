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
};

struct Phase {
  std::vector<Lane> lanes;
  size_t scratchBytes = 0;
  std::optional<SingleCopyTask> singleCopy;  // set: the phase is this task, lanes are empty
};

struct RankWork {
  Communicator* comm = nullptr;
  std::vector<Phase> phases;
};

}  // namespace strata::exec
