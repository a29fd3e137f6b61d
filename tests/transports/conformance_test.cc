// The connection contract, written once and run for every transport and
// launch style: ping-pong, long streams with wraparound, several channels,
// both directions, empty and partial slots, all-to-all among 2..4 ranks.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/ranks.h"
#include "transport_harness.h"

namespace strata::transport::testing {
namespace {

using strata::testing::ScopedEnv;

struct Case {
  const char* name;
  const char* transport;  // STRATA_TRANSPORT
  Launch launch;
};

std::string caseName(const ::testing::TestParamInfo<Case>& info) { return info.param.name; }

class Conformance : public ::testing::TestWithParam<Case> {
 protected:
  // Small FIFOs so that every stream wraps around many times.
  Conformance()
      : transport_("STRATA_TRANSPORT", GetParam().transport),
        shmSlot_("STRATA_SHM_SLOT_BYTES", "65536"),
        shmSlots_("STRATA_SHM_NSLOTS", "4"),
        tcpSlot_("STRATA_TCP_SLOT_BYTES", "65536"),
        tcpSlots_("STRATA_TCP_NSLOTS", "4") {}

  void run(int n, const std::function<void(RankContext&)>& fn) {
    runRanks(GetParam().launch, n, [&](RankContext& ctx) {
      for (int p = 0; p < ctx.nranks; ++p) {
        if (p == ctx.rank) continue;
        EXPECT_STREQ(ctx.manager.transportFor(p), GetParam().transport) << "peer " << p;
      }
      EXPECT_EQ(ctx.manager.minSlotCapacityBytes(), 65536u);
      EXPECT_EQ(ctx.manager.minFifoCapacityBytes(), 4u * 65536u);
      fn(ctx);
    });
  }

 private:
  ScopedEnv transport_, shmSlot_, shmSlots_, tcpSlot_, tcpSlots_;
};

TEST_P(Conformance, PingPongOneSlot) {
  run(2, [this](RankContext& ctx) {
    ConnectionManager& m = ctx.manager;
    int peer = 1 - ctx.rank;
    auto send = m.send(peer, 0);
    auto recv = m.recv(peer, 0);
    ASSERT_TRUE(send.ok()) << send.status().toString();
    ASSERT_TRUE(recv.ok()) << recv.status().toString();
    EXPECT_STREQ(send.value()->transportName(), GetParam().transport);
    for (int round = 0; round < 200; ++round) {
      const size_t n = 1 + (round * 37) % 3000;
      uint64_t key = streamKey(0, 1, round);
      if ((round % 2) == ctx.rank) {
        size_t cap = 0;
        void* slot = acquireWait(m, send.value(), &cap);
        ASSERT_NE(slot, nullptr);
        ASSERT_GE(cap, n);
        fillPattern(key, 0, slot, n);
        send.value()->post(n);
      } else {
        size_t bytes = 0;
        const void* slot = peekWait(m, recv.value(), &bytes);
        ASSERT_NE(slot, nullptr);
        ASSERT_EQ(bytes, n);
        ASSERT_EQ(checkPattern(key, 0, slot, bytes), -1) << "round " << round;
        recv.value()->release();
      }
    }
    // Everything posted was taken.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!send.value()->idle() && std::chrono::steady_clock::now() < deadline) {
      DoorbellWait wait(m.doorbell());
      if (!send.value()->idle()) wait.sleep(std::chrono::milliseconds(5));
    }
    EXPECT_TRUE(send.value()->idle());
    EXPECT_TRUE(send.value()->health().ok());
    EXPECT_TRUE(recv.value()->health().ok());
  });
}

TEST_P(Conformance, StreamWithWraparound) {
  // 400 slots of mostly 64 KiB: ~20 MiB through a 4-slot FIFO.
  run(2, [](RankContext& ctx) {
    if (ctx.rank == 0) {
      exchange(ctx, {{1, 0, 400}}, {});
    } else {
      exchange(ctx, {}, {{0, 0, 400}});
    }
  });
}

TEST_P(Conformance, SeveralChannelsAtOnce) {
  run(2, [](RankContext& ctx) {
    std::vector<Stream> streams;
    for (int ch = 0; ch < 3; ++ch) streams.push_back({1 - ctx.rank, ch, 60u + 10u * ch});
    if (ctx.rank == 0) {
      exchange(ctx, streams, {});
    } else {
      exchange(ctx, {}, streams);
    }
  });
}

TEST_P(Conformance, BothDirectionsAtOnce) {
  run(2, [](RankContext& ctx) {
    std::vector<Stream> streams = {{1 - ctx.rank, 0, 150}, {1 - ctx.rank, 2, 90}};
    exchange(ctx, streams, streams);
  });
}

TEST_P(Conformance, EmptyAndPartialSlots) {
  // Every slot size of the schedule, many times over, including 0 and 1 byte.
  run(2, [](RankContext& ctx) {
    ConnectionManager& m = ctx.manager;
    int peer = 1 - ctx.rank;
    const size_t sizes[] = {0, 1, 0, 0, 63, 64, 65, 65535, 65536, 4096, 0, 1, 32768, 32769, 7};
    if (ctx.rank == 0) {
      auto c = m.send(peer, 1);
      ASSERT_TRUE(c.ok()) << c.status().toString();
      for (int rep = 0; rep < 4; ++rep) {
        for (size_t i = 0; i < std::size(sizes); ++i) {
          size_t cap = 0;
          void* slot = acquireWait(m, c.value(), &cap);
          ASSERT_NE(slot, nullptr);
          fillPattern(streamKey(rep, 0, static_cast<int>(i)), 0, slot, sizes[i]);
          c.value()->post(sizes[i]);
        }
      }
    } else {
      auto c = m.recv(peer, 1);
      ASSERT_TRUE(c.ok()) << c.status().toString();
      for (int rep = 0; rep < 4; ++rep) {
        for (size_t i = 0; i < std::size(sizes); ++i) {
          size_t bytes = 12345;
          const void* slot = peekWait(m, c.value(), &bytes);
          ASSERT_NE(slot, nullptr);
          ASSERT_EQ(bytes, sizes[i]) << "rep " << rep << " slot " << i;
          EXPECT_EQ(checkPattern(streamKey(rep, 0, static_cast<int>(i)), 0, slot, bytes), -1);
          c.value()->release();
        }
      }
    }
  });
}

void allToAll(RankContext& ctx) {
  std::vector<Stream> out, in;
  for (int p = 0; p < ctx.nranks; ++p) {
    // Self included: a rank can send to itself through memory.
    out.push_back({p, (ctx.rank + p) % 3, 40});
    in.push_back({p, (ctx.rank + p) % 3, 40});
  }
  exchange(ctx, out, in);
}

TEST_P(Conformance, AllToAllTwoRanks) { run(2, allToAll); }
TEST_P(Conformance, AllToAllThreeRanks) { run(3, allToAll); }
TEST_P(Conformance, AllToAllFourRanks) { run(4, allToAll); }

INSTANTIATE_TEST_SUITE_P(
    Transports, Conformance,
    ::testing::Values(Case{"LoopbackThreads", "loopback", Launch::kThreads},
                      Case{"ShmThreads", "shm", Launch::kThreads},
                      Case{"ShmProcesses", "shm", Launch::kProcesses},
                      Case{"TcpThreads", "tcp", Launch::kThreads},
                      Case{"TcpProcesses", "tcp", Launch::kProcesses}),
    caseName);

}  // namespace
}  // namespace strata::transport::testing
