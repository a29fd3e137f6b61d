#include "transports/health.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace strata::transport {
namespace {

constexpr int64_t kCheckIntervalNs = 5'000'000;

int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

uint64_t inodeOf(const char* path) {
  struct stat st;
  if (stat(path, &st) != 0) return 0;
  return static_cast<uint64_t>(st.st_ino);
}

}  // namespace

uint64_t processStartTime(int64_t pid, bool* zombie) {
  if (zombie != nullptr) *zombie = false;
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%lld/stat", static_cast<long long>(pid));
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[1024];
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  // "pid (comm) S ppid ...": comm may hold spaces and parentheses; the
  // state follows the last ')'. starttime is field 22 (19 after the state).
  char* p = std::strrchr(buf, ')');
  if (p == nullptr || p[1] != ' ') return 0;
  p += 2;
  if (zombie != nullptr) *zombie = (*p == 'Z' || *p == 'X');
  for (int field = 3; field < 22; ++field) {
    p = std::strchr(p, ' ');
    if (p == nullptr) return 0;
    ++p;
  }
  return std::strtoull(p, nullptr, 10);
}

ProcessInfo selfProcessInfo() {
  ProcessInfo info;
  info.pid = static_cast<int64_t>(getpid());
  info.startTime = processStartTime(info.pid, nullptr);
  info.pidNamespace = inodeOf("/proc/self/ns/pid");
  return info;
}

PeerProcess::PeerProcess(int rank, const ProcessInfo& info) : rank_(rank), info_(info) {
  // Pids are only meaningful inside our own pid namespace.
  uint64_t ours = inodeOf("/proc/self/ns/pid");
  checkable_ = info.pid > 0 && ours != 0 && ours == info.pidNamespace;
}

Status PeerProcess::check() {
  if (!checkable_) return Status::Ok();
  if (!dead_.load(std::memory_order_relaxed)) {
    int64_t now = nowNs();
    int64_t last = lastCheckNs_.load(std::memory_order_relaxed);
    if (now - last < kCheckIntervalNs) return Status::Ok();
    lastCheckNs_.store(now, std::memory_order_relaxed);
    bool gone = kill(static_cast<pid_t>(info_.pid), 0) != 0 && errno == ESRCH;
    if (!gone) {
      bool zombie = false;
      uint64_t start = processStartTime(info_.pid, &zombie);
      // A zombie has exited; a different start time means the pid was reused.
      gone = zombie || (start != 0 && info_.startTime != 0 && start != info_.startTime);
    }
    if (!gone) return Status::Ok();
    dead_.store(true, std::memory_order_relaxed);
  }
  return RemoteError("peer rank ", rank_, " (pid ", info_.pid, ") exited");
}

}  // namespace strata::transport
