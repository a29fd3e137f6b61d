// What each rank publishes about its device FIFOs at communicator creation
// (through the bootstrap, next to the transport descriptor), how a peer's
// record is validated, and how each peer is reached:
//
//   same process            the peer's device pointer is used directly
//   same host, peer access  CUDA IPC: the peer's cudaIpcMemHandle_t is opened
//   (or the same GPU)
//   otherwise               host-staged through shm/tcp (not built yet: a
//                           device operation that needs it fails clearly)
//
// Plain C++ (the IPC handle is 64 opaque bytes here), so encoding, decoding,
// validation and the decision are unit-tested without a driver.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace strata::cuda {

inline constexpr size_t kIpcHandleBytes = 64;  // sizeof(cudaIpcMemHandle_t)
inline constexpr uint32_t kMaxBusIdBytes = 64;

// Geometry of a rank's receive FIFOs; all ranks must use the same.
struct FifoGeometry {
  uint32_t nslots = 4;
  uint32_t nchannels = 1;
  uint64_t slotBytes = 256 * 1024;
  uint64_t llSlotBytes = 16 * 1024;
  bool operator==(const FifoGeometry&) const = default;
};
Status checkFifoGeometry(const FifoGeometry& g);

// Where FIFO (sender, channel) lives inside a receiver's allocation. One
// FIFO per (channel, sender rank), the receiver's own index included (never
// used) so that the layout is the same formula on every rank.
struct FifoPlacement {
  uint64_t header = 0;  // DevFifoHeader
  uint64_t simple = 0;  // nslots * slotBytes
  uint64_t ll = 0;      // nslots * llSlotBytes
};
uint64_t fifoStride(const FifoGeometry& g);
FifoPlacement fifoPlacement(const FifoGeometry& g, int nranks, int sender, int channel);
uint64_t fifoAllocationBytes(const FifoGeometry& g, int nranks);

}  // namespace strata::cuda

namespace strata::cuda_kernels {
struct DevFifo;
}

namespace strata::cuda {

// The FIFO tables `rank` hands its kernels, indexed by fifoIndex(peer,
// channel): send[i] points into the peer's allocation (peerBase[peer]),
// recv[i] into this rank's own (peerBase[rank]). A null peerBase leaves
// that peer's send entries without memory (an unreachable peer).
void buildFifoTables(const FifoGeometry& g, int nranks, int rank,
                     const std::vector<uint8_t*>& peerBase,
                     std::vector<cuda_kernels::DevFifo>* send,
                     std::vector<cuda_kernels::DevFifo>* recv);

struct DeviceRankInfo {
  int rank = 0;
  int nranks = 0;
  uint64_t processToken = 0;  // equal tokens (and pids): same address space
  int64_t pid = 0;
  std::string hostId;
  int device = -1;            // ordinal in the publishing process
  std::string busId;          // PCI bus id of that device, e.g. 0000:3b:00.0
  uint64_t fifoBase = 0;      // device address of the FIFO allocation (same process only)
  uint64_t fifoBytes = 0;
  bool hasIpcHandle = false;
  uint8_t ipcHandle[kIpcHandleBytes] = {};
  FifoGeometry geometry;

  std::string encode() const;
  // Treats the bytes as untrusted: bounds every length and value.
  static StatusOr<DeviceRankInfo> decode(const std::string& bytes);
};

enum class PeerPath { kSameProcess, kIpc, kHostStaged };
const char* peerPathName(PeerPath p);

// `peerAccess`: this process's device can map the peer's device memory
// (cudaDeviceCanAccessPeer, or the two are the same GPU).
PeerPath decidePath(const DeviceRankInfo& me, const DeviceRankInfo& peer, bool peerAccess);

// Checks a peer's record against this rank's: the communicator size, the
// rank it claims, the FIFO geometry and allocation size.
Status validatePeerInfo(const DeviceRankInfo& me, const DeviceRankInfo& peer, int expectedRank);

}  // namespace strata::cuda
