// Shared host buffers (strataMemAllocHost) between processes: collectives
// whose every buffer read across processes is shared run single copy (the
// ranks read each other's buffers in place), others, and in-place
// all-reduces, decline together and stream through the FIFOs; both give
// the right results. Also the API's answers to bad input.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
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
using strata::testing::Watchdog;

TEST(SharedBufferApi, BadInputGetsClearErrors) {
  void* p = reinterpret_cast<void*>(1);
  EXPECT_EQ(strataMemAllocHost(nullptr, 64), ncclInvalidArgument);
  EXPECT_NE(std::string(ncclGetLastError(nullptr)).find("ptr is NULL"), std::string::npos)
      << ncclGetLastError(nullptr);
  EXPECT_EQ(strataMemAllocHost(&p, 0), ncclInvalidArgument);
  EXPECT_EQ(p, nullptr) << "a failed allocation leaves NULL";
  EXPECT_NE(std::string(ncclGetLastError(nullptr)).find("strataMemAllocHost"), std::string::npos)
      << ncclGetLastError(nullptr);
  int notShared = 0;
  EXPECT_EQ(strataMemFreeHost(&notShared), ncclInvalidArgument);
  EXPECT_NE(std::string(ncclGetLastError(nullptr)).find("not a buffer from strataMemAllocHost"),
            std::string::npos)
      << ncclGetLastError(nullptr);
  EXPECT_EQ(strataMemFreeHost(nullptr), ncclSuccess);

  ASSERT_EQ(strataMemAllocHost(&p, 100), ncclSuccess);
  ASSERT_NE(p, nullptr);
  std::memset(p, 7, 100);
  EXPECT_EQ(strataMemFreeHost(p), ncclSuccess);
  EXPECT_EQ(strataMemFreeHost(p), ncclInvalidArgument) << "freed twice";
}

float value(int rank, size_t i) { return static_cast<float>((rank * 5 + static_cast<int>(i % 17)) % 13) - 6; }

// A host buffer: shared (strataMemAllocHost) or plain.
struct HostBuf {
  HostBuf(size_t bytes, bool shared) : shared(shared) {
    if (shared) {
      if (strataMemAllocHost(&p, bytes) != ncclSuccess) p = nullptr;
    } else {
      plain.resize(bytes);
      p = plain.data();
    }
  }
  ~HostBuf() {
    if (shared) strataMemFreeHost(p);
  }
  float* f() { return static_cast<float*>(p); }
  bool shared;
  void* p = nullptr;
  std::vector<char> plain;
};

// Each process runs a communicator of n ranks and returns 0 when every
// result is right and the path taken (counted by the communicator) is the
// expected one; otherwise it prints what went wrong.
int runRank(int rank, int n, int port, bool everyoneShared) {
  setenv("STRATA_SINGLE_COPY", "auto", 1);
  setenv("STRATA_SINGLE_COPY_MIN_BYTES", "1024", 1);
  setenv("STRATA_SINGLE_COPY_SHARED_MIN_BYTES", "1024", 1);
  setenv("STRATA_SINGLE_COPY_CMA_MAX_BYTES", "0", 1);
  ncclComm_t comm = strata::testing::initCommFromEnv(rank, n, port, "00112233445566778899aabbccddee02");
  if (comm == nullptr) return 1;
  strata::Communicator* c = comm->impl.get();
  if (c->params().singleCopy || !c->params().singleCopyShared) {
    std::fprintf(stderr, "rank %d: single copy %d, through shared buffers %d\n", rank,
                 c->params().singleCopy ? 1 : 0, c->params().singleCopyShared ? 1 : 0);
    return 2;
  }
  // The last rank keeps plain buffers unless everyone shares.
  const bool shared = everyoneShared || rank != n - 1;
  int calls = 0;
  int inPlaceAllReduces = 0;  // declined whatever the buffers
  int rc = 0;
  // All sizes above the low-latency protocol's 4 KiB (which serves small
  // all-reduces before single copy is considered).
  for (size_t count : {size_t{1500}, size_t{4099}, size_t{300001}}) {
    const size_t bytes = count * n * sizeof(float);
    HostBuf in(bytes, shared), out(bytes, shared);
    if (in.p == nullptr || out.p == nullptr) return 3;
    // All-reduce, out of place and in place.
    for (bool inPlace : {false, true}) {
      for (size_t i = 0; i < count; ++i) in.f()[i] = value(rank, i);
      float* dst = inPlace ? in.f() : out.f();
      if (ncclAllReduce(in.f(), dst, count, ncclFloat, ncclSum, comm, nullptr) != ncclSuccess) {
        std::fprintf(stderr, "all-reduce: %s\n", ncclGetLastError(comm));
        return 4;
      }
      ++calls;
      inPlaceAllReduces += inPlace ? 1 : 0;
      for (size_t i = 0; i < count && rc == 0; ++i) {
        float expect = 0;
        for (int q = 0; q < n; ++q) expect += value(q, i);
        if (dst[i] != expect) {
          std::fprintf(stderr, "rank %d all-reduce count %zu%s elem %zu: %f, expected %f\n", rank, count,
                       inPlace ? " in place" : "", i, dst[i], expect);
          rc = 5;
        }
      }
    }
    // Reduce-scatter: rank r gets the sums of block r.
    for (size_t i = 0; i < count * n; ++i) in.f()[i] = value(rank, i);
    if (ncclReduceScatter(in.f(), out.f(), count, ncclFloat, ncclSum, comm, nullptr) != ncclSuccess) return 6;
    ++calls;
    for (size_t i = 0; i < count && rc == 0; ++i) {
      float expect = 0;
      for (int q = 0; q < n; ++q) expect += value(q, rank * count + i);
      if (out.f()[i] != expect) rc = 7;
    }
    // All-gather: block q of the output is rank q's input.
    for (size_t i = 0; i < count; ++i) in.f()[i] = value(rank, i) + 100;
    if (ncclAllGather(in.f(), out.f(), count, ncclFloat, comm, nullptr) != ncclSuccess) return 8;
    ++calls;
    for (int q = 0; q < n && rc == 0; ++q) {
      for (size_t i = 0; i < count; ++i) {
        if (out.f()[q * count + i] != value(q, i) + 100) {
          rc = 9;
          break;
        }
      }
    }
    // Broadcast from rank 1.
    for (size_t i = 0; i < count; ++i) in.f()[i] = value(rank, i) - 50;
    if (ncclBroadcast(in.f(), out.f(), count, ncclFloat, 1, comm, nullptr) != ncclSuccess) return 10;
    ++calls;
    for (size_t i = 0; i < count && rc == 0; ++i) {
      if (out.f()[i] != value(1, i) - 50) rc = 11;
    }
    if (rc != 0) {
      std::fprintf(stderr, "rank %d: wrong results (%d) at count %zu\n", rank, rc, count);
      break;
    }
  }
  // Broadcast reads only the root's input: with the root (rank 1, shared
  // unless n == 2 in the mixed case) shared it runs single copy anyway.
  const bool rootShared = everyoneShared || n - 1 != 1;
  auto counts = c->sharedSingleCopyCounts();
  const uint64_t broadcasts = 3;
  const uint64_t expectRan =
      everyoneShared ? static_cast<uint64_t>(calls - inPlaceAllReduces) : (rootShared ? broadcasts : 0);
  const uint64_t expectDeclined = static_cast<uint64_t>(calls) - expectRan;
  if (rc == 0 && (calls != 15 || counts.ran != expectRan || counts.declined != expectDeclined)) {
    std::fprintf(stderr, "rank %d: %d calls, %llu single copy, %llu declined; expected %llu and %llu\n", rank,
                 calls, static_cast<unsigned long long>(counts.ran),
                 static_cast<unsigned long long>(counts.declined), static_cast<unsigned long long>(expectRan),
                 static_cast<unsigned long long>(expectDeclined));
    rc = 12;
  }
  ncclCommDestroy(comm);
  return rc;
}

class SharedBuffers : public ::testing::TestWithParam<int> {};

TEST_P(SharedBuffers, EveryRankSharedRunsSingleCopy) {
  const int n = GetParam();
  Watchdog dog(120, "EveryRankSharedRunsSingleCopy");
  const int port = 20000 + ((getpid() * 7 + n) % 20000);
  auto codes = runProcesses(n, [&](int rank) { return runRank(rank, n, port, true); }, 110);
  for (int r = 0; r < n; ++r) EXPECT_EQ(codes[r], 0) << "process " << r;
}

TEST_P(SharedBuffers, OnePlainRankMakesAllDeclineTogether) {
  const int n = GetParam();
  Watchdog dog(120, "OnePlainRankMakesAllDeclineTogether");
  const int port = 20000 + ((getpid() * 7 + n + 3) % 20000);
  auto codes = runProcesses(n, [&](int rank) { return runRank(rank, n, port, false); }, 110);
  for (int r = 0; r < n; ++r) EXPECT_EQ(codes[r], 0) << "process " << r;
}

INSTANTIATE_TEST_SUITE_P(Processes, SharedBuffers, ::testing::Values(2, 3));

}  // namespace
