// The tcp listener faces the network: garbage, stalled, unauthenticated and
// malformed connections must be turned away without delaying or disturbing
// the real ones.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <vector>

#include "net/auth.h"
#include "support/ranks.h"
#include "transport_harness.h"
#include "transports/tcp_transport.h"
#include "transports/wire.h"

namespace strata::transport {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr uint64_t kCommHash = 0x5eed5eed12345678ull;

net::Secret testSecret() {
  net::Secret s;
  for (size_t i = 0; i < s.bytes.size(); ++i) s.bytes[i] = static_cast<uint8_t>(i * 7 + 1);
  return s;
}

TcpParams params() { return TcpParams{65536, 4, 2}; }

struct Rank {
  Doorbell bell;
  AbortState abort;
  std::unique_ptr<TcpTransport> tcp;
};

std::unique_ptr<Rank> startRank(int rank) {
  auto r = std::make_unique<Rank>();
  auto t = TcpTransport::listen(net::Address::parse("127.0.0.1:0").value());
  EXPECT_TRUE(t.ok()) << t.status().toString();
  if (!t.ok()) return nullptr;
  r->tcp = std::move(t).value();
  TcpConfig c;
  c.rank = rank;
  c.nranks = 2;
  c.nchannels = 2;
  c.secret = testSecret();
  c.commHash = kCommHash;
  c.local = params();
  c.timeout = milliseconds(10000);
  c.handshakeTimeout = milliseconds(3000);
  c.abort = &r->abort;
  c.bell = &r->bell;
  c.tcpPeers = {true, true};
  EXPECT_TRUE(r->tcp->start(c).ok());
  return r;
}

struct Hello {
  uint32_t magic = kHelloMagic;
  uint64_t commHash = kCommHash;
  uint32_t src = 0, dst = 1, channel = 0, sock = 0;
  TcpParams p = params();
};

// Sends an authenticated hello; the receiver's reply code, or -1 if the
// connection was closed or the handshake failed.
int64_t tryHello(const net::Address& to, const Hello& h, const net::Secret& secret,
                 net::Socket* keep = nullptr) {
  Deadline d = Deadline::after(milliseconds(5000));
  auto s = net::Socket::connect(to, d);
  if (!s.ok()) return -1;
  if (!net::authenticateClient(s.value(), secret, net::Purpose::kTcpData, d).ok()) return -1;
  uint8_t b[kHelloBytes];
  wire::putU32(b, h.magic);
  wire::putU32(b + 4, kTcpVersion);
  wire::putU64(b + 8, h.commHash);
  wire::putU32(b + 16, h.src);
  wire::putU32(b + 20, h.dst);
  wire::putU32(b + 24, h.channel);
  wire::putU32(b + 28, h.sock);
  wire::putU32(b + 32, h.p.nsocks);
  wire::putU32(b + 36, h.p.nslots);
  wire::putU64(b + 40, h.p.slotBytes);
  if (!s.value().sendAll(b, sizeof(b), d).ok()) return -1;
  uint8_t ack[kAckBytes];
  if (!s.value().recvAll(ack, sizeof(ack), d).ok()) return -1;
  if (keep != nullptr) *keep = std::move(s).value();
  return wire::getU32(ack + 4);
}

// Moves `slots` slots from a to b over (0 -> 1, channel ch).
void moveSlots(Rank& a, SendConnection* send, Rank& b, RecvConnection* recv, int slots) {
  int sent = 0, got = 0;
  auto deadline = Clock::now() + std::chrono::seconds(20);
  while (got < slots && Clock::now() < deadline) {
    DoorbellWait waitA(&a.bell), waitB(&b.bell);
    bool moved = false;
    size_t cap = 0;
    while (sent < slots) {
      void* p = send->acquire(&cap);
      if (p == nullptr) break;
      size_t n = testing::scheduledBytes(sent, cap);
      testing::fillPattern(testing::streamKey(0, 1, 0), sent * 65536ull, p, n);
      send->post(n);
      ++sent;
      moved = true;
    }
    size_t bytes = 0;
    while (const void* p = recv->peek(&bytes)) {
      ASSERT_EQ(bytes, testing::scheduledBytes(got, 65536));
      ASSERT_EQ(testing::checkPattern(testing::streamKey(0, 1, 0), got * 65536ull, p, bytes), -1);
      recv->release();
      ++got;
      moved = true;
    }
    ASSERT_TRUE(send->health().ok()) << send->health().toString();
    ASSERT_TRUE(recv->health().ok()) << recv->health().toString();
    if (!moved) {
      // Both sides sleep on their own doorbells; alternate short naps.
      waitB.sleep(std::chrono::microseconds(500));
      waitA.sleep(std::chrono::microseconds(500));
    }
  }
  EXPECT_EQ(got, slots);
}

TEST(TcpListener, BadConnectionsAreRejectedWithoutDisturbingRealOnes) {
  strata::testing::Watchdog dog(60, "tcp listener");
  auto r0 = startRank(0);
  auto r1 = startRank(1);
  ASSERT_TRUE(r0 && r1);
  const net::Address& addr = r1->tcp->address();
  Deadline d = Deadline::after(milliseconds(5000));

  // Connections that never authenticate: one stalls silently for the whole
  // test, one sends garbage, one closes at once.
  auto stalled = net::Socket::connect(addr, d);
  ASSERT_TRUE(stalled.ok());
  auto garbage = net::Socket::connect(addr, d);
  ASSERT_TRUE(garbage.ok());
  std::vector<uint8_t> junk(4096);
  for (size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<uint8_t>(i * 131 + 7);
  (void)garbage.value().sendAll(junk.data(), junk.size(), d);
  { auto closed = net::Socket::connect(addr, d); }

  // Wrong secret: the proof fails.
  net::Secret wrong = testSecret();
  wrong.bytes[0] ^= 1;
  EXPECT_EQ(tryHello(addr, Hello{}, wrong), -1);

  // Authenticated, but the hello is wrong in each field.
  Hello h;
  h.magic = 0xdeadbeef;
  EXPECT_EQ(tryHello(addr, h, testSecret()), 1);
  h = Hello{};
  h.commHash ^= 1;
  EXPECT_EQ(tryHello(addr, h, testSecret()), 3);
  h = Hello{};
  h.dst = 0;
  EXPECT_EQ(tryHello(addr, h, testSecret()), 3);
  h = Hello{};
  h.src = 5;
  EXPECT_EQ(tryHello(addr, h, testSecret()), 4);
  h = Hello{};
  h.channel = 2;
  EXPECT_EQ(tryHello(addr, h, testSecret()), 5);
  h = Hello{};
  h.p.nsocks = 3;
  EXPECT_EQ(tryHello(addr, h, testSecret()), 6);
  h = Hello{};
  h.sock = 2;
  EXPECT_EQ(tryHello(addr, h, testSecret()), 6);
  h = Hello{};
  h.p.slotBytes = 1 << 30;
  EXPECT_EQ(tryHello(addr, h, testSecret()), 6);

  // The real connection is set up promptly despite the stalled one.
  auto t0 = Clock::now();
  auto send = r0->tcp->connect(1, 0, addr, params());
  ASSERT_TRUE(send.ok()) << send.status().toString();
  EXPECT_LT(Clock::now() - t0, milliseconds(2000));
  auto recv = r1->tcp->receiver(0, 0);
  ASSERT_TRUE(recv.ok());
  moveSlots(*r0, send.value(), *r1, recv.value(), 40);

  // A second connection claiming an attached socket is turned away, and the
  // real link keeps working.
  h = Hello{};
  EXPECT_EQ(tryHello(addr, h, testSecret()), 7);
  h.sock = 1;
  EXPECT_EQ(tryHello(addr, h, testSecret()), 7);
  EXPECT_TRUE(recv.value()->health().ok());
  moveSlots(*r0, send.value(), *r1, recv.value(), 40);

  // The garbage connection was closed by the listener.
  uint8_t buf[256];
  Status drained;
  while ((drained = garbage.value().recvAll(buf, 1, Deadline::after(milliseconds(4000)))).ok()) {
  }
  EXPECT_EQ(drained.code(), Code::kRemoteError) << drained.toString();
}

TEST(TcpListener, ShutdownIsPromptWithHandshakesInFlight) {
  strata::testing::Watchdog dog(30, "tcp shutdown");
  auto r1 = startRank(1);
  ASSERT_TRUE(r1);
  std::vector<net::Socket> stalled;
  for (int i = 0; i < 40; ++i) {
    auto s = net::Socket::connect(r1->tcp->address(), Deadline::after(milliseconds(2000)));
    if (s.ok()) stalled.push_back(std::move(s).value());
  }
  std::this_thread::sleep_for(milliseconds(50));
  auto t0 = Clock::now();
  r1.reset();
  EXPECT_LT(Clock::now() - t0, milliseconds(1500));
}

}  // namespace
}  // namespace strata::transport
