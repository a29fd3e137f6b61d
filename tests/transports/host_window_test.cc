// Shared host buffers (windows): allocation, lookup by address and freeing in
// the owner, and mapping by another process through /proc/<pid>/fd, with
// the checks that keep a reader from mapping the wrong file or range.
#include "transports/host_window.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>

#include "support/ranks.h"

namespace strata::transport {
namespace {

using strata::testing::runProcesses;

TEST(HostWindow, AllocateFindAndFree) {
  auto w = allocateWindow(10000);
  ASSERT_TRUE(w.ok()) << w.status().message();
  char* p = static_cast<char*>(w.value());
  ASSERT_EQ(reinterpret_cast<uintptr_t>(p) % 4096, 0u);
  for (int i = 0; i < 10000; ++i) ASSERT_EQ(p[i], 0) << "byte " << i << " is not zero";
  std::memset(p, 0x5a, 10000);

  WindowRef ref;
  ASSERT_TRUE(findWindow(p, 10000, &ref));
  EXPECT_EQ(ref.base, reinterpret_cast<uintptr_t>(p));
  EXPECT_EQ(ref.bytes, 12288u);  // whole pages
  EXPECT_NE(ref.id, 0u);
  EXPECT_GE(ref.fd, 0);
  EXPECT_NE(ref.inode, 0u);
  WindowRef inner;
  ASSERT_TRUE(findWindow(p + 5000, 7288, &inner));  // up to the last byte
  EXPECT_EQ(inner.id, ref.id);
  EXPECT_FALSE(findWindow(p + 5000, 7289, &inner)) << "one byte past the window";
  EXPECT_FALSE(findWindow(p, 0, &inner)) << "zero bytes lie in no window";
  EXPECT_FALSE(findWindow(p - 1, 2, &inner)) << "starts before the window";
  int onStack = 0;
  EXPECT_FALSE(findWindow(&onStack, sizeof(onStack), &inner));

  EXPECT_TRUE(freeWindow(p));
  EXPECT_FALSE(findWindow(p, 1, &inner));
  EXPECT_FALSE(freeWindow(p)) << "a second free is refused";
  EXPECT_FALSE(freeWindow(&onStack));
}

TEST(HostWindow, ZeroBytesAreRefused) {
  auto w = allocateWindow(0);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), Code::kInvalidArgument);
}

TEST(HostWindow, CoversRejectsOverflowingRanges) {
  WindowRef ref;
  ref.id = 1;
  ref.base = UINT64_MAX - 4095;
  ref.bytes = 4096;
  EXPECT_TRUE(ref.covers(UINT64_MAX - 10, 11));
  EXPECT_FALSE(ref.covers(UINT64_MAX - 10, 12));
  EXPECT_FALSE(ref.covers(ref.base, UINT64_MAX));
  ref.id = 0;
  EXPECT_FALSE(ref.covers(UINT64_MAX - 10, 1)) << "an absent window covers nothing";
}

// Process 0 makes a window and sends its description through a pipe;
// process 1 maps it, reads what process 0 wrote, and is refused a range
// outside it and a description whose inode does not match the file.
TEST(HostWindow, AnotherProcessMapsAndReadsInPlace) {
  int toReader[2], done[2];
  ASSERT_EQ(pipe(toReader), 0);
  ASSERT_EQ(pipe(done), 0);
  struct Offer {
    int64_t pid;
    WindowRef ref;
  };
  auto codes = runProcesses(2, [&](int rank) -> int {
    if (rank == 0) {
      auto w = allocateWindow(3 * 4096);
      if (!w.ok()) return 10;
      auto* words = static_cast<uint64_t*>(w.value());
      for (size_t i = 0; i < 3 * 4096 / sizeof(uint64_t); ++i) words[i] = i * 2654435761u;
      Offer offer{getpid(), {}};
      if (!findWindow(words, 3 * 4096, &offer.ref)) return 11;
      if (write(toReader[1], &offer, sizeof(offer)) != sizeof(offer)) return 12;
      char ack = 0;
      if (read(done[0], &ack, 1) != 1) return 13;  // keep the window until the reader is done
      return freeWindow(words) ? 0 : 14;
    }
    Offer offer{};
    if (read(toReader[0], &offer, sizeof(offer)) != sizeof(offer)) return 20;
    int rc = 0;
    {
      PeerWindows peer(offer.pid, 2);
      auto got = peer.resolve(offer.ref, offer.ref.base + 4096, 8192);
      if (!got.ok()) {
        std::fprintf(stderr, "resolve: %s\n", got.status().message().c_str());
        rc = 21;
      } else {
        const auto* words = reinterpret_cast<const uint64_t*>(got.value());
        for (size_t i = 0; i < 8192 / sizeof(uint64_t) && rc == 0; ++i) {
          if (words[i] != (i + 512) * 2654435761u) rc = 22;
        }
      }
      // A second resolve of the same window reuses the mapping.
      auto again = peer.resolve(offer.ref, offer.ref.base, 8);
      if (rc == 0 && (!again.ok() || peer.mapped() != 1)) rc = 23;
      if (rc == 0 && peer.resolve(offer.ref, offer.ref.base + 8192, 4097).ok()) rc = 24;
      WindowRef forged = offer.ref;
      forged.id += 1000;  // not cached: opened again, and the inode must match
      forged.inode += 1;
      auto bad = peer.resolve(forged, forged.base, 8);
      if (rc == 0 && (bad.ok() || bad.status().message().find("is not the shared buffer") == std::string::npos)) {
        rc = 25;
      }
    }
    char ack = 1;
    if (write(done[1], &ack, 1) != 1 && rc == 0) rc = 26;
    return rc;
  }, 60);
  for (int fd : {toReader[0], toReader[1], done[0], done[1]}) close(fd);
  EXPECT_EQ(codes[0], 0) << "owner";
  EXPECT_EQ(codes[1], 0) << "reader";
}

// Mappings beyond the cache's capacity are dropped, least recently used
// first (here: windows of this process, opened through /proc/self's pid).
TEST(HostWindow, PeerCacheKeepsAtMostItsCapacity) {
  PeerWindows peer(getpid(), 2);
  void* bufs[3];
  WindowRef refs[3];
  for (int i = 0; i < 3; ++i) {
    auto w = allocateWindow(4096);
    ASSERT_TRUE(w.ok());
    bufs[i] = w.value();
    static_cast<char*>(bufs[i])[0] = static_cast<char>('a' + i);
    ASSERT_TRUE(findWindow(bufs[i], 1, &refs[i]));
  }
  for (int i = 0; i < 3; ++i) {
    auto got = peer.resolve(refs[i], refs[i].base, 1);
    ASSERT_TRUE(got.ok()) << got.status().message();
    EXPECT_EQ(*got.value(), 'a' + i);
    EXPECT_LE(peer.mapped(), 2u);
  }
  for (void* b : bufs) EXPECT_TRUE(freeWindow(b));
}

}  // namespace
}  // namespace strata::transport
