// Reading another process's memory on this host with cross-memory attach
// (process_vm_readv): one copy by the kernel, from the peer's pages straight
// into ours, with no staging through a shared segment. Needs the same
// ptrace access as a debugger (same user, and not refused by Yama or a
// seccomp policy); callers probe it once before relying on it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/status.h"

namespace strata::transport {

// Copies `bytes` from address `remote` in process `pid` into `local`.
// Partial transfers are continued; an error names the errno (ESRCH: the
// process is gone, EPERM: access refused, EFAULT: the range is not mapped).
Status readProcessMemory(int64_t pid, uint64_t remote, void* local, size_t bytes);

}  // namespace strata::transport
