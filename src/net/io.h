// Descriptor-level helpers behind Socket, for code in src/net and
// src/bootstrap that must watch two abort flags (its own and the caller's).
#pragma once

#include <poll.h>

#include <chrono>
#include <cstddef>

#include "core/deadline.h"
#include "core/status.h"
#include "net/socket.h"

namespace strata::net::io {

// How often a blocking wait wakes up to look at the abort flags.
inline constexpr std::chrono::milliseconds kPollSlice{50};

// Up to two abort flags; a wait stops when either is set.
struct Stop {
  const AbortFlag* a = nullptr;
  const AbortFlag* b = nullptr;
  bool requested() const {
    return (a != nullptr && a->load(std::memory_order_relaxed)) ||
           (b != nullptr && b->load(std::memory_order_relaxed));
  }
};

// Waits until fd reports one of `events` (or an error/hang-up). Returns the
// revents seen, Timeout when the deadline passes, Aborted when stopped.
StatusOr<short> waitFd(int fd, short events, Deadline deadline, Stop stop, const char* what);

// Whole-buffer transfers; they work whether or not fd is non-blocking.
Status sendAll(int fd, const void* data, size_t bytes, Deadline deadline, Stop stop);
Status recvAll(int fd, void* data, size_t bytes, Deadline deadline, Stop stop);

// One non-blocking transfer: bytes moved (0 when it would block). recvSome
// reports a closed connection as RemoteError.
StatusOr<size_t> sendSome(int fd, const void* data, size_t bytes);
StatusOr<size_t> recvSome(int fd, void* data, size_t bytes);

StatusOr<Socket> connect(const Address& addr, Deadline deadline, Stop stop);

}  // namespace strata::net::io
