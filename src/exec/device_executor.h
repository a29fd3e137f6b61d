// Device-buffer operations of a group: turns each communicator's operations
// into launches of the plan kernel (src/cuda/device_comm.h) on the caller's
// stream, and returns without waiting, as NCCL does for device memory.
#pragma once

#include <vector>

#include "core/status.h"
#include "exec/work.h"
#include "plan/plan.h"

namespace strata {
class Communicator;
}

namespace strata::exec {

struct DeviceOp {
  plan::CollArgs args;
  Buffers buffers;
  DataType type = DataType::kFloat32;
  Reduction reduction;
  void* stream = nullptr;  // cudaStream_t
};

// Collectives launch one after another in issue order; all sends and
// receives of the group go in one last launch (one lane per direction and
// peer). All operations of one communicator in a group must use one stream.
Status enqueueDeviceOps(Communicator& comm, const std::vector<DeviceOp>& ops);

}  // namespace strata::exec
