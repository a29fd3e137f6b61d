// The handshake: right secret, wrong secret, wrong purpose, garbage, silence.
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "bootstrap/test_util.h"
#include "net/auth.h"
#include "net/handshake.h"
#include "support/ranks.h"

namespace strata::net {
namespace {

using namespace std::chrono_literals;
using strata::testing::ScopedEnv;
using strata::testing::secondsSince;
using strata::testing::Watchdog;

Secret makeSecret() {
  Secret s;
  EXPECT_OK(randomBytes(s.bytes.data(), s.bytes.size()));
  return s;
}

struct Endpoints {
  Socket listener;
  Address where;
};

Endpoints listenLoopback() {
  Endpoints e;
  auto l = Socket::listen(*Address::parse("127.0.0.1:0"));
  EXPECT_OK(l.status());
  e.listener = std::move(*l);
  e.where = *e.listener.localAddress();
  return e;
}

// Runs the server side on a thread and the client side here.
struct Outcome {
  Status client, server;
};

Outcome handshake(const Secret& clientSecret, Purpose clientPurpose, const Secret& serverSecret,
                  Purpose serverPurpose) {
  Endpoints e = listenLoopback();
  Outcome out;
  std::thread server([&] {
    auto s = e.listener.accept(Deadline::after(5s));
    if (!s.ok()) {
      out.server = s.status();
      return;
    }
    out.server = authenticateServer(*s, serverSecret, serverPurpose, Deadline::after(5s));
    if (out.server.ok()) {
      char buf[5];
      out.server = s->recvAll(buf, sizeof buf, Deadline::after(5s));
      if (out.server.ok() && std::string(buf, 5) != "hello") out.server = InternalError("bytes");
    }
  });
  auto c = Socket::connect(e.where, Deadline::after(5s));
  out.client = c.status();
  if (c.ok()) {
    out.client = authenticateClient(*c, clientSecret, clientPurpose, Deadline::after(5s));
    // Application bytes right behind the handshake must reach the server intact.
    if (out.client.ok()) out.client = c->sendAll("hello", 5, Deadline::after(5s));
  }
  server.join();
  return out;
}

TEST(Auth, RightSecretSucceeds) {
  Watchdog dog(20, "RightSecret");
  Secret s = makeSecret();
  Outcome o = handshake(s, Purpose::kTcpData, s, Purpose::kTcpData);
  EXPECT_OK(o.client);
  EXPECT_OK(o.server);
}

TEST(Auth, WrongSecretFailsOnBothSides) {
  Watchdog dog(20, "WrongSecret");
  Secret a = makeSecret();
  Secret b = a;
  b.bytes[15] ^= 1;
  auto t0 = std::chrono::steady_clock::now();
  Outcome o = handshake(a, Purpose::kBootstrapPeer, b, Purpose::kBootstrapPeer);
  EXPECT_FALSE(o.client.ok());
  EXPECT_FALSE(o.server.ok());
  EXPECT_NE(o.server.message().find("secret"), std::string::npos) << o.server.toString();
  // The client learns it too: the server closed instead of answering its proof.
  EXPECT_NE(o.client.message().find("does not accept this secret"), std::string::npos)
      << o.client.toString();
  EXPECT_LT(secondsSince(t0), 3.0);
}

// Flags (STRATA_TLS) travel in the nonce messages: a difference fails both
// sides with a message naming the setting.
TEST(Auth, TlsFlagMismatchFailsBothSidesClearly) {
  Watchdog dog(20, "TlsFlagMismatch");
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
  Secret s = makeSecret();
  Handshake client(Handshake::Role::kClient, s, Purpose::kTcpData, Handshake::kFlagTls);
  Handshake server(Handshake::Role::kServer, s, Purpose::kTcpData, 0);
  ASSERT_OK(client.start());
  ASSERT_OK(server.start());
  Status c, v;
  for (int i = 0; i < 20 && c.ok() && v.ok() && !(client.done() && server.done()); ++i) {
    c = client.progress(sv[0]);
    v = server.progress(sv[1]);
  }
  EXPECT_FALSE(v.ok());
  EXPECT_NE(v.message().find("STRATA_TLS=1"), std::string::npos) << v.toString();
  // The client learns it from the server's nonce message.
  for (int i = 0; i < 20 && c.ok(); ++i) c = client.progress(sv[0]);
  close(sv[1]);
  for (int i = 0; i < 20 && c.ok(); ++i) c = client.progress(sv[0]);
  EXPECT_FALSE(c.ok());
  close(sv[0]);
}

TEST(Auth, EqualTlsFlagsAgree) {
  Watchdog dog(20, "EqualTlsFlags");
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
  Secret s = makeSecret();
  Handshake client(Handshake::Role::kClient, s, Purpose::kTcpData, Handshake::kFlagTls);
  Handshake server(Handshake::Role::kServer, s, Purpose::kTcpData, Handshake::kFlagTls);
  ASSERT_OK(client.start());
  ASSERT_OK(server.start());
  for (int i = 0; i < 20 && !(client.done() && server.done()); ++i) {
    ASSERT_OK(client.progress(sv[0]));
    ASSERT_OK(server.progress(sv[1]));
  }
  EXPECT_TRUE(client.done() && server.done());
  EXPECT_TRUE(client.tls() && server.tls());
  close(sv[0]);
  close(sv[1]);
}

TEST(Auth, PurposeIsBoundIntoTheHandshake) {
  Watchdog dog(20, "Purpose");
  Secret s = makeSecret();
  Outcome o = handshake(s, Purpose::kBootstrapRoot, s, Purpose::kBootstrapPeer);
  EXPECT_FALSE(o.client.ok());
  EXPECT_FALSE(o.server.ok());
}

TEST(Auth, GarbageFromClientFailsCleanly) {
  Watchdog dog(20, "GarbageClient");
  Endpoints e = listenLoopback();
  Secret s = makeSecret();
  Status server;
  std::thread t([&] {
    auto sock = e.listener.accept(Deadline::after(5s));
    server = sock.ok() ? authenticateServer(*sock, s, Purpose::kTcpData, Deadline::after(5s))
                       : sock.status();
  });
  auto c = Socket::connect(e.where, Deadline::after(5s));
  ASSERT_OK(c.status());
  std::vector<uint8_t> junk(4096);
  ASSERT_OK(randomBytes(junk.data(), junk.size()));
  (void)c->sendAll(junk.data(), junk.size(), Deadline::after(5s));
  t.join();
  EXPECT_FALSE(server.ok());
}

TEST(Auth, GarbageFromServerFailsCleanly) {
  Watchdog dog(20, "GarbageServer");
  Endpoints e = listenLoopback();
  std::thread t([&] {
    auto sock = e.listener.accept(Deadline::after(5s));
    if (!sock.ok()) return;
    std::string junk(200, 'Z');
    (void)sock->sendAll(junk.data(), junk.size(), Deadline::after(5s));
    char buf[256];
    (void)sock->recvAll(buf, sizeof buf, Deadline::after(2s));
  });
  auto c = Socket::connect(e.where, Deadline::after(5s));
  ASSERT_OK(c.status());
  Status client = authenticateClient(*c, makeSecret(), Purpose::kTcpData, Deadline::after(5s));
  EXPECT_FALSE(client.ok());
  c->close();
  t.join();
}

TEST(Auth, EarlyCloseFailsPromptly) {
  Watchdog dog(20, "EarlyClose");
  Endpoints e = listenLoopback();
  Secret s = makeSecret();
  Status server;
  std::thread t([&] {
    auto sock = e.listener.accept(Deadline::after(5s));
    server = sock.ok() ? authenticateServer(*sock, s, Purpose::kTcpData, Deadline::after(5s))
                       : sock.status();
  });
  auto t0 = std::chrono::steady_clock::now();
  {
    auto c = Socket::connect(e.where, Deadline::after(5s));
    ASSERT_OK(c.status());
    ASSERT_OK(c->sendAll("STHA", 4, Deadline::after(1s)));  // part of a message, then gone
  }
  t.join();
  EXPECT_EQ(server.code(), Code::kRemoteError) << server.toString();
  EXPECT_LT(secondsSince(t0), 3.0);
}

TEST(Auth, SilentPeerTimesOutAtTheHandshakeLimit) {
  Watchdog dog(20, "SilentPeer");
  ScopedEnv limit("STRATA_HANDSHAKE_TIMEOUT_MS", "300");
  Endpoints e = listenLoopback();
  auto c = Socket::connect(e.where, Deadline::after(5s));
  ASSERT_OK(c.status());
  auto sock = e.listener.accept(Deadline::after(5s));
  ASSERT_OK(sock.status());
  auto t0 = std::chrono::steady_clock::now();
  Status server = authenticateServer(*sock, makeSecret(), Purpose::kTcpData, Deadline::never());
  EXPECT_FALSE(server.ok());
  EXPECT_NE(server.message().find("timed out"), std::string::npos) << server.toString();
  EXPECT_LT(secondsSince(t0), 3.0);
}

}  // namespace
}  // namespace strata::net
