#include "transports/tcp_proxy.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

#include "bootstrap/thread.h"
#include "core/log.h"
#include "transports/tcp_link.h"

namespace strata::transport {
namespace {

// How long the proxy sleeps at most: bounds how late it notices an abort
// flag set by someone who did not call ConnectionManager::abort().
constexpr int kMaxSleepMs = 100;

}  // namespace

TcpProxy::TcpProxy(int index, Doorbell* bell, const AbortState* abort)
    : index_(index), bell_(bell), abort_(abort) {}

Status TcpProxy::start() {
  epollFd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epollFd_ < 0) return ErrnoError("epoll_create1", errno);
  eventFd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (eventFd_ < 0) return ErrnoError("eventfd", errno);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;  // nullptr marks the eventfd
  if (epoll_ctl(epollFd_, EPOLL_CTL_ADD, eventFd_, &ev) != 0) {
    return ErrnoError("epoll_ctl(eventfd)", errno);
  }
  STRATA_RETURN_IF_ERROR(bootstrap::spawnThread([this] { run(); }, &thread_));
  running_ = true;
  return Status::Ok();
}

TcpProxy::~TcpProxy() {
  stop_.store(true, std::memory_order_release);
  if (running_) {
    signal();
    pthread_join(thread_, nullptr);
  }
  if (eventFd_ >= 0) close(eventFd_);
  if (epollFd_ >= 0) close(epollFd_);
}

void TcpProxy::signal() {
  uint64_t one = 1;
  // A full counter (EAGAIN) already means "wake up".
  ssize_t rc = write(eventFd_, &one, sizeof(one));
  (void)rc;
}

void TcpProxy::adopt(TcpLink* link) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending_.push_back(link);
  }
  signal();
}

void TcpProxy::adoptPending() {
  std::vector<TcpLink*> pending;
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending.swap(pending_);
  }
  for (TcpLink* link : pending) {
    bool known = false;
    for (TcpLink* l : links_) known |= (l == link);
    if (!known) links_.push_back(link);
    link->adoptSockets(epollFd_);
  }
}

bool TcpProxy::pumpAll(bool* notify) {
  bool moved = false;
  for (TcpLink* link : links_) {
    moved |= link->pump();
    *notify |= link->takeNotify();
  }
  return moved;
}

void TcpProxy::run() {
  epoll_event events[64];
  bool announced = false;
  while (!stop_.load(std::memory_order_acquire)) {
    adoptPending();
    for (TcpLink* link : links_) link->service();
    bool aborted = abort_ != nullptr && abort_->aborted();
    if (!aborted) {
      bool notify = false;
      bool moved = pumpAll(&notify);
      if (notify) ring(bell_);
      if (moved) continue;
      // Announce the sleep, then look once more: a post that raced with the
      // announcement is either seen here or sees sleeping_ and signals.
      sleeping_.store(1, std::memory_order_relaxed);
      std::atomic_thread_fence(std::memory_order_seq_cst);
      announced = true;
      notify = false;
      moved = pumpAll(&notify);
      if (notify) ring(bell_);
      if (moved) {
        sleeping_.store(0, std::memory_order_relaxed);
        announced = false;
        continue;
      }
    }
    int n = epoll_wait(epollFd_, events, 64, kMaxSleepMs);
    if (announced) {
      sleeping_.store(0, std::memory_order_relaxed);
      announced = false;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      STRATA_WARN(log::kNet, "tcp proxy ", index_, ": ", ErrnoError("epoll_wait", errno).message());
      continue;
    }
    for (int i = 0; i < n; ++i) {
      if (events[i].data.ptr == nullptr) {
        uint64_t count;
        while (read(eventFd_, &count, sizeof(count)) > 0) {
        }
        continue;
      }
      auto* sock = static_cast<TcpSocketState*>(events[i].data.ptr);
      sock->owner->onEvent(sock, events[i].events);
    }
  }
}

}  // namespace strata::transport
