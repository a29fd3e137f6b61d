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
// One half of a mailbox: a header word (sequence number, size and type)
// followed at once by the data, so that a message of up to 56 bytes is one
// cache line: the reader's miss on the header brings the data with it.
inline constexpr size_t kLowLatencyHeaderBytes = 8;
// Halves start on cache lines.
inline constexpr size_t kLowLatencyHalfBytes = (kLowLatencyHeaderBytes + kLowLatencyMaxBytes + 63) / 64 * 64;
inline constexpr size_t kLowLatencyMailboxBytes = 2 * kLowLatencyHalfBytes;

struct LowLatencyLinks {
  std::vector<transport::ConnectionManager::Mailbox> send, recv;
  std::vector<uint32_t> sendSeq, recvSeq;
};

}  // namespace strata
