// Failures must end waits with an error, promptly: a missing rank, a rank
// that leaves, abort(), a refused or unreachable root.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "bootstrap/bootstrap.h"
#include "bootstrap/test_util.h"
#include "support/ranks.h"

namespace strata::bootstrap {
namespace {

using namespace std::chrono_literals;
using strata::testing::bootOptions;
using strata::testing::runProcesses;
using strata::testing::runThreads;
using strata::testing::ScopedEnv;
using strata::testing::secondsSince;
using strata::testing::Watchdog;

// A one-shot event between test threads.
class Latch {
 public:
  void set() {
    std::lock_guard<std::mutex> l(mu_);
    done_ = true;
    cv_.notify_all();
  }
  void wait() {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return done_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
};

TEST(BootstrapFailure, MissingRankFailsEveryoneWithinTheTimeout) {
  ScopedEnv rootTimeout("STRATA_TIMEOUT", "2");
  auto id = createUniqueId();
  ASSERT_OK(id.status());
  auto t0 = std::chrono::steady_clock::now();
  std::vector<Status> results(3);
  runThreads(3, [&](int rank) {  // rank 3 of 4 never comes
    results[rank] = Bootstrap::create(*id, rank, 4, bootOptions(4000)).status();
  }, 30);
  for (const Status& s : results) {
    EXPECT_FALSE(s.ok());
    // The root says who is missing rather than just closing the connection.
    EXPECT_NE(s.message().find("missing rank(s) 3"), std::string::npos) << s.toString();
  }
  EXPECT_LT(secondsSince(t0), 8.0);
}

TEST(BootstrapFailure, RankThatLeavesFailsTheOthersPromptly) {
  const int n = 4;
  auto id = createUniqueId();
  ASSERT_OK(id.status());
  auto t0 = std::chrono::steady_clock::now();
  std::vector<int> codes = runProcesses(n, [&](int rank) {
    auto b = Bootstrap::create(*id, rank, n, bootOptions(15000));
    if (!b.ok()) return 2;
    if (!(*b)->barrier().ok()) return 3;
    if (rank == n - 1) std::_Exit(0);  // gone without a word
    std::vector<int> slots(n);
    Status s = (*b)->allGather(slots.data(), sizeof(int));
    return s.ok() ? 4 : 0;  // the allGather must fail
  }, 30);
  for (int r = 0; r < n; ++r) EXPECT_EQ(codes[r], 0) << "rank " << r;
  EXPECT_LT(secondsSince(t0), 10.0);
}

TEST(BootstrapFailure, PeerDisconnectIsRemoteError) {
  auto id = createUniqueId();
  ASSERT_OK(id.status());
  Latch gone;
  runThreads(2, [&](int rank) {
    auto b = Bootstrap::create(*id, rank, 2, bootOptions(15000));
    ASSERT_OK(b.status());
    if (rank == 1) {
      ASSERT_OK((*b)->send(0, 7, "bye", 3));
      b->reset();
      gone.set();
      return;
    }
    gone.wait();
    char buf[3];
    ASSERT_OK((*b)->recv(1, 7, buf, 3));  // what was sent before leaving arrives
    auto t0 = std::chrono::steady_clock::now();
    Status s = (*b)->recv(1, 7, buf, 3);
    EXPECT_EQ(s.code(), Code::kRemoteError) << s.toString();
    EXPECT_NE(s.message().find("rank 1"), std::string::npos) << s.toString();
    EXPECT_LT(secondsSince(t0), 5.0);
  }, 30);
}

TEST(BootstrapFailure, AbortUnblocksRecv) {
  auto id = createUniqueId();
  ASSERT_OK(id.status());
  AbortFlag external{false};
  Latch done[2];  // each rank stays connected until both have seen their abort
  runThreads(2, [&](int rank) {
    auto b = Bootstrap::create(*id, rank, 2, bootOptions(60000, rank == 1 ? &external : nullptr));
    ASSERT_OK(b.status());
    ASSERT_OK((*b)->barrier());
    char buf[4];
    if (rank == 0) {
      std::thread aborter([&] {
        std::this_thread::sleep_for(200ms);
        (*b)->abort();
      });
      auto t0 = std::chrono::steady_clock::now();
      Status s = (*b)->recv(1, 42, buf, 4);  // nobody sends this
      aborter.join();
      EXPECT_FALSE(s.ok());
      EXPECT_NE(s.message().find("aborted"), std::string::npos) << s.toString();
      EXPECT_LT(secondsSince(t0), 3.0);
      EXPECT_FALSE((*b)->barrier().ok());  // and later waits fail at once
    } else {
      // The caller's own flag works the same way.
      std::thread aborter([&] {
        std::this_thread::sleep_for(200ms);
        external.store(true);
      });
      auto t0 = std::chrono::steady_clock::now();
      Status s = (*b)->recv(0, 42, buf, 4);
      aborter.join();
      EXPECT_FALSE(s.ok());
      EXPECT_NE(s.message().find("aborted"), std::string::npos) << s.toString();
      EXPECT_LT(secondsSince(t0), 3.0);
    }
    done[rank].set();
    done[1 - rank].wait();
  }, 30);
}

TEST(BootstrapFailure, DuplicateRankIsRefused) {
  auto id = createUniqueId();
  ASSERT_OK(id.status());
  std::vector<Status> results(3);
  runThreads(3, [&](int who) {
    // Rank 0 arrives, then an impostor claiming rank 0, then rank 1.
    std::this_thread::sleep_for(who * 250ms);
    int rank = who == 2 ? 1 : 0;
    auto b = Bootstrap::create(*id, rank, 2, bootOptions(10000));
    results[who] = b.status();
    if (b.ok()) {
      EXPECT_OK((*b)->barrier());
    }
  }, 30);
  EXPECT_OK(results[0]);
  EXPECT_OK(results[2]);
  EXPECT_EQ(results[1].code(), Code::kInvalidUsage) << results[1].toString();
  EXPECT_NE(results[1].message().find("already connected"), std::string::npos)
      << results[1].toString();
}

TEST(BootstrapFailure, InconsistentWorldSizeIsRefused) {
  auto id = createUniqueId();
  ASSERT_OK(id.status());
  Status first = Status::Ok(), second;
  runThreads(2, [&](int who) {
    if (who == 0) {
      // Arrives first and fixes the size at 2; then waits for rank 1 in vain.
      first = Bootstrap::create(*id, 0, 2, bootOptions(1500)).status();
    } else {
      std::this_thread::sleep_for(300ms);
      second = Bootstrap::create(*id, 1, 3, bootOptions(5000)).status();
    }
  }, 30);
  EXPECT_FALSE(first.ok());
  EXPECT_FALSE(second.ok());
  EXPECT_NE(second.message().find("ranks"), std::string::npos) << second.toString();
}

TEST(BootstrapFailure, UnreachableRootTimesOut) {
  Watchdog dog(20, "UnreachableRoot");
  UniqueId id;
  ASSERT_OK(net::randomBytes(id.secret.bytes.data(), id.secret.bytes.size()));
  {
    auto l = net::Socket::listen(*net::Address::parse("127.0.0.1:0"));
    ASSERT_OK(l.status());
    id.root = *l->localAddress();
  }  // closed: nobody listens there now
  auto t0 = std::chrono::steady_clock::now();
  auto b = Bootstrap::create(id, 0, 2, bootOptions(500));
  EXPECT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("timed out"), std::string::npos) << b.status().toString();
  EXPECT_NE(b.status().message().find(id.root.toString()), std::string::npos);
  EXPECT_LT(secondsSince(t0), 3.0);
}

}  // namespace
}  // namespace strata::bootstrap
