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

// The largest slot the link modes use (the transports allow up to 1 GiB).
constexpr size_t kLargestSlot = 131072;

TcpParams paramsFrom(Input& in) {
  static constexpr uint64_t kSlotBytes[] = {1024, 4096, 40960, kLargestSlot};
  TcpParams p;
  p.nsocks = 1 + in.u8() % 4;
  p.nslots = 1 + in.u8() % 4;
  p.slotBytes = kSlotBytes[in.u8() % 4];
  return p;
}

// Slot contents: slot seq holds the table from offset seq % 251 on, so
// neighbouring slots differ and whole slots are filled and compared with
// memcpy/memcmp.
const uint8_t* pattern(uint64_t seq) {
  static const std::vector<uint8_t> table = [] {
    std::vector<uint8_t> t(kLargestSlot + 256);
    uint32_t x = 0x9e3779b9u;
    for (auto& b : t) {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      b = static_cast<uint8_t>(x);
    }
    return t;
  }();
  return table.data() + seq % 251;
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

// The test's ends of socketpairs whose other ends belong to a link.
struct Sockets {
  std::vector<int> ours;
  ~Sockets() {
    for (int fd : ours) close(fd);
  }
};

// Gives `to` one end of each of nsocks socketpairs; the other end goes to
// `peer` if there is one, else to the test.
void connectPairs(TcpLink* to, TcpLink* peer, Sockets* ours, uint32_t nsocks) {
  for (uint32_t j = 0; j < nsocks; ++j) {
    int fd[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fd) != 0) {
      fuzz::fail(kName, "socketpair failed");
    }
    FUZZ_CHECK(kName, to->claimSocket(j));
    to->giveSocket(j, net::Socket(fd[0]));
    if (peer != nullptr) {
      FUZZ_CHECK(kName, peer->claimSocket(j));
      peer->giveSocket(j, net::Socket(fd[1]));
    } else {
      ours->ours.push_back(fd[1]);
    }
  }
  FUZZ_CHECK(kName, !to->claimSocket(0));  // an index is taken once
}

// One link and its epoll set, driven the way a proxy thread drives it.
class Driver {
 public:
  explicit Driver(TcpLink* link) : link_(link), epoll_(epoll_create1(EPOLL_CLOEXEC)) {
    if (epoll_ < 0) fuzz::fail(kName, "epoll_create1 failed");
  }
  ~Driver() { close(epoll_); }
  void adopt() { link_->adoptSockets(epoll_); }
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
  connectPairs(&r.link, nullptr, &s, p.nsocks);
  r.driver.adopt();
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
  const uint8_t* filler = pattern(0);
  const size_t fillerBytes = 1 << 16;
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
        writeSome(fd, filler, std::min(n, fillerBytes), r.driver);
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
  TcpSendLink sender(1, 0, p,
                     HeapFifo::create({p.nslots, static_cast<size_t>(p.slotBytes)}).value(),
                     nullptr, kLinkTimeout);
  sender.setProxy(&proxy, nullptr);
  Driver sendDriver(&sender);
  Receiver r(p);
  connectPairs(&sender, &r.link, nullptr, p.nsocks);
  sendDriver.adopt();
  r.driver.adopt();

  size_t posted = 0, received = 0;
  int idle = 0;
  for (int round = 0; received < sizes.size(); ++round) {
    bool changed = false;
    while (posted < sizes.size()) {
      size_t capacity = 0;
      auto* slot = static_cast<uint8_t*>(sender.acquire(&capacity));
      if (slot == nullptr) break;
      FUZZ_CHECK(kName, capacity == p.slotBytes);
      std::memcpy(slot, pattern(posted), sizes[posted]);
      sender.post(sizes[posted]);
      ++posted;
      changed = true;
    }
    changed |= sendDriver.pump();
    changed |= r.driver.pump();
    if (lag == 0 || round % (1 + lag % 8) == 0) {
      size_t bytes = 0;
      while (const void* got = r.link.peek(&bytes)) {
        FUZZ_CHECK(kName, received < posted);
        FUZZ_CHECK(kName, bytes == sizes[received]);
        FUZZ_CHECK(kName, std::memcmp(got, pattern(received), bytes) == 0);
        r.link.release();
        ++received;
        changed = true;
      }
    }
    FUZZ_CHECK(kName, sender.health().ok());
    FUZZ_CHECK(kName, r.link.health().ok());
    idle = changed ? 0 : idle + 1;
    if (idle > 64) fuzz::fail(kName, "the links stalled with slots in flight");
  }
  FUZZ_CHECK(kName, sender.idle() || posted == received);
}

std::string withMode(Mode m) { return fuzz::SeedWriter().u8(m).str(); }

std::vector<std::string> seeds() {
  std::vector<std::string> out;
  RankDescriptor d;
  d.rank = 1;
  d.nranks = 4;
  d.nchannels = 2;
  d.hostId = "host-a|0b5e1f|net:4026531840";
  d.process.pid = 4242;
  d.process.startTime = 123456;
  d.process.pidNamespace = 4026531836;
  d.processToken = 0x1122334455667788ull;
  d.localKey = 9;
  d.shmName = "/strata-4242-1-abcdef";
  d.memory = FifoLayout{8, 65536};
  d.tcp = TcpParams{1 << 20, 4, 2};
  out.push_back(withMode(kDescriptor) + d.encode());
  d.hasListener = true;
  d.listener = net::Address::parse("10.77.0.2:40001").value();
  d.mode = TransportMode::kTcp;
  out.push_back(withMode(kDescriptor) + d.encode());
  d.listener = net::Address::parse("[fd00::2]:40001").value();
  d.shmDisable = true;
  out.push_back(withMode(kDescriptor) + d.encode());

  // Receiver: 4 ranks, rank 2, 2 channels, hash, params (2 sockets, 2 slots,
  // 4096 bytes), every rank a tcp peer; then a hello from rank 1 on socket 1.
  uint64_t hash = 0xfeedface12345678ull;
  TcpHello h;
  h.commHash = hash;
  h.src = 1;
  h.dst = 2;
  h.channel = 1;
  h.socket = 1;
  h.params = TcpParams{4096, 2, 2};
  uint8_t raw[kHelloBytes];
  encodeTcpHello(h, raw);
  fuzz::SeedWriter hello;
  hello.u8(kHello).u8(3).u8(2).u8(1).u64(hash).u8(1).u8(1).u8(1).u8(0xff).bytes(raw, sizeof raw);
  out.push_back(hello.str());

  // Two sockets, two slots of 40960 bytes; slot 0 in two parts, then slot 1.
  uint64_t total = 40000;
  uint64_t off = 0, len0 = 0, len1 = 0;
  partRange(total, 2, 0, &off, &len0);
  partRange(total, 2, 1, &off, &len1);
  fuzz::SeedWriter st;
  st.u8(kStream).u8(1).u8(1).u8(2).u8(0);
  st.u8(1 | (0 << 2)).u8(0).u8(0).u32(static_cast<uint32_t>(total));   // header part 0 on socket 0
  st.u8(2 | (0 << 2)).u16(static_cast<uint16_t>(len0 - 1));            // its payload
  st.u8(1 | (1 << 2)).u8(1).u8(0).u32(static_cast<uint32_t>(total));   // part 1 on socket 1
  st.u8(2 | (1 << 2)).u16(static_cast<uint16_t>(len1 - 1));
  st.u8(1 | (1 << 2)).u8(0).u8(1).u32(100);                            // slot 1 on socket 1
  st.u8(2 | (1 << 2)).u16(99);
  st.u8(3 | (0 << 2)).u8(3 | (1 << 2));
  out.push_back(st.str());

  fuzz::SeedWriter rt;
  rt.u8(kRoundTrip).u8(3).u8(1).u8(3).u8(5);
  rt.u32(1).u32(2 * 5000).u32(0).u32(2 * 70000).u32(1);
  rt.u8(0);
  out.push_back(rt.str());
  fuzz::SeedWriter rt2;
  rt2.u8(kRoundTrip).u8(0).u8(0).u8(0).u8(3).u32(2 * 100).u32(1).u32(2 * 1023).u8(3);
  out.push_back(rt2.str());
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::initTarget(kName, seeds);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  Input in(data + 1, size - 1);
  switch (data[0] % kModes) {
    case kDescriptor: descriptor(in); break;
    case kHello: hello(in); break;
    case kStream: stream(in); break;
    case kRoundTrip: roundTrip(in); break;
  }
  return 0;
}
