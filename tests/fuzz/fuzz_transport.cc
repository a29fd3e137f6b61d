// Fuzzes what the transports read from peers. Modes (first input byte):
//   descriptor  RankDescriptor::decode: accepted descriptors are within their
//               documented limits and re-encode to bytes that decode to the
//               same descriptor.
//   hello       checkTcpHello against an input-chosen receiver: an accepted
//               hello names a tcp peer, channel and socket that exist, and is
//               exactly the encoding of its fields.
//   stream      a real TcpRecvLink reads input-built part streams (headers,
//               raw bytes, filler, closes) from socketpairs while the test
//               plays its executor; published slots never exceed a slot.
//   roundtrip   a real TcpSendLink and TcpRecvLink joined by socketpairs move
//               input-chosen slot sizes; every slot arrives whole, in order,
//               with its bytes intact, and the links never stall.
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <vector>

#include "fuzz_util.h"
#include "transports/descriptor.h"
#include "transports/tcp_link.h"
#include "transports/tcp_proxy.h"
#include "transports/tcp_transport.h"
#include "transports/wire.h"

namespace {

using namespace strata;
using namespace strata::transport;
using fuzz::Input;

constexpr const char* kName = "fuzz_transport";
constexpr std::chrono::milliseconds kLinkTimeout{60000};

enum Mode : uint8_t { kDescriptor, kHello, kStream, kRoundTrip, kModes };

TcpParams paramsFrom(Input& in) {
  static constexpr uint64_t kSlotBytes[] = {1024, 4096, 40960, 131072};
  TcpParams p;
  p.nsocks = 1 + in.u8() % 4;
  p.nslots = 1 + in.u8() % 4;
  p.slotBytes = kSlotBytes[in.u8() % 4];
  return p;
}

uint8_t pattern(uint64_t seq, uint64_t offset) {
  return static_cast<uint8_t>(seq * 151 + offset * 13 + (offset >> 8));
}

// --------------------------------------------------------------- descriptor

void descriptor(Input& in) {
  std::string bytes = in.take(kMaxDescriptorBytes + 16);
  auto d = RankDescriptor::decode(bytes);
  if (!d.ok()) return;
  FUZZ_CHECK(kName, d->rank >= 0 && d->rank < d->nranks);
  FUZZ_CHECK(kName, d->nchannels >= 1 && d->nchannels <= 1024);
  FUZZ_CHECK(kName, !d->hostId.empty() && d->hostId.size() <= kMaxHostIdBytes);
  FUZZ_CHECK(kName, checkGeometry("memory", d->memory.nslots, d->memory.slotBytes).ok());
  FUZZ_CHECK(kName, checkGeometry("tcp", d->tcp.nslots, d->tcp.slotBytes).ok());
  FUZZ_CHECK(kName, d->tcp.nsocks >= 1 && d->tcp.nsocks <= kMaxSockets);
  std::string once = d->encode();
  auto again = RankDescriptor::decode(once);
  FUZZ_CHECK(kName, again.ok());
  FUZZ_CHECK(kName, again->encode() == once);
}

// --------------------------------------------------------------- hello

TcpConfig configFrom(Input& in) {
  TcpConfig c;
  c.nranks = 1 + in.u8() % 8;
  c.rank = in.u8() % c.nranks;
  c.nchannels = 1 + in.u8() % 4;
  c.commHash = in.u64();
  c.local = paramsFrom(in);
  uint8_t peers = in.u8();
  for (int r = 0; r < c.nranks; ++r) c.tcpPeers.push_back(((peers >> r) & 1) != 0);
  return c;
}

void hello(Input& in) {
  TcpConfig config = configFrom(in);
  uint8_t raw[kHelloBytes];
  in.fill(raw, sizeof raw);
  TcpHello h;
  HelloReject code = checkTcpHello(raw, config, &h);
  if (code != kAccepted) return;
  FUZZ_CHECK(kName, h.dst == static_cast<uint32_t>(config.rank));
  FUZZ_CHECK(kName, h.src < static_cast<uint32_t>(config.nranks) && config.tcpPeers[h.src]);
  FUZZ_CHECK(kName, h.channel < static_cast<uint32_t>(config.nchannels));
  FUZZ_CHECK(kName, h.socket < config.local.nsocks);
  uint8_t again[kHelloBytes];
  encodeTcpHello(h, again);
  FUZZ_CHECK(kName, std::memcmp(raw, again, sizeof raw) == 0);
}

// --------------------------------------------------------------- links

// Socketpairs for one link: the link side is handed to the link, the test
// keeps the other end.
struct Sockets {
  std::vector<int> ours;
  ~Sockets() {
    for (int fd : ours) close(fd);
  }
};

// One link and its epoll set, driven the way a proxy thread drives it.
class Driver {
 public:
  explicit Driver(TcpLink* link) : link_(link), epoll_(epoll_create1(EPOLL_CLOEXEC)) {
    if (epoll_ < 0) fuzz::fail(kName, "epoll_create1 failed");
  }
  ~Driver() { close(epoll_); }
  void attach(Sockets* s, uint32_t nsocks) {
    for (uint32_t j = 0; j < nsocks; ++j) {
      int fd[2];
      if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fd) != 0) {
        fuzz::fail(kName, "socketpair failed");
      }
      FUZZ_CHECK(kName, link_->claimSocket(j));
      link_->giveSocket(j, net::Socket(fd[0]));
      s->ours.push_back(fd[1]);
    }
    FUZZ_CHECK(kName, !link_->claimSocket(0));  // an index is taken once
    link_->adoptSockets(epoll_);
  }
  bool pump() {
    epoll_event ev[16];
    int n = epoll_wait(epoll_, ev, 16, 0);
    for (int i = 0; i < n; ++i) {
      link_->onEvent(static_cast<TcpSocketState*>(ev[i].data.ptr), ev[i].events);
    }
    return link_->pump();
  }

 private:
  TcpLink* link_;
  int epoll_;
};

// The receiving link with its test-side sockets.
struct Receiver {
  explicit Receiver(const TcpParams& p)
      : link(0, 0, p, HeapFifo::create({p.nslots, static_cast<size_t>(p.slotBytes)}).value(),
             nullptr, kLinkTimeout),
        driver(&link) {}
  TcpRecvLink link;
  Driver driver;
};

void writeSome(int fd, const uint8_t* p, size_t n, Driver& d) {
  size_t done = 0;
  for (int tries = 0; done < n && tries < 64; ++tries) {
    ssize_t w = send(fd, p + done, n - done, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (w > 0) {
      done += static_cast<size_t>(w);
    } else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      return;  // closed: the rest is dropped
    }
    if (done < n) d.pump();
  }
}

void stream(Input& in) {
  TcpParams p = paramsFrom(in);
  Receiver r(p);
  Sockets s;
  r.driver.attach(&s, p.nsocks);
  uint8_t hold = in.u8();  // bit k set: keep the k-th slot (mod 8) until the end
  uint64_t seen = 0;
  std::vector<bool> closed(p.nsocks, false);
  auto consume = [&] {
    size_t bytes = 0;
    while (const void* slot = r.link.peek(&bytes)) {
      (void)slot;
      FUZZ_CHECK(kName, bytes <= p.slotBytes);
      if ((hold >> (seen % 8)) & 1) return;
      r.link.release();
      ++seen;
    }
  };
  std::vector<uint8_t> filler(1 << 16);
  for (size_t i = 0; i < filler.size(); ++i) filler[i] = pattern(0, i);
  for (int ops = 0; ops < 128 && !in.empty() && !r.link.failed(); ++ops) {
    uint8_t op = in.u8();
    uint32_t j = (op >> 2) % p.nsocks;
    int fd = s.ours[j];
    switch (op & 3) {
      case 0: {  // raw bytes
        std::string raw = in.take(in.u8());
        writeSome(fd, reinterpret_cast<const uint8_t*>(raw.data()), raw.size(), r.driver);
        break;
      }
      case 1: {  // a part header, mostly well formed
        uint8_t f = in.u8();
        uint8_t h[kPartHeaderBytes];
        wire::putU32(h, (f & 0x80) ? in.u32() : kPartMagic);
        wire::putU32(h + 4, (f & 0x40) ? in.u32() : f & 7);
        wire::putU64(h + 8, (f & 0x20) ? in.u64() : in.u8());
        wire::putU64(h + 16, (f & 0x10) ? in.u64() : in.u32() % (p.slotBytes + 1));
        writeSome(fd, h, sizeof h, r.driver);
        break;
      }
      case 2: {  // payload bytes
        size_t n = 1 + in.u16();
        writeSome(fd, filler.data(), std::min(n, filler.size()), r.driver);
        break;
      }
      case 3:  // the peer closes this socket
        if (!closed[j]) shutdown(fd, SHUT_WR);
        closed[j] = true;
        break;
    }
    r.driver.pump();
    consume();
  }
  for (int i = 0; i < 64 && r.driver.pump(); ++i) consume();
  (void)r.link.health();
}

void roundTrip(Input& in) {
  TcpParams p = paramsFrom(in);
  size_t nslots = 1 + in.u8() % 24;
  std::vector<size_t> sizes;
  for (size_t i = 0; i < nslots; ++i) {
    uint32_t v = in.u32();
    sizes.push_back((v & 1) ? p.slotBytes : (v >> 1) % (p.slotBytes + 1));
  }
  uint8_t lag = in.u8();  // how many rounds the receiving executor sits out

  TcpProxy proxy(0, nullptr, nullptr);  // never started: post() finds it awake
  TcpSendLink sender(1, 0, p, HeapFifo::create({p.nslots, static_cast<size_t>(p.slotBytes)}).value(),
                     nullptr, kLinkTimeout);
  sender.setProxy(&proxy, nullptr);
  Driver sendDriver(&sender);
  Receiver r(p);
  // Join the links: each socketpair's ends go to the two links.
  for (uint32_t j = 0; j < p.nsocks; ++j) {
    int fd[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fd) != 0) {
      fuzz::fail(kName, "socketpair failed");
    }
    FUZZ_CHECK(kName, sender.claimSocket(j) && r.link.claimSocket(j));
    sender.giveSocket(j, net::Socket(fd[0]));
    r.link.giveSocket(j, net::Socket(fd[1]));
  }
  Sockets none;
  (void)none;
  Driver& recvDriver = r.driver;
  sender.adoptSockets(-1 == 0 ? 0 : 0), (void)0;
  (void)recvDriver;
}

}  // namespace
