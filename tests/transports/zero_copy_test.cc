// Sending from and receiving into the caller's memory (SendConnection::
// postReference, RecvConnection::postTarget): every transport delivers
// referenced bytes exactly (tcp reads them later, the memory transports copy
// at once); over tcp, idle() means the referenced bytes are out of the
// caller's memory, withdrawals keep the stream intact, targets receive whole
// slots in place and leave everything else to the FIFO, and a peer that dies
// mid-transfer is a prompt error.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "net/auth.h"
#include "support/ranks.h"
#include "transport_harness.h"
#include "transports/tcp_transport.h"
#include "transports/wire.h"

namespace strata::transport::testing {
namespace {

using strata::testing::ScopedEnv;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Waits (on the doorbell) until every posted slot of `c` has been taken.
bool waitIdle(ConnectionManager& m, SendConnection* c, milliseconds timeout = milliseconds(20000)) {
  auto deadline = Clock::now() + timeout;
  while (!c->idle()) {
    if (!c->health().ok() || Clock::now() > deadline) return false;
    DoorbellWait wait(m.doorbell());
    if (!c->idle()) wait.sleep(milliseconds(5));
  }
  return true;
}

// Posts one slot per entry of `sizes`, filled with the stream's pattern
// from *pos on (advanced), then waits until the receiver took them all.
::testing::AssertionResult sendPattern(ConnectionManager& m, SendConnection* c, uint64_t key,
                                       uint64_t* pos, const std::vector<size_t>& sizes) {
  for (size_t n : sizes) {
    void* p = acquireWait(m, c, nullptr);
    if (p == nullptr) return ::testing::AssertionFailure() << "no send slot at " << *pos;
    fillPattern(key, *pos, p, n);
    c->post(n);
    *pos += n;
  }
  if (!waitIdle(m, c)) return ::testing::AssertionFailure() << "slots not taken up to " << *pos;
  return ::testing::AssertionSuccess();
}

// Slot sizes around the part boundaries of a 256 KiB slot (parts of at
// least 32 KiB, cache-line aligned): one part, two, up to four.
const size_t kSizes[] = {1,     7,     64,    65,     4095,   32767,  32768,  32769,
                         65535, 65536, 65537, 100000, 131072, 196613, 262143, 262144};
constexpr size_t kSlot = 256 * 1024;

struct Case {
  const char* name;
  const char* transport;
  Launch launch;
  const char* nsocks;  // STRATA_NSOCKS_PERTHREAD
};

std::string caseName(const ::testing::TestParamInfo<Case>& info) { return info.param.name; }

class References : public ::testing::TestWithParam<Case> {
 protected:
  References()
      : transport_("STRATA_TRANSPORT", GetParam().transport),
        socks_("STRATA_NSOCKS_PERTHREAD", GetParam().nsocks),
        shmSlot_("STRATA_SHM_SLOT_BYTES", std::to_string(kSlot)),
        tcpSlot_("STRATA_TCP_SLOT_BYTES", std::to_string(kSlot)),
        shmSlots_("STRATA_SHM_NSLOTS", "4"),
        tcpSlots_("STRATA_TCP_NSLOTS", "4") {}

 private:
  ScopedEnv transport_, socks_, shmSlot_, tcpSlot_, shmSlots_, tcpSlots_;
};

// Every size, referenced and copied slots interleaved, three rounds; the
// source changes as soon as the contract allows (after postReference for a
// copying transport, after idle() for one that reads later), so a transport
// that reads referenced bytes too late, or from the wrong place, is caught.
TEST_P(References, DeliverEveryByteOfEverySize) {
  runRanks(GetParam().launch, 2, [](RankContext& ctx) {
    ConnectionManager& m = ctx.manager;
    const uint64_t key = streamKey(0, 1, 0);
    const int rounds = 3;
    size_t total = 0;
    for (size_t n : kSizes) total += n;
    total *= rounds;
    if (ctx.rank == 0) {
      auto c = m.send(1, 0);
      ASSERT_TRUE(c.ok()) << c.status().toString();
      SendConnection* send = c.value();
      std::vector<char> stream(total);
      fillPattern(key, 0, stream.data(), total);
      size_t pos = 0, k = 0;
      std::vector<std::pair<size_t, size_t>> pending;  // referenced ranges not yet idle
      for (int round = 0; round < rounds; ++round) {
        for (size_t n : kSizes) {
          size_t cap = 0;
          void* slot = acquireWait(m, send, &cap);
          ASSERT_NE(slot, nullptr);
          ASSERT_GE(cap, n);
          if (k++ % 3 == 2) {
            std::memcpy(slot, stream.data() + pos, n);
            send->post(n);
          } else {
            send->postReference(stream.data() + pos, n);
            if (send->supportsReferences()) {
              pending.emplace_back(pos, n);
            } else {
              std::memset(stream.data() + pos, 0x5a, n);  // already copied
            }
          }
          pos += n;
        }
        // Idle: no referenced byte is needed any more.
        ASSERT_TRUE(waitIdle(m, send));
        for (auto [at, n] : pending) std::memset(stream.data() + at, 0xa5, n);
        pending.clear();
      }
      EXPECT_TRUE(send->health().ok()) << send->health().toString();
    } else {
      auto c = m.recv(0, 0);
      ASSERT_TRUE(c.ok()) << c.status().toString();
      size_t pos = 0;
      for (int round = 0; round < rounds; ++round) {
        for (size_t n : kSizes) {
          size_t bytes = 0;
          const void* slot = peekWait(m, c.value(), &bytes);
          ASSERT_NE(slot, nullptr);
          ASSERT_EQ(bytes, n);
          ASSERT_EQ(checkPattern(key, pos, slot, bytes), -1) << "slot of " << n << " bytes, round " << round;
          c.value()->release();
          pos += n;
        }
      }
    }
  });
}

INSTANTIATE_TEST_SUITE_P(
    Transports, References,
    ::testing::Values(Case{"LoopbackThreads", "loopback", Launch::kThreads, "2"},
                      Case{"ShmProcesses", "shm", Launch::kProcesses, "2"},
                      Case{"TcpThreadsOneSocket", "tcp", Launch::kThreads, "1"},
                      Case{"TcpThreadsTwoSockets", "tcp", Launch::kThreads, "2"},
                      Case{"TcpThreadsFourSockets", "tcp", Launch::kThreads, "4"},
                      Case{"TcpProcessesThreeSockets", "tcp", Launch::kProcesses, "3"}),
    caseName);

class TcpZeroCopy : public ::testing::Test {
 protected:
  TcpZeroCopy() : transport_("STRATA_TRANSPORT", "tcp") {}

 private:
  ScopedEnv transport_;
};

// More than the sockets can buffer goes out by reference while the
// receiver reads slowly; once idle() says so, the sender scribbles over its
// memory, and the receiver still gets every byte.
TEST_F(TcpZeroCopy, IdleMeansTheReferencedBytesLeftTheCallersMemory) {
  ScopedEnv slot("STRATA_TCP_SLOT_BYTES", "1048576");
  constexpr size_t kSlots = 48;
  constexpr size_t kBytes = kSlots << 20;
  runRanks(Launch::kThreads, 2, [](RankContext& ctx) {
    ConnectionManager& m = ctx.manager;
    const uint64_t key = streamKey(0, 1, 1);
    if (ctx.rank == 0) {
      auto c = m.send(1, 1);
      ASSERT_TRUE(c.ok());
      std::vector<char> src(kBytes);
      fillPattern(key, 0, src.data(), kBytes);
      for (size_t i = 0; i < kSlots; ++i) {
        ASSERT_NE(acquireWait(m, c.value(), nullptr), nullptr);
        c.value()->postReference(src.data() + (i << 20), 1 << 20);
      }
      ASSERT_TRUE(waitIdle(m, c.value()));
      // The last slots first: had idle() come early, they are the ones the
      // sockets could not take yet.
      for (size_t i = kSlots; i-- > 0;) std::memset(src.data() + (i << 20), 0, 1 << 20);
    } else {
      auto c = m.recv(0, 1);
      ASSERT_TRUE(c.ok());
      for (size_t i = 0; i < kSlots; ++i) {
        std::this_thread::sleep_for(milliseconds(4));
        size_t bytes = 0;
        const void* p = peekWait(m, c.value(), &bytes);
        ASSERT_NE(p, nullptr);
        ASSERT_EQ(bytes, size_t{1} << 20);
        ASSERT_EQ(checkPattern(key, i << 20, p, bytes), -1) << "slot " << i;
        c.value()->release();
      }
    }
  });
}

// The receiver does not read until the sender is stuck with references the
// sockets cannot take; the sender withdraws them and overwrites its memory.
// The stream must still arrive intact, and the link stay healthy.
TEST_F(TcpZeroCopy, WithdrawnReferencesStillDeliverTheOriginalBytes) {
  ScopedEnv slot("STRATA_TCP_SLOT_BYTES", "1048576");
  constexpr size_t kMaxBytes = size_t{160} << 20;
  std::atomic<size_t> sentSlots{0};
  runRanks(Launch::kThreads, 2, [&](RankContext& ctx) {
    ConnectionManager& m = ctx.manager;
    const uint64_t key = streamKey(0, 1, 2);
    if (ctx.rank == 0) {
      auto c = m.send(1, 2);
      ASSERT_TRUE(c.ok());
      SendConnection* send = c.value();
      std::vector<char> src(kMaxBytes);
      fillPattern(key, 0, src.data(), kMaxBytes);
      size_t i = 0;
      for (; (i + 1) << 20 <= kMaxBytes; ++i) {
        // Stuck: no slot frees up for a while.
        auto t0 = Clock::now();
        void* p = nullptr;
        while ((p = send->acquire(nullptr)) == nullptr && Clock::now() - t0 < milliseconds(300)) {
          std::this_thread::sleep_for(milliseconds(1));
        }
        if (p == nullptr) break;
        send->postReference(src.data() + (i << 20), 1 << 20);
      }
      ASSERT_LT(i << 20, kMaxBytes) << "the sockets took everything; nothing left to withdraw";
      ASSERT_FALSE(send->idle());
      auto t0 = Clock::now();
      send->withdrawReferences();
      EXPECT_LT(Clock::now() - t0, std::chrono::seconds(2));
      std::memset(src.data(), 0x77, kMaxBytes);
      sentSlots = i;
      ASSERT_TRUE(ctx.bootstrap.barrier().ok());
      EXPECT_TRUE(waitIdle(m, send));
      EXPECT_TRUE(send->health().ok()) << send->health().toString();
    } else {
      auto c = m.recv(0, 2);
      ASSERT_TRUE(c.ok());
      ASSERT_TRUE(ctx.bootstrap.barrier().ok());
      for (size_t i = 0; i < sentSlots.load(); ++i) {
        size_t bytes = 0;
        const void* p = peekWait(m, c.value(), &bytes);
        ASSERT_NE(p, nullptr);
        ASSERT_EQ(bytes, size_t{1} << 20);
        ASSERT_EQ(checkPattern(key, i << 20, p, bytes), -1) << "slot " << i << " of " << sentSlots.load();
        c.value()->release();
      }
    }
  }, RunOptions{3, milliseconds(20000), 120, true, nullptr});
}

// Sizes of the slots a target test sends, and the stream ranges it targets.
struct Range {
  uint64_t begin, end;
};

std::vector<size_t> targetTestSlots() {
  std::vector<size_t> sizes;
  for (int r = 0; r < 3; ++r) {
    for (size_t n : kSizes) sizes.push_back(n);
  }
  return sizes;
}

class Targets : public ::testing::TestWithParam<const char*> {
 protected:
  Targets()
      : transport_("STRATA_TRANSPORT", "tcp"),
        socks_("STRATA_NSOCKS_PERTHREAD", GetParam()),
        slot_("STRATA_TCP_SLOT_BYTES", std::to_string(kSlot)),
        slots_("STRATA_TCP_NSLOTS", "4") {}
  bool oneSocket() const { return std::string(GetParam()) == "1"; }

 private:
  ScopedEnv transport_, socks_, slot_, slots_;
};

// Targets posted before anything is sent: a slot wholly inside one lands
// there (always with one socket, where slots open in order; with several a
// slot whose header overtakes its predecessor's goes to the FIFO), a slot
// that straddles a target's edge lands in the FIFO, and bytes outside the
// slots a target received stay untouched.
TEST_P(Targets, WholeSlotsLandInPlaceTheRestInTheFifo) {
  const bool exact = oneSocket();
  runRanks(Launch::kThreads, 2, [exact](RankContext& ctx) {
    ConnectionManager& m = ctx.manager;
    const uint64_t key = streamKey(0, 1, 0);
    const std::vector<size_t> sizes = targetTestSlots();
    uint64_t total = 0;
    for (size_t n : sizes) total += n;
    if (ctx.rank == 0) {
      auto c = m.send(1, 0);
      ASSERT_TRUE(c.ok());
      ASSERT_TRUE(ctx.bootstrap.barrier().ok());  // targets are posted
      uint64_t pos = 0;
      ASSERT_TRUE(sendPattern(m, c.value(), key, &pos, sizes));
      return;
    }
    auto c = m.recv(0, 0);
    ASSERT_TRUE(c.ok());
    RecvConnection* recv = c.value();
    ASSERT_TRUE(recv->supportsTargets());
    ASSERT_EQ(recv->position(), 0u);
    // Slot boundaries of the stream.
    std::vector<uint64_t> starts;
    uint64_t at = 0;
    for (size_t n : sizes) {
      starts.push_back(at);
      at += n;
    }
    // Three targets: whole slots 2..9; from the middle of slot 12 to the
    // end of slot 20; slots 30..end exactly.
    std::vector<Range> ranges = {{starts[2], starts[10]},
                                 {starts[12] + 5, starts[21]},
                                 {starts[30], total}};
    std::vector<std::vector<char>> mem;
    for (const Range& r : ranges) {
      mem.emplace_back(r.end - r.begin, static_cast<char>(0x3c));
      recv->postTarget(r.begin, mem.back().data(), r.end - r.begin);
    }
    ASSERT_TRUE(ctx.bootstrap.barrier().ok());
    size_t landed = 0;
    std::vector<std::vector<bool>> written(ranges.size());
    for (size_t t = 0; t < ranges.size(); ++t) written[t].assign(ranges[t].end - ranges[t].begin, false);
    for (size_t k = 0; k < sizes.size(); ++k) {
      size_t bytes = 0;
      const char* p = static_cast<const char*>(peekWait(m, recv, &bytes));
      ASSERT_NE(p, nullptr);
      ASSERT_EQ(bytes, sizes[k]);
      ASSERT_EQ(recv->position(), starts[k]);
      ASSERT_EQ(checkPattern(key, starts[k], p, bytes), -1) << "slot " << k;
      int inside = -1;  // the target holding the slot wholly, if any
      for (size_t t = 0; t < ranges.size(); ++t) {
        if (starts[k] >= ranges[t].begin && starts[k] + bytes <= ranges[t].end) inside = static_cast<int>(t);
      }
      bool inTarget = false;
      for (size_t t = 0; t < ranges.size(); ++t) {
        const char* b = mem[t].data();
        if (p >= b && p < b + mem[t].size()) {
          inTarget = true;
          ASSERT_EQ(static_cast<int>(t), inside) << "slot " << k << " landed in the wrong target";
          ASSERT_EQ(p, b + (starts[k] - ranges[t].begin)) << "slot " << k << " at the wrong place";
          for (size_t i = 0; i < bytes; ++i) written[t][starts[k] - ranges[t].begin + i] = true;
        }
      }
      if (exact) {
        ASSERT_EQ(inTarget, inside >= 0) << "slot " << k;
      }
      landed += inTarget;
      recv->release();
    }
    EXPECT_GT(landed, 0u);
    // What no slot was received into is as it was posted.
    for (size_t t = 0; t < ranges.size(); ++t) {
      for (size_t i = 0; i < mem[t].size(); ++i) {
        if (!written[t][i]) {
          ASSERT_EQ(mem[t][i], 0x3c) << "target " << t << " byte " << i;
        }
      }
    }
  });
}

// Slots that arrived before their target was posted are read from the FIFO;
// the ones sent after it land in place; both are right.
TEST_P(Targets, DataThatArrivesBeforeItsTargetStaysInTheFifo) {
  const bool exact = oneSocket();
  runRanks(Launch::kThreads, 2, [exact](RankContext& ctx) {
    ConnectionManager& m = ctx.manager;
    const uint64_t key = streamKey(0, 1, 1);
    constexpr size_t kEach = 100000;
    constexpr size_t kFirst = 3, kSecond = 5;
    if (ctx.rank == 0) {
      auto c = m.send(1, 1);
      ASSERT_TRUE(c.ok());
      uint64_t pos = 0;
      ASSERT_TRUE(sendPattern(m, c.value(), key, &pos, std::vector<size_t>(kFirst, kEach)));
      ASSERT_TRUE(ctx.bootstrap.barrier().ok());  // the receiver posted its target
      ASSERT_TRUE(sendPattern(m, c.value(), key, &pos, std::vector<size_t>(kSecond, kEach)));
      return;
    }
    auto c = m.recv(0, 1);
    ASSERT_TRUE(c.ok());
    RecvConnection* recv = c.value();
    // The first slot has arrived before the target exists.
    size_t bytes = 0;
    ASSERT_NE(peekWait(m, recv, &bytes), nullptr);
    std::vector<char> target((kFirst + kSecond) * kEach, 0);
    recv->postTarget(0, target.data(), target.size());
    ASSERT_TRUE(ctx.bootstrap.barrier().ok());
    for (size_t k = 0; k < kFirst + kSecond; ++k) {
      const char* p = static_cast<const char*>(peekWait(m, recv, &bytes));
      ASSERT_NE(p, nullptr);
      ASSERT_EQ(bytes, kEach);
      ASSERT_EQ(checkPattern(key, k * kEach, p, bytes), -1) << "slot " << k;
      bool inTarget = p >= target.data() && p < target.data() + target.size();
      if (k == 0) {
        EXPECT_FALSE(inTarget) << "a slot that had arrived was moved into the target";
      }
      if (k >= kFirst && exact) {
        EXPECT_TRUE(inTarget) << "slot " << k << " sent after the target";
      }
      if (inTarget) {
        EXPECT_EQ(p, target.data() + k * kEach);
      }
      recv->release();
    }
  });
}

// The receiver withdraws its targets while slots are published into them or
// still arriving, then overwrites that memory: every slot must still read
// right, from the FIFO. Several rounds, so that some withdrawals catch a
// slot half read.
TEST_P(Targets, WithdrawnTargetsKeepTheStreamIntact) {
  runRanks(Launch::kThreads, 2, [](RankContext& ctx) {
    ConnectionManager& m = ctx.manager;
    const uint64_t key = streamKey(0, 1, 2);
    constexpr size_t kRounds = 12, kPerRound = 24, kEach = kSlot;
    if (ctx.rank == 0) {
      auto c = m.send(1, 2);
      ASSERT_TRUE(c.ok());
      uint64_t pos = 0;
      ASSERT_TRUE(
          sendPattern(m, c.value(), key, &pos, std::vector<size_t>(kRounds * kPerRound, kEach)));
      return;
    }
    auto c = m.recv(0, 2);
    ASSERT_TRUE(c.ok());
    RecvConnection* recv = c.value();
    std::vector<char> target(kPerRound * kEach);
    size_t caught = 0;  // withdrawals that found a published slot in the target
    for (size_t round = 0; round < kRounds; ++round) {
      const uint64_t base = recv->position();
      ASSERT_EQ(base, round * kPerRound * kEach);
      recv->postTarget(base, target.data(), target.size());
      // The FIFO may hold the first slots of the round already; later ones
      // go to the target until it is withdrawn before slot `before`.
      const size_t before = 4 + round % 4;
      for (size_t k = 0; k < kPerRound; ++k) {
        size_t bytes = 0;
        const char* p = static_cast<const char*>(peekWait(m, recv, &bytes));
        ASSERT_NE(p, nullptr);
        if (k == before) {
          caught += p >= target.data() && p < target.data() + target.size();
          // Let more slots arrive into the target, then take it back.
          std::this_thread::sleep_for(std::chrono::microseconds(300 * (round % 4)));
          recv->withdrawTargets();
          std::memset(target.data(), 0x11, target.size());
          p = static_cast<const char*>(recv->peek(&bytes));
          ASSERT_NE(p, nullptr);
        }
        ASSERT_EQ(bytes, kEach);
        ASSERT_EQ(checkPattern(key, base + k * kEach, p, bytes), -1) << "round " << round << " slot " << k;
        bool inTarget = p >= target.data() && p < target.data() + target.size();
        if (k >= before) {
          ASSERT_FALSE(inTarget) << "round " << round << " slot " << k << " read from a withdrawn target";
        }
        recv->release();
      }
    }
    EXPECT_GT(caught, 0u);
    EXPECT_TRUE(recv->health().ok());
  });
}

INSTANTIATE_TEST_SUITE_P(Sockets, Targets, ::testing::Values("1", "2", "4"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           return std::string("Sockets") + info.param;
                         });

// A slot half read into its target when the target is withdrawn: what
// arrived moves to the FIFO slot, the rest follows it there. The sender is
// a raw connection, so the test decides where the bytes stop.
TEST(TcpTargets, WithdrawalMovesAHalfReadSlot) {
  strata::testing::Watchdog dog(60, "half-read slot");
  constexpr uint64_t kHash = 0x7a7a0001ull;
  const TcpParams geometry{65536, 4, 2};
  net::Secret secret;
  for (size_t i = 0; i < secret.bytes.size(); ++i) secret.bytes[i] = static_cast<uint8_t>(3 * i + 1);
  Doorbell bell;
  AbortState abort;
  auto listening = TcpTransport::listen(net::Address::parse("127.0.0.1:0").value());
  ASSERT_TRUE(listening.ok()) << listening.status().toString();
  std::unique_ptr<TcpTransport> tcp = std::move(listening).value();
  TcpConfig config;
  config.rank = 1;
  config.nranks = 2;
  config.nchannels = 1;
  config.secret = secret;
  config.commHash = kHash;
  config.local = geometry;
  config.timeout = milliseconds(20000);
  config.abort = &abort;
  config.bell = &bell;
  config.tcpPeers = {true, false};
  ASSERT_TRUE(tcp->start(config).ok());
  auto receiver = tcp->receiver(0, 0);
  ASSERT_TRUE(receiver.ok());
  RecvConnection* recv = receiver.value();

  // Rank 0's two data sockets, by hand.
  Deadline d = Deadline::after(milliseconds(10000));
  std::vector<net::Socket> socks;
  for (uint32_t j = 0; j < 2; ++j) {
    auto s = net::Socket::connect(tcp->address(), d);
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE(net::authenticateClient(s.value(), secret, net::Purpose::kTcpData, d).ok());
    TcpHello hello;
    hello.commHash = kHash;
    hello.src = 0;
    hello.dst = 1;
    hello.channel = 0;
    hello.socket = j;
    hello.params = geometry;
    uint8_t b[kHelloBytes];
    encodeTcpHello(hello, b);
    ASSERT_TRUE(s.value().sendAll(b, sizeof(b), d).ok());
    uint8_t ack[kAckBytes];
    ASSERT_TRUE(s.value().recvAll(ack, sizeof(ack), d).ok());
    ASSERT_EQ(wire::getU32(ack + 4), 0u);
    socks.push_back(std::move(s).value());
  }
  // One 64 KiB slot: part 0 (32 KiB) on socket 0, part 1 on socket 1.
  constexpr size_t kTotal = 65536, kPart = 32768, kEarly = 10000;
  std::vector<char> bytes(kTotal);
  fillPattern(99, 0, bytes.data(), kTotal);
  auto header = [&](uint32_t part) {
    std::vector<uint8_t> h(kPartHeaderBytes);
    wire::putU32(h.data(), kPartMagic);
    wire::putU32(h.data() + 4, part);
    wire::putU64(h.data() + 8, 0);
    wire::putU64(h.data() + 16, kTotal);
    return h;
  };
  std::vector<char> target(kTotal, 0);
  recv->postTarget(0, target.data(), kTotal);
  auto h0 = header(0);
  ASSERT_TRUE(socks[0].sendAll(h0.data(), h0.size(), d).ok());
  ASSERT_TRUE(socks[0].sendAll(bytes.data(), kEarly, d).ok());
  std::this_thread::sleep_for(milliseconds(500));  // the proxy reads them into the target
  recv->withdrawTargets();
  // The proxy had started the slot in the target (else this test proves nothing).
  ASSERT_EQ(checkPattern(99, 0, target.data(), kEarly), -1);
  std::memset(target.data(), 0x42, kTotal);
  ASSERT_TRUE(socks[0].sendAll(bytes.data() + kEarly, kPart - kEarly, d).ok());
  auto h1 = header(1);
  ASSERT_TRUE(socks[1].sendAll(h1.data(), h1.size(), d).ok());
  ASSERT_TRUE(socks[1].sendAll(bytes.data() + kPart, kTotal - kPart, d).ok());
  size_t got = 0;
  const char* p = nullptr;
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while ((p = static_cast<const char*>(recv->peek(&got))) == nullptr && Clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(1));
  }
  ASSERT_NE(p, nullptr) << recv->health().toString();
  EXPECT_EQ(got, kTotal);
  EXPECT_FALSE(p >= target.data() && p < target.data() + kTotal);
  EXPECT_EQ(checkPattern(99, 0, p, got), -1);
  recv->release();
  EXPECT_EQ(recv->position(), kTotal);
}

// A peer process killed mid-transfer: the survivor, sending by reference or
// receiving into targets, sees an error naming the peer within seconds, and
// its withdrawals return promptly (the failed link's proxy still serves them).
void peerKilledMidTransfer(bool survivorSends) {
  ScopedEnv transport("STRATA_TRANSPORT", "tcp");
  ScopedEnv slot("STRATA_TCP_SLOT_BYTES", "1048576");
  RunOptions options;
  options.finalBarrier = false;
  const int victim = 1;
  const int survivor = 0;
  auto codes = runRankProcesses(
      2,
      [&](RankContext& ctx) -> int {
        ConnectionManager& m = ctx.manager;
        const bool sends = (ctx.rank == survivor) == survivorSends;
        const int peer = 1 - ctx.rank;
        constexpr size_t kBytes = size_t{96} << 20;
        std::vector<char> mem(kBytes);
        if (sends) {
          auto c = m.send(peer, 0);
          if (!c.ok()) return 1;
          SendConnection* send = c.value();
          fillPattern(7, 0, mem.data(), kBytes);
          if (!ctx.bootstrap.barrier().ok()) return 1;
          Status error;
          for (size_t i = 0; (i + 1) << 20 <= kBytes; ++i) {
            if (ctx.rank == victim && i == 8) raise(SIGKILL);
            if (acquireWait(m, send, nullptr, milliseconds(15000), &error, true) == nullptr) break;
            send->postReference(mem.data() + (i << 20), 1 << 20);
          }
          if (ctx.rank == victim) return 1;  // not reached
          // The survivor: the victim stopped reading and died.
          EXPECT_FALSE(error.ok()) << "sent everything to a dead peer";
          EXPECT_NE(error.message().find("rank 1"), std::string::npos) << error.toString();
          auto t0 = Clock::now();
          send->withdrawReferences();
          EXPECT_LT(Clock::now() - t0, std::chrono::seconds(2));
          return ::testing::Test::HasFailure() ? 1 : 0;
        }
        auto c = m.recv(peer, 0);
        if (!c.ok()) return 1;
        RecvConnection* recv = c.value();
        recv->postTarget(0, mem.data(), kBytes);
        if (!ctx.bootstrap.barrier().ok()) return 1;
        Status error;
        auto t0 = Clock::now();
        for (size_t i = 0;; ++i) {
          if (ctx.rank == victim && i == 4) raise(SIGKILL);
          size_t bytes = 0;
          if (peekWait(m, recv, &bytes, milliseconds(15000), &error, true) == nullptr) break;
          if (checkPattern(7, i << 20, recv->peek(&bytes), bytes) != -1) {
            ADD_FAILURE() << "slot " << i << " corrupted";
            break;
          }
          recv->release();
        }
        if (ctx.rank == victim) return 1;  // not reached
        EXPECT_FALSE(error.ok());
        EXPECT_EQ(error.code(), Code::kRemoteError) << error.toString();
        EXPECT_NE(error.message().find("rank 1"), std::string::npos) << error.toString();
        EXPECT_LT(Clock::now() - t0, std::chrono::seconds(10));
        t0 = Clock::now();
        recv->withdrawTargets();
        EXPECT_LT(Clock::now() - t0, std::chrono::seconds(2));
        return ::testing::Test::HasFailure() ? 1 : 0;
      },
      options);
  EXPECT_EQ(codes[survivor], 0);
  EXPECT_EQ(codes[victim], 128 + SIGKILL);
}

TEST(TcpZeroCopyPeerKilled, SenderByReferenceSeesTheError) { peerKilledMidTransfer(true); }
TEST(TcpZeroCopyPeerKilled, ReceiverWithTargetsSeesTheError) { peerKilledMidTransfer(false); }

}  // namespace
}  // namespace strata::transport::testing
