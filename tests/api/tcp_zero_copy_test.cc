// Collectives and send/recv over tcp, where the executor sends straight
// from the user's buffers and lets the proxy receive straight into them:
// results against a reference for every collective, in place (the ring
// all-reduce's all-gather writing where its reduce-scatter sent from, the
// in-place all-gather and reduce-scatter with Input inside Output) and out
// of place, with reductions that
// do and do not allow it; a send returns only once its bytes are out of the
// user's memory; a later collective of the same group may overwrite an
// earlier one's input; a failed send leaves no transport reading the
// buffer; a peer killed mid-transfer is an error, not a hang.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "nccl.h"
#include "strata.h"
#include "support/env_comm.h"
#include "support/ranks.h"

namespace {

using strata::testing::runProcesses;
using strata::testing::runThreads;
using strata::testing::ScopedEnv;
using strata::testing::Watchdog;
using Clock = std::chrono::steady_clock;

#define NCCL_OK(expr)                                                         \
  do {                                                                        \
    ncclResult_t r_ = (expr);                                                 \
    ASSERT_EQ(r_, ncclSuccess) << #expr << ": " << ncclGetLastError(nullptr); \
  } while (0)

// Ranks as threads of this process, every peer over tcp. Small slots, so a
// call of a few MiB has many steps and slices; single copy off (it would
// take same-process ranks off the FIFOs).
struct TcpComms {
  explicit TcpComms(int n, const char* slotBytes = "65536") : comms(n) {
    ScopedEnv transport("STRATA_TRANSPORT", "tcp");
    ScopedEnv singleCopy("STRATA_SINGLE_COPY", "0");
    ScopedEnv slot("STRATA_TCP_SLOT_BYTES", slotBytes);
    EXPECT_EQ(ncclCommInitAll(comms.data(), n, nullptr), ncclSuccess) << ncclGetLastError(nullptr);
  }
  ~TcpComms() {
    for (auto c : comms) ncclCommDestroy(c);
  }
  std::vector<ncclComm_t> comms;
};

float value(int rank, size_t i) { return static_cast<float>((rank * 5 + static_cast<int>(i % 17)) % 11) - 3; }

class TcpZeroCopy : public ::testing::TestWithParam<int> {};

TEST_P(TcpZeroCopy, AllReduceInAndOutOfPlace) {
  const int n = GetParam();
  Watchdog dog(240, "TcpZeroCopy.AllReduce");
  TcpComms c(n);
  for (size_t count : {size_t{1}, size_t{1000}, size_t{65537}, size_t{300001}}) {
    for (bool inPlace : {false, true}) {
      std::vector<std::vector<float>> in(n, std::vector<float>(count)), out(n, std::vector<float>(count, -99));
      for (int r = 0; r < n; ++r) {
        for (size_t i = 0; i < count; ++i) in[r][i] = value(r, i);
      }
      NCCL_OK(ncclGroupStart());
      for (int r = 0; r < n; ++r) {
        float* dst = inPlace ? in[r].data() : out[r].data();
        NCCL_OK(ncclAllReduce(in[r].data(), dst, count, ncclFloat, ncclSum, c.comms[r], nullptr));
      }
      NCCL_OK(ncclGroupEnd());
      for (int r = 0; r < n; ++r) {
        const std::vector<float>& got = inPlace ? in[r] : out[r];
        for (size_t i = 0; i < count; ++i) {
          float expect = 0;
          for (int q = 0; q < n; ++q) expect += value(q, i);
          ASSERT_EQ(got[i], expect) << "rank " << r << " elem " << i << " count " << count
                                    << (inPlace ? " in place" : "");
        }
      }
    }
  }
}

// Avg divides once when finalizing and PreMulSum scales every read of the
// input: the executor sends those steps through slots, the plain ones by
// reference; int8 max has element counts that are odd byte counts.
TEST_P(TcpZeroCopy, AllReduceWithScalingReductionsAndOddSizes) {
  const int n = GetParam();
  Watchdog dog(240, "TcpZeroCopy.Scaling");
  TcpComms c(n);
  const size_t count = 200003;
  std::vector<std::vector<double>> in(n, std::vector<double>(count)), avg(n, std::vector<double>(count)),
      pre(n, std::vector<double>(count));
  std::vector<std::vector<int8_t>> bytes(n, std::vector<int8_t>(count)), mx(n, std::vector<int8_t>(count));
  for (int r = 0; r < n; ++r) {
    for (size_t i = 0; i < count; ++i) {
      in[r][i] = static_cast<double>((r + 1) * static_cast<int>(i % 13));
      bytes[r][i] = static_cast<int8_t>((r * 31 + static_cast<int>(i % 101)) % 120 - 60);
    }
  }
  std::vector<ncclRedOp_t> ops(n);
  const double scale = 0.25;
  for (int r = 0; r < n; ++r) {
    NCCL_OK(ncclRedOpCreatePreMulSum(&ops[r], const_cast<double*>(&scale), ncclFloat64,
                                     ncclScalarHostImmediate, c.comms[r]));
  }
  NCCL_OK(ncclGroupStart());
  for (int r = 0; r < n; ++r) {
    NCCL_OK(ncclAllReduce(in[r].data(), avg[r].data(), count, ncclFloat64, ncclAvg, c.comms[r], nullptr));
    NCCL_OK(ncclAllReduce(in[r].data(), pre[r].data(), count, ncclFloat64, ops[r], c.comms[r], nullptr));
    NCCL_OK(ncclAllReduce(bytes[r].data(), mx[r].data(), count, ncclInt8, ncclMax, c.comms[r], nullptr));
  }
  NCCL_OK(ncclGroupEnd());
  for (int r = 0; r < n; ++r) {
    for (size_t i = 0; i < count; ++i) {
      double sum = 0;
      int8_t m = -128;
      for (int q = 0; q < n; ++q) {
        sum += in[q][i];
        m = std::max(m, bytes[q][i]);
      }
      ASSERT_DOUBLE_EQ(avg[r][i], sum / n) << "rank " << r << " elem " << i;
      ASSERT_DOUBLE_EQ(pre[r][i], sum * scale) << "rank " << r << " elem " << i;
      ASSERT_EQ(mx[r][i], m) << "rank " << r << " elem " << i;
    }
  }
  for (int r = 0; r < n; ++r) NCCL_OK(ncclRedOpDestroy(ops[r], c.comms[r]));
}

// In place, Input is Output + rank * count (all-gather) or Output is
// Input + rank * count (reduce-scatter), as NCCL defines.
TEST_P(TcpZeroCopy, AllGatherAndReduceScatterInAndOutOfPlace) {
  const int n = GetParam();
  Watchdog dog(240, "TcpZeroCopy.AllGatherReduceScatter");
  TcpComms c(n);
  for (size_t count : {size_t{1}, size_t{777}, size_t{100003}}) {
    for (bool inPlace : {false, true}) {
      // All-gather.
      std::vector<std::vector<float>> full(n, std::vector<float>(n * count, -99)), own(n, std::vector<float>(count));
      for (int r = 0; r < n; ++r) {
        for (size_t i = 0; i < count; ++i) {
          own[r][i] = value(r, i);
          if (inPlace) full[r][r * count + i] = value(r, i);
        }
      }
      NCCL_OK(ncclGroupStart());
      for (int r = 0; r < n; ++r) {
        const float* src = inPlace ? full[r].data() + r * count : own[r].data();
        NCCL_OK(ncclAllGather(src, full[r].data(), count, ncclFloat, c.comms[r], nullptr));
      }
      NCCL_OK(ncclGroupEnd());
      for (int r = 0; r < n; ++r) {
        for (int q = 0; q < n; ++q) {
          for (size_t i = 0; i < count; ++i) {
            ASSERT_EQ(full[r][q * count + i], value(q, i))
                << "all-gather rank " << r << " block " << q << " elem " << i << (inPlace ? " in place" : "");
          }
        }
      }
      // Reduce-scatter.
      std::vector<std::vector<float>> send(n, std::vector<float>(n * count)), recv(n, std::vector<float>(count, -99));
      for (int r = 0; r < n; ++r) {
        for (size_t i = 0; i < n * count; ++i) send[r][i] = value(r, i);
      }
      NCCL_OK(ncclGroupStart());
      for (int r = 0; r < n; ++r) {
        float* dst = inPlace ? send[r].data() + r * count : recv[r].data();
        NCCL_OK(ncclReduceScatter(send[r].data(), dst, count, ncclFloat, ncclSum, c.comms[r], nullptr));
      }
      NCCL_OK(ncclGroupEnd());
      for (int r = 0; r < n; ++r) {
        const float* got = inPlace ? send[r].data() + r * count : recv[r].data();
        for (size_t i = 0; i < count; ++i) {
          float expect = 0;
          for (int q = 0; q < n; ++q) expect += value(q, r * count + i);
          ASSERT_EQ(got[i], expect) << "reduce-scatter rank " << r << " elem " << i << (inPlace ? " in place" : "");
        }
      }
    }
  }
}

TEST_P(TcpZeroCopy, BroadcastReduceAllToAllAndSendRecv) {
  const int n = GetParam();
  Watchdog dog(240, "TcpZeroCopy.Rooted");
  TcpComms c(n);
  const size_t count = 150001;
  const int root = n - 1;
  for (bool inPlace : {false, true}) {
    std::vector<std::vector<float>> a(n, std::vector<float>(count)), b(n, std::vector<float>(count, -99));
    for (int r = 0; r < n; ++r) {
      for (size_t i = 0; i < count; ++i) a[r][i] = value(r, i);
    }
    // Broadcast from the root, then reduce to it.
    NCCL_OK(ncclGroupStart());
    for (int r = 0; r < n; ++r) {
      float* dst = inPlace ? a[r].data() : b[r].data();
      NCCL_OK(ncclBroadcast(a[r].data(), dst, count, ncclFloat, root, c.comms[r], nullptr));
    }
    NCCL_OK(ncclGroupEnd());
    for (int r = 0; r < n; ++r) {
      const std::vector<float>& got = inPlace ? a[r] : b[r];
      for (size_t i = 0; i < count; ++i) ASSERT_EQ(got[i], value(root, i)) << "broadcast rank " << r << " elem " << i;
    }
    for (int r = 0; r < n; ++r) {
      for (size_t i = 0; i < count; ++i) a[r][i] = value(r, i);
    }
    NCCL_OK(ncclGroupStart());
    for (int r = 0; r < n; ++r) {
      float* dst = inPlace ? a[r].data() : b[r].data();
      NCCL_OK(ncclReduce(a[r].data(), dst, count, ncclFloat, ncclSum, root, c.comms[r], nullptr));
    }
    NCCL_OK(ncclGroupEnd());
    const std::vector<float>& reduced = inPlace ? a[root] : b[root];
    for (size_t i = 0; i < count; ++i) {
      float expect = 0;
      for (int q = 0; q < n; ++q) expect += value(q, i);
      ASSERT_EQ(reduced[i], expect) << "reduce elem " << i;
    }
  }
  // All-to-all, and a ring of send/recv pairs in one group.
  const size_t each = 40009;
  std::vector<std::vector<float>> in(n, std::vector<float>(n * each)), out(n, std::vector<float>(n * each, -99));
  for (int r = 0; r < n; ++r) {
    for (size_t i = 0; i < n * each; ++i) in[r][i] = value(r, i);
  }
  NCCL_OK(ncclGroupStart());
  for (int r = 0; r < n; ++r) NCCL_OK(ncclAlltoAll(in[r].data(), out[r].data(), each, ncclFloat, c.comms[r], nullptr));
  NCCL_OK(ncclGroupEnd());
  for (int r = 0; r < n; ++r) {
    for (int q = 0; q < n; ++q) {
      for (size_t i = 0; i < each; ++i) {
        ASSERT_EQ(out[r][q * each + i], value(q, r * each + i)) << "all-to-all rank " << r << " from " << q;
      }
    }
  }
  NCCL_OK(ncclGroupStart());
  for (int r = 0; r < n; ++r) {
    NCCL_OK(ncclSend(in[r].data(), n * each, ncclFloat, (r + 1) % n, c.comms[r], nullptr));
    NCCL_OK(ncclRecv(out[r].data(), n * each, ncclFloat, (r + n - 1) % n, c.comms[r], nullptr));
  }
  NCCL_OK(ncclGroupEnd());
  for (int r = 0; r < n; ++r) {
    int from = (r + n - 1) % n;
    for (size_t i = 0; i < n * each; ++i) ASSERT_EQ(out[r][i], value(from, i)) << "recv rank " << r << " elem " << i;
  }
}

// The second all-reduce of the group writes the first one's input. The
// first phase must not end while its input is still being sent from.
TEST_P(TcpZeroCopy, ALaterCollectiveOfTheGroupOverwritesAnEarlierInput) {
  const int n = GetParam();
  Watchdog dog(240, "TcpZeroCopy.GroupOverwrite");
  TcpComms c(n, "1048576");
  const size_t count = size_t{4} << 20;  // 16 MiB of floats
  for (int round = 0; round < 3; ++round) {
    std::vector<std::vector<float>> a(n, std::vector<float>(count)), b(n, std::vector<float>(count)),
        cc(n, std::vector<float>(count));
    for (int r = 0; r < n; ++r) {
      for (size_t i = 0; i < count; ++i) {
        a[r][i] = value(r, i);
        cc[r][i] = value(r + 3, i) * 2;
      }
    }
    runThreads(n, [&](int r) {
      NCCL_OK(ncclGroupStart());
      NCCL_OK(ncclAllReduce(a[r].data(), b[r].data(), count, ncclFloat, ncclSum, c.comms[r], nullptr));
      NCCL_OK(ncclAllReduce(cc[r].data(), a[r].data(), count, ncclFloat, ncclSum, c.comms[r], nullptr));
      NCCL_OK(ncclGroupEnd());
    });
    for (int r = 0; r < n; ++r) {
      for (size_t i = 0; i < count; ++i) {
        float first = 0, second = 0;
        for (int q = 0; q < n; ++q) {
          first += value(q, i);
          second += value(q + 3, i) * 2;
        }
        ASSERT_EQ(b[r][i], first) << "round " << round << " rank " << r << " elem " << i;
        ASSERT_EQ(a[r][i], second) << "round " << round << " rank " << r << " elem " << i;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Ranks, TcpZeroCopy, ::testing::Values(2, 3, 4),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return std::to_string(info.param) + "Ranks";
                         });

// 64 MiB is more than the sockets and the receiver's FIFO hold, so the last
// slots of the send wait in the sender's proxy until the receiver, which
// comes late, reads. The send must not return before they are out of the
// buffer, which the sender overwrites at once.
TEST(TcpZeroCopySend, ReturnsOnlyOnceItsBytesAreOutOfTheBuffer) {
  Watchdog dog(120, "TcpZeroCopySend");
  TcpComms c(2, "1048576");
  const size_t count = size_t{16} << 20;
  std::vector<float> src(count), dst(count, -1);
  for (size_t i = 0; i < count; ++i) src[i] = value(0, i);
  runThreads(2, [&](int r) {
    if (r == 0) {
      NCCL_OK(ncclSend(src.data(), count, ncclFloat, 1, c.comms[0], nullptr));
      for (size_t i = count; i-- > 0;) src[i] = 1e9f;  // the end first: the last slots
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    NCCL_OK(ncclRecv(dst.data(), count, ncclFloat, 0, c.comms[1], nullptr));
  });
  for (size_t i = 0; i < count; ++i) ASSERT_EQ(dst[i], value(0, i)) << "elem " << i;
}

// A send that times out (the peer never receives): the call fails, and its
// buffer can be freed at once: no transport reads it any more, while the
// link keeps carrying the bytes the send had posted.
TEST(TcpZeroCopySend, FailedSendLeavesNoTransportReadingTheBuffer) {
  Watchdog dog(120, "TcpZeroCopySend.Failed");
  ScopedEnv timeout("STRATA_TIMEOUT", "2");
  TcpComms c(2, "1048576");
  const size_t count = size_t{32} << 20;  // 128 MiB: more than can be in flight
  const size_t check = size_t{2} << 20;   // what the receiver reads afterwards
  std::atomic<bool> failed{false};
  runThreads(2, [&](int r) {
    if (r == 0) {
      auto src = std::make_unique<float[]>(count);
      for (size_t i = 0; i < count; ++i) src[i] = value(0, i);
      auto t0 = Clock::now();
      ncclResult_t rc = ncclSend(src.get(), count, ncclFloat, 1, c.comms[0], nullptr);
      EXPECT_NE(rc, ncclSuccess);
      EXPECT_NE(std::string(ncclGetLastError(c.comms[0])).find("timed out"), std::string::npos)
          << ncclGetLastError(c.comms[0]);
      EXPECT_LT(Clock::now() - t0, std::chrono::seconds(20));
      src.reset();  // a transport still reading it would read freed memory
      failed = true;
      return;
    }
    while (!failed.load()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    // What the failed send had posted still arrives, intact.
    std::vector<float> dst(check, -1);
    NCCL_OK(ncclRecv(dst.data(), check, ncclFloat, 0, c.comms[1], nullptr));
    for (size_t i = 0; i < check; ++i) ASSERT_EQ(dst[i], value(0, i)) << "elem " << i;
  });
}

// Bytes received on the loopback interface of this network namespace so
// far (/proc/net/dev), or 0 if it cannot be read.
uint64_t loopbackBytes() {
  FILE* f = std::fopen("/proc/net/dev", "r");
  if (f == nullptr) return 0;
  char line[512];
  uint64_t bytes = 0;
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    unsigned long long v = 0;
    if (std::sscanf(line, " lo: %llu", &v) == 1) bytes = v;
  }
  std::fclose(f);
  return bytes;
}

// A rank process killed in the middle of a large all-reduce over tcp: the
// survivor's call fails with an error naming the fault, promptly.
TEST(TcpZeroCopyFaults, PeerKilledMidAllReduce) {
  Watchdog dog(120, "TcpZeroCopyFaults");
  int port = 20000 + ((getpid() + 13) % 20000);
  auto codes = runProcesses(2, [&](int rank) {
    setenv("STRATA_TRANSPORT", "tcp", 1);
    setenv("STRATA_TIMEOUT", "20", 1);
    ncclComm_t comm = strata::testing::initCommFromEnv(rank, 2, port, "0123456789abcdef0123456789abcdef");
    if (comm == nullptr) return 1;
    const size_t count = size_t{32} << 20;  // 128 MiB each way
    std::vector<float> in(count, 1.0f), out(count, 0.0f);
    if (rank == 1) {
      // Dies once 64 MiB more crossed the loopback interface: the call
      // moves 256 MiB over it, so this is before it can end (traffic of
      // other tests only makes it sooner).
      std::thread killer([] {
        const uint64_t start = loopbackBytes();
        auto t0 = Clock::now();
        while (loopbackBytes() < start + (uint64_t{64} << 20) && Clock::now() - t0 < std::chrono::seconds(20)) {
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        raise(SIGKILL);
      });
      ncclAllReduce(in.data(), out.data(), count, ncclFloat, ncclSum, comm, nullptr);
      killer.join();
      return 1;  // not reached
    }
    auto t0 = Clock::now();
    ncclResult_t rc = ncclAllReduce(in.data(), out.data(), count, ncclFloat, ncclSum, comm, nullptr);
    double took = std::chrono::duration<double>(Clock::now() - t0).count();
    std::string error = ncclGetLastError(comm);
    ncclCommAbort(comm);
    if (rc == ncclSuccess) {
      std::fprintf(stderr, "the all-reduce succeeded without its peer\n");
      return 2;
    }
    if (error.find("rank 1") == std::string::npos) {
      std::fprintf(stderr, "error does not name the peer: %s\n", error.c_str());
      return 3;
    }
    if (took > 15) {
      std::fprintf(stderr, "took %.1f s to notice\n", took);
      return 4;
    }
    return 0;
  });
  EXPECT_EQ(codes[0], 0);
  EXPECT_EQ(codes[1], 128 + SIGKILL);
}

}  // namespace
