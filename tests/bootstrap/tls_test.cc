// TLS sessions keyed from the secret (net/tls.h): data crosses encrypted
// and intact, a different secret fails the handshake on both ends, and a
// damaged record is an error, not wrong data. A relay between the two ends
// records (or damages) what crosses the wire.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "net/auth.h"
#include "net/tls.h"
#include "support/ranks.h"

namespace strata::net {
namespace {

using namespace std::chrono_literals;
using strata::testing::Watchdog;

Secret makeSecret(uint8_t seed) {
  Secret s;
  for (size_t i = 0; i < s.bytes.size(); ++i) s.bytes[i] = static_cast<uint8_t>(seed + i * 7);
  return s;
}

// client <-> [a | relay | b] <-> server over two socket pairs. The relay
// copies both directions, keeps what went client->server and, when told,
// flips one byte of that direction after `damageAfter` bytes.
class Relay {
 public:
  explicit Relay(long damageAfter = -1) : damageAfter_(damageAfter) {
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, client_), 0);
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, server_), 0);
    thread_ = std::thread([this] { run(); });
  }
  ~Relay() {
    stop_ = true;
    thread_.join();
    for (int fd : {client_[0], client_[1], server_[0], server_[1]}) close(fd);
  }
  int clientEnd() const { return client_[0]; }
  int serverEnd() const { return server_[0]; }
  // Bytes that went from the client toward the server.
  std::string upstream() {
    std::lock_guard<std::mutex> lock(mu_);
    return up_;
  }

 private:
  void run() {
    char buf[65536];
    while (!stop_) {
      pollfd p[2] = {{client_[1], POLLIN, 0}, {server_[1], POLLIN, 0}};
      if (poll(p, 2, 20) <= 0) continue;
      for (int i = 0; i < 2; ++i) {
        if ((p[i].revents & POLLIN) == 0) continue;
        ssize_t n = read(p[i].fd, buf, sizeof buf);
        if (n <= 0) continue;
        if (i == 0) {
          std::lock_guard<std::mutex> lock(mu_);
          long before = static_cast<long>(up_.size());
          up_.append(buf, static_cast<size_t>(n));
          if (damageAfter_ >= 0 && before <= damageAfter_ && damageAfter_ < before + n) {
            buf[damageAfter_ - before] ^= 0x40;
          }
        }
        int to = i == 0 ? server_[1] : client_[1];
        for (ssize_t off = 0; off < n;) {
          ssize_t w = write(to, buf + off, static_cast<size_t>(n - off));
          if (w <= 0) break;
          off += w;
        }
      }
    }
  }

  long damageAfter_;
  int client_[2];
  int server_[2];
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::string up_;
  std::thread thread_;
};

struct Pair {
  std::unique_ptr<TlsSession> client, server;
  Status clientStatus, serverStatus;
};

Pair connectPair(Relay& relay, const Secret& clientSecret, const Secret& serverSecret) {
  Pair p;
  std::thread server([&] {
    auto s = TlsSession::handshake(relay.serverEnd(), TlsSession::Role::kServer, serverSecret,
                                   Purpose::kTcpData, Deadline::after(5s));
    p.serverStatus = s.status();
    if (s.ok()) p.server = std::move(s).value();
  });
  auto c = TlsSession::handshake(relay.clientEnd(), TlsSession::Role::kClient, clientSecret,
                                 Purpose::kTcpData, Deadline::after(5s));
  p.clientStatus = c.status();
  if (c.ok()) p.client = std::move(c).value();
  server.join();
  return p;
}

// Moves `data` from client to server with the non-blocking calls; returns
// what arrived, or the first error.
StatusOr<std::string> transfer(Pair& p, const std::string& data) {
  std::string got;
  size_t sent = 0;
  auto deadline = Deadline::after(10s);
  while (got.size() < data.size()) {
    if (deadline.expired()) return Timeout("transfer stalled at ", got.size(), " bytes");
    if (sent < data.size()) {
      auto n = p.client->send(data.data() + sent, data.size() - sent);
      if (!n.ok()) return n.status();
      sent += *n;
    }
    char buf[32768];
    bool eof = false;
    auto n = p.server->recv(buf, sizeof buf, &eof);
    if (!n.ok()) return n.status();
    if (eof) return RemoteError("closed early");
    got.append(buf, *n);
    if (*n == 0) std::this_thread::sleep_for(1ms);
  }
  return got;
}

TEST(Tls, SameSecretCarriesDataEncrypted) {
  if (!tlsAvailable()) GTEST_SKIP() << "built without OpenSSL";
  Watchdog dog(30, "Tls.SameSecret");
  Relay relay;
  Pair p = connectPair(relay, makeSecret(1), makeSecret(1));
  ASSERT_TRUE(p.clientStatus.ok()) << p.clientStatus.toString();
  ASSERT_TRUE(p.serverStatus.ok()) << p.serverStatus.toString();
  std::string data;
  for (int i = 0; i < 20000; ++i) data += "strata-plaintext-" + std::to_string(i) + ";";
  auto got = transfer(p, data);
  ASSERT_TRUE(got.ok()) << got.status().toString();
  EXPECT_TRUE(*got == data) << "data changed in transit";
  // Nothing readable crossed the wire.
  std::string wire = relay.upstream();
  EXPECT_GT(wire.size(), data.size());
  EXPECT_EQ(wire.find("strata-plaintext-"), std::string::npos);
}

TEST(Tls, DifferentSecretsFailTheHandshakeOnBothEnds) {
  if (!tlsAvailable()) GTEST_SKIP() << "built without OpenSSL";
  Watchdog dog(30, "Tls.DifferentSecrets");
  Relay relay;
  Pair p = connectPair(relay, makeSecret(1), makeSecret(2));
  EXPECT_FALSE(p.clientStatus.ok());
  EXPECT_FALSE(p.serverStatus.ok());
  EXPECT_NE(p.serverStatus.message().find("TLS handshake failed"), std::string::npos)
      << p.serverStatus.toString();
}

TEST(Tls, DamagedRecordIsAnError) {
  if (!tlsAvailable()) GTEST_SKIP() << "built without OpenSSL";
  Watchdog dog(30, "Tls.DamagedRecord");
  // Far enough in to hit application data, not the handshake.
  Relay relay(/*damageAfter=*/4000);
  Pair p = connectPair(relay, makeSecret(3), makeSecret(3));
  ASSERT_TRUE(p.clientStatus.ok()) << p.clientStatus.toString();
  ASSERT_TRUE(p.serverStatus.ok()) << p.serverStatus.toString();
  auto got = transfer(p, std::string(100000, 'x'));
  ASSERT_FALSE(got.ok()) << "a damaged record was accepted";
  EXPECT_NE(got.status().message().find("damaged or forged"), std::string::npos)
      << got.status().toString();
}

TEST(Tls, UnavailableBuildSaysSo) {
  if (tlsAvailable()) GTEST_SKIP() << "built with OpenSSL";
  auto s = TlsSession::handshake(-1, TlsSession::Role::kClient, makeSecret(1), Purpose::kTcpData,
                                 Deadline::after(1s));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("OpenSSL"), std::string::npos);
}

}  // namespace
}  // namespace strata::net
