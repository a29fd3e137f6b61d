// The tcp transport of one rank: a listener, an accept thread that runs
// each incoming connection's handshake on its own short-lived thread (so a
// stalled or garbage connection delays nobody), and the proxy threads.
//
// Connection setup, per socket, by the sending rank:
//   connect -> net::authenticateClient(kTcpData) -> Hello -> Ack
// Hello (48 bytes, little endian): magic u32, version u32, commHash u64,
//   sender rank u32, receiver rank u32, channel u32, socket index u32,
//   nsocks u32, nslots u32, slot bytes u64.
// Ack (8 bytes): magic u32, status u32 (0 accepted, else rejected).
// The receiver checks every field against what it expects (its own rank,
// communicator and FIFO geometry, a peer that uses tcp toward it, a socket
// index not seen before) and closes the socket on any mismatch.
// With STRATA_TLS=1 (all ranks agree on it at creation) a TLS 1.3 session
// keyed from the secret starts after the Ack, and carries the data parts.
#pragma once

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <vector>

#include "net/auth.h"
#include "net/socket.h"
#include "transports/connection.h"
#include "transports/health.h"
#include "transports/tcp_link.h"
#include "transports/tcp_proxy.h"

namespace strata::transport {

inline constexpr uint32_t kHelloMagic = 0x4c454854;  // "THEL"
inline constexpr uint32_t kAckMagic = 0x4b434154;    // "TACK"
inline constexpr uint32_t kTcpVersion = 1;
inline constexpr size_t kHelloBytes = 48;
inline constexpr size_t kAckBytes = 8;

// The status word of an Ack.
enum HelloReject : uint32_t {
  kAccepted = 0,
  kBadMagic = 1,
  kBadVersion = 2,
  kWrongCommunicator = 3,
  kUnknownRank = 4,
  kBadChannel = 5,
  kBadGeometry = 6,
  kDuplicate = 7,
  kNoResources = 8,
};

struct TcpConfig {
  int rank = 0;
  int nranks = 0;
  int nchannels = 0;
  net::Secret secret;
  uint64_t commHash = 0;
  TcpParams local;  // the geometry of the FIFOs this rank receives into
  int nthreads = 1;
  std::chrono::milliseconds timeout{300000};
  std::chrono::milliseconds handshakeTimeout{5000};
  AbortState* abort = nullptr;
  Doorbell* bell = nullptr;
  std::vector<bool> tcpPeers;  // ranks that may connect to this one
  bool tls = false;            // STRATA_TLS: TLS 1.3 on every data socket (net/tls.h)
};

// The fields of a Hello after magic and version.
struct TcpHello {
  uint64_t commHash = 0;
  uint32_t src = 0;      // sending rank
  uint32_t dst = 0;      // receiving rank
  uint32_t channel = 0;
  uint32_t socket = 0;   // index among the link's sockets
  TcpParams params;      // the receiver's FIFO geometry as the sender knows it
};

void encodeTcpHello(const TcpHello& hello, uint8_t out[kHelloBytes]);
// Decodes a hello from the wire into *hello and checks it against the
// receiver's configuration: kAccepted or the reason to reject it.
HelloReject checkTcpHello(const uint8_t in[kHelloBytes], const TcpConfig& config, TcpHello* hello);

class TcpTransport {
 public:
  // Binds the listener (port 0 on the interface of `bindTo`).
  static StatusOr<std::unique_ptr<TcpTransport>> listen(const net::Address& bindTo);
  ~TcpTransport();
  TcpTransport(const TcpTransport&) = delete;
  TcpTransport& operator=(const TcpTransport&) = delete;

  const net::Address& address() const { return address_; }
  // Starts the proxies and the accept thread.
  Status start(const TcpConfig& config);
  // Connects all sockets of the (peer, channel) link synchronously.
  StatusOr<SendConnection*> connect(int peer, int channel, const net::Address& peerAddress,
                                    const TcpParams& peerParams);
  // The receiving end of (peer, channel); its sockets attach when they arrive.
  StatusOr<RecvConnection*> receiver(int peer, int channel);
  // Waits until every posted send slot has been written to its sockets (or
  // its link failed), at most `limit`; the proxies keep running meanwhile.
  // Used before shutdown so that data posted just before ncclCommDestroy
  // still reaches the peer (the kernel delivers what was written after close).
  void drain(std::chrono::milliseconds limit);
  // Makes waits stop and wakes the proxies.
  void abort();

 private:
  TcpTransport() = default;
  void acceptLoop();
  void handshake(net::Socket sock);
  TcpRecvLink* recvLink(int peer, int channel, Status* error);
  TcpProxy* proxyFor(int peer, int channel) const;
  Status tune(net::Socket& sock) const;

  net::Socket listener_;
  net::Address address_;
  TcpConfig config_;
  bool started_ = false;
  std::atomic<bool> stopping_{false};  // abort or shutdown: handed to net waits
  std::vector<std::unique_ptr<TcpProxy>> proxies_;
  pthread_t acceptThread_{};
  bool acceptRunning_ = false;
  int wakeFd_ = -1;  // eventfd: wakes the accept thread on abort/shutdown

  struct Worker {
    pthread_t thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::mutex workersMu_;
  std::vector<Worker> workers_;

  std::mutex linksMu_;
  std::vector<std::unique_ptr<TcpSendLink>> sendLinks_;  // peer * nchannels + channel
  std::vector<std::unique_ptr<TcpRecvLink>> recvLinks_;
};

}  // namespace strata::transport
