// A communicator's device side: its receive FIFOs in device memory, the
// peers' FIFOs it writes into (same process: direct pointers; same host:
// CUDA IPC), the lowered-plan cache and the launches of the plan kernel on
// the caller's stream. Created at communicator creation when every rank can
// run device work (a CUDA build, a GPU, STRATA_CUDA=1).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bootstrap/bootstrap.h"
#include "core/status.h"
#include "core/types.h"
#include "cuda/ipc.h"
#include "cuda/lowering.h"
#include "plan/plan.h"

namespace strata::cuda {

struct DeviceCommOptions {
  int rank = 0;
  int nranks = 1;
  int nchannels = 1;  // FIFO channels, the point-to-point channel included
  std::string hostId;
  uint64_t processToken = 0;
  std::chrono::milliseconds timeout{0};
  int device = -1;  // -1: the calling thread's current device
};

// One operation's plan and buffers inside a launch.
struct DeviceOpSpec {
  std::shared_ptr<const plan::RankPlan> plan;
  const void* input = nullptr;
  void* output = nullptr;
  size_t elemSize = 1;
};

// One kernel launch: a collective (one lane per channel program), or all
// the sends and receives of a group (one lane per direction and peer).
// A lane is a list of (operation index, program index).
struct DeviceLaunchSpec {
  std::vector<DeviceOpSpec> ops;
  std::vector<std::vector<std::pair<int, int>>> lanes;
  DataType type = DataType::kUint8;  // kUint8 + kSum for operations that only move data
  Reduction reduction;
  uint64_t operationBytes = 0;       // chooses the protocol; equal on all ranks
  // Choose the protocol per lane from the bytes the lane moves instead (a
  // group's sends and receives: both ends of a lane move the same bytes).
  bool perLaneProtocol = false;
  size_t scratchBytes = 0;
};

// A launch's lanes lowered as the kernel runs them: operation k's Input
// and Output in base slots 2 + 2k and 3 + 2k, the reduction flags only for
// launches that reduce, the protocol by operation (or lane) size. At most
// cuda_kernels::kMaxOpsPerLaunch operations.
StatusOr<std::vector<LoweredLane>> lowerLaunch(const DeviceLaunchSpec& spec, int nranks,
                                               int nchannels, uint64_t llMaxBytes);

// The device FIFO geometry from STRATA_CUDA_NSLOTS / _SLOT_BYTES /
// _LL_SLOT_BYTES for `nchannels` channels.
FifoGeometry fifoGeometryFromSettings(int nchannels);

class DeviceComm {
 public:
  // Collective over all ranks of the bootstrap.
  static StatusOr<std::unique_ptr<DeviceComm>> create(bootstrap::Bootstrap& bootstrap,
                                                      const DeviceCommOptions& options);
  ~DeviceComm();
  DeviceComm(const DeviceComm&) = delete;
  DeviceComm& operator=(const DeviceComm&) = delete;

  // Enqueues the launches on `stream` (a cudaStream_t) in order and returns.
  Status enqueue(const std::vector<DeviceLaunchSpec>& launches, void* stream);
  // Stops running kernels at their next wait.
  void abort();
  // The first error a kernel reported (abort, timeout, mismatched streams).
  Status asyncError() const;
  int device() const;
  PeerPath path(int peer) const;

  struct Impl;

 private:
  explicit DeviceComm(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The highest byte + 1 that a plan touches in Input or Output (to give a
// rank that passed NULL for a buffer it does not own memory for the plan).
uint64_t planExtentBytes(const plan::RankPlan& p, plan::Buf buf, size_t elemSize);

}  // namespace strata::cuda
