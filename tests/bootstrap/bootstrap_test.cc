// Communicators of 1..8 ranks, as threads and as forked processes: the root
// exchange, tagged point-to-point messages and the collectives.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "bootstrap/bootstrap.h"
#include "bootstrap/test_util.h"
#include "net/tls.h"
#include "support/ranks.h"

namespace strata::bootstrap {
namespace {

using strata::testing::bootOptions;
using strata::testing::runProcesses;
using strata::testing::runThreads;

std::string patternString(int rank) {
  std::string s;
  for (int i = 0; i < rank * 37; ++i) s += static_cast<char>('a' + (rank + i) % 26);
  return s;
}

// Everything a formed communicator should do; reports problems via EXPECT.
void exercise(Bootstrap& b, int rank, int n) {
  EXPECT_EQ(b.rank(), rank);
  EXPECT_EQ(b.nranks(), n);

  // allGather of fixed-size slots, and of nothing.
  std::vector<uint64_t> slots(2 * n, 0);
  slots[2 * rank] = 1000 + rank;
  slots[2 * rank + 1] = b.commHash();
  ASSERT_OK(b.allGather(slots.data(), 2 * sizeof(uint64_t)));
  for (int r = 0; r < n; ++r) {
    EXPECT_EQ(slots[2 * r], 1000u + r);
    EXPECT_EQ(slots[2 * r + 1], b.commHash()) << "rank " << r << " has another commHash";
  }
  ASSERT_OK(b.allGather(nullptr, 0));

  // Variable-length strings, including an empty one (rank 0).
  auto strings = b.allGatherStrings(patternString(rank));
  ASSERT_OK(strings.status());
  ASSERT_EQ(strings->size(), static_cast<size_t>(n));
  for (int r = 0; r < n; ++r) EXPECT_EQ((*strings)[r], patternString(r));

  // Tagged messages to every peer (and to itself), received out of order.
  for (int p = 0; p < n; ++p) {
    for (uint32_t tag = 1; tag <= 3; ++tag) {
      uint32_t v = static_cast<uint32_t>(rank * 100 + p * 10) + tag;
      ASSERT_OK(b.send(p, tag, &v, sizeof v));
    }
    ASSERT_OK(b.send(p, 9, "first", 5));
    ASSERT_OK(b.send(p, 9, "second", 6));
  }
  for (int p = n - 1; p >= 0; --p) {
    for (uint32_t tag = 3; tag >= 1; --tag) {
      uint32_t v = 0;
      ASSERT_OK(b.recv(p, tag, &v, sizeof v));
      EXPECT_EQ(v, static_cast<uint32_t>(p * 100 + rank * 10) + tag);
    }
    char buf[6];
    ASSERT_OK(b.recv(p, 9, buf, 5));
    EXPECT_EQ(std::string(buf, 5), "first");
    ASSERT_OK(b.recv(p, 9, buf, 6));
    EXPECT_EQ(std::string(buf, 6), "second");
  }

  // A large message around the ring.
  std::vector<uint8_t> big(3 << 20), got(big.size());
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i * 31 + rank);
  ASSERT_OK(b.send((rank + 1) % n, 77, big.data(), big.size()));
  ASSERT_OK(b.recv((rank + n - 1) % n, 77, got.data(), got.size()));
  int from = (rank + n - 1) % n;
  for (size_t i = 0; i < got.size(); i += 4099) {
    ASSERT_EQ(got[i], static_cast<uint8_t>(i * 31 + from)) << i;
  }

  // A wrong expected length is reported, not truncated.
  char small[3];
  ASSERT_OK(b.send(rank, 55, "xyz", 3));
  EXPECT_EQ(b.recv(rank, 55, small, 2).code(), Code::kInvalidUsage);

  for (int i = 0; i < 3; ++i) ASSERT_OK(b.barrier());
}

class BootstrapRanks : public ::testing::TestWithParam<int> {};

TEST_P(BootstrapRanks, Threads) {
  const int n = GetParam();
  auto id = createUniqueId();
  ASSERT_OK(id.status());
  std::vector<uint64_t> hashes(n);
  runThreads(n, [&](int rank) {
    auto b = Bootstrap::create(*id, rank, n, bootOptions(20000));
    ASSERT_OK(b.status());
    EXPECT_EQ((*b)->secret(), id->secret);
    EXPECT_NE((*b)->localAddress().port(), 0);
    hashes[rank] = (*b)->commHash();
    exercise(**b, rank, n);
  }, 60);
  for (int r = 1; r < n; ++r) EXPECT_EQ(hashes[r], hashes[0]);
}

TEST_P(BootstrapRanks, Processes) {
  const int n = GetParam();
  auto id = createUniqueId();  // the root stays in this process
  ASSERT_OK(id.status());
  std::vector<int> codes = runProcesses(n, [&](int rank) {
    auto b = Bootstrap::create(*id, rank, n, bootOptions(20000));
    if (!b.ok()) {
      ADD_FAILURE() << b.status().toString();
      return 2;
    }
    exercise(**b, rank, n);
    return 0;
  }, 60);
  for (int r = 0; r < n; ++r) EXPECT_EQ(codes[r], 0) << "rank " << r;
}

INSTANTIATE_TEST_SUITE_P(Sizes, BootstrapRanks, ::testing::Range(1, 9));

// STRATA_TLS=1: the root and peer connections run TLS after the secret
// proof; everything above still works over them (large messages included).
TEST(Bootstrap, OverTls) {
  if (!net::tlsAvailable()) GTEST_SKIP() << "built without OpenSSL";
  strata::testing::ScopedEnv tls("STRATA_TLS", "1");
  const int n = 4;
  auto id = createUniqueId();
  ASSERT_OK(id.status());
  runThreads(n, [&](int rank) {
    auto b = Bootstrap::create(*id, rank, n, bootOptions(20000));
    ASSERT_OK(b.status());
    exercise(**b, rank, n);
  }, 60);
}

// A rank with STRATA_TLS=1 meeting a root without it: both say why. (The
// rank is a forked process: "Process" in the name keeps the test out of the
// sanitizer passes, which cannot fork a threaded process.)
TEST(Bootstrap, TlsMismatchWithTheRootFailsTheOtherProcessClearly) {
  if (!net::tlsAvailable()) GTEST_SKIP() << "built without OpenSSL";
  strata::testing::ScopedEnv off("STRATA_TLS", "0");
  auto id = createUniqueId();  // the root runs here, without TLS
  ASSERT_OK(id.status());
  std::vector<int> codes = runProcesses(1, [&](int) {
    setenv("STRATA_TLS", "1", 1);
    auto b = Bootstrap::create(*id, 1, 2, bootOptions(5000));
    if (b.ok()) return 2;
    std::string text = b.status().message();
    if (text.find("STRATA_TLS") == std::string::npos) {
      std::fprintf(stderr, "unclear error: %s\n", text.c_str());
      return 3;
    }
    return 0;
  }, 60);
  EXPECT_EQ(codes[0], 0);
}

TEST(Bootstrap, DifferentIdsGiveDifferentCommHashes) {
  auto a = createUniqueId();
  auto b = createUniqueId();
  ASSERT_OK(a.status());
  ASSERT_OK(b.status());
  auto ba = Bootstrap::create(*a, 0, 1, bootOptions(5000));
  auto bb = Bootstrap::create(*b, 0, 1, bootOptions(5000));
  ASSERT_OK(ba.status());
  ASSERT_OK(bb.status());
  EXPECT_NE((*ba)->commHash(), (*bb)->commHash());
}

TEST(Bootstrap, InvalidArgumentsAreRejected) {
  auto id = createUniqueId();
  ASSERT_OK(id.status());
  EXPECT_EQ(Bootstrap::create(*id, 2, 2, bootOptions(1000)).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(Bootstrap::create(*id, -1, 2, bootOptions(1000)).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(Bootstrap::create(*id, 0, 0, bootOptions(1000)).status().code(),
            Code::kInvalidArgument);
  auto one = Bootstrap::create(*id, 0, 1, bootOptions(5000));
  ASSERT_OK(one.status());
  uint8_t x = 0;
  EXPECT_EQ((*one)->send(1, 0, &x, 1).code(), Code::kInvalidArgument);
  EXPECT_EQ((*one)->recv(-1, 0, &x, 1).code(), Code::kInvalidArgument);
}

TEST(Bootstrap, Ipv6Loopback) {
  strata::testing::ScopedEnv ifname("STRATA_SOCKET_IFNAME", "=lo");
  strata::testing::ScopedEnv family("STRATA_SOCKET_FAMILY", "AF_INET6");
  auto probe = net::findInterfaces();
  if (!probe.ok()) GTEST_SKIP() << "no IPv6 loopback: " << probe.status().toString();
  auto id = createUniqueId();
  ASSERT_OK(id.status());
  EXPECT_EQ(id->root.family(), AF_INET6);
  runThreads(3, [&](int rank) {
    auto b = Bootstrap::create(*id, rank, 3, bootOptions(20000));
    ASSERT_OK(b.status());
    EXPECT_EQ((*b)->localAddress().family(), AF_INET6);
    exercise(**b, rank, 3);
  }, 60);
}

}  // namespace
}  // namespace strata::bootstrap
