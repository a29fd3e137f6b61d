// Runs lowered device plans on the host: every rank's FIFO memory is host
// memory laid out exactly as on the GPU (cuda::fifoPlacement,
// cuda::buildFifoTables) and every lane runs the kernel's interpreter
// (kernels/cuda/plan_interp.h) on a host thread. This tests what the CUDA
// kernel will see and do, protocols included, on a machine with no GPU;
// what it cannot test is the GPU itself (memory model, vector units).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "cuda/ipc.h"
#include "cuda/lowering.h"
#include "kernels/cuda/device_plan.h"

namespace strata::testing {

class DeviceEmulator {
 public:
  DeviceEmulator(int nranks, const cuda::FifoGeometry& geometry);
  ~DeviceEmulator();

  struct RankLaunch {
    std::vector<cuda::LoweredLane> lanes;
    uint8_t* bases[cuda_kernels::kNumBases] = {};
  };

  // Runs every lane of every rank concurrently until all finish. Returns
  // each rank's error word (cuda_kernels::kDevOk when it completed).
  std::vector<int32_t> run(DataType type, ReduceOp op, const cuda_kernels::DevReduction& red,
                           size_t elemSize, std::vector<RankLaunch>& ranks,
                           uint64_t timeoutNs = 30'000'000'000ull);

  // Set nonzero to stop running lanes (as ncclCommAbort does).
  int32_t* abortFlag() { return &abort_; }
  const std::vector<cuda_kernels::DevFifo>& sendTable(int rank) const { return send_[rank]; }
  const std::vector<cuda_kernels::DevFifo>& recvTable(int rank) const { return recv_[rank]; }
  uint8_t* fifoMemory(int rank) { return mem_[rank]; }

 private:
  int nranks_;
  cuda::FifoGeometry g_;
  std::vector<uint8_t*> mem_;
  std::vector<std::vector<cuda_kernels::DevFifo>> send_, recv_;
  int32_t abort_ = 0;
};

}  // namespace strata::testing
