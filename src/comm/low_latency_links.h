// What a communicator keeps for the low-latency protocol (exec/low_latency.h)
// between calls: a mailbox toward and from every peer, and the sequence
// numbers of the last call sent to and received from each.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "transports/manager.h"

namespace strata {

// The most bytes one low-latency all-reduce moves per rank.
inline constexpr size_t kLowLatencyMaxBytes = 4096;
static_assert(kLowLatencyMaxBytes % 64 == 0, "mailbox halves stay cache-line aligned");
// One half of a mailbox: a header (sequence number, size and type) on a
// cache line of its own, then the data.
inline constexpr size_t kLowLatencyHeaderBytes = 64;
inline constexpr size_t kLowLatencyHalfBytes = kLowLatencyHeaderBytes + kLowLatencyMaxBytes;
inline constexpr size_t kLowLatencyMailboxBytes = 2 * kLowLatencyHalfBytes;

struct LowLatencyLinks {
  std::vector<transport::ConnectionManager::Mailbox> send, recv;
  std::vector<uint32_t> sendSeq, recvSeq;
};

}  // namespace strata
