// Strangers at the root and at rank listeners: wrong secrets, garbage,
// silence and forged messages. The communicator must still form and work,
// and no stranger may learn the table.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "bootstrap/bootstrap.h"
#include "bootstrap/protocol.h"
#include "bootstrap/test_util.h"
#include "net/bytes.h"
#include "support/ranks.h"

namespace strata::bootstrap {
namespace {

using namespace std::chrono_literals;
using strata::testing::bootOptions;
using strata::testing::runThreads;
using strata::testing::secondsSince;
using strata::testing::Watchdog;

net::Socket dial(const net::Address& where) {
  auto s = net::Socket::connect(where, Deadline::after(5s));
  EXPECT_OK(s.status());
  return s.ok() ? std::move(*s) : net::Socket();
}

// True when the connection yields nothing but a close within `wait`.
bool yieldsNothing(net::Socket& s, std::chrono::milliseconds wait) {
  uint8_t buf[64];
  Status st = s.recvAll(buf, sizeof buf, Deadline::after(wait));
  return st.code() == Code::kRemoteError;
}

void sendJunk(net::Socket& s, size_t bytes) {
  std::vector<uint8_t> junk(bytes);
  EXPECT_OK(net::randomBytes(junk.data(), junk.size()));
  (void)s.sendAll(junk.data(), junk.size(), Deadline::after(2s));
}

void attackRoot(const UniqueId& id, int nranks) {
  net::Secret wrong = id.secret;
  wrong.bytes[3] ^= 0x40;
  {
    // Wrong secret: the handshake fails, and pressing on with a hello gets
    // nothing back but a close.
    net::Socket s = dial(id.root);
    EXPECT_FALSE(net::authenticateClient(s, wrong, net::Purpose::kBootstrapRoot,
                                         Deadline::after(5s)).ok());
    uint8_t hello[proto::kHelloBytes];
    proto::encodeHello({0, static_cast<uint32_t>(nranks), *net::Address::parse("127.0.0.1:9")},
                       hello);
    (void)s.sendAll(hello, sizeof hello, Deadline::after(1s));
    EXPECT_TRUE(yieldsNothing(s, 3s)) << "a party with the wrong secret got an answer";
  }
  {
    net::Socket s = dial(id.root);
    sendJunk(s, 4096);
    EXPECT_TRUE(yieldsNothing(s, 3s));
  }
  {
    // The right secret but a malformed hello (rank out of range): refused.
    net::Socket s = dial(id.root);
    ASSERT_OK(net::authenticateClient(s, id.secret, net::Purpose::kBootstrapRoot,
                                      Deadline::after(5s)));
    uint8_t hello[proto::kHelloBytes];
    proto::encodeHello({0, static_cast<uint32_t>(nranks), *net::Address::parse("127.0.0.1:9")},
                       hello);
    net::wire::putU32(hello + 8, static_cast<uint32_t>(nranks + 5));
    ASSERT_OK(s.sendAll(hello, sizeof hello, Deadline::after(1s)));
    uint8_t head[proto::kReplyHeaderBytes];
    ASSERT_OK(s.recvAll(head, sizeof head, Deadline::after(3s)));
    auto reply = proto::decodeReplyHeader(head);
    ASSERT_OK(reply.status());
    EXPECT_EQ(reply->kind, proto::kReject);
  }
}

void attackPeer(const net::Address& where, const net::Secret& secret, uint64_t commHash,
                int victim) {
  net::Secret wrong = secret;
  wrong.bytes[0] ^= 1;
  {
    net::Socket s = dial(where);
    EXPECT_FALSE(net::authenticateClient(s, wrong, net::Purpose::kBootstrapPeer,
                                         Deadline::after(5s)).ok());
  }
  {
    net::Socket s = dial(where);  // the root's purpose is not a peer's
    EXPECT_FALSE(net::authenticateClient(s, secret, net::Purpose::kBootstrapRoot,
                                         Deadline::after(5s)).ok());
  }
  {
    net::Socket s = dial(where);
    sendJunk(s, 1 << 16);
    EXPECT_TRUE(yieldsNothing(s, 3s));
  }
  {
    // Authenticated, but the connect message names another communicator.
    net::Socket s = dial(where);
    ASSERT_OK(net::authenticateClient(s, secret, net::Purpose::kBootstrapPeer,
                                      Deadline::after(5s)));
    uint8_t msg[proto::kMessageHeaderBytes + proto::kConnectBodyBytes];
    proto::encodeMessageHeader({proto::kConnect, 1, proto::kConnectBodyBytes}, msg);
    net::wire::putU32(msg + proto::kMessageHeaderBytes, static_cast<uint32_t>(victim));
    net::wire::putU32(msg + proto::kMessageHeaderBytes + 4, 4);
    net::wire::putU64(msg + proto::kMessageHeaderBytes + 8, commHash ^ 1);
    ASSERT_OK(s.sendAll(msg, sizeof msg, Deadline::after(1s)));
    EXPECT_TRUE(yieldsNothing(s, 3s));
  }
  {
    // Authenticated, then garbage instead of a message header.
    net::Socket s = dial(where);
    ASSERT_OK(net::authenticateClient(s, secret, net::Purpose::kBootstrapPeer,
                                      Deadline::after(5s)));
    sendJunk(s, 512);
    EXPECT_TRUE(yieldsNothing(s, 3s));
  }
}

TEST(BootstrapSecurity, StrangersNeitherJoinNorDisturb) {
  Watchdog dog(60, "StrangersNeitherJoinNorDisturb");
  constexpr int kRanks = 4;
  auto id = createUniqueId();
  ASSERT_OK(id.status());

  // A connection that never says anything, held while the ranks form.
  net::Socket silentAtRoot = dial(id->root);
  std::atomic<bool> rootAttacked{false};
  std::thread rootAttacker([&] {
    attackRoot(*id, kRanks);
    rootAttacked.store(true);
  });

  std::vector<double> formSeconds(kRanks);
  runThreads(kRanks, [&](int rank) {
    // The last rank arrives only after the attacks on the root, so they all
    // happen while the others wait for the table.
    while (rank == kRanks - 1 && !rootAttacked.load()) std::this_thread::sleep_for(10ms);
    auto t0 = std::chrono::steady_clock::now();
    auto b = Bootstrap::create(*id, rank, kRanks, bootOptions(20000));
    ASSERT_OK(b.status());
    formSeconds[rank] = secondsSince(t0);
    Bootstrap& boot = **b;
    auto addrs = boot.allGatherStrings(boot.localAddress().toString());
    ASSERT_OK(addrs.status());

    std::vector<net::Socket> silent;
    std::thread peerAttacker;
    if (rank == 0) {
      for (const auto& a : *addrs) silent.push_back(dial(*net::Address::parse(a)));
      peerAttacker = std::thread([&] {
        for (int r = 0; r < kRanks; ++r) {
          attackPeer(*net::Address::parse((*addrs)[r]), id->secret, boot.commHash(), r);
        }
      });
    }
    // Keep the communicator busy while the attacks go on.
    for (int round = 0; round < 30; ++round) {
      std::vector<int> slots(kRanks);
      slots[rank] = rank * round;
      ASSERT_OK(boot.allGather(slots.data(), sizeof(int)));
      for (int r = 0; r < kRanks; ++r) ASSERT_EQ(slots[r], r * round);
      int next = (rank + 1) % kRanks, prev = (rank + kRanks - 1) % kRanks;
      int v = rank + round;
      ASSERT_OK(boot.send(next, 5, &v, sizeof v));
      ASSERT_OK(boot.recv(prev, 5, &v, sizeof v));
      EXPECT_EQ(v, prev + round);
    }
    if (rank == 0) peerAttacker.join();
    ASSERT_OK(boot.barrier());
  }, 60);
  rootAttacker.join();

  // The silent stranger did not hold anyone up until the handshake timeout.
  for (int r = 0; r < kRanks; ++r) EXPECT_LT(formSeconds[r], 4.0) << "rank " << r;
  // The root finished and closed even the silent connection without answering.
  EXPECT_TRUE(yieldsNothing(silentAtRoot, 3s));
}

}  // namespace
}  // namespace strata::bootstrap
