#include "transports/peer_memory.h"

#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace strata::transport {

Status readProcessMemory(int64_t pid, uint64_t remote, void* local, size_t bytes) {
  char* dst = static_cast<char*>(local);
  size_t done = 0;
  while (done < bytes) {
    // The kernel caps one call's transfer (MAX_RW_COUNT); ask for at most 1 GiB.
    size_t want = std::min<size_t>(bytes - done, size_t{1} << 30);
    iovec localIov{dst + done, want};
    iovec remoteIov{reinterpret_cast<void*>(static_cast<uintptr_t>(remote + done)), want};
    ssize_t got = process_vm_readv(static_cast<pid_t>(pid), &localIov, 1, &remoteIov, 1, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      if (err == ESRCH) return RemoteError("process ", pid, " has exited");
      return SystemError("process_vm_readv from process ", pid, " (", bytes - done,
                         " bytes at 0x", std::hex, remote + done, std::dec, "): ", std::strerror(err));
    }
    if (got == 0) {
      return SystemError("process_vm_readv from process ", pid, " made no progress at offset ", done);
    }
    done += static_cast<size_t>(got);
  }
  return Status::Ok();
}

}  // namespace strata::transport
