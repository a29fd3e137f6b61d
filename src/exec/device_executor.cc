#include "exec/device_executor.h"

#include <map>

#include "comm/communicator.h"
#include "cuda/device_comm.h"

namespace strata::exec {

StatusOr<std::vector<cuda::DeviceLaunchSpec>> buildDeviceLaunches(
    const std::vector<DeviceOp>& ops, const PlanSource& planFor) {
  std::vector<cuda::DeviceLaunchSpec> launches;
  cuda::DeviceLaunchSpec p2p;
  p2p.perLaneProtocol = true;
  std::map<std::pair<int, int>, size_t> p2pLanes;  // (direction, peer) -> lane
  for (const DeviceOp& op : ops) {
    STRATA_ASSIGN_OR_RETURN(auto plan, planFor(op.args, op.type));
    const size_t es = dataTypeSize(op.type);
    cuda::DeviceOpSpec spec{plan, op.buffers.input, op.buffers.output, es};
    const bool isP2p =
        op.args.type == plan::CollType::kSend || op.args.type == plan::CollType::kRecv;
    if (isP2p) {
      // The sends and receives of a launch share one scratch base.
      if (plan->scratchElems > 0) return InternalError("a send/recv plan uses scratch memory");
      int opIdx = static_cast<int>(p2p.ops.size());
      p2p.ops.push_back(spec);
      int dir = op.args.type == plan::CollType::kSend ? 0 : 1;
      auto key = std::make_pair(dir, op.args.peer);
      auto it = p2pLanes.find(key);
      if (it == p2pLanes.end()) {
        it = p2pLanes.emplace(key, p2p.lanes.size()).first;
        p2p.lanes.emplace_back();
      }
      for (size_t g = 0; g < plan->programs.size(); ++g) {
        p2p.lanes[it->second].emplace_back(opIdx, static_cast<int>(g));
      }
      continue;
    }
    cuda::DeviceLaunchSpec launch;
    launch.ops.push_back(spec);
    for (size_t g = 0; g < plan->programs.size(); ++g) {
      launch.lanes.push_back({{0, static_cast<int>(g)}});
    }
    if (plan::collReduces(op.args.type)) {
      launch.type = op.type;
      launch.reduction = op.reduction;
    }
    launch.operationBytes = op.args.count * es;
    launch.scratchBytes = plan->scratchElems * es;
    launches.push_back(std::move(launch));
  }
  if (!p2p.ops.empty()) launches.push_back(std::move(p2p));
  return launches;
}

Status enqueueDeviceOps(Communicator& comm, const std::vector<DeviceOp>& ops) {
  if (ops.empty()) return Status::Ok();
  cuda::DeviceComm* device = comm.device();
  if (device == nullptr) {
    return InvalidUsage("device buffers: communicator rank ", comm.rank(),
                        " has no device FIFOs (every rank must have a GPU and "
                        "STRATA_CUDA=1, the default, when the communicator is created)");
  }
  void* stream = ops.front().stream;
  for (const DeviceOp& op : ops) {
    if (op.stream != stream) {
      return InvalidUsage("device operations of one communicator in a group must use one stream");
    }
  }
  STRATA_ASSIGN_OR_RETURN(
      auto launches,
      buildDeviceLaunches(ops, [&comm](const plan::CollArgs& a, DataType t) {
        return comm.planFor(a, t, /*device=*/true);
      }));
  Status s = device->enqueue(launches, stream);
  if (!s.ok() && s.code() == Code::kCudaError) comm.recordError(s);
  return s;
}

}  // namespace strata::exec
