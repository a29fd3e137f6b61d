// What connections consult in health(): the abort flags of their manager and
// communicator, and whether the peer process still exists.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <string>

#include "core/deadline.h"
#include "core/status.h"

namespace strata::transport {

struct AbortState {
  std::atomic<bool> local{false};     // ConnectionManager::abort()
  const AbortFlag* external = nullptr;  // the communicator's flag, may be null

  bool aborted() const {
    return local.load(std::memory_order_relaxed) ||
           (external != nullptr && external->load(std::memory_order_relaxed));
  }
};

// Identity of a process as far as liveness checks need it.
struct ProcessInfo {
  int64_t pid = 0;
  uint64_t startTime = 0;  // clock ticks after boot (/proc/<pid>/stat), 0 if unknown
  uint64_t pidNamespace = 0;  // inode of /proc/self/ns/pid, 0 if unknown
};

ProcessInfo selfProcessInfo();
// Start time of `pid`, 0 if unreadable; *zombie set when it has exited
// but not been reaped.
uint64_t processStartTime(int64_t pid, bool* zombie);

// Watches one peer process (a shm peer on this host). check() is cheap to
// call often: it looks at the process at most every few milliseconds.
class PeerProcess {
 public:
  PeerProcess(int rank, const ProcessInfo& info);
  // Ok while the process lives; RemoteError once it has exited.
  Status check();

 private:
  int rank_;
  ProcessInfo info_;
  bool checkable_;
  std::atomic<bool> dead_{false};
  std::atomic<int64_t> lastCheckNs_{0};
};

}  // namespace strata::transport
