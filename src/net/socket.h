// Sockets for the bootstrap and the tcp transport: RAII, IPv4/IPv6, every
// blocking call bounded by a Deadline and an optional abort flag.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/deadline.h"
#include "core/status.h"

namespace strata::net {

class Address {
 public:
  Address();
  // "1.2.3.4:5", "[::1]:5", "host:5" (resolved with getaddrinfo).
  static StatusOr<Address> parse(const std::string& text);
  static Address fromSockaddr(const sockaddr* sa, socklen_t len);

  std::string toString() const;  // "1.2.3.4:5" / "[::1]:5"
  int family() const;
  uint16_t port() const;
  void setPort(uint16_t port);
  bool isLoopback() const;
  const sockaddr* sa() const { return reinterpret_cast<const sockaddr*>(&ss_); }
  socklen_t len() const { return len_; }

  // Fixed-size wire form (family, port, 16 address bytes) used inside the
  // unique id and bootstrap messages. decode() validates what it reads.
  static constexpr size_t kWireBytes = 20;
  void encode(uint8_t out[kWireBytes]) const;
  static StatusOr<Address> decode(const uint8_t in[kWireBytes]);

 private:
  sockaddr_storage ss_;
  socklen_t len_;
};

struct Interface {
  std::string name;
  Address address;
};

// Interfaces usable for Strata traffic, honouring STRATA_SOCKET_IFNAME
// (NCCL_SOCKET_IFNAME: "eth,ib" prefixes, "^docker" exclusions, "=eth0" exact
// names) and STRATA_SOCKET_FAMILY. Without a setting, non-loopback interfaces
// come first and loopback is used only when nothing else exists.
StatusOr<std::vector<Interface>> findInterfaces();
// Parses an NCCL_SOCKET_IFNAME-style filter and tells whether `name` passes.
bool interfaceMatches(const std::string& filter, const std::string& name);

// Sockets made by listen(), connect() and accept() are non-blocking
// (O_NONBLOCK) and close-on-exec; connected ones have TCP_NODELAY set.
// sendAll/recvAll work whether or not the socket is non-blocking.
class Socket {
 public:
  Socket() = default;
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket();
  Socket(Socket&& other) noexcept;
  Socket& operator=(Socket&& other) noexcept;
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  // Listening socket bound to addr (port 0 picks one); see localAddress().
  static StatusOr<Socket> listen(const Address& addr, int backlog = 128);
  static StatusOr<Socket> connect(const Address& addr, Deadline deadline,
                                  const AbortFlag* abort = nullptr);
  // Waits for one incoming connection.
  StatusOr<Socket> accept(Deadline deadline, const AbortFlag* abort = nullptr);

  Status sendAll(const void* data, size_t bytes, Deadline deadline,
                 const AbortFlag* abort = nullptr);
  // Fails with RemoteError if the peer closes before `bytes` arrive.
  Status recvAll(void* data, size_t bytes, Deadline deadline, const AbortFlag* abort = nullptr);

  Status setNonBlocking(bool on);
  Status setNoDelay(bool on);
  Status setBufferBytes(int sendBytes, int recvBytes);

  StatusOr<Address> localAddress() const;
  StatusOr<Address> peerAddress() const;
  int fd() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release();
  void close();

 private:
  int fd_ = -1;
};

}  // namespace strata::net
