// Point-to-point messages between the ranks of one bootstrap, private to
// src/bootstrap. Sending connects (and authenticates) to a peer's listener on
// first use and keeps the connection. Receiving is done by a service thread
// that polls the listener and every accepted connection, runs handshakes
// without blocking, and files complete messages in a mailbox keyed by
// (peer, kind, tag); recv() waits on that mailbox.
#pragma once

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "bootstrap/protocol.h"
#include "core/deadline.h"
#include "core/status.h"
#include "net/auth.h"
#include "net/io.h"
#include "net/socket.h"
#include "net/tls.h"

namespace strata::bootstrap {

class PeerNetwork {
 public:
  struct Params {
    int rank = 0;
    int nranks = 1;
    net::Secret secret;
    uint64_t commHash = 0;
    std::chrono::milliseconds timeout{300000};  // for each send and recv
    std::chrono::milliseconds handshake{5000};
    const AbortFlag* abort = nullptr;  // the caller's flag, besides our own
  };

  // Listens on `bind` (port 0 picks one) and starts the service thread.
  static StatusOr<std::unique_ptr<PeerNetwork>> start(const net::Address& bind,
                                                      const Params& params);
  ~PeerNetwork();
  PeerNetwork(const PeerNetwork&) = delete;
  PeerNetwork& operator=(const PeerNetwork&) = delete;

  const net::Address& address() const { return address_; }
  // Every rank's listener, indexed by rank; set once before the first send.
  void setPeers(std::vector<net::Address> peers) { peers_ = std::move(peers); }

  Status send(int peer, proto::MessageKind kind, uint32_t tag, const void* data, size_t bytes);
  // Waits for the next message from `peer` with this kind and tag.
  StatusOr<std::vector<uint8_t>> recv(int peer, proto::MessageKind kind, uint32_t tag);

  void abort();
  net::io::Stop stop() const { return {params_.abort, &aborted_}; }

 private:
  struct Incoming;
  struct Outgoing {
    std::mutex mu;
    net::Socket sock;
    std::unique_ptr<net::TlsSession> tls;  // both ends run STRATA_TLS=1
  };
  using Key = std::tuple<int, uint16_t, uint32_t>;

  explicit PeerNetwork(const Params& params);
  std::string peerName(int peer) const;
  Status connectTo(int peer, Outgoing& out, Deadline deadline);
  void deliver(int peer, uint16_t kind, uint32_t tag, std::vector<uint8_t> payload);

  // Service thread.
  void serve();
  void acceptNew(std::vector<std::unique_ptr<Incoming>>& conns);
  Status readMore(Incoming& c);
  Status onMessage(Incoming& c);
  void closeIncoming(Incoming& c, const Status& why);

  Params params_;
  uint32_t flags_;  // handshake flags (STRATA_TLS), read once at creation
  net::Socket listener_;
  net::Address address_;
  std::vector<net::Address> peers_;
  std::vector<std::unique_ptr<Outgoing>> out_;
  AbortFlag aborted_{false};

  int wakeFd_ = -1;
  std::atomic<bool> stopping_{false};
  pthread_t thread_{};
  bool threadStarted_ = false;

  std::mutex mu_;  // guards everything below
  std::condition_variable cv_;
  std::map<Key, std::deque<std::vector<uint8_t>>> mailbox_;
  std::vector<int> liveConns_;        // authenticated connections from each peer
  std::vector<bool> everConnected_;   // a peer that connected and left is gone
  std::vector<std::string> lostWhy_;  // why a peer's last connection was closed, if not clean
};

}  // namespace strata::bootstrap
