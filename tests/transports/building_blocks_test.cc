// The pieces under the connections: doorbell, FIFO, segment, descriptor
// encoding and the tcp part split.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <new>
#include <thread>

#include "support/ranks.h"
#include "transports/descriptor.h"
#include "transports/fifo.h"
#include "transports/segment.h"
#include "transports/tcp_link.h"

namespace strata::transport {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

template <typename T>
T* sharedObject() {
  void* p = mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  EXPECT_NE(p, MAP_FAILED);
  return new (p) T();
}

template <typename T>
void freeShared(T* t) {
  t->~T();
  munmap(t, sizeof(T));
}

TEST(Doorbell, RingWithoutSleepersStaysInUserSpace) {
  // Nobody announced: ringing leaves the sequence alone (no atomic write to
  // a line the waiter polls, no system call).
  Doorbell bell;
  ring(&bell);
  EXPECT_EQ(bell.seq.load(), 0u);
  EXPECT_EQ(bell.sleepers.load(), 0u);
}

TEST(Doorbell, RingAfterAnnounceEndsTheSleepAtOnce) {
  // The window the protocol closes: a ring after the waiter announced and
  // looked at its work, but before it sleeps.
  Doorbell bell;
  uint32_t seen = announceSleep(&bell);
  EXPECT_EQ(bell.sleepers.load(), 1u);
  ring(&bell);
  EXPECT_NE(bell.seq.load(), seen);
  auto t0 = Clock::now();
  sleepOn(&bell, seen, std::chrono::seconds(5));
  EXPECT_LT(Clock::now() - t0, milliseconds(500));
  EXPECT_EQ(bell.sleepers.load(), 0u);
}

TEST(Doorbell, CancelledAnnouncementLeavesNoSleeper) {
  Doorbell bell;
  {
    DoorbellWait wait(&bell);
    EXPECT_EQ(bell.sleepers.load(), 1u);
  }
  EXPECT_EQ(bell.sleepers.load(), 0u);
  ring(&bell);
  EXPECT_EQ(bell.seq.load(), 0u);
}

TEST(Doorbell, WaitTimesOutWithoutRing) {
  Doorbell bell;
  auto t0 = Clock::now();
  DoorbellWait wait(&bell);
  wait.sleep(std::chrono::microseconds(20000));
  auto took = Clock::now() - t0;
  EXPECT_GE(took, milliseconds(15));
  EXPECT_LT(took, milliseconds(2000));
  EXPECT_EQ(bell.sleepers.load(), 0u);
}

TEST(Doorbell, RingWakesSleepingThread) {
  testing::Watchdog dog(30, "doorbell thread wake");
  Doorbell bell;
  std::atomic<bool> woke{false};
  std::thread waiter([&] {
    DoorbellWait wait(&bell);
    wait.sleep(std::chrono::seconds(20));
    woke = true;
  });
  while (bell.sleepers.load() == 0) std::this_thread::sleep_for(milliseconds(1));
  auto t0 = Clock::now();
  ring(&bell);
  waiter.join();
  EXPECT_TRUE(woke.load());
  EXPECT_LT(Clock::now() - t0, milliseconds(2000));
}

struct SharedBell {
  Doorbell bell[2];
  std::atomic<uint32_t> counter{0};
  std::atomic<int64_t> wokeAfterMs{-1};
};

TEST(Doorbell, RingWakesSleepingProcess) {
  auto* s = sharedObject<SharedBell>();
  auto codes = testing::runProcesses(
      2,
      [&](int rank) {
        if (rank == 0) {
          auto t0 = Clock::now();
          while (s->counter.load() == 0 && Clock::now() - t0 < std::chrono::seconds(20)) {
            DoorbellWait wait(&s->bell[0]);
            if (s->counter.load() == 0) wait.sleep(std::chrono::seconds(20));
          }
          s->wokeAfterMs = std::chrono::duration_cast<milliseconds>(Clock::now() - t0).count();
          return s->counter.load() != 0 ? 0 : 1;
        }
        // Ring only once the other process is asleep in the futex.
        while (s->bell[0].sleepers.load() == 0) usleep(1000);
        usleep(20000);
        s->counter.store(1);
        ring(&s->bell[0]);
        return 0;
      },
      30);
  EXPECT_EQ(codes[0], 0);
  EXPECT_EQ(codes[1], 0);
  EXPECT_GE(s->wokeAfterMs.load(), 0);
  EXPECT_LT(s->wokeAfterMs.load(), 5000);
  freeShared(s);
}

TEST(Doorbell, PingPongAcrossProcessesLosesNoWakeup) {
  // Each waiter sleeps up to 2 s per wait: one lost wakeup fails the time bound.
  auto* s = sharedObject<SharedBell>();
  constexpr uint32_t kRounds = 2000;
  auto t0 = Clock::now();
  auto codes = testing::runProcesses(
      2,
      [&](int rank) {
        for (uint32_t turn = static_cast<uint32_t>(rank); turn < 2 * kRounds; turn += 2) {
          while (true) {
            DoorbellWait wait(&s->bell[rank]);
            if (s->counter.load() == turn) break;
            wait.sleep(std::chrono::seconds(2));
          }
          s->counter.store(turn + 1);
          ring(&s->bell[1 - rank]);
        }
        return 0;
      },
      60);
  EXPECT_EQ(codes[0], 0);
  EXPECT_EQ(codes[1], 0);
  EXPECT_EQ(s->counter.load(), 2 * kRounds);
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(2));
  freeShared(s);
}

TEST(Fifo, FillsDrainsAndWraps) {
  FifoLayout layout{4, 1024};
  auto mem = HeapFifo::create(layout);
  ASSERT_TRUE(mem.ok());
  FifoSender tx(mem.value()->view());
  FifoReceiver rx(mem.value()->view());
  size_t bytes = 0;
  EXPECT_EQ(rx.peek(&bytes, nullptr), nullptr);
  EXPECT_TRUE(tx.idle());
  uint64_t sent = 0, got = 0;
  for (int round = 0; round < 60; ++round) {
    // Fill until full, then drain 1..4 slots: the ring position moves each round.
    while (true) {
      size_t cap = 0;
      void* p = tx.acquire(&cap);
      if (p == nullptr) break;
      ASSERT_EQ(cap, 1024u);
      std::memset(p, static_cast<int>(sent & 0xff), sent % 1025);
      tx.post(sent % 1025);
      ++sent;
    }
    ASSERT_EQ(sent - got, 4u) << "a FIFO of 4 slots held " << sent - got;
    EXPECT_FALSE(tx.idle());
    for (int i = 0; i <= round % 4; ++i) {
      bool corrupt = false;
      const char* p = rx.peek(&bytes, &corrupt);
      ASSERT_NE(p, nullptr);
      ASSERT_FALSE(corrupt);
      ASSERT_EQ(bytes, got % 1025);
      for (size_t b = 0; b < bytes; ++b) ASSERT_EQ(static_cast<uint8_t>(p[b]), got & 0xff);
      rx.release();
      ++got;
    }
  }
  while (rx.peek(&bytes, nullptr) != nullptr) {
    rx.release();
    ++got;
  }
  EXPECT_EQ(got, sent);
  EXPECT_TRUE(tx.idle());
}

TEST(Fifo, OversizedCountIsWithheldAsCorrupt) {
  FifoLayout layout{2, 1024};
  auto mem = HeapFifo::create(layout);
  ASSERT_TRUE(mem.ok());
  FifoView v = mem.value()->view();
  v.bytes(0).store(1025);
  v.head().store(1);
  FifoReceiver rx(v);
  bool corrupt = false;
  size_t bytes = 0;
  EXPECT_EQ(rx.peek(&bytes, &corrupt), nullptr);
  EXPECT_TRUE(corrupt);
}

TEST(Fifo, ProducerConsumerThreadsWithDoorbells) {
  testing::Watchdog dog(60, "fifo threads");
  FifoLayout layout{8, 4096};
  auto mem = HeapFifo::create(layout);
  ASSERT_TRUE(mem.ok());
  Doorbell txBell, rxBell;
  constexpr uint64_t kSlots = 50000;
  std::thread producer([&] {
    FifoSender tx(mem.value()->view());
    for (uint64_t k = 0; k < kSlots;) {
      void* p = tx.acquire(nullptr);
      if (p == nullptr) {
        // Announce, look again, then sleep: the protocol of connection.h.
        DoorbellWait wait(&txBell);
        if (tx.acquire(nullptr) == nullptr) wait.sleep(std::chrono::milliseconds(100));
        continue;
      }
      std::memcpy(p, &k, sizeof(k));
      tx.post(sizeof(k) + k % 100);
      ring(&rxBell);
      ++k;
    }
  });
  FifoReceiver rx(mem.value()->view());
  for (uint64_t k = 0; k < kSlots;) {
    size_t bytes = 0;
    const char* p = rx.peek(&bytes, nullptr);
    if (p == nullptr) {
      DoorbellWait wait(&rxBell);
      if (rx.peek(&bytes, nullptr) == nullptr) wait.sleep(std::chrono::milliseconds(100));
      continue;
    }
    uint64_t v = 0;
    std::memcpy(&v, p, sizeof(v));
    ASSERT_EQ(v, k);
    ASSERT_EQ(bytes, sizeof(k) + k % 100);
    rx.release();
    ring(&txBell);
    ++k;
  }
  producer.join();
}

TEST(Segment, SharedSegmentIsValidatedAndUnlinked) {
  FifoLayout layout{4, 8192};
  std::string name = makeSegmentName(0x1234, 3, static_cast<uint64_t>(getpid()) * 7919);
  ASSERT_TRUE(isValidSegmentName(name)) << name;
  auto seg = Segment::createShared(name, 3, 6, layout);
  ASSERT_TRUE(seg.ok()) << seg.status().toString();
  EXPECT_EQ(seg.value()->nfifos(), 6u);
  EXPECT_TRUE(seg.value()->reserveFifo(5).ok());
  EXPECT_FALSE(seg.value()->reserveFifo(6).ok());
  EXPECT_FALSE(seg.value()->fifo(6).ok());

  auto other = Segment::openShared(name, 3, getpid());
  ASSERT_TRUE(other.ok()) << other.status().toString();
  // Both mappings see the same FIFO and doorbell.
  auto a = seg.value()->fifo(2);
  auto b = other.value()->fifo(2);
  ASSERT_TRUE(a.ok() && b.ok());
  a.value().head().store(42);
  EXPECT_EQ(b.value().head().load(), 42u);
  // A ring through one mapping reaches a sleeper announced through the
  // other (a ring with nobody asleep leaves the word alone).
  uint32_t seen = announceSleep(other.value()->doorbell());
  ring(seg.value()->doorbell());
  EXPECT_NE(other.value()->doorbell()->seq.load(), seen);
  cancelSleep(other.value()->doorbell());

  EXPECT_FALSE(Segment::openShared(name, 2, getpid()).ok()) << "wrong rank accepted";
  EXPECT_FALSE(Segment::openShared(name, 3, getpid() + 1).ok()) << "wrong pid accepted";
  seg.value()->unlink();
  EXPECT_FALSE(Segment::openShared(name, 3, getpid()).ok()) << "name still linked";
  EXPECT_EQ(a.value().head().load(), 42u) << "mapping must outlive the name";
}

TEST(Segment, NamesAreValidated) {
  EXPECT_TRUE(isValidSegmentName(makeSegmentName(~0ull, 1234567, ~0ull)));
  EXPECT_FALSE(isValidSegmentName(""));
  EXPECT_FALSE(isValidSegmentName("/strata-"));
  EXPECT_FALSE(isValidSegmentName("/strata-../../etc/passwd"));
  EXPECT_FALSE(isValidSegmentName("/strata-a/b"));
  EXPECT_FALSE(isValidSegmentName("/other-1234"));
  EXPECT_FALSE(isValidSegmentName("/strata-" + std::string(200, 'a')));
}

TEST(Segment, LocalRegistryForgetsDestroyedSegments) {
  auto seg = Segment::createPrivate(0, 2, FifoLayout{2, 1024});
  ASSERT_TRUE(seg.ok());
  Segment::registerLocal(0xabcdef, seg.value());
  EXPECT_EQ(Segment::findLocal(0xabcdef), seg.value());
  seg = Status(Code::kInternalError, "drop");
  EXPECT_EQ(Segment::findLocal(0xabcdef), nullptr);
}

RankDescriptor sampleDescriptor() {
  RankDescriptor d;
  d.rank = 2;
  d.nranks = 4;
  d.nchannels = 3;
  d.mode = TransportMode::kTcp;
  d.hostId = "host|boot|net:1";
  d.process = selfProcessInfo();
  d.processToken = 77;
  d.localKey = 99;
  d.shmName = makeSegmentName(5, 2, 6);
  d.memory = FifoLayout{8, 65536};
  d.hasListener = true;
  d.listener = net::Address::parse("127.0.0.1:4242").value();
  d.tcp = TcpParams{1 << 20, 4, 2};
  return d;
}

TEST(Descriptor, RoundTrips) {
  RankDescriptor d = sampleDescriptor();
  auto back = RankDescriptor::decode(d.encode());
  ASSERT_TRUE(back.ok()) << back.status().toString();
  EXPECT_EQ(back.value().rank, 2);
  EXPECT_EQ(back.value().hostId, d.hostId);
  EXPECT_EQ(back.value().process.pid, d.process.pid);
  EXPECT_EQ(back.value().shmName, d.shmName);
  EXPECT_EQ(back.value().memory.slotBytes, 65536u);
  EXPECT_EQ(back.value().listener.toString(), "127.0.0.1:4242");
  EXPECT_EQ(back.value().tcp.nsocks, 2u);
  EXPECT_EQ(back.value().mode, TransportMode::kTcp);
}

TEST(Descriptor, RejectsTruncatedExtendedAndCorrupted) {
  std::string good = sampleDescriptor().encode();
  for (size_t n = 0; n < good.size(); ++n) {
    EXPECT_FALSE(RankDescriptor::decode(good.substr(0, n)).ok()) << "truncated to " << n;
  }
  EXPECT_FALSE(RankDescriptor::decode(good + "x").ok());
  EXPECT_FALSE(RankDescriptor::decode(std::string(100000, 'a')).ok());
  // Flipping any byte either still decodes or fails cleanly; never crashes.
  for (size_t i = 0; i < good.size(); ++i) {
    for (uint8_t flip : {0x01, 0x80, 0xff}) {
      std::string bad = good;
      bad[i] = static_cast<char>(bad[i] ^ flip);
      auto d = RankDescriptor::decode(bad);
      if (d.ok()) {
        EXPECT_GE(d.value().rank, 0);
        EXPECT_LT(d.value().rank, d.value().nranks);
        EXPECT_TRUE(isValidSegmentName(d.value().shmName));
      }
    }
  }
}

TEST(TcpParts, CoverEachSlotExactlyOnce) {
  for (uint32_t nsocks : {1u, 2u, 3u, 4u, 7u, 64u}) {
    for (uint64_t total : {0ull, 1ull, 63ull, 64ull, 32767ull, 32768ull, 32769ull, 100000ull,
                           (1ull << 20) - 1, 1ull << 20, 12345678ull}) {
      uint32_t n = partsFor(total, nsocks);
      ASSERT_GE(n, 1u);
      ASSERT_LE(n, nsocks);
      uint64_t next = 0;
      for (uint32_t p = 0; p < n; ++p) {
        uint64_t off = 0, len = 0;
        partRange(total, n, p, &off, &len);
        ASSERT_EQ(off, next) << "total " << total << " part " << p;
        next = off + len;
      }
      EXPECT_EQ(next, total);
    }
  }
}

}  // namespace
}  // namespace strata::transport
