// The single-copy path (ranks of one process read each other's buffers):
// results against a reference for every collective it serves, in place and
// out of place, PreMulSum and Avg, identical bits on every rank, and a clear
// error when ranks call different collectives.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <unistd.h>
#include <string>
#include <vector>

#include "api/handle.h"
#include "comm/communicator.h"
#include "nccl.h"
#include "strata.h"
#include "support/env_comm.h"
#include "support/ranks.h"

namespace {

using strata::testing::runProcesses;
using strata::testing::runThreads;
using strata::testing::ScopedEnv;
using strata::testing::Watchdog;

#define NCCL_OK(expr)                                                              \
  do {                                                                             \
    ncclResult_t r_ = (expr);                                                      \
    ASSERT_EQ(r_, ncclSuccess) << #expr << ": " << ncclGetLastError(nullptr);      \
  } while (0)

// Communicators whose every collective of at least one byte goes single copy.
struct Comms {
  explicit Comms(int n) : comms(n) {
    ScopedEnv minBytes("STRATA_SINGLE_COPY_MIN_BYTES", "1");
    ScopedEnv mode("STRATA_SINGLE_COPY", "auto");
    EXPECT_EQ(ncclCommInitAll(comms.data(), n, nullptr), ncclSuccess) << ncclGetLastError(nullptr);
  }
  ~Comms() {
    for (auto c : comms) ncclCommDestroy(c);
  }
  std::vector<ncclComm_t> comms;
};

float value(int rank, size_t i) { return static_cast<float>((rank * 7 + static_cast<int>(i % 13)) % 11) - 3; }

class SingleCopy : public ::testing::TestWithParam<int> {};

TEST_P(SingleCopy, AllReduceMatchesReferenceInAndOutOfPlace) {
  const int n = GetParam();
  Watchdog dog(120, "AllReduceMatchesReference");
  Comms c(n);
  for (size_t count : {size_t{1}, size_t{5}, size_t{1000}, size_t{300001}}) {
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

TEST_P(SingleCopy, EveryRankGetsIdenticalBits) {
  const int n = GetParam();
  Watchdog dog(60, "IdenticalBits");
  Comms c(n);
  const size_t count = 100003;
  std::vector<std::vector<float>> buf(n, std::vector<float>(count));
  for (int r = 0; r < n; ++r) {
    for (size_t i = 0; i < count; ++i) buf[r][i] = std::sin(static_cast<float>(i * (r + 1))) * 1e3f;
  }
  NCCL_OK(ncclGroupStart());
  for (int r = 0; r < n; ++r) {
    NCCL_OK(ncclAllReduce(buf[r].data(), buf[r].data(), count, ncclFloat, ncclSum, c.comms[r], nullptr));
  }
  NCCL_OK(ncclGroupEnd());
  for (int r = 1; r < n; ++r) {
    ASSERT_EQ(std::memcmp(buf[0].data(), buf[r].data(), count * sizeof(float)), 0) << "rank " << r;
  }
}

TEST_P(SingleCopy, AvgAndPreMulSum) {
  const int n = GetParam();
  Watchdog dog(60, "AvgAndPreMulSum");
  Comms c(n);
  const size_t count = 4099;
  std::vector<std::vector<double>> in(n, std::vector<double>(count)), avg(n, std::vector<double>(count)),
      pre(n, std::vector<double>(count));
  for (int r = 0; r < n; ++r) {
    for (size_t i = 0; i < count; ++i) in[r][i] = static_cast<double>(r + 1) * static_cast<double>(i % 17);
  }
  std::vector<ncclRedOp_t> ops(n);
  const double scale = 0.5;
  for (int r = 0; r < n; ++r) {
    NCCL_OK(ncclRedOpCreatePreMulSum(&ops[r], const_cast<double*>(&scale), ncclFloat64,
                                     ncclScalarHostImmediate, c.comms[r]));
  }
  NCCL_OK(ncclGroupStart());
  for (int r = 0; r < n; ++r) {
    NCCL_OK(ncclAllReduce(in[r].data(), avg[r].data(), count, ncclFloat64, ncclAvg, c.comms[r], nullptr));
    NCCL_OK(ncclAllReduce(in[r].data(), pre[r].data(), count, ncclFloat64, ops[r], c.comms[r], nullptr));
  }
  NCCL_OK(ncclGroupEnd());
  for (int r = 0; r < n; ++r) {
    for (size_t i = 0; i < count; ++i) {
      double sum = 0;
      for (int q = 0; q < n; ++q) sum += in[q][i];
      ASSERT_DOUBLE_EQ(avg[r][i], sum / n) << "rank " << r << " elem " << i;
      ASSERT_DOUBLE_EQ(pre[r][i], sum * scale) << "rank " << r << " elem " << i;
    }
  }
  for (int r = 0; r < n; ++r) NCCL_OK(ncclRedOpDestroy(ops[r], c.comms[r]));
}

TEST_P(SingleCopy, ReduceScatterAllGatherBroadcast) {
  const int n = GetParam();
  Watchdog dog(60, "ReduceScatterAllGatherBroadcast");
  Comms c(n);
  const size_t count = 20011;  // per rank
  for (bool inPlace : {false, true}) {
    std::vector<std::vector<int32_t>> rsIn(n, std::vector<int32_t>(count * n)), rsOut(n, std::vector<int32_t>(count, -1));
    std::vector<std::vector<int32_t>> ag(n, std::vector<int32_t>(count * n, -1)), agIn(n, std::vector<int32_t>(count));
    std::vector<std::vector<int32_t>> bc(n, std::vector<int32_t>(count, -1));
    const int root = n - 1;
    for (int r = 0; r < n; ++r) {
      for (size_t i = 0; i < count * n; ++i) rsIn[r][i] = static_cast<int32_t>(r * 1000 + i % 777);
      for (size_t i = 0; i < count; ++i) {
        agIn[r][i] = static_cast<int32_t>(r * 100000 + i);
        if (inPlace) ag[r][r * count + i] = agIn[r][i];
        if (r == root) bc[r][i] = static_cast<int32_t>(i * 3 + 1);
      }
    }
    NCCL_OK(ncclGroupStart());
    for (int r = 0; r < n; ++r) {
      int32_t* rsDst = inPlace ? rsIn[r].data() + r * count : rsOut[r].data();
      NCCL_OK(ncclReduceScatter(rsIn[r].data(), rsDst, count, ncclInt32, ncclMax, c.comms[r], nullptr));
      const int32_t* agSrc = inPlace ? ag[r].data() + r * count : agIn[r].data();
      NCCL_OK(ncclAllGather(agSrc, ag[r].data(), count, ncclInt32, c.comms[r], nullptr));
      NCCL_OK(ncclBroadcast(bc[r].data(), bc[r].data(), count, ncclInt32, root, c.comms[r], nullptr));
    }
    NCCL_OK(ncclGroupEnd());
    for (int r = 0; r < n; ++r) {
      const int32_t* rs = inPlace ? rsIn[r].data() + r * count : rsOut[r].data();
      for (size_t i = 0; i < count; ++i) {
        size_t g = r * count + i;
        ASSERT_EQ(rs[i], static_cast<int32_t>((n - 1) * 1000 + g % 777)) << "rank " << r << " elem " << i;
        ASSERT_EQ(bc[r][i], static_cast<int32_t>(i * 3 + 1)) << "rank " << r << " elem " << i;
        for (int q = 0; q < n; ++q) {
          ASSERT_EQ(ag[r][q * count + i], static_cast<int32_t>(q * 100000 + i)) << "rank " << r;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Ranks, SingleCopy, ::testing::Values(2, 3, 5));

// Ranks that call different collectives get an error that says so, within
// the timeout, instead of reading memory laid out for another operation.
TEST(SingleCopyFaults, MismatchedCollectivesFailClearly) {
  Watchdog dog(60, "MismatchedCollectives");
  ScopedEnv timeout("STRATA_TIMEOUT", "3");
  Comms c(2);
  const size_t count = 50000;
  std::vector<std::vector<float>> in(2, std::vector<float>(count * 2, 1.0f)), out(2, std::vector<float>(count * 2));
  std::vector<ncclResult_t> results(2, ncclSuccess);
  std::vector<std::string> errors(2);
  runThreads(2, [&](int r) {
    if (r == 0) {
      results[r] = ncclAllReduce(in[r].data(), out[r].data(), count, ncclFloat, ncclSum, c.comms[r], nullptr);
    } else {
      results[r] = ncclAllGather(in[r].data(), out[r].data(), count, ncclFloat, c.comms[r], nullptr);
    }
    if (results[r] != ncclSuccess) errors[r] = ncclGetLastError(c.comms[r]);
  }, 60);
  for (int r = 0; r < 2; ++r) {
    EXPECT_NE(results[r], ncclSuccess) << "rank " << r;
    EXPECT_NE(errors[r].find("same collectives"), std::string::npos) << "rank " << r << ": " << errors[r];
  }
}

// Ranks in different processes (auto mode): cross-memory attach serves the
// sizes below STRATA_SINGLE_COPY_CMA_MAX_BYTES, the FIFOs the larger ones,
// and both give the right sums. Each process checks which path its
// communicator picks for each size, then runs it.
TEST(SingleCopyProcesses, AutoModeBoundsCrossMemoryAttachBySize) {
  Watchdog dog(120, "AutoModeBoundsCrossMemoryAttachBySize");
  const int n = 2;
  int port = 20000 + ((getpid() + 13) % 20000);
  auto codes = runProcesses(n, [&](int rank) {
    setenv("STRATA_SINGLE_COPY", "auto", 1);
    setenv("STRATA_SINGLE_COPY_MIN_BYTES", "1024", 1);
    setenv("STRATA_SINGLE_COPY_CMA_MAX_BYTES", "65536", 1);
    ncclComm_t comm = strata::testing::initCommFromEnv(rank, n, port, "00112233445566778899aabbccddee01");
    if (comm == nullptr) return 1;
    strata::Communicator* c = comm->impl.get();
    if (!c->params().singleCopy || c->params().singleCopyMaxBytes != 65536) {
      std::fprintf(stderr, "single copy %d, max %zu\n", c->params().singleCopy ? 1 : 0,
                   c->params().singleCopyMaxBytes);
      return 2;
    }
    struct Case {
      size_t count;
      bool singleCopy;
    };
    for (Case k : {Case{100, false}, Case{256, true}, Case{16383, true}, Case{16384, false},
                   Case{300001, false}}) {
      strata::plan::CollArgs args;
      args.type = strata::plan::CollType::kAllReduce;
      args.count = k.count;
      args.rank = rank;
      args.nranks = n;
      if (c->useSingleCopy(args, strata::DataType::kFloat32) != k.singleCopy) {
        std::fprintf(stderr, "count %zu: single copy should be %d\n", k.count, k.singleCopy ? 1 : 0);
        return 3;
      }
      std::vector<float> in(k.count), out(k.count, -1);
      for (size_t i = 0; i < k.count; ++i) in[i] = value(rank, i);
      if (ncclAllReduce(in.data(), out.data(), k.count, ncclFloat, ncclSum, comm, nullptr) != ncclSuccess) {
        std::fprintf(stderr, "all-reduce: %s\n", ncclGetLastError(comm));
        return 4;
      }
      for (size_t i = 0; i < k.count; ++i) {
        if (out[i] != value(0, i) + value(1, i)) {
          std::fprintf(stderr, "count %zu elem %zu: %f\n", k.count, i, out[i]);
          return 5;
        }
      }
    }
    ncclCommDestroy(comm);
    return 0;
  });
  for (int r = 0; r < n; ++r) EXPECT_EQ(codes[r], 0) << "process " << r;
}

}  // namespace
