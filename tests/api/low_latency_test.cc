// The low-latency (flag-in-data) all-reduce: back-to-back calls of changing
// sizes and types reuse the mailboxes correctly, ranks may issue the call
// inside or outside a group, and ranks that disagree on the call fail with
// a clear error instead of reading a wrongly sized message.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "nccl.h"
#include "support/ranks.h"

namespace {

using strata::testing::runThreads;
using strata::testing::ScopedEnv;
using strata::testing::Watchdog;

struct Comms {
  explicit Comms(int n) : comms(n) {
    ScopedEnv ll("STRATA_LL_MAX_BYTES", "4096");
    EXPECT_EQ(ncclCommInitAll(comms.data(), n, nullptr), ncclSuccess) << ncclGetLastError(nullptr);
  }
  ~Comms() {
    for (auto c : comms) ncclCommDestroy(c);
  }
  std::vector<ncclComm_t> comms;
};

TEST(LowLatency, BackToBackCallsOfChangingSizesGroupedOrNot) {
  Watchdog dog(120, "LowLatencyBackToBack");
  const int n = 3;
  Comms c(n);
  std::vector<int> failures(n, 0);
  runThreads(n, [&](int r) {
    for (int it = 0; it < 600; ++it) {
      // int32 or int8 alternately, sizes walking 1..1024 elements (<= 4 KiB).
      bool wide = it % 2 == 0;
      size_t count = wide ? 1 + (it * 37) % 1024 : 1 + (it * 53) % 4096;
      std::vector<int32_t> in32(count), out32(count, -1);
      std::vector<int8_t> in8(count), out8(count, -1);
      for (size_t i = 0; i < count; ++i) {
        in32[i] = static_cast<int32_t>(r * 1000 + i + it);
        in8[i] = static_cast<int8_t>((r + i + it) % 7);
      }
      // Rank 1 issues every other call inside a group: the protocol must not
      // depend on how a rank grouped its call.
      bool grouped = r == 1 && it % 2 == 1;
      if (grouped) ncclGroupStart();
      ncclResult_t res = wide ? ncclAllReduce(in32.data(), out32.data(), count, ncclInt32, ncclSum, c.comms[r], nullptr)
                              : ncclAllReduce(in8.data(), in8.data(), count, ncclInt8, ncclMax, c.comms[r], nullptr);
      if (grouped) res = res == ncclSuccess ? ncclGroupEnd() : res;
      if (res != ncclSuccess) {
        ++failures[r];
        ADD_FAILURE() << "rank " << r << " call " << it << ": " << ncclGetLastError(c.comms[r]);
        return;
      }
      for (size_t i = 0; i < count; ++i) {
        if (wide) {
          int32_t expect = 0;
          for (int q = 0; q < n; ++q) expect += static_cast<int32_t>(q * 1000 + i + it);
          if (out32[i] != expect) {
            ++failures[r];
            ADD_FAILURE() << "rank " << r << " call " << it << " elem " << i << ": " << out32[i] << " != " << expect;
            return;
          }
        } else {
          int8_t expect = 0;
          for (int q = 0; q < n; ++q) expect = std::max<int8_t>(expect, static_cast<int8_t>((q + i + it) % 7));
          if (in8[i] != expect) {
            ++failures[r];
            ADD_FAILURE() << "rank " << r << " call " << it << " elem " << i;
            return;
          }
        }
      }
    }
  }, 120);
  for (int r = 0; r < n; ++r) EXPECT_EQ(failures[r], 0);
}

TEST(LowLatency, RanksDisagreeingOnTheCountFailClearly) {
  Watchdog dog(60, "LowLatencyMismatch");
  ScopedEnv timeout("STRATA_TIMEOUT", "3");
  Comms c(2);
  std::vector<float> in(64, 1.0f), out(64);
  std::vector<ncclResult_t> results(2);
  std::vector<std::string> errors(2);
  runThreads(2, [&](int r) {
    size_t count = r == 0 ? 8 : 16;
    results[r] = ncclAllReduce(in.data(), out.data() + 32 * r, count, ncclFloat, ncclSum, c.comms[r], nullptr);
    if (results[r] != ncclSuccess) errors[r] = ncclGetLastError(c.comms[r]);
  }, 60);
  for (int r = 0; r < 2; ++r) {
    EXPECT_NE(results[r], ncclSuccess) << "rank " << r;
    EXPECT_NE(errors[r].find("same collectives"), std::string::npos) << "rank " << r << ": " << errors[r];
  }
}

}  // namespace
