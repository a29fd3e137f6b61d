// Socket basics: connect/accept/transfer, retries, deadlines, abort, EOF.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "bootstrap/test_util.h"
#include "net/socket.h"
#include "support/ranks.h"

namespace strata::net {
namespace {

using namespace std::chrono_literals;
using strata::testing::secondsSince;
using strata::testing::Watchdog;

Address loopback(uint16_t port = 0) {
  auto a = Address::parse("127.0.0.1:" + std::to_string(port));
  return *a;
}

struct Pair {
  Socket listener, client, server;
};

Pair connectedPair(const Address& where) {
  Pair p;
  auto l = Socket::listen(where);
  EXPECT_OK(l.status());
  p.listener = std::move(*l);
  auto addr = p.listener.localAddress();
  EXPECT_OK(addr.status());
  auto c = Socket::connect(*addr, Deadline::after(5s));
  EXPECT_OK(c.status());
  p.client = std::move(*c);
  auto s = p.listener.accept(Deadline::after(5s));
  EXPECT_OK(s.status());
  p.server = std::move(*s);
  return p;
}

TEST(Socket, TransfersBothWaysIpv4) {
  Watchdog dog(20, "TransfersBothWaysIpv4");
  Pair p = connectedPair(loopback());
  ASSERT_TRUE(p.client.valid() && p.server.valid());
  std::vector<uint8_t> big(8 << 20);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i * 7);
  // Larger than the socket buffers, so both sides must make progress together.
  std::thread sender([&] { EXPECT_OK(p.client.sendAll(big.data(), big.size(), Deadline::after(10s))); });
  std::vector<uint8_t> got(big.size());
  ASSERT_OK(p.server.recvAll(got.data(), got.size(), Deadline::after(10s)));
  sender.join();
  EXPECT_EQ(got, big);
  ASSERT_OK(p.server.sendAll("pong", 4, Deadline::after(1s)));
  char back[4];
  ASSERT_OK(p.client.recvAll(back, 4, Deadline::after(1s)));
  EXPECT_EQ(std::string(back, 4), "pong");
  auto peer = p.server.peerAddress();
  ASSERT_OK(peer.status());
  EXPECT_TRUE(peer->isLoopback());
}

TEST(Socket, TransfersIpv6) {
  auto where = Address::parse("[::1]:0");
  ASSERT_OK(where.status());
  auto l = Socket::listen(*where);
  if (!l.ok()) GTEST_SKIP() << "no IPv6 loopback: " << l.status().toString();
  Watchdog dog(20, "TransfersIpv6");
  Pair p = connectedPair(*where);
  ASSERT_OK(p.client.sendAll("v6", 2, Deadline::after(1s)));
  char buf[2];
  ASSERT_OK(p.server.recvAll(buf, 2, Deadline::after(1s)));
  EXPECT_EQ(std::string(buf, 2), "v6");
  EXPECT_EQ(p.server.localAddress()->family(), AF_INET6);
}

TEST(Socket, ConnectRetriesUntilTheListenerAppears) {
  Watchdog dog(20, "ConnectRetries");
  // Find a free port, then release it and listen on it only later.
  uint16_t port;
  {
    auto l = Socket::listen(loopback());
    ASSERT_OK(l.status());
    port = l->localAddress()->port();
  }
  std::thread late([&] {
    std::this_thread::sleep_for(300ms);
    auto l = Socket::listen(loopback(port));
    ASSERT_OK(l.status());
    auto s = l->accept(Deadline::after(5s));
    EXPECT_OK(s.status());
  });
  auto t0 = std::chrono::steady_clock::now();
  auto c = Socket::connect(loopback(port), Deadline::after(5s));
  EXPECT_OK(c.status());
  EXPECT_GE(secondsSince(t0), 0.2);
  late.join();
}

TEST(Socket, ConnectTimesOutWhenNobodyListens) {
  Watchdog dog(20, "ConnectTimesOut");
  uint16_t port;
  {
    auto l = Socket::listen(loopback());
    port = l->localAddress()->port();
  }
  auto t0 = std::chrono::steady_clock::now();
  auto c = Socket::connect(loopback(port), Deadline::after(300ms));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("timed out"), std::string::npos) << c.status().toString();
  EXPECT_NE(c.status().message().find(std::to_string(port)), std::string::npos);
  EXPECT_LT(secondsSince(t0), 3.0);
}

TEST(Socket, RecvTimesOutAndAbortStopsIt) {
  Watchdog dog(20, "RecvTimesOut");
  Pair p = connectedPair(loopback());
  char buf[8];
  auto t0 = std::chrono::steady_clock::now();
  Status s = p.server.recvAll(buf, sizeof buf, Deadline::after(200ms));
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("timed out"), std::string::npos) << s.toString();
  EXPECT_LT(secondsSince(t0), 3.0);

  AbortFlag abort{false};
  std::thread stopper([&] {
    std::this_thread::sleep_for(100ms);
    abort.store(true);
  });
  t0 = std::chrono::steady_clock::now();
  s = p.server.recvAll(buf, sizeof buf, Deadline::never(), &abort);
  stopper.join();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("aborted"), std::string::npos) << s.toString();
  EXPECT_LT(secondsSince(t0), 3.0);
}

TEST(Socket, PeerCloseIsRemoteError) {
  Watchdog dog(20, "PeerClose");
  Pair p = connectedPair(loopback());
  ASSERT_OK(p.client.sendAll("abc", 3, Deadline::after(1s)));
  p.client.close();
  char buf[8];
  Status s = p.server.recvAll(buf, sizeof buf, Deadline::after(5s));
  EXPECT_EQ(s.code(), Code::kRemoteError) << s.toString();
  // Writing to a closed peer fails (without SIGPIPE killing the test).
  Status w;
  for (int i = 0; i < 100 && w.ok(); ++i) w = p.server.sendAll(buf, sizeof buf, Deadline::after(1s));
  EXPECT_EQ(w.code(), Code::kRemoteError) << w.toString();
}

TEST(Socket, AcceptHonoursDeadlineAndAbort) {
  Watchdog dog(20, "AcceptDeadline");
  auto l = Socket::listen(loopback());
  ASSERT_OK(l.status());
  auto s = l->accept(Deadline::after(100ms));
  EXPECT_FALSE(s.ok());
  AbortFlag abort{true};
  s = l->accept(Deadline::never(), &abort);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("aborted"), std::string::npos);
}

TEST(Socket, MoveAndRelease) {
  auto l = Socket::listen(loopback());
  ASSERT_OK(l.status());
  Socket a = std::move(*l);
  EXPECT_TRUE(a.valid());
  Socket b;
  b = std::move(a);
  EXPECT_FALSE(a.valid());
  EXPECT_TRUE(b.valid());
  int fd = b.release();
  EXPECT_FALSE(b.valid());
  Socket c(fd);
  EXPECT_OK(c.setNonBlocking(false));
  EXPECT_OK(c.setNonBlocking(true));
  EXPECT_OK(c.setBufferBytes(1 << 16, 1 << 16));
}

}  // namespace
}  // namespace strata::net
