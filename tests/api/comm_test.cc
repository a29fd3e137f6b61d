// Communicator features through the public API, ranks as threads and as
// processes: split, groups over several collectives and communicators,
// abort, timeouts, environment initialisation, large counts.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "nccl.h"
#include "strata.h"
#include "support/ranks.h"

namespace {

using strata::testing::runProcesses;
using strata::testing::runThreads;
using strata::testing::ScopedEnv;
using strata::testing::Watchdog;

#define NCCL_OK(call) ASSERT_EQ((call), ncclSuccess) << #call << ": " << ncclGetLastError(nullptr)

TEST(Split, ColorsAndKeysOrderTheNewRanks) {
  const int n = 7;
  ncclUniqueId id;
  NCCL_OK(ncclGetUniqueId(&id));
  runThreads(n, [&](int rank) {
    ncclComm_t comm;
    NCCL_OK(ncclCommInitRank(&comm, n, id, rank));
    // Even ranks form one communicator ordered by descending rank; rank 3
    // opts out; the other odd ranks form another.
    int color = rank == 3 ? NCCL_SPLIT_NOCOLOR : rank % 2;
    ncclComm_t sub = nullptr;
    NCCL_OK(ncclCommSplit(comm, color, -rank, &sub, nullptr));
    if (rank == 3) {
      EXPECT_EQ(sub, nullptr);
    } else {
      ASSERT_NE(sub, nullptr);
      int subRank = -1, subSize = -1;
      NCCL_OK(ncclCommUserRank(sub, &subRank));
      NCCL_OK(ncclCommCount(sub, &subSize));
      std::vector<int> members;
      for (int r = n - 1; r >= 0; --r) {
        if (r != 3 && r % 2 == color) members.push_back(r);
      }
      EXPECT_EQ(subSize, static_cast<int>(members.size()));
      EXPECT_EQ(members[subRank], rank);
      int in = rank, out = 0;
      NCCL_OK(ncclAllReduce(&in, &out, 1, ncclInt32, ncclSum, sub, nullptr));
      EXPECT_EQ(out, std::accumulate(members.begin(), members.end(), 0));
      NCCL_OK(ncclCommDestroy(sub));
    }
    // The parent still works after the split.
    int in = 1, out = 0;
    NCCL_OK(ncclAllReduce(&in, &out, 1, ncclInt32, ncclSum, comm, nullptr));
    EXPECT_EQ(out, n);
    NCCL_OK(ncclCommDestroy(comm));
  });
}

TEST(Groups, SeveralCollectivesAndCommunicatorsInOneGroup) {
  Watchdog dog(120, "SeveralCollectivesAndCommunicatorsInOneGroup");
  const int n = 4;
  const size_t count = 1001;
  ncclComm_t comms[n];
  NCCL_OK(ncclCommInitAll(comms, n, nullptr));
  std::vector<std::vector<float>> in(n), sum(n), bcast(n), gathered(n);
  for (int r = 0; r < n; ++r) {
    in[r].resize(count);
    for (size_t i = 0; i < count; ++i) in[r][i] = static_cast<float>(r + i % 5);
    sum[r].assign(count, -1);
    bcast[r].assign(count, -1);
    gathered[r].assign(count * n, -1);
  }
  NCCL_OK(ncclGroupStart());
  for (int r = 0; r < n; ++r) {
    NCCL_OK(ncclGroupStart());  // nested
    NCCL_OK(ncclAllReduce(in[r].data(), sum[r].data(), count, ncclFloat, ncclSum, comms[r], nullptr));
    NCCL_OK(ncclBroadcast(in[r].data(), bcast[r].data(), count, ncclFloat, 2, comms[r], nullptr));
    NCCL_OK(ncclAllGather(in[r].data(), gathered[r].data(), count, ncclFloat, comms[r], nullptr));
    NCCL_OK(ncclGroupEnd());
  }
  NCCL_OK(ncclGroupEnd());
  for (int r = 0; r < n; ++r) {
    for (size_t i = 0; i < count; ++i) {
      float expect = 0;
      for (int q = 0; q < n; ++q) expect += static_cast<float>(q + i % 5);
      ASSERT_EQ(sum[r][i], expect) << "rank " << r << " elem " << i;
      ASSERT_EQ(bcast[r][i], in[2][i]);
      for (int q = 0; q < n; ++q) ASSERT_EQ(gathered[r][q * count + i], in[q][i]);
    }
  }
  for (auto c : comms) NCCL_OK(ncclCommDestroy(c));
}

// PyTorch calls ncclAllToAll; NCCL's header spells it ncclAlltoAll.
TEST(Groups, AllToAllUnderBothSpellings) {
  Watchdog dog(60, "AllToAllUnderBothSpellings");
  const int n = 3;
  ncclComm_t comms[n];
  NCCL_OK(ncclCommInitAll(comms, n, nullptr));
  std::vector<std::vector<int>> in(n, std::vector<int>(n)), a(n, std::vector<int>(n, -1)),
      b(n, std::vector<int>(n, -1));
  for (int r = 0; r < n; ++r) {
    for (int j = 0; j < n; ++j) in[r][j] = 10 * r + j;
  }
  NCCL_OK(ncclGroupStart());
  for (int r = 0; r < n; ++r) {
    NCCL_OK(ncclAllToAll(in[r].data(), a[r].data(), 1, ncclInt32, comms[r], nullptr));
    NCCL_OK(ncclAlltoAll(in[r].data(), b[r].data(), 1, ncclInt32, comms[r], nullptr));
  }
  NCCL_OK(ncclGroupEnd());
  for (int r = 0; r < n; ++r) {
    for (int j = 0; j < n; ++j) {
      EXPECT_EQ(a[r][j], 10 * j + r);
      EXPECT_EQ(b[r][j], 10 * j + r);
    }
  }
  for (auto c : comms) NCCL_OK(ncclCommDestroy(c));
}

TEST(Faults, RevokeStopsTheCommunicator) {
  Watchdog dog(30, "RevokeStopsTheCommunicator");
  ncclUniqueId id;
  NCCL_OK(ncclGetUniqueId(&id));
  ncclComm_t comm;
  NCCL_OK(ncclCommInitRank(&comm, 1, id, 0));
  EXPECT_EQ(ncclCommRevoke(comm, 1), ncclInvalidArgument);
  NCCL_OK(ncclCommRevoke(comm, NCCL_REVOKE_DEFAULT));
  float x = 1, y = 0;
  EXPECT_NE(ncclAllReduce(&x, &y, 1, ncclFloat, ncclSum, comm, nullptr), ncclSuccess);
  NCCL_OK(ncclCommDestroy(comm));
}

TEST(Groups, InitRankInsideAGroupFromOneThread) {
  Watchdog dog(60, "InitRankInsideAGroupFromOneThread");
  const int n = 3;
  ncclUniqueId id;
  NCCL_OK(ncclGetUniqueId(&id));
  ncclComm_t comms[n];
  NCCL_OK(ncclGroupStart());
  for (int r = 0; r < n; ++r) NCCL_OK(ncclCommInitRank(&comms[r], n, id, r));
  NCCL_OK(ncclGroupEnd());
  int vals[n] = {1, 2, 3}, out[n] = {};
  NCCL_OK(ncclGroupStart());
  for (int r = 0; r < n; ++r) {
    NCCL_OK(ncclAllReduce(&vals[r], &out[r], 1, ncclInt32, ncclMax, comms[r], nullptr));
  }
  NCCL_OK(ncclGroupEnd());
  for (int r = 0; r < n; ++r) EXPECT_EQ(out[r], 3);
  for (auto c : comms) NCCL_OK(ncclCommDestroy(c));
}

TEST(PreMulSum, DeviceResidenceReadsTheScalarAtEachCall) {
  Watchdog dog(30, "DeviceResidence");
  ncclUniqueId id;
  NCCL_OK(ncclGetUniqueId(&id));
  ncclComm_t comm;
  NCCL_OK(ncclCommInitRank(&comm, 1, id, 0));
  double scalar = 3.0;
  ncclRedOp_t op;
  NCCL_OK(ncclRedOpCreatePreMulSum(&op, &scalar, ncclDouble, ncclScalarDevice, comm));
  double x = 2.0, y = 0.0;
  NCCL_OK(ncclAllReduce(&x, &y, 1, ncclDouble, op, comm, nullptr));
  EXPECT_EQ(y, 6.0);
  scalar = 5.0;
  NCCL_OK(ncclAllReduce(&x, &y, 1, ncclDouble, op, comm, nullptr));
  EXPECT_EQ(y, 10.0);
  NCCL_OK(ncclRedOpDestroy(op, comm));
  NCCL_OK(ncclCommDestroy(comm));
}

// A rank that never arrives: the others fail within the timeout.
TEST(Faults, MissingRankTimesOutInsteadOfHanging) {
  Watchdog dog(60, "MissingRankTimesOut");
  ScopedEnv timeout("STRATA_TIMEOUT", "3");
  ncclUniqueId id;
  NCCL_OK(ncclGetUniqueId(&id));
  auto start = std::chrono::steady_clock::now();
  runThreads(2, [&](int rank) {
    ncclComm_t comm = nullptr;
    ncclResult_t rc = ncclCommInitRank(&comm, 3, id, rank);  // rank 2 never comes
    EXPECT_NE(rc, ncclSuccess);
    EXPECT_EQ(comm, nullptr);
  });
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took, std::chrono::seconds(20));
}

// A collective whose peer never joins: ncclCommAbort from another thread
// ends it promptly with an error. `count` floats: 2 takes the low-latency
// protocol (run directly, outside the general executor loop), 65536 the FIFO
// path.
void abortEndsABlockedCollective(size_t count) {
  ncclUniqueId id;
  NCCL_OK(ncclGetUniqueId(&id));
  ncclComm_t comms[2] = {nullptr, nullptr};
  runThreads(2, [&](int rank) { NCCL_OK(ncclCommInitRank(&comms[rank], 2, id, rank)); });
  std::atomic<bool> returned{false};
  ncclResult_t rc = ncclSuccess;
  std::vector<float> buf(count, 1.0f);
  std::thread blocked([&] {
    // Rank 1 never calls all-reduce.
    rc = ncclAllReduce(buf.data(), buf.data(), buf.size(), ncclFloat, ncclSum, comms[0], nullptr);
    returned = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(returned.load()) << count << " floats";
  auto start = std::chrono::steady_clock::now();
  NCCL_OK(ncclCommAbort(comms[0]));
  blocked.join();
  EXPECT_TRUE(returned.load());
  EXPECT_NE(rc, ncclSuccess) << count << " floats";
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10)) << count << " floats";
  NCCL_OK(ncclCommAbort(comms[1]));
}

TEST(Faults, AbortEndsABlockedCollective) {
  Watchdog dog(60, "AbortEndsABlockedCollective");
  abortEndsABlockedCollective(1 << 16);
}

TEST(Faults, AbortEndsABlockedSmallCollective) {
  Watchdog dog(60, "AbortEndsABlockedSmallCollective");
  abortEndsABlockedCollective(2);
}

TEST(Faults, StalledPeerGivesATimeoutError) {
  Watchdog dog(60, "StalledPeerGivesATimeoutError");
  ScopedEnv timeout("STRATA_TIMEOUT", "2");
  ncclUniqueId id;
  NCCL_OK(ncclGetUniqueId(&id));
  runThreads(2, [&](int rank) {
    ncclComm_t comm;
    NCCL_OK(ncclCommInitRank(&comm, 2, id, rank));
    if (rank == 0) {
      float x = 1, y = 0;
      ncclResult_t rc = ncclAllReduce(&x, &y, 1, ncclFloat, ncclSum, comm, nullptr);
      EXPECT_EQ(rc, ncclSystemError);
      EXPECT_NE(std::string(ncclGetLastError(comm)).find("timed out"), std::string::npos)
          << ncclGetLastError(comm);
      ncclResult_t async;
      NCCL_OK(ncclCommGetAsyncError(comm, &async));
      EXPECT_NE(async, ncclSuccess);
    } else {
      std::this_thread::sleep_for(std::chrono::seconds(4));  // never joins the collective
    }
    NCCL_OK(ncclCommAbort(comm));
  });
}

TEST(EnvInit, RootAddressAndSecretFromTheEnvironment) {
  Watchdog dog(90, "EnvInit");
  const int n = 3;
  int port = 20000 + (getpid() % 20000);
  auto codes = runProcesses(n, [&](int rank) {
    setenv("STRATA_RANK", std::to_string(rank).c_str(), 1);
    setenv("STRATA_WORLD_SIZE", std::to_string(n).c_str(), 1);
    setenv("STRATA_ROOT_ADDR", ("127.0.0.1:" + std::to_string(port)).c_str(), 1);
    setenv("STRATA_SECRET", "00112233445566778899aabbccddeeff", 1);
    ncclComm_t comm;
    if (strataCommInitFromEnv(&comm) != ncclSuccess) {
      std::fprintf(stderr, "init: %s\n", ncclGetLastError(nullptr));
      return 1;
    }
    long in = rank + 1, out = 0;
    if (ncclAllReduce(&in, &out, 1, ncclInt64, ncclSum, comm, nullptr) != ncclSuccess) return 2;
    ncclCommDestroy(comm);
    return out == 6 ? 0 : 3;
  });
  for (int r = 0; r < n; ++r) EXPECT_EQ(codes[r], 0) << "rank " << r;
}

// Slurm's srun: SLURM_PROCID/SLURM_NTASKS/SLURM_LOCALID, the root address
// and secret given by the job script.
TEST(EnvInit, SlurmVariables) {
  Watchdog dog(90, "EnvInit.SlurmVariables");
  const int n = 3;
  int port = 20000 + ((getpid() + 7) % 20000);
  auto codes = runProcesses(n, [&](int rank) {
    for (const char* v : {"STRATA_RANK", "STRATA_WORLD_SIZE", "RANK", "WORLD_SIZE",
                          "OMPI_COMM_WORLD_RANK", "PMI_RANK", "STRATA_UNIQUE_ID"}) {
      unsetenv(v);
    }
    // Slurm numbers tasks 0..n-1; hand them out in reverse so a rank taken
    // from anywhere else would be caught by the value check below.
    setenv("SLURM_PROCID", std::to_string(n - 1 - rank).c_str(), 1);
    setenv("SLURM_NTASKS", std::to_string(n).c_str(), 1);
    setenv("SLURM_LOCALID", "0", 1);
    setenv("STRATA_ROOT_ADDR", ("127.0.0.1:" + std::to_string(port)).c_str(), 1);
    setenv("STRATA_SECRET", "00112233445566778899aabbccddeef0", 1);
    ncclComm_t comm;
    if (strataCommInitFromEnv(&comm) != ncclSuccess) {
      std::fprintf(stderr, "init: %s\n", ncclGetLastError(nullptr));
      return 1;
    }
    int me = -1, size = 0;
    ncclCommUserRank(comm, &me);
    ncclCommCount(comm, &size);
    if (me != n - 1 - rank || size != n) return 4;
    long in = me + 1, out = 0;
    if (ncclAllReduce(&in, &out, 1, ncclInt64, ncclSum, comm, nullptr) != ncclSuccess) return 2;
    ncclCommDestroy(comm);
    return out == 6 ? 0 : 3;
  });
  for (int r = 0; r < n; ++r) EXPECT_EQ(codes[r], 0) << "process " << r;
}

// torchrun: RANK/WORLD_SIZE/LOCAL_RANK and MASTER_ADDR/MASTER_PORT (the root
// listens on MASTER_PORT + 1); the secret comes from STRATA_SECRET.
TEST(EnvInit, TorchrunVariables) {
  Watchdog dog(90, "EnvInit.TorchrunVariables");
  const int n = 2;
  int port = 20000 + ((getpid() + 13) % 20000);
  auto codes = runProcesses(n, [&](int rank) {
    for (const char* v : {"STRATA_RANK", "STRATA_WORLD_SIZE", "STRATA_ROOT_ADDR",
                          "STRATA_UNIQUE_ID"}) {
      unsetenv(v);
    }
    setenv("RANK", std::to_string(rank).c_str(), 1);
    setenv("WORLD_SIZE", std::to_string(n).c_str(), 1);
    setenv("LOCAL_RANK", std::to_string(rank).c_str(), 1);
    setenv("MASTER_ADDR", "127.0.0.1", 1);
    setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
    setenv("STRATA_SECRET", "00112233445566778899aabbccddeef1", 1);
    // A Slurm allocation around torchrun: its variables must not be mixed in.
    setenv("SLURM_PROCID", "0", 1);
    setenv("SLURM_NTASKS", "1", 1);
    ncclComm_t comm;
    if (strataCommInitFromEnv(&comm) != ncclSuccess) {
      std::fprintf(stderr, "init: %s\n", ncclGetLastError(nullptr));
      return 1;
    }
    int size = 0;
    ncclCommCount(comm, &size);
    long in = rank + 1, out = 0;
    if (ncclAllReduce(&in, &out, 1, ncclInt64, ncclSum, comm, nullptr) != ncclSuccess) return 2;
    ncclCommDestroy(comm);
    return size == n && out == 3 ? 0 : 3;
  });
  for (int r = 0; r < n; ++r) EXPECT_EQ(codes[r], 0) << "rank " << r;
}

// A rank from one launcher with the size missing is an error, not a guess
// from another launcher's variables.
TEST(EnvInit, RankWithoutSizeOfTheSameLauncherIsAClearError) {
  ScopedEnv srank("STRATA_RANK", "");
  ScopedEnv ssize("STRATA_WORLD_SIZE", "");
  ScopedEnv rank("RANK", "1");
  ScopedEnv size("WORLD_SIZE", "");
  ScopedEnv slurm("SLURM_NTASKS", "4");
  ncclComm_t comm;
  EXPECT_EQ(strataCommInitFromEnv(&comm), ncclInvalidArgument);
  std::string err = ncclGetLastError(nullptr);
  EXPECT_NE(err.find("WORLD_SIZE is not"), std::string::npos) << err;
}

TEST(EnvInit, RankNotBelowSizeIsAClearError) {
  ScopedEnv srank("STRATA_RANK", "4");
  ScopedEnv ssize("STRATA_WORLD_SIZE", "4");
  ncclComm_t comm;
  EXPECT_EQ(strataCommInitFromEnv(&comm), ncclInvalidArgument);
  std::string err = ncclGetLastError(nullptr);
  EXPECT_NE(err.find("is not below"), std::string::npos) << err;
}

TEST(EnvInit, MalformedMasterPortIsAClearError) {
  ScopedEnv rank("STRATA_RANK", "0");
  ScopedEnv size("STRATA_WORLD_SIZE", "2");
  ScopedEnv root("STRATA_ROOT_ADDR", "");
  ScopedEnv id("STRATA_UNIQUE_ID", "");
  ScopedEnv addr("MASTER_ADDR", "127.0.0.1");
  ScopedEnv port("MASTER_PORT", "29x");
  ncclComm_t comm;
  EXPECT_EQ(strataCommInitFromEnv(&comm), ncclInvalidArgument);
  std::string err = ncclGetLastError(nullptr);
  EXPECT_NE(err.find("MASTER_PORT"), std::string::npos) << err;
}

TEST(EnvInit, MissingSecretIsAClearError) {
  ScopedEnv rank("STRATA_RANK", "0");
  ScopedEnv size("STRATA_WORLD_SIZE", "2");
  ScopedEnv root("STRATA_ROOT_ADDR", "127.0.0.1:1");
  ScopedEnv secret("STRATA_SECRET", "");
  ncclComm_t comm;
  EXPECT_EQ(strataCommInitFromEnv(&comm), ncclInvalidArgument);
  EXPECT_NE(std::string(ncclGetLastError(nullptr)).find("STRATA_SECRET"), std::string::npos);
}

TEST(UniqueIdText, RoundTrips) {
  ncclUniqueId id, back;
  NCCL_OK(ncclGetUniqueId(&id));
  char hex[STRATA_UNIQUE_ID_HEX_BYTES];
  NCCL_OK(strataUniqueIdToHex(&id, hex));
  EXPECT_EQ(std::strlen(hex), 256u);
  NCCL_OK(strataUniqueIdFromHex(hex, &back));
  EXPECT_EQ(std::memcmp(&id, &back, sizeof id), 0);
  EXPECT_EQ(strataUniqueIdFromHex("abc", &back), ncclInvalidArgument);
}

// Counts are size_t end to end: more than 2^31 elements through one call.
TEST(LargeCounts, MoreThanTwoGiBInOneCall) {
  Watchdog dog(120, "MoreThanTwoGiBInOneCall");
  const size_t count = (size_t{1} << 31) + 3;
  std::vector<int8_t> in(count), out(count, 0);
  for (size_t i = count - 16; i < count; ++i) in[i] = static_cast<int8_t>(i & 0x7f);
  in[0] = 5;
  ncclUniqueId id;
  NCCL_OK(ncclGetUniqueId(&id));
  ncclComm_t comm;
  NCCL_OK(ncclCommInitRank(&comm, 1, id, 0));
  NCCL_OK(ncclAllReduce(in.data(), out.data(), count, ncclInt8, ncclSum, comm, nullptr));
  EXPECT_EQ(out[0], 5);
  for (size_t i = count - 16; i < count; ++i) ASSERT_EQ(out[i], static_cast<int8_t>(i & 0x7f));
  NCCL_OK(ncclCommDestroy(comm));
}

}  // namespace
