#include "transports/host_window.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <mutex>
#include <string>

#include "transports/fifo.h"

namespace strata::transport {
namespace {

struct Owned {
  uint64_t bytes;
  int fd;
  uint64_t id;
  uint64_t inode;
};

// This process's windows by start address.
struct Table {
  std::mutex mu;
  std::map<uintptr_t, Owned> windows;
  uint64_t nextId = 1;
};
Table& table() {
  static Table* t = new Table;  // never destroyed: windows may be freed during exit
  return *t;
}

}  // namespace

StatusOr<void*> allocateWindow(size_t bytes) {
  if (bytes == 0) return InvalidArgument("a shared host buffer needs at least one byte");
  if (bytes > (SIZE_MAX >> 1)) return InvalidArgument("a shared host buffer of ", bytes, " bytes is too large");
  const size_t mapBytes = roundUp(bytes, kPageBytes);
  int fd = memfd_create("strata-window", MFD_CLOEXEC);
  if (fd < 0) return ErrnoError("memfd_create for a shared host buffer", errno);
  if (ftruncate(fd, static_cast<off_t>(mapBytes)) != 0) {
    int err = errno;
    close(fd);
    return ErrnoError(strCat("sizing a shared host buffer of ", mapBytes, " bytes"), err);
  }
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    return ErrnoError("fstat of a shared host buffer", err);
  }
  void* p = mmap(nullptr, mapBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    int err = errno;
    close(fd);
    return ErrnoError(strCat("mapping a shared host buffer of ", mapBytes, " bytes"), err);
  }
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mu);
  t.windows[reinterpret_cast<uintptr_t>(p)] =
      Owned{mapBytes, fd, t.nextId++, static_cast<uint64_t>(st.st_ino)};
  return p;
}

bool freeWindow(void* ptr) {
  Owned w{};
  {
    Table& t = table();
    std::lock_guard<std::mutex> lock(t.mu);
    auto it = t.windows.find(reinterpret_cast<uintptr_t>(ptr));
    if (it == t.windows.end()) return false;
    w = it->second;
    t.windows.erase(it);
  }
  munmap(ptr, w.bytes);
  close(w.fd);
  return true;
}

bool findWindow(const void* ptr, size_t bytes, WindowRef* out) {
  if (bytes == 0 || ptr == nullptr) return false;
  const uintptr_t p = reinterpret_cast<uintptr_t>(ptr);
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mu);
  auto it = t.windows.upper_bound(p);
  if (it == t.windows.begin()) return false;
  --it;
  WindowRef ref;
  ref.id = it->second.id;
  ref.inode = it->second.inode;
  ref.base = it->first;
  ref.bytes = it->second.bytes;
  ref.fd = it->second.fd;
  if (!ref.covers(p, bytes)) return false;
  *out = ref;
  return true;
}

PeerWindows::PeerWindows(int64_t pid, size_t capacity) : pid_(pid), capacity_(std::max<size_t>(2, capacity)) {}

PeerWindows::~PeerWindows() {
  for (const Mapping& m : maps_) munmap(const_cast<char*>(m.local), m.bytes);
}

StatusOr<const char*> PeerWindows::resolve(const WindowRef& w, uint64_t addr, size_t bytes) {
  if (!w.covers(addr, bytes)) {
    return InvalidUsage("the peer's bytes [", addr, ", +", bytes, ") are not inside its shared buffer [",
                        w.base, ", +", w.bytes, ")");
  }
  ++clock_;
  for (Mapping& m : maps_) {
    if (m.id == w.id && m.base == w.base && m.bytes == w.bytes) {
      m.lastUse = clock_;
      return m.local + (addr - w.base);
    }
  }
  if (w.bytes % kPageBytes != 0 || w.fd < 0) {
    return InvalidUsage("a peer announced a malformed shared buffer (", w.bytes, " bytes, descriptor ", w.fd, ")");
  }
  const std::string path = strCat("/proc/", pid_, "/fd/", w.fd);
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError(strCat("opening the peer's shared buffer ", path), errno);
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    return ErrnoError(strCat("fstat of ", path), err);
  }
  if (!S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_ino) != w.inode ||
      static_cast<uint64_t>(st.st_size) < w.bytes) {
    close(fd);
    return InvalidUsage(path, " is not the shared buffer the peer announced (inode ", st.st_ino, " size ",
                        st.st_size, ", expected inode ", w.inode, " size ", w.bytes, ")");
  }
  void* p = mmap(nullptr, w.bytes, PROT_READ, MAP_SHARED, fd, 0);
  int err = errno;
  close(fd);
  if (p == MAP_FAILED) return ErrnoError(strCat("mapping the peer's shared buffer of ", w.bytes, " bytes"), err);
  if (maps_.size() >= capacity_) {
    auto oldest = std::min_element(maps_.begin(), maps_.end(),
                                   [](const Mapping& a, const Mapping& b) { return a.lastUse < b.lastUse; });
    munmap(const_cast<char*>(oldest->local), oldest->bytes);
    maps_.erase(oldest);
  }
  maps_.push_back(Mapping{w.id, w.base, w.bytes, static_cast<const char*>(p), clock_});
  return static_cast<const char*>(p) + (addr - w.base);
}

}  // namespace strata::transport
