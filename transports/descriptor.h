// What each rank publishes about itself at communicator creation, and how
// it travels through the bootstrap. Decoding treats the bytes as untrusted:
// every length and value is bounded before use.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"
#include "net/socket.h"
#include "transports/fifo.h"
#include "transports/health.h"
#include "transports/tcp_link.h"

namespace strata::transport {

enum class TransportMode : uint32_t { kAuto = 0, kLoopback = 1, kShm = 2, kTcp = 3 };

struct RankDescriptor {
  int rank = 0;
  int nranks = 0;
  int nchannels = 0;
  TransportMode mode = TransportMode::kAuto;
  bool shmDisable = false;
  std::string hostId;
  ProcessInfo process;
  uint64_t processToken = 0;  // random per process: equal tokens share memory
  uint64_t localKey = 0;      // finds the segment among this process's ranks
  std::string shmName;        // the segment's shm name, if it is shared
  FifoLayout memory;          // geometry of this rank's memory receive FIFOs
  bool hasListener = false;
  net::Address listener;
  TcpParams tcp;              // geometry of this rank's tcp receive FIFOs
  bool tls = false;           // STRATA_TLS: its tcp connections run TLS

  std::string encode() const;
  static StatusOr<RankDescriptor> decode(const std::string& bytes);
};

inline constexpr size_t kMaxDescriptorBytes = 4096;
inline constexpr size_t kMaxHostIdBytes = 1024;
inline constexpr uint64_t kMinSlotBytes = 1024;
inline constexpr uint64_t kMaxSlotBytes = 1ull << 30;
inline constexpr uint32_t kMaxSlots = 4096;

// Checks a FIFO geometry read from settings or from a peer.
Status checkGeometry(const char* what, uint32_t nslots, uint64_t slotBytes);

// A random token for this process, regenerated after fork.
uint64_t processToken();

}  // namespace strata::transport
