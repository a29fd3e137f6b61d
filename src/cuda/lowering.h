// Lowering a rank's plan (src/plan) into what the CUDA kernel runs
// (kernels/cuda/device_plan.h): every step becomes a DevStep with byte
// offsets from the Input/Output/Scratch bases, the operand roles and
// reduction flags decided once on the host, and peers resolved to FIFO
// indices. Plain C++: built and unit-tested with or without CUDA.
#pragma once

#include <cstdint>
#include <vector>

#include "core/status.h"
#include "core/types.h"
#include "kernels/cuda/device_plan.h"
#include "plan/plan.h"

namespace strata::cuda {

using cuda_kernels::DevProtocol;
using cuda_kernels::DevStep;

// FIFO tables hold one entry per (channel, peer): index channel * nranks + peer.
inline int fifoIndex(int peer, int channel, int nranks) { return channel * nranks + peer; }

struct LoweringContext {
  int nranks = 1;
  int nchannels = 1;        // channels with FIFOs, the point-to-point channel included
  size_t elemSize = 1;
  bool preScale = false;    // the reduction has a PreMulSum scale
  bool postDivide = false;  // the reduction divides on finalizing steps
  uint8_t inputBase = cuda_kernels::kBufFirstOp;       // base slot of Input
  uint8_t outputBase = cuda_kernels::kBufFirstOp + 1;  // base slot of Output
};

// A thread block's work: steps of one or several channel programs in order.
struct LoweredLane {
  std::vector<DevStep> steps;
  uint64_t bytes = 0;  // bytes the lane's steps move (sum of step sizes)
  DevProtocol protocol = cuda_kernels::kProtoSimple;
};

// Appends the lowered steps of `program` to `lane` (zero-count steps are
// dropped). Fails on a peer or channel outside the communicator or an
// element range whose byte offset overflows.
Status lowerProgram(const plan::ChannelProgram& program, const LoweringContext& ctx,
                    LoweredLane* lane);

// The largest operation the LL protocol takes with FIFOs of this many LL
// slots of llSlotDataBytes each: half their capacity (a ring step must fit
// with room to spare, as for the host FIFOs), and at most `setting`.
uint64_t effectiveLlMaxBytes(uint32_t nslots, uint64_t llSlotBytes, uint64_t setting);

// LL for operations of at most llMaxBytes (every rank of the operation
// computes the same value, so both ends of each FIFO agree), simple above.
DevProtocol chooseProtocol(uint64_t operationBytes, uint64_t llMaxBytes);

}  // namespace strata::cuda
