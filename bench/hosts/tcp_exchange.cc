// tcp_exchange: the most a two-way exchange over one link can move per
// direction, measured without any library in the way. Two processes (one per
// emulated host) each send BYTES to the other and receive BYTES from it at
// the same time, over one tcp connection, with one thread that polls the
// socket and does large non-blocking send()/recv() calls straight between
// user buffers and the kernel: the same system calls and copies a collective
// needs, and nothing else (no framing, no FIFO, no reduction).
//
// A 2-rank ring all-reduce moves its size in each direction at once, so its
// bus bandwidth can not exceed what this prints; iperf3's single stream has
// both cores for one direction and is no bound for it on a small machine.
//
//   tcp_exchange --listen PORT [--bytes 4G] [--buffer 64M]
//   tcp_exchange --connect ADDR:PORT [--bytes 4G] [--buffer 64M]
//
// Prints "exchange GB/s per direction: X" (both ends; the value is this
// end's bytes received over the time from the first byte sent until both
// directions finished). Exits non-zero on any socket error, on a peer that
// closes early, and after 60 s without progress.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "../common/byte_size.h"

namespace {

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "tcp_exchange: %s\n", what.c_str());
  std::exit(1);
}

[[noreturn]] void dieErrno(const char* what) { die(std::string(what) + ": " + std::strerror(errno)); }

void usage() {
  std::fprintf(stderr,
               "usage: tcp_exchange --listen PORT | --connect ADDR:PORT [--bytes N] [--buffer N]\n");
  std::exit(2);
}

int listenAndAccept(int port) {
  int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (l < 0) dieErrno("socket");
  int one = 1;
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_ANY);
  if (bind(l, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) dieErrno("bind");
  if (listen(l, 1) != 0) dieErrno("listen");
  pollfd p{l, POLLIN, 0};
  if (poll(&p, 1, 60000) != 1) die("no peer connected within 60 s");
  int fd = accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0) dieErrno("accept");
  close(l);
  return fd;
}

int connectTo(const std::string& target) {
  size_t colon = target.rfind(':');
  if (colon == std::string::npos) usage();
  std::string host = target.substr(0, colon), port = target.substr(colon + 1);
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0 || res == nullptr) {
    die("cannot resolve " + target);
  }
  // The listener may start a moment later: retry for up to 10 s.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) dieErrno("socket");
    if (connect(fd, res->ai_addr, res->ai_addrlen) == 0) {
      freeaddrinfo(res);
      return fd;
    }
    int err = errno;
    close(fd);
    if (std::chrono::steady_clock::now() > deadline) {
      errno = err;
      dieErrno(("connect to " + target).c_str());
    }
    usleep(20000);
  }
}

}  // namespace

int main(int argc, char** argv) {
  int listenPort = -1;
  std::string target;
  uint64_t total = 4ull << 30;
  uint64_t bufferBytes = 64ull << 20;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage();
      return argv[++i];
    };
    if (a == "--listen") {
      listenPort = std::atoi(value().c_str());
    } else if (a == "--connect") {
      target = value();
    } else if (a == "--bytes" || a == "--buffer") {
      std::string v = value();
      uint64_t parsed = strata::bench::parseBytes(v.c_str());
      if (parsed == 0) die("bad size " + v);
      (a == "--bytes" ? total : bufferBytes) = parsed;
    } else {
      usage();
    }
  }
  if ((listenPort < 0) == target.empty()) usage();

  int fd = listenPort >= 0 ? listenAndAccept(listenPort) : connectTo(target);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) dieErrno("fcntl");

  // Touched before the clock starts, as a collective's buffers would be.
  std::vector<char> out(bufferBytes, 1), in(bufferBytes, 0);
  uint64_t sent = 0, received = 0;
  auto start = std::chrono::steady_clock::now();
  auto lastProgress = start;
  while (sent < total || received < total) {
    pollfd p{fd, static_cast<short>((sent < total ? POLLOUT : 0) | (received < total ? POLLIN : 0)),
             0};
    int n = poll(&p, 1, 1000);
    if (n < 0 && errno != EINTR) dieErrno("poll");
    auto now = std::chrono::steady_clock::now();
    if (n <= 0) {
      if (now - lastProgress > std::chrono::seconds(60)) die("no progress for 60 s");
      continue;
    }
    if (p.revents & (POLLERR | POLLNVAL)) die("socket error");
    if ((p.revents & POLLOUT) && sent < total) {
      uint64_t off = sent % bufferBytes;
      size_t len = static_cast<size_t>(std::min(bufferBytes - off, total - sent));
      ssize_t w = send(fd, out.data() + off, len, MSG_NOSIGNAL);
      if (w < 0 && errno != EAGAIN && errno != EINTR) dieErrno("send");
      if (w > 0) {
        sent += static_cast<uint64_t>(w);
        lastProgress = now;
      }
    }
    if ((p.revents & (POLLIN | POLLHUP)) && received < total) {
      uint64_t off = received % bufferBytes;
      size_t len = static_cast<size_t>(std::min(bufferBytes - off, total - received));
      ssize_t r = recv(fd, in.data() + off, len, 0);
      if (r == 0) die("the peer closed the connection early");
      if (r < 0 && errno != EAGAIN && errno != EINTR) dieErrno("recv");
      if (r > 0) {
        received += static_cast<uint64_t>(r);
        lastProgress = now;
      }
    }
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (uint64_t i = 0; i < std::min<uint64_t>(total, bufferBytes); i += 4096) {
    if (in[i] != 1) die("received bytes differ from what the peer sent");
  }
  std::printf("exchange GB/s per direction: %.4f\n", static_cast<double>(received) / seconds / 1e9);
  close(fd);
  return 0;
}
