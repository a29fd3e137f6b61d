// Device-buffer operations of a group: turns each communicator's operations
// into launches of the plan kernel (src/cuda/device_comm.h) on the caller's
// stream, and returns without waiting, as NCCL does for device memory.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "core/status.h"
#include "cuda/device_comm.h"
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

// The plan of an operation (Communicator::planFor in the library).
using PlanSource = std::function<StatusOr<std::shared_ptr<const plan::RankPlan>>(
    const plan::CollArgs&, DataType)>;

// The launches for a communicator's device operations of one group:
// collectives one launch each in issue order (one lane per channel
// program; reducing ones typed, the others as bytes), then all sends and
// receives in one launch with a lane per (direction, peer) and the protocol
// chosen per lane. Pure: no CUDA calls.
StatusOr<std::vector<cuda::DeviceLaunchSpec>> buildDeviceLaunches(
    const std::vector<DeviceOp>& ops, const PlanSource& planFor);

// Collectives launch one after another in issue order; all sends and
// receives of the group go in one last launch (one lane per direction and
// peer). All operations of one communicator in a group must use one stream.
Status enqueueDeviceOps(Communicator& comm, const std::vector<DeviceOp>& ops);

}  // namespace strata::exec
