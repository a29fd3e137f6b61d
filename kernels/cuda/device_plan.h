// The plain-data handle a CUDA kernel runs: a rank's plan lowered for the
// device (src/cuda/lowering.cc makes it). Device code sees only these
// structs, never a host class.
//
//   DevLaunch   by value as the kernel argument: base pointers, FIFO tables,
//               the reduction, abort flag and deadline
//   DevLane     one thread block: an ordered list of DevSteps
//   DevStep     one plan step with its operands resolved to (base slot, byte offset)
//   DevFifo     one direction of a connection: slots in the receiver's memory
//
// Buffers are (base, byte offset) with the bases given at launch, not raw
// pointers baked into the steps: the lowered lanes depend only on the plan,
// so they are uploaded once and cached with it, and a captured CUDA graph
// replays with the buffers it was captured with.
//
// Step semantics (flags):
//   A   = kRecvA ? next bytes of the receive stream : memory at (aBuf, aOff)
//   y   = kHasB ? pre?(A) OP pre?(B) : pre?(A)       (pre = kPreA / kPreB)
//         kRoundA: pre(A) is rounded to the storage type before OP (the
//         host kernels store it once in that case)
//   y   = kPost ? y / divisor : y                   (Avg, on finalizing steps)
//   kWriteDst: memory at (dstBuf, dstOff) <- y;  kSend: send stream <- y
#pragma once

#include <cstdint>

#include "kernels/cuda/device_common.h"

namespace strata::cuda_kernels {

// Base pointer slots of a launch: 0 unused, 1 the scratch buffer, then the
// Input and Output of each operation in the launch (a group's sends and
// receives share one launch): operation k uses 2 + 2k and 3 + 2k.
enum DevBuf : uint8_t { kBufNone = 0, kBufScratch = 1, kBufFirstOp = 2 };
inline constexpr int kNumBases = 64;
inline constexpr int kMaxOpsPerLaunch = (kNumBases - kBufFirstOp) / 2;

enum DevStepFlags : uint16_t {
  kRecvA = 1u << 0,
  kHasB = 1u << 1,
  kPreA = 1u << 2,
  kPreB = 1u << 3,
  kRoundA = 1u << 4,
  kPost = 1u << 5,
  kWriteDst = 1u << 6,
  kSend = 1u << 7,
};

struct DevStep {
  uint8_t planOp = 0;  // plan::Op, for diagnostics
  uint8_t aBuf = kBufNone;
  uint8_t bBuf = kBufNone;
  uint8_t dstBuf = kBufNone;
  uint16_t flags = 0;
  uint16_t reserved = 0;
  int32_t sendFifo = -1;  // index into DevLaunch::sendFifos
  int32_t recvFifo = -1;  // index into DevLaunch::recvFifos
  uint64_t aOff = 0;      // bytes
  uint64_t bOff = 0;
  uint64_t dstOff = 0;
  uint64_t bytes = 0;     // count * element size, > 0
};
static_assert(sizeof(DevStep) == 48, "DevStep is part of the host/device contract");

enum DevProtocol : uint32_t { kProtoSimple = 0, kProtoLL = 1 };

struct DevLane {
  const DevStep* steps = nullptr;  // device memory
  uint32_t nsteps = 0;
  uint32_t protocol = kProtoSimple;
};

// Counters of one FIFO, in the receiver's memory. The sender advances
// `posted` after filling a slot; the receiver advances `consumed` after
// emptying one. Both only grow, across kernel launches, so a new launch
// (or a graph replay) continues where the last one stopped.
inline constexpr uint32_t kMaxDevSlots = 16;
struct alignas(128) DevFifoHeader {
  uint64_t posted;
  uint64_t pad0[15];
  uint64_t consumed;
  uint64_t recvOffset;  // bytes of the head slot already taken (receiver only)
  uint64_t pad1[14];
  uint64_t sizes[kMaxDevSlots];  // bytes in each slot (simple protocol)
};

// LL lines: 8 bytes, 4 of data then a 4-byte flag written in one store. A
// slot's first line holds {byte count, flag}; the data lines follow. The
// flag of a slot's k-th use (k counted from 1 over the FIFO's life) is k,
// so a line is valid exactly when its flag equals the expected k. LL slots
// have their own memory (zeroed at allocation) so that bulk data never
// looks like a valid line.
struct DevFifo {
  DevFifoHeader* header = nullptr;  // receiver memory
  uint8_t* simple = nullptr;        // nslots * slotBytes, receiver memory
  uint64_t* ll = nullptr;           // nslots * llSlotBytes / 8 lines
  uint32_t nslots = 0;
  uint32_t reserved = 0;
  uint64_t slotBytes = 0;
  uint64_t llSlotBytes = 0;
};

// Data bytes one LL slot carries (the first line is the header).
STRATA_HD uint64_t llSlotDataBytes(uint64_t llSlotBytes) {
  return llSlotBytes >= 16 ? (llSlotBytes / 8 - 1) * 4 : 0;
}

enum DevError : int32_t { kDevOk = 0, kDevAborted = 1, kDevTimeout = 2, kDevBadStream = 3 };

struct DevLaunch {
  const DevLane* lanes = nullptr;  // gridDim.x of them
  uint8_t* bases[kNumBases] = {};  // indexed by a DevStep's aBuf/bBuf/dstBuf
  const DevFifo* sendFifos = nullptr;
  const DevFifo* recvFifos = nullptr;
  uint32_t nfifos = 0;  // entries in each table
  uint32_t elemSize = 1;
  DevReduction red;
  const volatile int32_t* abortFlag = nullptr;  // host-mapped; nonzero: stop
  int32_t* error = nullptr;  // first DevError of the launch (device memory)
  uint64_t timeoutNs = 0;    // a wait longer than this fails the launch
  uint32_t systemScope = 1;  // 0: every peer is on this GPU, acquire/release at GPU scope
};

}  // namespace strata::cuda_kernels
