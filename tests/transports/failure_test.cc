// Failures must surface as errors from health(), promptly, never as hangs or
// crashes: a peer process that dies, a peer that never connects, abort().
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "support/ranks.h"
#include "transport_harness.h"

namespace strata::transport::testing {
namespace {

using strata::testing::ScopedEnv;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Rank 1 connects both ways, sends one slot and dies (SIGKILL). Rank 0 gets
// that slot, then must see health() fail on both its connections within a
// few seconds.
void peerDies(const char* transport, const char* expectText) {
  ScopedEnv forced("STRATA_TRANSPORT", transport);
  ScopedEnv slot("STRATA_SHM_SLOT_BYTES", "65536");
  ScopedEnv tslot("STRATA_TCP_SLOT_BYTES", "65536");
  RunOptions options;
  options.finalBarrier = false;
  auto codes = runRankProcesses(
      2,
      [&](RankContext& ctx) -> int {
        ConnectionManager& m = ctx.manager;
        int peer = 1 - ctx.rank;
        auto send = m.send(peer, 0);
        auto recv = m.recv(peer, 0);
        EXPECT_TRUE(send.ok() && recv.ok());
        if (!send.ok() || !recv.ok()) return 1;
        if (ctx.rank == 1) {
          void* p = acquireWait(m, send.value(), nullptr);
          if (p == nullptr) return 1;
          send.value()->post(100);
          if (!ctx.bootstrap.barrier().ok()) return 1;
          raise(SIGKILL);
          return 1;
        }
        size_t bytes = 0;
        EXPECT_NE(peekWait(m, recv.value(), &bytes), nullptr);
        recv.value()->release();
        EXPECT_TRUE(ctx.bootstrap.barrier().ok());
        // The receive side notices.
        auto t0 = Clock::now();
        Status error;
        EXPECT_EQ(peekWait(m, recv.value(), &bytes, milliseconds(15000), &error, true), nullptr);
        auto took = Clock::now() - t0;
        EXPECT_FALSE(error.ok());
        EXPECT_EQ(error.code(), Code::kRemoteError) << error.toString();
        EXPECT_NE(error.message().find(expectText), std::string::npos) << error.toString();
        EXPECT_LT(took, std::chrono::seconds(5)) << error.toString();
        // The send side too: fill the FIFO toward the dead rank and wait.
        t0 = Clock::now();
        Status sendError;
        for (int i = 0; i < 1000; ++i) {
          void* p = acquireWait(m, send.value(), nullptr, milliseconds(15000), &sendError, true);
          if (p == nullptr) break;
          send.value()->post(65536);
        }
        EXPECT_FALSE(sendError.ok());
        EXPECT_LT(Clock::now() - t0, std::chrono::seconds(5)) << sendError.toString();
        return 0;
      },
      options);
  EXPECT_EQ(codes[0], 0);
  EXPECT_EQ(codes[1], 128 + SIGKILL);
}

TEST(PeerFailure, ShmPeerProcessKilled) { peerDies("shm", "exited"); }

TEST(PeerFailure, TcpPeerProcessKilled) { peerDies("tcp", "rank 1"); }

TEST(PeerFailure, TcpPeerThatNeverConnectsTimesOut) {
  ScopedEnv forced("STRATA_TRANSPORT", "tcp");
  RunOptions options;
  options.timeout = milliseconds(300);
  runRanks(Launch::kThreads, 2, [](RankContext& ctx) {
    if (ctx.rank == 1) return;  // never sends
    auto recv = ctx.manager.recv(1, 0);
    ASSERT_TRUE(recv.ok());
    EXPECT_TRUE(recv.value()->health().ok()) << "failed before its deadline";
    Status error;
    auto t0 = Clock::now();
    EXPECT_EQ(peekWait(ctx.manager, recv.value(), nullptr, milliseconds(10000), &error, true),
              nullptr);
    EXPECT_GE(Clock::now() - t0, milliseconds(200));
    EXPECT_LT(Clock::now() - t0, milliseconds(5000));
    EXPECT_NE(error.message().find("timed out"), std::string::npos) << error.toString();
  }, options);
}

// abort() from another thread must wake a rank asleep on its doorbell, and
// its connections must then report Aborted.
void abortWakesSleeper(const char* transport) {
  ScopedEnv forced("STRATA_TRANSPORT", transport);
  std::atomic<ConnectionManager*> sleeper{nullptr};
  std::atomic<bool> woke{false};
  runRanks(Launch::kThreads, 2, [&](RankContext& ctx) {
    ConnectionManager& m = ctx.manager;
    if (ctx.rank == 0) {
      auto recv = m.recv(1, 0);
      ASSERT_TRUE(recv.ok());
      sleeper = &m;
      auto t0 = Clock::now();
      Status h;
      while (Clock::now() - t0 < std::chrono::seconds(20)) {
        DoorbellWait wait(m.doorbell());
        EXPECT_EQ(recv.value()->peek(nullptr), nullptr);
        h = recv.value()->health();
        if (!h.ok()) break;
        wait.sleep(std::chrono::seconds(20));
      }
      woke = true;
      EXPECT_LT(Clock::now() - t0, std::chrono::seconds(5));
      EXPECT_EQ(h.code(), Code::kRemoteError);
      EXPECT_NE(h.message().find("aborted"), std::string::npos) << h.toString();
      EXPECT_FALSE(m.send(1, 0).ok()) << "an aborted manager handed out a connection";
      return;
    }
    while (sleeper.load() == nullptr) std::this_thread::sleep_for(milliseconds(1));
    // Wait until rank 0 really sleeps, then abort it.
    auto t0 = Clock::now();
    while (sleeper.load()->doorbell()->sleepers.load() == 0 &&
           Clock::now() - t0 < std::chrono::seconds(10)) {
      std::this_thread::sleep_for(milliseconds(1));
    }
    std::this_thread::sleep_for(milliseconds(20));
    sleeper.load()->abort();
  });
  EXPECT_TRUE(woke.load());
}

TEST(Abort, WakesLoopbackSleeper) { abortWakesSleeper("loopback"); }
TEST(Abort, WakesShmSleeper) { abortWakesSleeper("shm"); }
TEST(Abort, WakesTcpSleeper) { abortWakesSleeper("tcp"); }

TEST(Abort, ExternalFlagFailsHealth) {
  // The communicator's flag (here the test bootstrap's) reaches the connections.
  runRanks(Launch::kThreads, 1, [](RankContext& ctx) {
    auto send = ctx.manager.send(0, 0);
    ASSERT_TRUE(send.ok());
    EXPECT_TRUE(send.value()->health().ok());
    ctx.bootstrap.abort();
    EXPECT_FALSE(send.value()->health().ok());
  }, RunOptions{3, milliseconds(20000), 60, false, nullptr});
}

}  // namespace
}  // namespace strata::transport::testing
