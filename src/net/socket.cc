// Sockets: every call is non-blocking underneath and driven by poll(), so a
// wait always honours its deadline and abort flags.
#include <fcntl.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/log.h"
#include "net/io.h"
#include "net/socket.h"

namespace strata::net {
namespace io {
namespace {

// Sleeps about `ms` milliseconds, waking early for the deadline or a stop.
void pause(int ms, Deadline deadline, Stop stop) {
  auto until = Deadline::after(std::chrono::milliseconds(ms));
  while (!stop.requested() && !until.expired() && !deadline.expired()) {
    int slice = std::min({until.remainingMs(), deadline.remainingMs(),
                          static_cast<int>(kPollSlice.count())});
    ::poll(nullptr, 0, slice);
  }
}

bool retryableConnectError(int err) {
  return err == ECONNREFUSED || err == ETIMEDOUT || err == ECONNRESET || err == EAGAIN ||
         err == EADDRNOTAVAIL || err == EINTR;
}

bool peerGone(int err) { return err == EPIPE || err == ECONNRESET || err == ENOTCONN; }

bool sameEndpoint(int fd) {
  sockaddr_storage a{}, b{};
  socklen_t la = sizeof a, lb = sizeof b;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&a), &la) != 0) return false;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&b), &lb) != 0) return false;
  return la == lb && std::memcmp(&a, &b, la) == 0;
}

// One connection attempt. On failure *retry tells whether another attempt
// may succeed (the peer is not listening yet, or a transient error).
StatusOr<Socket> tryConnect(const Address& addr, Deadline deadline, Stop stop, bool* retry) {
  *retry = false;
  int fd = ::socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoError("socket", errno);
  Socket sock(fd);
  int err = 0;
  if (::connect(fd, addr.sa(), addr.len()) != 0) {
    err = errno;
    if (err == EINPROGRESS || err == EINTR) {
      auto ready = waitFd(fd, POLLOUT, deadline, stop, "connecting");
      if (!ready.ok()) return ready.status();
      socklen_t len = sizeof err;
      if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    }
  }
  if (err == 0 && sameEndpoint(fd)) err = ECONNREFUSED;  // TCP self-connect
  if (err != 0) {
    *retry = retryableConnectError(err);
    return ErrnoError("connect", err);
  }
  return sock;
}

}  // namespace

StatusOr<short> waitFd(int fd, short events, Deadline deadline, Stop stop, const char* what) {
  for (;;) {
    if (stop.requested()) return Aborted(what);
    pollfd p{fd, events, 0};
    int slice = std::min(deadline.remainingMs(), static_cast<int>(kPollSlice.count()));
    int rc = ::poll(&p, 1, slice);
    if (rc > 0) {
      if (p.revents & POLLNVAL) return InternalError(what, ": descriptor ", fd, " is not open");
      return p.revents;
    }
    if (rc < 0 && errno != EINTR) return ErrnoError("poll", errno);
    if (deadline.expired()) return Timeout(what);
  }
}

StatusOr<size_t> sendSome(int fd, const void* data, size_t bytes) {
  for (;;) {
    ssize_t n = ::send(fd, data, bytes, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) return static_cast<size_t>(n);
    int err = errno;
    if (err == EINTR) continue;
    if (err == EAGAIN || err == EWOULDBLOCK) return size_t{0};
    if (peerGone(err)) return RemoteError("connection closed by peer (", strerror(err), ")");
    return ErrnoError("send", err);
  }
}

StatusOr<size_t> recvSome(int fd, void* data, size_t bytes) {
  for (;;) {
    ssize_t n = ::recv(fd, data, bytes, MSG_DONTWAIT);
    if (n > 0) return static_cast<size_t>(n);
    if (n == 0) return RemoteError("connection closed by peer");
    int err = errno;
    if (err == EINTR) continue;
    if (err == EAGAIN || err == EWOULDBLOCK) return size_t{0};
    if (peerGone(err)) return RemoteError("connection reset by peer");
    return ErrnoError("recv", err);
  }
}

Status sendAll(int fd, const void* data, size_t bytes, Deadline deadline, Stop stop) {
  const auto* p = static_cast<const uint8_t*>(data);
  size_t done = 0;
  while (done < bytes) {
    STRATA_ASSIGN_OR_RETURN(size_t n, sendSome(fd, p + done, bytes - done));
    done += n;
    if (n == 0) {
      auto ready = waitFd(fd, POLLOUT, deadline, stop, "sending");
      if (!ready.ok()) {
        Status s = ready.status();
        return s.withContext(strCat("sent ", done, " of ", bytes, " bytes"));
      }
    }
  }
  return Status::Ok();
}

Status recvAll(int fd, void* data, size_t bytes, Deadline deadline, Stop stop) {
  auto* p = static_cast<uint8_t*>(data);
  size_t done = 0;
  while (done < bytes) {
    auto got = recvSome(fd, p + done, bytes - done);
    if (!got.ok()) {
      Status s = got.status();
      return s.withContext(strCat("received ", done, " of ", bytes, " bytes"));
    }
    done += *got;
    if (*got == 0) {
      auto ready = waitFd(fd, POLLIN, deadline, stop, "receiving");
      if (!ready.ok()) {
        Status s = ready.status();
        return s.withContext(strCat("received ", done, " of ", bytes, " bytes"));
      }
    }
  }
  return Status::Ok();
}

StatusOr<Socket> connect(const Address& addr, Deadline deadline, Stop stop) {
  if (addr.family() != AF_INET && addr.family() != AF_INET6) {
    return InvalidArgument("connect: no address given");
  }
  int backoffMs = 5;
  Status last;
  for (;;) {
    bool retry = false;
    auto sock = tryConnect(addr, deadline, stop, &retry);
    if (sock.ok()) {
      (void)sock->setNoDelay(true);
      return sock;
    }
    last = sock.status();
    if (!retry) break;
    if (stop.requested()) {
      last = Aborted("connecting");
      break;
    }
    if (deadline.expired()) {
      last = Timeout("connecting (last attempt: ", last.message(), ")");
      break;
    }
    // The peer may not be listening yet: try again shortly.
    pause(backoffMs, deadline, stop);
    backoffMs = std::min(backoffMs * 2, 100);
  }
  return last.withContext(strCat("connecting to ", addr.toString()));
}

}  // namespace io

Socket::~Socket() { close(); }

Socket::Socket(Socket&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }

Socket& Socket::operator=(Socket&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

int Socket::release() {
  int fd = fd_;
  fd_ = -1;
  return fd;
}

void Socket::close() {
  if (fd_ >= 0) {
    ::close(fd_);  // never retried: on Linux the descriptor is gone even on EINTR
    fd_ = -1;
  }
}

StatusOr<Socket> Socket::listen(const Address& addr, int backlog) {
  if (addr.family() != AF_INET && addr.family() != AF_INET6) {
    return InvalidArgument("listen: no address given");
  }
  int fd = ::socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoError("socket", errno);
  Socket sock(fd);
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) {
    return ErrnoError("setsockopt(SO_REUSEADDR)", errno);
  }
  if (::bind(fd, addr.sa(), addr.len()) != 0) {
    return ErrnoError(strCat("bind to ", addr.toString()), errno);
  }
  if (::listen(fd, backlog) != 0) {
    return ErrnoError(strCat("listen on ", addr.toString()), errno);
  }
  return sock;
}

StatusOr<Socket> Socket::connect(const Address& addr, Deadline deadline, const AbortFlag* abort) {
  return io::connect(addr, deadline, io::Stop{abort});
}

StatusOr<Socket> Socket::accept(Deadline deadline, const AbortFlag* abort) {
  for (;;) {
    int fd = ::accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      Socket sock(fd);
      (void)sock.setNoDelay(true);
      return sock;
    }
    int err = errno;
    if (err == EINTR || err == ECONNABORTED || err == EPROTO) continue;
    if (err != EAGAIN && err != EWOULDBLOCK) return ErrnoError("accept", err);
    auto ready = io::waitFd(fd_, POLLIN, deadline, io::Stop{abort}, "waiting for a connection");
    if (!ready.ok()) return ready.status();
  }
}

Status Socket::sendAll(const void* data, size_t bytes, Deadline deadline,
                       const AbortFlag* abort) {
  Status s = io::sendAll(fd_, data, bytes, deadline, io::Stop{abort});
  if (!s.ok()) {
    auto peer = peerAddress();
    s.withContext(strCat("sending to ", peer.ok() ? peer->toString() : "<unknown peer>"));
  }
  return s;
}

Status Socket::recvAll(void* data, size_t bytes, Deadline deadline, const AbortFlag* abort) {
  Status s = io::recvAll(fd_, data, bytes, deadline, io::Stop{abort});
  if (!s.ok()) {
    auto peer = peerAddress();
    s.withContext(strCat("receiving from ", peer.ok() ? peer->toString() : "<unknown peer>"));
  }
  return s;
}

Status Socket::setNonBlocking(bool on) {
  int flags = fcntl(fd_, F_GETFL);
  if (flags < 0) return ErrnoError("fcntl(F_GETFL)", errno);
  flags = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  if (fcntl(fd_, F_SETFL, flags) != 0) return ErrnoError("fcntl(F_SETFL)", errno);
  return Status::Ok();
}

Status Socket::setNoDelay(bool on) {
  int v = on ? 1 : 0;
  if (setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v) != 0) {
    return ErrnoError("setsockopt(TCP_NODELAY)", errno);
  }
  return Status::Ok();
}

Status Socket::setBufferBytes(int sendBytes, int recvBytes) {
  if (sendBytes > 0 && setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &sendBytes, sizeof sendBytes) != 0) {
    return ErrnoError("setsockopt(SO_SNDBUF)", errno);
  }
  if (recvBytes > 0 && setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &recvBytes, sizeof recvBytes) != 0) {
    return ErrnoError("setsockopt(SO_RCVBUF)", errno);
  }
  return Status::Ok();
}

StatusOr<Address> Socket::localAddress() const {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return ErrnoError("getsockname", errno);
  }
  return Address::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
}

StatusOr<Address> Socket::peerAddress() const {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getpeername(fd_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return ErrnoError("getpeername", errno);
  }
  return Address::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
}

}  // namespace strata::net
