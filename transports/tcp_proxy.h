// A tcp proxy thread: pumps the links assigned to it with non-blocking
// socket I/O, sleeping in epoll_wait when nothing can move. Executors wake it
// through an eventfd, but only when it announced that it sleeps (the same
// announce-then-recheck handshake as the Doorbell), so a busy proxy costs the
// executor no system call. Whenever a pump freed or filled a slot the proxy
// rings the rank's doorbell. Every turn it also serves the links' requests
// (TcpLink::service), even after an abort.
#pragma once

#include <pthread.h>

#include <atomic>
#include <mutex>
#include <vector>

#include "core/status.h"
#include "transports/connection.h"
#include "transports/health.h"

namespace strata::transport {

class TcpLink;

class TcpProxy {
 public:
  TcpProxy(int index, Doorbell* bell, const AbortState* abort);
  ~TcpProxy();  // stops and joins the thread
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  Status start();
  // Any thread: the link has new sockets (or is new); the proxy adopts them.
  void adopt(TcpLink* link);
  // Any thread: new work may exist (a post, a release); cheap when busy.
  void wake() {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (sleeping_.load(std::memory_order_relaxed) != 0) signal();
  }
  // Unconditional wake (abort, stop).
  void signal();
  Doorbell* bell() const { return bell_; }

 private:
  void run();
  // True if anything moved; *notify when an executor-visible change happened.
  bool pumpAll(bool* notify);
  void adoptPending();

  int index_;
  Doorbell* bell_;
  const AbortState* abort_;
  int epollFd_ = -1;
  int eventFd_ = -1;
  pthread_t thread_{};
  bool running_ = false;
  std::atomic<bool> stop_{false};
  std::atomic<uint32_t> sleeping_{0};
  std::mutex mu_;
  std::vector<TcpLink*> pending_;
  std::vector<TcpLink*> links_;  // proxy thread only
};

}  // namespace strata::transport
