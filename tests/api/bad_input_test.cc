// Bad input returns a clear error (ncclInvalidArgument or ncclInvalidUsage,
// with text in ncclGetLastError), never a crash, a hang or success.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "cuda/runtime.h"
#include "nccl.h"
#include "strata.h"
#include "support/ranks.h"

namespace {

using strata::testing::Watchdog;

class SingleRank : public ::testing::Test {
 protected:
  void SetUp() override {
    ncclUniqueId id;
    ASSERT_EQ(ncclGetUniqueId(&id), ncclSuccess);
    ASSERT_EQ(ncclCommInitRank(&comm_, 1, id, 0), ncclSuccess);
  }
  void TearDown() override {
    if (comm_ != nullptr) {
      EXPECT_EQ(ncclCommDestroy(comm_), ncclSuccess);
    }
  }
  std::string lastError() const { return ncclGetLastError(comm_); }
  ncclComm_t comm_ = nullptr;
  std::vector<float> a_ = std::vector<float>(64, 1.0f);
  std::vector<float> b_ = std::vector<float>(64, 0.0f);
};

TEST_F(SingleRank, NullBuffersAreRejected) {
  Watchdog dog(30, "NullBuffersAreRejected");
  EXPECT_EQ(ncclAllReduce(nullptr, b_.data(), 4, ncclFloat, ncclSum, comm_, nullptr),
            ncclInvalidArgument);
  EXPECT_NE(lastError().find("sendbuff"), std::string::npos) << lastError();
  EXPECT_EQ(ncclAllReduce(a_.data(), nullptr, 4, ncclFloat, ncclSum, comm_, nullptr),
            ncclInvalidArgument);
  EXPECT_NE(lastError().find("recvbuff"), std::string::npos) << lastError();
  EXPECT_EQ(ncclSend(nullptr, 4, ncclFloat, 0, comm_, nullptr), ncclInvalidArgument);
  EXPECT_EQ(ncclRecv(nullptr, 4, ncclFloat, 0, comm_, nullptr), ncclInvalidArgument);
  // A zero count needs no buffers.
  EXPECT_EQ(ncclAllReduce(nullptr, nullptr, 0, ncclFloat, ncclSum, comm_, nullptr), ncclSuccess);
}

TEST_F(SingleRank, InvalidDatatypeOpRootPeer) {
  Watchdog dog(30, "InvalidDatatypeOpRootPeer");
  EXPECT_EQ(ncclAllReduce(a_.data(), b_.data(), 4, static_cast<ncclDataType_t>(12), ncclSum, comm_,
                          nullptr),
            ncclInvalidArgument);
  EXPECT_NE(lastError().find("datatype"), std::string::npos) << lastError();
  EXPECT_EQ(ncclAllReduce(a_.data(), b_.data(), 4, static_cast<ncclDataType_t>(-1), ncclSum,
                          comm_, nullptr),
            ncclInvalidArgument);
  EXPECT_EQ(ncclAllReduce(a_.data(), b_.data(), 4, ncclFloat, static_cast<ncclRedOp_t>(17), comm_,
                          nullptr),
            ncclInvalidArgument);
  EXPECT_NE(lastError().find("reduction operator"), std::string::npos) << lastError();
  EXPECT_EQ(ncclBroadcast(a_.data(), b_.data(), 4, ncclFloat, 1, comm_, nullptr),
            ncclInvalidArgument);
  EXPECT_NE(lastError().find("root"), std::string::npos) << lastError();
  EXPECT_EQ(ncclReduce(a_.data(), b_.data(), 4, ncclFloat, ncclSum, -1, comm_, nullptr),
            ncclInvalidArgument);
  EXPECT_EQ(ncclSend(a_.data(), 4, ncclFloat, 1, comm_, nullptr), ncclInvalidArgument);
  EXPECT_NE(lastError().find("peer"), std::string::npos) << lastError();
  EXPECT_EQ(ncclRecv(b_.data(), 4, ncclFloat, -3, comm_, nullptr), ncclInvalidArgument);
}

TEST_F(SingleRank, CountOverflowIsRejected) {
  Watchdog dog(30, "CountOverflowIsRejected");
  size_t huge = SIZE_MAX / 2;
  EXPECT_EQ(ncclAllReduce(a_.data(), b_.data(), huge, ncclFloat, ncclSum, comm_, nullptr),
            ncclInvalidArgument);
  EXPECT_NE(lastError().find("overflows"), std::string::npos) << lastError();
  EXPECT_EQ(ncclAllGather(a_.data(), b_.data(), SIZE_MAX / 8 + 1, ncclDouble, comm_, nullptr),
            ncclInvalidArgument);
}

TEST_F(SingleRank, PreMulSumMisuse) {
  Watchdog dog(30, "PreMulSumMisuse");
  float scalar = 2.0f;
  ncclRedOp_t op;
  EXPECT_EQ(ncclRedOpCreatePreMulSum(&op, nullptr, ncclFloat, ncclScalarHostImmediate, comm_),
            ncclInvalidArgument);
  ASSERT_EQ(ncclRedOpCreatePreMulSum(&op, &scalar, ncclFloat, ncclScalarHostImmediate, comm_),
            ncclSuccess);
  // Created for float, used with double.
  std::vector<double> d(4, 1.0), e(4);
  EXPECT_EQ(ncclAllReduce(d.data(), e.data(), 4, ncclDouble, op, comm_, nullptr),
            ncclInvalidArgument);
  ASSERT_EQ(ncclAllReduce(a_.data(), b_.data(), 4, ncclFloat, op, comm_, nullptr), ncclSuccess);
  EXPECT_EQ(b_[0], 2.0f);
  EXPECT_EQ(ncclRedOpDestroy(op, comm_), ncclSuccess);
  EXPECT_EQ(ncclRedOpDestroy(op, comm_), ncclInvalidArgument);
  EXPECT_EQ(ncclRedOpDestroy(ncclSum, comm_), ncclInvalidArgument);
  // The destroyed operator can no longer be used.
  EXPECT_EQ(ncclAllReduce(a_.data(), b_.data(), 4, ncclFloat, op, comm_, nullptr),
            ncclInvalidArgument);
}

TEST_F(SingleRank, QueriesCheckTheirArguments) {
  EXPECT_EQ(ncclCommCount(comm_, nullptr), ncclInvalidArgument);
  EXPECT_EQ(ncclCommUserRank(comm_, nullptr), ncclInvalidArgument);
  EXPECT_EQ(ncclCommGetAsyncError(comm_, nullptr), ncclInvalidArgument);
  EXPECT_EQ(ncclGetVersion(nullptr), ncclInvalidArgument);
  EXPECT_EQ(ncclGetUniqueId(nullptr), ncclInvalidArgument);
  int n = 0;
  EXPECT_EQ(ncclCommCount(nullptr, &n), ncclInvalidArgument);
  ncclResult_t async = ncclInternalError;
  EXPECT_EQ(ncclCommGetAsyncError(comm_, &async), ncclSuccess);
  EXPECT_EQ(async, ncclSuccess);
}

TEST(CommLifecycle, UseAfterDestroyIsAnError) {
  Watchdog dog(30, "UseAfterDestroyIsAnError");
  ncclUniqueId id;
  ASSERT_EQ(ncclGetUniqueId(&id), ncclSuccess);
  ncclComm_t comm;
  ASSERT_EQ(ncclCommInitRank(&comm, 1, id, 0), ncclSuccess);
  ASSERT_EQ(ncclCommDestroy(comm), ncclSuccess);
  float x = 1, y = 0;
  EXPECT_EQ(ncclAllReduce(&x, &y, 1, ncclFloat, ncclSum, comm, nullptr), ncclInvalidArgument);
  EXPECT_NE(std::string(ncclGetLastError(nullptr)).find("not a live communicator"),
            std::string::npos);
  int n;
  EXPECT_EQ(ncclCommCount(comm, &n), ncclInvalidArgument);
  EXPECT_EQ(ncclCommDestroy(comm), ncclInvalidArgument);
  // A made-up handle is rejected the same way.
  EXPECT_EQ(ncclCommCount(reinterpret_cast<ncclComm_t>(&x), &n), ncclInvalidArgument);
}

TEST(CommLifecycle, InitArgumentsAreChecked) {
  Watchdog dog(30, "InitArgumentsAreChecked");
  ncclUniqueId id;
  ASSERT_EQ(ncclGetUniqueId(&id), ncclSuccess);
  ncclComm_t comm = nullptr;
  EXPECT_EQ(ncclCommInitRank(nullptr, 1, id, 0), ncclInvalidArgument);
  EXPECT_EQ(ncclCommInitRank(&comm, 0, id, 0), ncclInvalidArgument);
  EXPECT_EQ(ncclCommInitRank(&comm, 2, id, 2), ncclInvalidArgument);
  EXPECT_EQ(ncclCommInitRank(&comm, 2, id, -1), ncclInvalidArgument);
  ncclUniqueId garbage;
  std::memset(&garbage, 0x41, sizeof garbage);
  EXPECT_EQ(ncclCommInitRank(&comm, 1, garbage, 0), ncclInvalidArgument);
  EXPECT_NE(std::string(ncclGetLastError(nullptr)).find("unique id"), std::string::npos);
  EXPECT_EQ(ncclCommInitAll(nullptr, 2, nullptr), ncclInvalidArgument);
  ncclComm_t comms[2];
  EXPECT_EQ(ncclCommInitAll(comms, 0, nullptr), ncclInvalidArgument);
}

TEST(CommLifecycle, ConfigIsValidated) {
  Watchdog dog(30, "ConfigIsValidated");
  ncclUniqueId id;
  ASSERT_EQ(ncclGetUniqueId(&id), ncclSuccess);
  ncclComm_t comm = nullptr;
  ncclConfig_t bad;
  std::memset(&bad, 0, sizeof bad);  // not from NCCL_CONFIG_INITIALIZER
  EXPECT_EQ(ncclCommInitRankConfig(&comm, 1, id, 0, &bad), ncclInvalidArgument);
  EXPECT_NE(std::string(ncclGetLastError(nullptr)).find("NCCL_CONFIG_INITIALIZER"),
            std::string::npos);
  ncclConfig_t cfg = NCCL_CONFIG_INITIALIZER;
  cfg.blocking = 7;
  EXPECT_EQ(ncclCommInitRankConfig(&comm, 1, id, 0, &cfg), ncclInvalidArgument);
  cfg = NCCL_CONFIG_INITIALIZER;
  cfg.minCTAs = 4;
  cfg.maxCTAs = 2;
  EXPECT_EQ(ncclCommInitRankConfig(&comm, 1, id, 0, &cfg), ncclInvalidArgument);
}

// A caller built against an older NCCL passes a smaller struct: only the
// fields it has are read.
TEST(CommLifecycle, OlderSmallerConfigIsRead) {
  Watchdog dog(30, "OlderSmallerConfigIsRead");
  struct OldConfig {  // the 2.14-era layout
    size_t size;
    unsigned magic, version;
    int blocking, cgaClusterSize, minCTAs, maxCTAs;
    const char* netName;
  } old = {sizeof(OldConfig), 0xcafebeef, 21400, 1, NCCL_CONFIG_UNDEF_INT, NCCL_CONFIG_UNDEF_INT,
           1, nullptr};
  ncclUniqueId id;
  ASSERT_EQ(ncclGetUniqueId(&id), ncclSuccess);
  ncclComm_t comm = nullptr;
  ASSERT_EQ(ncclCommInitRankConfig(&comm, 1, id, 0, reinterpret_cast<ncclConfig_t*>(&old)),
            ncclSuccess);
  float x = 3, y = 0;
  EXPECT_EQ(ncclAllReduce(&x, &y, 1, ncclFloat, ncclSum, comm, nullptr), ncclSuccess);
  EXPECT_EQ(y, 3.0f);
  EXPECT_EQ(ncclCommDestroy(comm), ncclSuccess);
}

TEST(Groups, EndWithoutStartIsAnError) {
  EXPECT_EQ(ncclGroupEnd(), ncclInvalidUsage);
  EXPECT_EQ(ncclGroupStart(), ncclSuccess);
  EXPECT_EQ(ncclGroupStart(), ncclSuccess);
  EXPECT_EQ(ncclGroupEnd(), ncclSuccess);
  EXPECT_EQ(ncclGroupEnd(), ncclSuccess);
  EXPECT_EQ(ncclGroupEnd(), ncclInvalidUsage);
}

TEST(Groups, InvalidOperationFailsTheGroup) {
  Watchdog dog(30, "InvalidOperationFailsTheGroup");
  ncclUniqueId id;
  ASSERT_EQ(ncclGetUniqueId(&id), ncclSuccess);
  ncclComm_t comm;
  ASSERT_EQ(ncclCommInitRank(&comm, 1, id, 0), ncclSuccess);
  float x = 1, y = -1;
  ASSERT_EQ(ncclGroupStart(), ncclSuccess);
  EXPECT_EQ(ncclAllReduce(&x, &y, 1, ncclFloat, ncclSum, comm, nullptr), ncclSuccess);
  EXPECT_EQ(ncclAllReduce(&x, nullptr, 1, ncclFloat, ncclSum, comm, nullptr), ncclInvalidArgument);
  EXPECT_EQ(ncclGroupEnd(), ncclInvalidArgument);
  EXPECT_EQ(y, -1.0f) << "nothing in a failed group may run";
  EXPECT_EQ(ncclCommDestroy(comm), ncclSuccess);
}

TEST(Unavailable, SaysSoInsteadOfSucceeding) {
  EXPECT_EQ(ncclDevCommCreate(nullptr, nullptr, nullptr), ncclInvalidUsage);
  EXPECT_NE(std::string(ncclGetLastError(nullptr)).find("not available"), std::string::npos);
  EXPECT_EQ(ncclDevCommDestroy(nullptr, nullptr), ncclInvalidUsage);
  ncclSimInfo_t info = NCCL_SIM_INFO_INITIALIZER;
  EXPECT_EQ(ncclGroupSimulateEnd(&info), ncclInvalidUsage);
  EXPECT_EQ(ncclCommShrink(nullptr, nullptr, 0, nullptr, nullptr, 0), ncclInvalidUsage);
}

// ncclMemAlloc gives device memory where there is a GPU and says why not
// where there is none (the GPU side is in tests/cuda).
TEST(MemAlloc, WithoutAGpuSaysWhy) {
  EXPECT_EQ(ncclMemAlloc(nullptr, 16), ncclInvalidArgument);
  EXPECT_EQ(ncclMemFree(nullptr), ncclSuccess);
  if (strata::cuda::deviceCount() > 0) GTEST_SKIP() << "a GPU is present: see tests/cuda";
  void* p = reinterpret_cast<void*>(1);
  EXPECT_EQ(ncclMemAlloc(&p, 1024), ncclInvalidUsage);
  EXPECT_EQ(p, nullptr);
  EXPECT_NE(std::string(ncclGetLastError(nullptr)).find("device memory is not available"),
            std::string::npos) << ncclGetLastError(nullptr);
}

TEST(Errors, StringsAndVersion) {
  int v = 0;
  ASSERT_EQ(ncclGetVersion(&v), ncclSuccess);
  EXPECT_EQ(v, NCCL_VERSION_CODE);
  EXPECT_EQ(v, 22803);
  EXPECT_STREQ(ncclGetErrorString(ncclSuccess), "no error");
  EXPECT_NE(std::string(ncclGetErrorString(ncclInvalidArgument)).find("invalid argument"),
            std::string::npos);
  EXPECT_NE(std::string(ncclGetErrorString(static_cast<ncclResult_t>(99))).find("unknown"),
            std::string::npos);
}

}  // namespace
