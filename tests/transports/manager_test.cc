// ConnectionManager: which transport each peer gets, emulated hosts, forced
// transports that cannot work, settings validation, argument checks and
// shm cleanup.
#include <dirent.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "net/tls.h"
#include "support/ranks.h"
#include "transport_harness.h"

namespace strata::transport::testing {
namespace {

using strata::testing::ScopedEnv;
using std::chrono::milliseconds;

// Creates managers on n ranks expecting creation to fail everywhere with
// `code` and `text` in the message.
void expectCreateFails(Launch launch, int n, Code code, const std::string& text,
                       const std::function<void(int)>& beforeCreate = nullptr) {
  FakeBootstrapGroup group(n);
  auto body = [&](int rank) {
    if (beforeCreate) beforeCreate(rank);
    auto bs = group.join(rank);
    ManagerOptions mo;
    mo.abort = group.abortFlag();
    auto m = ConnectionManager::create(*bs, mo);
    EXPECT_FALSE(m.ok()) << "rank " << rank << " created a manager";
    if (!m.ok()) {
      EXPECT_EQ(m.status().code(), code) << m.status().toString();
      EXPECT_NE(m.status().message().find(text), std::string::npos) << m.status().toString();
    }
    return ::testing::Test::HasFailure() ? 1 : 0;
  };
  if (launch == Launch::kThreads) {
    strata::testing::runThreads(n, [&](int r) { body(r); }, 60);
  } else {
    auto codes = strata::testing::runProcesses(n, body, 60);
    for (int r = 0; r < n; ++r) EXPECT_EQ(codes[r], 0) << "rank " << r;
  }
}

TEST(Manager, ThreadsUseLoopbackAndShareAHost) {
  ScopedEnv mode("STRATA_TRANSPORT", "auto");
  runRanks(Launch::kThreads, 3, [](RankContext& ctx) {
    for (int p = 0; p < 3; ++p) {
      EXPECT_STREQ(ctx.manager.transportFor(p), "loopback");
      EXPECT_EQ(ctx.manager.hostOf(p), 0);
    }
    EXPECT_STREQ(ctx.manager.transportFor(3), "none");
    EXPECT_EQ(ctx.manager.hostOf(-1), -1);
    EXPECT_EQ(ctx.manager.slotsPerConnection(1), 8u);  // STRATA_SHM_NSLOTS default
    EXPECT_EQ(ctx.manager.minSlotCapacityBytes(), 524288u);
  });
}

TEST(Manager, ProcessesOnOneHostUseShm) {
  ScopedEnv mode("STRATA_TRANSPORT", "auto");
  runRanks(Launch::kProcesses, 2, [](RankContext& ctx) {
    EXPECT_STREQ(ctx.manager.transportFor(1 - ctx.rank), "shm");
    EXPECT_STREQ(ctx.manager.transportFor(ctx.rank), "loopback");
    EXPECT_EQ(ctx.manager.hostOf(1), ctx.manager.hostOf(0));
  });
}

TEST(Manager, ShmDisableSelectsTcp) {
  ScopedEnv mode("STRATA_TRANSPORT", "auto");
  ScopedEnv off("NCCL_SHM_DISABLE", "1");
  runRanks(Launch::kProcesses, 2, [](RankContext& ctx) {
    EXPECT_STREQ(ctx.manager.transportFor(1 - ctx.rank), "tcp");
    exchange(ctx, {{1 - ctx.rank, 0, 20}}, {{1 - ctx.rank, 0, 20}});
  });
}

TEST(Manager, EmulatedHostsMixShmAndTcp) {
  // Ranks 0,1 on host A and 2,3 on host B (STRATA_HOST_ID per process).
  ScopedEnv mode("STRATA_TRANSPORT", "auto");
  ScopedEnv slot("STRATA_TCP_SLOT_BYTES", "131072");
  RunOptions options;
  options.beforeCreate = [](int rank) { setenv("STRATA_HOST_ID", rank < 2 ? "A" : "B", 1); };
  runRanks(Launch::kProcesses, 4, [](RankContext& ctx) {
    ConnectionManager& m = ctx.manager;
    for (int p = 0; p < 4; ++p) {
      bool sameHost = (p < 2) == (ctx.rank < 2);
      EXPECT_EQ(m.hostOf(p), p < 2 ? 0 : 1);
      if (p != ctx.rank) {
        EXPECT_STREQ(m.transportFor(p), sameHost ? "shm" : "tcp") << p;
      }
    }
    // The smallest slot in use anywhere (shm default 512 KiB vs tcp 128 KiB).
    EXPECT_EQ(m.minSlotCapacityBytes(), 131072u);
    std::vector<Stream> streams;
    for (int p = 0; p < 4; ++p) streams.push_back({p, 1, 30});
    exchange(ctx, streams, streams);
  }, options);
}

TEST(Manager, RanksWithDifferentSlotSizesStillTalk) {
  // FIFO geometry is the receiver's; every rank agrees on the minimum.
  ScopedEnv mode("STRATA_TRANSPORT", "auto");
  RunOptions options;
  options.beforeCreate = [](int rank) {
    setenv("STRATA_SHM_SLOT_BYTES", rank == 0 ? "65536" : "131072", 1);
    setenv("STRATA_SHM_NSLOTS", rank == 0 ? "3" : "5", 1);
  };
  runRanks(Launch::kProcesses, 2, [](RankContext& ctx) {
    EXPECT_EQ(ctx.manager.minSlotCapacityBytes(), 65536u);
    EXPECT_EQ(ctx.manager.minFifoCapacityBytes(), 3u * 65536u);
    EXPECT_EQ(ctx.manager.slotsPerConnection(1 - ctx.rank), ctx.rank == 0 ? 5u : 3u);
    exchange(ctx, {{1 - ctx.rank, 2, 50}}, {{1 - ctx.rank, 2, 50}});
  }, options);
}

TEST(Manager, ForcedLoopbackAcrossProcessesIsRejected) {
  ScopedEnv mode("STRATA_TRANSPORT", "loopback");
  expectCreateFails(Launch::kProcesses, 2, Code::kInvalidArgument, "another process");
}

TEST(Manager, ForcedShmAcrossHostsIsRejected) {
  ScopedEnv mode("STRATA_TRANSPORT", "shm");
  expectCreateFails(Launch::kProcesses, 2, Code::kInvalidArgument, "another host",
                    [](int rank) { setenv("STRATA_HOST_ID", rank == 0 ? "A" : "B", 1); });
}

TEST(Manager, UnknownTransportIsRejected) {
  ScopedEnv mode("STRATA_TRANSPORT", "carrier-pigeon");
  expectCreateFails(Launch::kThreads, 2, Code::kInvalidArgument, "STRATA_TRANSPORT");
}

TEST(Manager, BadFifoSettingsAreRejected) {
  {
    ScopedEnv slots("STRATA_SHM_NSLOTS", "0");
    expectCreateFails(Launch::kThreads, 1, Code::kInvalidArgument, "STRATA_SHM_NSLOTS");
  }
  {
    ScopedEnv bytes("STRATA_TCP_SLOT_BYTES", "100");
    expectCreateFails(Launch::kThreads, 1, Code::kInvalidArgument, "STRATA_TCP_SLOT_BYTES");
  }
  {
    ScopedEnv socks("STRATA_NSOCKS_PERTHREAD", "1000");
    expectCreateFails(Launch::kThreads, 1, Code::kInvalidArgument, "STRATA_NSOCKS_PERTHREAD");
  }
}

TEST(Manager, MismatchedTransportSettingsFailEveryRank) {
  ScopedEnv mode("STRATA_TRANSPORT", "auto");
  expectCreateFails(Launch::kProcesses, 2, Code::kInvalidUsage, "different transport settings",
                    [](int rank) { setenv("STRATA_SHM_DISABLE", rank == 1 ? "1" : "0", 1); });
}

TEST(Manager, BadArgumentsAreRejected) {
  runRanks(Launch::kThreads, 2, [](RankContext& ctx) {
    ConnectionManager& m = ctx.manager;
    EXPECT_EQ(m.send(-1, 0).status().code(), Code::kInvalidArgument);
    EXPECT_EQ(m.send(2, 0).status().code(), Code::kInvalidArgument);
    EXPECT_EQ(m.recv(0, 3).status().code(), Code::kInvalidArgument);
    EXPECT_EQ(m.recv(0, -1).status().code(), Code::kInvalidArgument);
    // Cached: the same object every time.
    auto a = m.send(1 - ctx.rank, 1);
    auto b = m.send(1 - ctx.rank, 1);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a.value(), b.value());
    EXPECT_EQ(m.recv(0, 2).value(), m.recv(0, 2).value());
  });
}

TEST(Manager, ShmNamesAreUnlinkedOnceCreated) {
  ScopedEnv mode("STRATA_TRANSPORT", "shm");
  runRanks(Launch::kProcesses, 3, [](RankContext& ctx) {
    char prefix[64];
    std::snprintf(prefix, sizeof(prefix), "strata-%016" PRIx64, ctx.bootstrap.commHash());
    EXPECT_TRUE(ctx.bootstrap.barrier().ok());
    DIR* dir = opendir("/dev/shm");
    ASSERT_NE(dir, nullptr);
    while (dirent* e = readdir(dir)) {
      EXPECT_NE(std::string(e->d_name).rfind(prefix, 0), 0u) << "left in /dev/shm: " << e->d_name;
    }
    closedir(dir);
    // Still usable after the names are gone.
    exchange(ctx, {{(ctx.rank + 1) % 3, 0, 10}}, {{(ctx.rank + 2) % 3, 0, 10}});
  });
}

// Rank 0 posts `slots` slots and destroys its manager (and exits) at once;
// rank 1 only starts reading later and must still get every byte. With more
// slots than the receiver's FIFO holds, parts wait in the sockets while the
// sender has already closed some of them.
void dataPostedBeforeDestroyArrives(const char* transport, uint64_t slots = 4) {
  ScopedEnv mode("STRATA_TRANSPORT", transport);
  ScopedEnv shm("STRATA_SHM_SLOT_BYTES", "65536");
  ScopedEnv tcp("STRATA_TCP_SLOT_BYTES", "65536");
  RunOptions options;
  options.finalBarrier = false;
  auto codes = runRankProcesses(2, [slots](RankContext& ctx) -> int {
    if (ctx.rank == 0) {
      auto send = ctx.manager.send(1, 0);
      EXPECT_TRUE(send.ok());
      if (!send.ok()) return 1;
      for (uint64_t k = 0; k < slots; ++k) {
        size_t cap = 0;
        void* p = acquireWait(ctx.manager, send.value(), &cap);
        if (p == nullptr) return 1;
        fillPattern(streamKey(0, 1, 0), k * 65536, p, 65536);
        send.value()->post(65536);
      }
      return 0;  // the manager is destroyed right after this
    }
    auto recv = ctx.manager.recv(0, 0);
    EXPECT_TRUE(recv.ok());
    if (!recv.ok()) return 1;
    usleep(200 * 1000);
    for (uint64_t k = 0; k < slots; ++k) {
      size_t bytes = 0;
      const void* p = peekWait(ctx.manager, recv.value(), &bytes, milliseconds(10000));
      if (p == nullptr) return 1;
      EXPECT_EQ(bytes, 65536u);
      EXPECT_EQ(checkPattern(streamKey(0, 1, 0), k * 65536, p, bytes), -1) << "slot " << k;
      recv.value()->release();
    }
    return 0;
  }, options);
  EXPECT_EQ(codes[0], 0);
  EXPECT_EQ(codes[1], 0);
}

TEST(Manager, ShmDataPostedBeforeDestroyArrives) { dataPostedBeforeDestroyArrives("shm"); }
TEST(Manager, TcpDataPostedBeforeDestroyArrives) { dataPostedBeforeDestroyArrives("tcp"); }
TEST(Manager, TcpBackloggedDataPostedBeforeDestroyArrives) {
  ScopedEnv socks("STRATA_NSOCKS_PERTHREAD", "4");
  dataPostedBeforeDestroyArrives("tcp", 24);
}

// STRATA_TLS=1: the same data path through TLS sessions, including data
// posted just before the sender closes (a close without TLS close_notify).
TEST(Manager, TlsDataPostedBeforeDestroyArrives) {
  if (!net::tlsAvailable()) GTEST_SKIP() << "built without OpenSSL";
  ScopedEnv tls("STRATA_TLS", "1");
  ScopedEnv socks("STRATA_NSOCKS_PERTHREAD", "4");
  dataPostedBeforeDestroyArrives("tcp", 24);
}

TEST(Manager, TlsOnSomeRanksOnlyFailsEveryRank) {
  if (!net::tlsAvailable()) GTEST_SKIP() << "built without OpenSSL";
  ScopedEnv mode("STRATA_TRANSPORT", "tcp");
  expectCreateFails(Launch::kProcesses, 2, Code::kInvalidUsage, "all ranks must agree on TLS",
                    [](int rank) { setenv("STRATA_TLS", rank == 1 ? "1" : "0", 1); });
}

TEST(Manager, TlsWithoutOpenSslIsAClearError) {
  if (net::tlsAvailable()) GTEST_SKIP() << "built with OpenSSL";
  ScopedEnv tls("STRATA_TLS", "1");
  expectCreateFails(Launch::kThreads, 2, Code::kInvalidUsage, "no TLS");
}

TEST(HostIdentity, OverrideAndDefault) {
  std::string natural = hostIdentity();
  EXPECT_NE(natural.find("|net:"), std::string::npos) << natural;
  EXPECT_EQ(natural, hostIdentity()) << "identity must be stable";
  ScopedEnv id("STRATA_HOST_ID", "rack7-node3");
  EXPECT_NE(hostIdentity(), natural);
  EXPECT_NE(hostIdentity().find("rack7-node3"), std::string::npos);
}

}  // namespace
}  // namespace strata::transport::testing
