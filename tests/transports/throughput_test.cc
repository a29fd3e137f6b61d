// Manual measurements (disabled by default; run with
// --gtest_also_run_disabled_tests --gtest_filter='*Throughput*'): one-way
// bandwidth with the default FIFO settings and ping-pong latency.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstring>

#include "support/ranks.h"
#include "transport_harness.h"

namespace strata::transport::testing {
namespace {

using strata::testing::ScopedEnv;
using Clock = std::chrono::steady_clock;

struct Case {
  const char* name;
  const char* transport;
  Launch launch;
};

class Throughput : public ::testing::TestWithParam<Case> {};

TEST_P(Throughput, DISABLED_OneWayBandwidthAndLatency) {
  ScopedEnv mode("STRATA_TRANSPORT", GetParam().transport);
  const char* name = GetParam().name;
  runRanks(GetParam().launch, 2, [name](RankContext& ctx) {
    ConnectionManager& m = ctx.manager;
    constexpr uint64_t kBytes = 2ull << 30;
    if (ctx.rank == 0) {
      auto c = m.send(1, 0);
      ASSERT_TRUE(c.ok());
      auto t0 = Clock::now();
      for (uint64_t sent = 0; sent < kBytes;) {
        size_t cap = 0;
        void* p = acquireWait(m, c.value(), &cap);
        ASSERT_NE(p, nullptr);
        std::memset(p, 1, cap);
        c.value()->post(cap);
        sent += cap;
      }
      while (!c.value()->idle()) {
        DoorbellWait wait(m.doorbell());
        if (!c.value()->idle()) wait.sleep(std::chrono::milliseconds(1));
      }
      double s = std::chrono::duration<double>(Clock::now() - t0).count();
      std::printf("%-16s one-way %.2f GB/s\n", name, kBytes / s / 1e9);
    } else {
      auto c = m.recv(0, 0);
      ASSERT_TRUE(c.ok());
      for (uint64_t got = 0; got < kBytes;) {
        size_t bytes = 0;
        ASSERT_NE(peekWait(m, c.value(), &bytes), nullptr);
        got += bytes;
        c.value()->release();
      }
    }
    ASSERT_TRUE(ctx.bootstrap.barrier().ok());
    // Ping-pong of 8-byte slots.
    int peer = 1 - ctx.rank;
    auto send = m.send(peer, 1);
    auto recv = m.recv(peer, 1);
    ASSERT_TRUE(send.ok() && recv.ok());
    constexpr int kRounds = 5000;
    auto t0 = Clock::now();
    for (int i = 0; i < kRounds; ++i) {
      if (ctx.rank == 0) {
        ASSERT_NE(acquireWait(m, send.value(), nullptr), nullptr);
        send.value()->post(8);
        ASSERT_NE(peekWait(m, recv.value(), nullptr), nullptr);
        recv.value()->release();
      } else {
        ASSERT_NE(peekWait(m, recv.value(), nullptr), nullptr);
        recv.value()->release();
        ASSERT_NE(acquireWait(m, send.value(), nullptr), nullptr);
        send.value()->post(8);
      }
    }
    double us = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
    if (ctx.rank == 0) std::printf("%-16s half round trip %.1f us\n", name, us / kRounds / 2);
  });
}

INSTANTIATE_TEST_SUITE_P(Transports, Throughput,
                         ::testing::Values(Case{"LoopbackThreads", "loopback", Launch::kThreads},
                                           Case{"ShmProcesses", "shm", Launch::kProcesses},
                                           Case{"TcpProcesses", "tcp", Launch::kProcesses}),
                         [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

}  // namespace
}  // namespace strata::transport::testing
