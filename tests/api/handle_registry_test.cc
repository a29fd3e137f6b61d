// The registry of live communicator handles (src/api/handle.cc), which
// every entry point consults without a lock: handles stay found while the
// table grows past its first size and fills with tombstones, removed ones
// are not found (nor made-up pointers), and lookups from several threads
// see consistent answers while other threads add and remove handles.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "api/handle.h"
#include "support/ranks.h"

namespace {

using strata::api::destroyHandle;
using strata::api::isLive;
using strata::api::lookup;
using strata::api::newHandle;

TEST(HandleRegistry, GrowsAndForgetsRemovedHandles) {
  std::vector<ncclComm*> live;
  for (int round = 0; round < 4; ++round) {
    // Many insertions (the table starts at 64 slots), then remove every
    // other one: the tombstones force rebuilds on later insertions.
    for (int i = 0; i < 500; ++i) live.push_back(newHandle());
    std::vector<ncclComm*> kept;
    for (size_t i = 0; i < live.size(); ++i) {
      if (i % 2 == 0) {
        kept.push_back(live[i]);
      } else {
        destroyHandle(live[i]);
      }
    }
    live.swap(kept);
    for (ncclComm* h : live) ASSERT_TRUE(isLive(h));
  }
  int notAHandle = 0;
  EXPECT_FALSE(isLive(reinterpret_cast<ncclComm*>(&notAHandle)));
  EXPECT_FALSE(isLive(nullptr));
  // A live handle whose initialisation has not finished is not usable yet.
  auto pending = lookup(live.front(), "test");
  ASSERT_FALSE(pending.ok());
  EXPECT_NE(pending.status().message().find("still initialising"), std::string::npos);
  for (ncclComm* h : live) destroyHandle(h);
  for (int i = 0; i < 10; ++i) {
    ncclComm* h = newHandle();
    EXPECT_TRUE(isLive(h));
    destroyHandle(h);
  }
}

TEST(HandleRegistry, ConcurrentLookupsDuringChurn) {
  strata::testing::Watchdog dog(60, "HandleRegistry.ConcurrentLookupsDuringChurn");
  std::vector<ncclComm*> stable;
  for (int i = 0; i < 32; ++i) stable.push_back(newHandle());
  std::atomic<bool> stop{false};
  std::atomic<long> wrong{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      int local = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        for (ncclComm* h : stable) wrong += !isLive(h);
        wrong += isLive(reinterpret_cast<ncclComm*>(&local));
        std::this_thread::yield();
      }
    });
  }
  // Churn: each handle is checked by the thread that owns it.
  for (int i = 0; i < 3000; ++i) {
    ncclComm* h = newHandle();
    if (!isLive(h)) ++wrong;
    destroyHandle(h);
  }
  stop = true;
  for (auto& r : readers) r.join();
  EXPECT_EQ(wrong.load(), 0);
  for (ncclComm* h : stable) destroyHandle(h);
}

}  // namespace
