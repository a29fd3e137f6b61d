// Host memory that the other processes of this host can read in place.
//
// A window is a block of memory backed by an anonymous shared-memory file
// (memfd) instead of private pages. Its owner uses it like any buffer; a
// peer process of the same user maps the same file read-only (through
// /proc/<pid>/fd/<fd>) and reads the owner's bytes directly, with no copy
// into a FIFO and no cross-memory-attach system call. Single-copy
// collectives between processes (exec/single_copy.h) use this when every
// buffer they must read lies in a window; users get windows from
// strataMemAllocHost.
//
// A window is identified to peers by a WindowRef (plain data that travels
// in control messages): the owner's file descriptor, the file's inode
// (checked after opening, so a reused descriptor number is not mistaken for
// the window), an id unique within the owner process (for caching), and
// the address range it occupies in the owner.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/status.h"

namespace strata::transport {

struct WindowRef {
  uint64_t id = 0;  // 0: no window
  uint64_t inode = 0;
  uint64_t base = 0;   // the window's first byte in its owner's address space
  uint64_t bytes = 0;  // its length (whole pages)
  int32_t fd = -1;
  uint32_t reserved = 0;
  bool valid() const { return id != 0; }
  // Whether [addr, addr + n) lies inside the window.
  bool covers(uint64_t addr, uint64_t n) const {
    return valid() && addr >= base && n <= bytes && addr - base <= bytes - n;
  }
};
static_assert(sizeof(WindowRef) == 40, "WindowRef travels in control messages");

// Allocates a window of at least `bytes` bytes (rounded up to whole pages),
// zero-filled. InvalidArgument for 0 bytes; SystemError when the kernel
// refuses the memory file or the mapping.
StatusOr<void*> allocateWindow(size_t bytes);
// Frees the window that starts at `ptr`: true when it was one, false when
// `ptr` is not the start of a window of this process (nothing is done).
// Peers that mapped it keep their mapping (and the pages) until they drop it.
bool freeWindow(void* ptr);
// The window holding all of [ptr, ptr + bytes), if any. Zero bytes never
// lie in a window.
bool findWindow(const void* ptr, size_t bytes, WindowRef* out);

// Windows of one peer process, mapped read-only on first use and cached
// (least recently used ones are unmapped beyond `capacity`).
class PeerWindows {
 public:
  explicit PeerWindows(int64_t pid, size_t capacity = 16);
  ~PeerWindows();
  PeerWindows(const PeerWindows&) = delete;
  PeerWindows& operator=(const PeerWindows&) = delete;

  // The local address of the peer's bytes [addr, addr + bytes), which must
  // lie in window `w`. Errors name what failed: the range, opening the
  // peer's descriptor (the process is gone, or /proc access is refused), a
  // file that is not the announced window, or the mapping.
  StatusOr<const char*> resolve(const WindowRef& w, uint64_t addr, size_t bytes);
  size_t mapped() const { return maps_.size(); }

 private:
  struct Mapping {
    uint64_t id;
    uint64_t base;
    uint64_t bytes;
    const char* local;
    uint64_t lastUse;
  };
  int64_t pid_;
  size_t capacity_;
  uint64_t clock_ = 0;
  std::vector<Mapping> maps_;
};

}  // namespace strata::transport
