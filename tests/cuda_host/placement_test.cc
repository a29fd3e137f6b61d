// Pointer classification and what the C API does with device buffers it
// cannot run: a clear ncclInvalidUsage with text, never a crash and never
// a host access of device memory. On a machine without a GPU the "device"
// buffers are host pages with no access rights, presented as device memory
// by a test classifier: any host access would kill the test.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "cuda/placement.h"
#include "cuda/pointer.h"
#include "cuda/runtime.h"
#include "nccl.h"
#include "support/ranks.h"

#if STRATA_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

namespace strata::testing {
namespace {

using cuda::MemoryKind;

TEST(PointerClassification, HostMemoryIsHost) {
  std::vector<char> heap(100);
  char stack[16];
  void* m = std::malloc(1 << 20);
  for (const void* p : {static_cast<const void*>(heap.data()), static_cast<const void*>(stack),
                        static_cast<const void*>(m), static_cast<const void*>(nullptr)}) {
    auto info = cuda::classify(p);
    EXPECT_EQ(info.kind, MemoryKind::kHost);
    EXPECT_EQ(info.device, -1);
  }
  std::free(m);
  EXPECT_FALSE(cuda::needsDevice(MemoryKind::kHost));
  EXPECT_FALSE(cuda::needsDevice(MemoryKind::kPinnedHost));
  EXPECT_TRUE(cuda::needsDevice(MemoryKind::kDevice));
  EXPECT_TRUE(cuda::needsDevice(MemoryKind::kManaged));
}

// No driver or no GPU: everything is host memory (even an address nobody
// mapped), and device execution is unavailable with a reason.
TEST(PointerClassification, WithoutAGpuEverythingIsHost) {
  if (cuda::deviceCount() > 0) GTEST_SKIP() << "a GPU is present; this checks the no-GPU case";
  EXPECT_EQ(cuda::classify(reinterpret_cast<const void*>(0x1000)).kind, MemoryKind::kHost);
  Status s = cuda::deviceExecutionAvailable();
  EXPECT_EQ(s.code(), Code::kInvalidUsage);
  EXPECT_NE(s.message().find("not available"), std::string::npos) << s.message();
  if (cuda::builtWithCuda()) {
    EXPECT_NE(s.message().find("no usable CUDA driver or GPU"), std::string::npos) << s.message();
  } else {
    EXPECT_NE(s.message().find("no CUDA support"), std::string::npos) << s.message();
  }
}

TEST(PointerClassification, PinnedHostMemory) {
#if STRATA_HAVE_CUDA
  void* p = nullptr;
  if (cudaMallocHost(&p, 4096) != cudaSuccess) {
    cudaGetLastError();
    GTEST_SKIP() << "cudaMallocHost fails here (no driver or GPU)";
  }
  EXPECT_EQ(cuda::classify(p).kind, MemoryKind::kPinnedHost);
  cudaFreeHost(p);
  void* d = nullptr;
  ASSERT_EQ(cudaMalloc(&d, 4096), cudaSuccess);
  EXPECT_EQ(cuda::classify(d).kind, MemoryKind::kDevice);
  cudaFree(d);
#else
  GTEST_SKIP() << "built without CUDA";
#endif
}

// ---- The C API with buffers presented as device memory.

struct FakeDevice {
  char* base = nullptr;
  size_t bytes = 0;
};
FakeDevice gFake;

cuda::PointerInfo fakeClassifier(const void* p) {
  cuda::PointerInfo info;
  auto c = static_cast<const char*>(p);
  if (c >= gFake.base && c < gFake.base + gFake.bytes) {
    info.kind = MemoryKind::kDevice;
    info.device = 0;
  }
  return info;
}

class DeviceBuffersUnavailable : public ::testing::Test {
 protected:
  void SetUp() override {
    if (cuda::deviceExecutionAvailable().ok()) {
      GTEST_SKIP() << "device execution is available here; tests/cuda covers it";
    }
    gFake.bytes = 1 << 16;
    void* m = mmap(nullptr, gFake.bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(m, MAP_FAILED);
    gFake.base = static_cast<char*>(m);
    cuda::setClassifierForTesting(fakeClassifier);
    ncclUniqueId id;
    ASSERT_EQ(ncclGetUniqueId(&id), ncclSuccess);
    ASSERT_EQ(ncclCommInitRank(&comm_, 1, id, 0), ncclSuccess);
  }
  void TearDown() override {
    cuda::setClassifierForTesting(nullptr);
    if (comm_ != nullptr) {
      EXPECT_EQ(ncclCommDestroy(comm_), ncclSuccess);
    }
    if (gFake.base != nullptr) munmap(gFake.base, gFake.bytes);
    gFake = FakeDevice{};
  }
  std::string lastError() const { return ncclGetLastError(comm_); }
  void* dev(size_t offset = 0) const { return gFake.base + offset; }
  ncclComm_t comm_ = nullptr;
  std::vector<float> host_ = std::vector<float>(256, 1.0f);
};

TEST_F(DeviceBuffersUnavailable, EveryCollectiveFailsClearly) {
  Watchdog dog(60, "device buffers unavailable");
  void* d0 = dev(0);
  void* d1 = dev(4096);
  EXPECT_EQ(ncclAllReduce(d0, d1, 64, ncclFloat, ncclSum, comm_, nullptr), ncclInvalidUsage);
  EXPECT_NE(lastError().find("ncclAllReduce"), std::string::npos) << lastError();
  EXPECT_NE(lastError().find("device (GPU) buffers are not available"), std::string::npos)
      << lastError();
  EXPECT_EQ(ncclAllReduce(d0, d0, 64, ncclFloat, ncclSum, comm_, nullptr), ncclInvalidUsage);
  EXPECT_EQ(ncclBroadcast(d0, d1, 64, ncclFloat, 0, comm_, nullptr), ncclInvalidUsage);
  EXPECT_EQ(ncclReduce(d0, d1, 64, ncclFloat, ncclMax, 0, comm_, nullptr), ncclInvalidUsage);
  EXPECT_EQ(ncclAllGather(d0, d1, 64, ncclFloat, comm_, nullptr), ncclInvalidUsage);
  EXPECT_EQ(ncclReduceScatter(d0, d1, 64, ncclFloat, ncclSum, comm_, nullptr), ncclInvalidUsage);
  EXPECT_EQ(ncclAlltoAll(d0, d1, 64, ncclFloat, comm_, nullptr), ncclInvalidUsage);
  EXPECT_EQ(ncclGather(d0, d1, 64, ncclFloat, 0, comm_, nullptr), ncclInvalidUsage);
  EXPECT_EQ(ncclScatter(d0, d1, 64, ncclFloat, 0, comm_, nullptr), ncclInvalidUsage);
  EXPECT_EQ(ncclSend(d0, 64, ncclFloat, 0, comm_, nullptr), ncclInvalidUsage);
  EXPECT_NE(lastError().find("ncclSend"), std::string::npos) << lastError();
  EXPECT_EQ(ncclRecv(d1, 64, ncclFloat, 0, comm_, nullptr), ncclInvalidUsage);
  // Even with the executor switched on, no GPU means no device execution.
  if (cuda::deviceCount() == 0) {
    ScopedEnv on("STRATA_CUDA", "1");
    EXPECT_EQ(ncclAllReduce(d0, d1, 64, ncclFloat, ncclSum, comm_, nullptr), ncclInvalidUsage);
    EXPECT_NE(lastError().find("not available"), std::string::npos) << lastError();
  }
  // The communicator still works for host memory afterwards.
  std::vector<float> out(256, 0.0f);
  EXPECT_EQ(ncclAllReduce(host_.data(), out.data(), 256, ncclFloat, ncclSum, comm_, nullptr),
            ncclSuccess);
  EXPECT_EQ(out[255], 1.0f);
}

TEST_F(DeviceBuffersUnavailable, MixedHostAndDeviceIsAnError) {
  Watchdog dog(60, "mixed buffers");
  EXPECT_EQ(ncclAllReduce(host_.data(), dev(), 64, ncclFloat, ncclSum, comm_, nullptr),
            ncclInvalidUsage);
  EXPECT_NE(lastError().find("not both"), std::string::npos) << lastError();
  EXPECT_NE(lastError().find("sendbuff is host memory but recvbuff is device memory"),
            std::string::npos)
      << lastError();
  EXPECT_EQ(ncclAllGather(dev(), host_.data(), 16, ncclFloat, comm_, nullptr), ncclInvalidUsage);
  EXPECT_NE(lastError().find("not both"), std::string::npos) << lastError();
}

TEST_F(DeviceBuffersUnavailable, InsideAGroupNothingRuns) {
  Watchdog dog(60, "group with device buffers");
  std::vector<float> out(64, -1.0f);
  ASSERT_EQ(ncclGroupStart(), ncclSuccess);
  EXPECT_EQ(ncclAllReduce(host_.data(), out.data(), 64, ncclFloat, ncclSum, comm_, nullptr),
            ncclSuccess);
  EXPECT_EQ(ncclAllReduce(dev(), dev(1024), 64, ncclFloat, ncclSum, comm_, nullptr),
            ncclInvalidUsage);
  EXPECT_EQ(ncclGroupEnd(), ncclInvalidUsage);
  EXPECT_NE(lastError().find("nothing ran"), std::string::npos) << lastError();
  EXPECT_EQ(out[0], -1.0f) << "the host operation of the failed group must not have run";
}

// A PreMulSum scalar in device memory would be read on the host: refused.
TEST_F(DeviceBuffersUnavailable, DeviceResidentPreMulSumScalarIsRefused) {
  Watchdog dog(60, "PreMulSum scalar");
  ncclRedOp_t op;
  EXPECT_EQ(ncclRedOpCreatePreMulSum(&op, dev(), ncclFloat, ncclScalarDevice, comm_),
            ncclInvalidUsage);
  EXPECT_NE(lastError().find("device memory is not supported"), std::string::npos) << lastError();
  float scale = 2.0f;
  ASSERT_EQ(ncclRedOpCreatePreMulSum(&op, &scale, ncclFloat, ncclScalarDevice, comm_), ncclSuccess);
  EXPECT_EQ(ncclRedOpDestroy(op, comm_), ncclSuccess);
}

// Buffers a call does not use on this rank are not classified: a non-root
// broadcast's send buffer may be anything, a zero count needs none.
TEST_F(DeviceBuffersUnavailable, UnusedBuffersAreIgnored) {
  Watchdog dog(60, "unused buffers");
  EXPECT_EQ(ncclAllReduce(dev(), dev(), 0, ncclFloat, ncclSum, comm_, nullptr), ncclSuccess);
  auto place = cuda::placeBuffers("test", dev(), false, host_.data(), true);
  ASSERT_TRUE(place.ok());
  EXPECT_EQ(place.value(), cuda::Placement::kHost);
  place = cuda::placeBuffers("test", host_.data(), true, dev(), false);
  ASSERT_TRUE(place.ok());
  EXPECT_EQ(place.value(), cuda::Placement::kHost);
  place = cuda::placeBuffers("test", dev(), true, nullptr, false);
  EXPECT_FALSE(place.ok());
  EXPECT_EQ(place.status().code(), Code::kInvalidUsage);
}

}  // namespace
}  // namespace strata::testing
