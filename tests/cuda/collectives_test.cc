// Collectives on device buffers through the C API, several ranks sharing
// the one GPU. The oracle is Strata's host executor: the same operation on
// host copies of the inputs runs the same plan in the same order, so the
// device results must be bit-identical. Every test sets STRATA_CUDA=1 (the
// default) before creating communicators, in case the environment turned
// the executor off.
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cstring>
#include <barrier>
#include <random>
#include <thread>

#include "core/status.h"
#include "cuda/gpu_util.h"
#include "kernels/host/convert.h"
#include "nccl.h"
#include "strata.h"
#include "support/ranks.h"

extern char** environ;

namespace strata::testing {
namespace {

std::vector<uint8_t> pattern(ncclDataType_t t, size_t count, int rank, uint32_t salt) {
  const size_t es = dataTypeSize(static_cast<DataType>(t));
  std::vector<uint8_t> v(count * es);
  std::mt19937 rng(rank * 7919 + salt);
  for (size_t i = 0; i < count; ++i) {
    float f = float(int(rng() % 41) - 20) / 4.0f;  // small, exactly representable mostly
    uint8_t* p = v.data() + i * es;
    switch (t) {
      case ncclFloat32: std::memcpy(p, &f, 4); break;
      case ncclFloat64: { double d = f; std::memcpy(p, &d, 8); break; }
      case ncclFloat16: { uint16_t h = kernels::floatToHalf(f); std::memcpy(p, &h, 2); break; }
      case ncclBfloat16: { uint16_t h = kernels::floatToBf16(f); std::memcpy(p, &h, 2); break; }
      case ncclFloat8e4m3: p[0] = kernels::floatToFp8e4m3(f); break;
      case ncclFloat8e5m2: p[0] = kernels::floatToFp8e5m2(f); break;
      default:
        for (size_t b = 0; b < es; ++b) p[b] = uint8_t(rng() % 7);
    }
  }
  return v;
}

// n communicators on device 0 in this process, one stream each.
class GpuRanks : public ::testing::Test {
 public:
  void syncAll() {
    for (auto s : streams_) ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
    for (auto c : comms_) {
      ncclResult_t async = ncclSuccess;
      ASSERT_EQ(ncclCommGetAsyncError(c, &async), ncclSuccess);
      ASSERT_EQ(async, ncclSuccess) << ncclGetLastError(c);
    }
  }

 protected:
  void start(int n) {
    n_ = n;
    comms_.assign(n, nullptr);
    streams_.assign(n, nullptr);
    std::vector<int> devs(n, 0);
    ASSERT_EQ(cudaSetDevice(0), cudaSuccess);
    ASSERT_EQ(ncclCommInitAll(comms_.data(), n, devs.data()), ncclSuccess) << ncclGetLastError(nullptr);
    for (auto& s : streams_) ASSERT_EQ(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
  }
  void TearDown() override {
    for (auto& s : streams_) {
      if (s != nullptr) {
        cudaStreamSynchronize(s);
        cudaStreamDestroy(s);
      }
    }
    for (auto c : comms_) {
      if (c != nullptr) {
        EXPECT_EQ(ncclCommDestroy(c), ncclSuccess);
      }
    }
  }
  ScopedEnv cudaOn_{"STRATA_CUDA", "1"};
  // The oracle runs the same plan on the host: keep the host executor off
  // its own paths (single copy, the low-latency mailboxes), which reduce in
  // another order and round differently for 16-bit and 8-bit floats.
  ScopedEnv noSingleCopy_{"STRATA_SINGLE_COPY", "0"};
  ScopedEnv noHostLl_{"STRATA_LL_MAX_BYTES", "0"};
  // ... and the same channel count for host and device plans (a chunk's
  // place in the ring decides the order of its reduction).
  ScopedEnv hostChannels_{"STRATA_NCHANNELS", "4"};
  ScopedEnv deviceChannels_{"STRATA_CUDA_NCHANNELS", "4"};
  int n_ = 0;
  std::vector<ncclComm_t> comms_;
  std::vector<cudaStream_t> streams_;
};

enum class Coll { kAllReduce, kReduceScatter, kAllGather, kBroadcast, kReduce, kAllToAll, kGather, kScatter };

struct Sizes {
  size_t in, out;
};
Sizes sizesOf(Coll c, size_t count, int n) {
  size_t all = count * n;
  switch (c) {
    case Coll::kReduceScatter: return {all, count};
    case Coll::kAllGather: return {count, all};
    case Coll::kAllToAll: return {all, all};
    case Coll::kGather: return {count, all};
    case Coll::kScatter: return {all, count};
    default: return {count, count};
  }
}

ncclResult_t issue(Coll c, const void* in, void* out, size_t count, ncclDataType_t t, ncclRedOp_t op,
                   int root, ncclComm_t comm, cudaStream_t s) {
  switch (c) {
    case Coll::kAllReduce: return ncclAllReduce(in, out, count, t, op, comm, s);
    case Coll::kReduceScatter: return ncclReduceScatter(in, out, count, t, op, comm, s);
    case Coll::kAllGather: return ncclAllGather(in, out, count, t, comm, s);
    case Coll::kBroadcast: return ncclBroadcast(in, out, count, t, root, comm, s);
    case Coll::kReduce: return ncclReduce(in, out, count, t, op, root, comm, s);
    case Coll::kAllToAll: return ncclAlltoAll(in, out, count, t, comm, s);
    case Coll::kGather: return ncclGather(in, out, count, t, root, comm, s);
    case Coll::kScatter: return ncclScatter(in, out, count, t, root, comm, s);
  }
  return ncclInternalError;
}

// Runs `c` on host copies (host executor) and on device buffers (CUDA
// executor) and compares every output byte.
void compareWithHost(GpuRanks& g, const std::vector<ncclComm_t>& comms,
                     const std::vector<cudaStream_t>& streams, Coll c, size_t count,
                     ncclDataType_t t, ncclRedOp_t op, int root, bool inPlace, uint32_t salt) {
  const int n = static_cast<int>(comms.size());
  const size_t es = dataTypeSize(static_cast<DataType>(t));
  Sizes sz = sizesOf(c, count, n);
  const bool aliasable = c == Coll::kAllReduce || c == Coll::kBroadcast || c == Coll::kAllGather ||
                         c == Coll::kReduceScatter;
  inPlace = inPlace && aliasable;
  std::vector<std::vector<uint8_t>> hostIn(n), hostOut(n), devOut(n);
  std::vector<DeviceBuffer> dIn, dOut;
  std::vector<const void*> hIn(n), dInPtr(n);
  std::vector<void*> hOutPtr(n), dOutPtr(n);
  for (int r = 0; r < n; ++r) {
    hostIn[r] = pattern(t, sz.in, r, salt);
    size_t outBytes = std::max(sz.out, inPlace ? sz.in : 0) * es;
    hostOut[r].assign(outBytes + 1, 0x5A);
    dOut.emplace_back(outBytes + 1);
    dIn.emplace_back(sz.in * es + 1);
    ASSERT_EQ(cudaMemset(dOut.back().get(), 0x5A, outBytes + 1), cudaSuccess);
    if (inPlace) {
      // Input inside the output at NCCL's in-place offset.
      size_t off = c == Coll::kAllGather ? size_t(r) * count * es : 0;
      std::memcpy(hostOut[r].data() + off, hostIn[r].data(), sz.in * es);
      ASSERT_EQ(cudaMemcpy(dOut.back().get<uint8_t>() + off, hostIn[r].data(), sz.in * es,
                           cudaMemcpyHostToDevice), cudaSuccess);
      hIn[r] = hostOut[r].data() + off;
      dInPtr[r] = dOut.back().get<uint8_t>() + off;
      size_t outOff = c == Coll::kReduceScatter ? size_t(r) * count * es : 0;
      hOutPtr[r] = hostOut[r].data() + outOff;
      dOutPtr[r] = dOut.back().get<uint8_t>() + outOff;
    } else {
      ASSERT_EQ(cudaMemcpy(dIn.back().get(), hostIn[r].data(), sz.in * es, cudaMemcpyHostToDevice),
                cudaSuccess);
      hIn[r] = hostIn[r].data();
      dInPtr[r] = dIn.back().get();
      hOutPtr[r] = hostOut[r].data();
      dOutPtr[r] = dOut.back().get();
    }
  }
  ASSERT_EQ(ncclGroupStart(), ncclSuccess);
  for (int r = 0; r < n; ++r) {
    ASSERT_EQ(issue(c, hIn[r], hOutPtr[r], count, t, op, root, comms[r], nullptr), ncclSuccess)
        << ncclGetLastError(comms[r]);
  }
  ASSERT_EQ(ncclGroupEnd(), ncclSuccess) << ncclGetLastError(nullptr);
  ASSERT_EQ(ncclGroupStart(), ncclSuccess);
  for (int r = 0; r < n; ++r) {
    ASSERT_EQ(issue(c, dInPtr[r], dOutPtr[r], count, t, op, root, comms[r], streams[r]), ncclSuccess)
        << ncclGetLastError(comms[r]);
  }
  ASSERT_EQ(ncclGroupEnd(), ncclSuccess) << ncclGetLastError(nullptr);
  g.syncAll();
  for (int r = 0; r < n; ++r) {
    const bool hasOut = !((c == Coll::kReduce || c == Coll::kGather) && r != root);
    if (!hasOut) continue;
    devOut[r].resize(hostOut[r].size());
    ASSERT_EQ(cudaMemcpy(devOut[r].data(), dOut[r].get(), devOut[r].size(), cudaMemcpyDeviceToHost),
              cudaSuccess);
    size_t diff = 0;
    while (diff < hostOut[r].size() && devOut[r][diff] == hostOut[r][diff]) ++diff;
    ASSERT_EQ(diff, hostOut[r].size())
        << "rank " << r << " differs from the host executor first at byte " << diff << " (element "
        << diff / es << "): device 0x" << std::hex << int(devOut[r][diff]) << ", host 0x"
        << int(hostOut[r][diff]) << std::dec;
  }
}

class GpuCollectives : public GpuRanks {};

// ncclMemAlloc gives device memory that collectives use like any other.
TEST_F(GpuCollectives, MemAllocBuffers) {
  STRATA_REQUIRE_GPU();
  Watchdog dog(120, "ncclMemAlloc");
  start(2);
  const size_t count = 1 << 18;
  std::vector<void*> bufs(2, nullptr);
  for (int r = 0; r < 2; ++r) {
    ASSERT_EQ(ncclMemAlloc(&bufs[r], count * 4), ncclSuccess) << ncclGetLastError(nullptr);
    cudaPointerAttributes attr{};
    ASSERT_EQ(cudaPointerGetAttributes(&attr, bufs[r]), cudaSuccess);
    EXPECT_EQ(attr.type, cudaMemoryTypeDevice);
    std::vector<float> v(count, float(r + 2));
    ASSERT_EQ(cudaMemcpy(bufs[r], v.data(), count * 4, cudaMemcpyHostToDevice), cudaSuccess);
  }
  ASSERT_EQ(ncclGroupStart(), ncclSuccess);
  for (int r = 0; r < 2; ++r) {
    ASSERT_EQ(ncclAllReduce(bufs[r], bufs[r], count, ncclFloat32, ncclSum, comms_[r], streams_[r]),
              ncclSuccess) << ncclGetLastError(comms_[r]);
  }
  ASSERT_EQ(ncclGroupEnd(), ncclSuccess);
  syncAll();
  for (int r = 0; r < 2; ++r) {
    std::vector<float> v(count);
    ASSERT_EQ(cudaMemcpy(v.data(), bufs[r], count * 4, cudaMemcpyDeviceToHost), cudaSuccess);
    for (size_t i = 0; i < count; i += 257) ASSERT_EQ(v[i], 5.0f) << i;
    EXPECT_EQ(ncclMemFree(bufs[r]), ncclSuccess);
  }
}

TEST_F(GpuCollectives, AllReduceEveryTypeOpSizePlacement) {
  STRATA_REQUIRE_GPU();
  Watchdog dog(900, "GPU all-reduce sweep");
  for (int n : {2, 3}) {
    TearDown();
    comms_.clear();
    streams_.clear();
    start(n);
    for (int t = 0; t < ncclNumTypes; ++t) {
      for (int op = 0; op < 5; ++op) {  // sum, prod, max, min, avg
        for (size_t count : {size_t(0), size_t(1), size_t(1001), size_t(16384), size_t(262147)}) {
          for (bool inPlace : {false, true}) {
            SCOPED_TRACE(strCat("n=", n, " type=", t, " op=", op, " count=", count,
                                inPlace ? " in-place" : ""));
            compareWithHost(*this, comms_, streams_, Coll::kAllReduce, count,
                            static_cast<ncclDataType_t>(t), static_cast<ncclRedOp_t>(op), 0,
                            inPlace, uint32_t(count + t));
            if (HasFatalFailure()) return;
          }
        }
      }
    }
  }
}

TEST_F(GpuCollectives, EveryCollectiveEveryRoot) {
  STRATA_REQUIRE_GPU();
  Watchdog dog(900, "GPU collectives");
  for (int n : {1, 2, 4, 8}) {
    TearDown();
    comms_.clear();
    streams_.clear();
    start(n);
    for (Coll c : {Coll::kReduceScatter, Coll::kAllGather, Coll::kBroadcast, Coll::kReduce,
                   Coll::kAllToAll, Coll::kGather, Coll::kScatter}) {
      for (ncclDataType_t t : {ncclFloat32, ncclBfloat16, ncclInt8}) {
        for (size_t count : {size_t(0), size_t(7), size_t(5000), size_t(300001)}) {
          for (int root = 0; root < n; ++root) {
            bool rooted = c == Coll::kBroadcast || c == Coll::kReduce || c == Coll::kGather ||
                          c == Coll::kScatter;
            if (!rooted && root > 0) break;
            for (bool inPlace : {false, true}) {
              SCOPED_TRACE(strCat("n=", n, " coll=", int(c), " type=", int(t), " count=", count,
                                  " root=", root, inPlace ? " in-place" : ""));
              compareWithHost(*this, comms_, streams_, c, count, t, ncclSum, root, inPlace, 3);
              if (HasFatalFailure()) return;
            }
          }
        }
      }
    }
  }
}

TEST_F(GpuCollectives, AllReduce256MiB) {
  STRATA_REQUIRE_GPU();
  Watchdog dog(600, "256 MiB all-reduce");
  start(2);
  compareWithHost(*this, comms_, streams_, Coll::kAllReduce, (256u << 20) / 4, ncclFloat32,
                  ncclSum, 0, false, 9);
}

// A ring of sends and receives in one group (each rank sends to the next
// and receives from the previous), several sizes including LL and bulk.
TEST_F(GpuCollectives, SendRecvRing) {
  STRATA_REQUIRE_GPU();
  Watchdog dog(300, "GPU send/recv");
  start(4);
  for (size_t count : {size_t(1), size_t(3000), size_t(1u << 20)}) {
    std::vector<DeviceBuffer> in, out;
    for (int r = 0; r < n_; ++r) {
      in.emplace_back(count * 4);
      out.emplace_back(count * 4);
      std::vector<float> v(count, float(r + 1));
      ASSERT_EQ(cudaMemcpy(in.back().get(), v.data(), count * 4, cudaMemcpyHostToDevice), cudaSuccess);
    }
    ASSERT_EQ(ncclGroupStart(), ncclSuccess);
    for (int r = 0; r < n_; ++r) {
      ASSERT_EQ(ncclSend(in[r].get(), count, ncclFloat32, (r + 1) % n_, comms_[r], streams_[r]), ncclSuccess);
      ASSERT_EQ(ncclRecv(out[r].get(), count, ncclFloat32, (r + n_ - 1) % n_, comms_[r], streams_[r]),
                ncclSuccess);
    }
    ASSERT_EQ(ncclGroupEnd(), ncclSuccess) << ncclGetLastError(nullptr);
    syncAll();
    for (int r = 0; r < n_; ++r) {
      std::vector<float> v(count);
      ASSERT_EQ(cudaMemcpy(v.data(), out[r].get(), count * 4, cudaMemcpyDeviceToHost), cudaSuccess);
      for (size_t i = 0; i < count; ++i) ASSERT_EQ(v[i], float((r + n_ - 1) % n_ + 1)) << i;
    }
  }
}

// Work queued on the stream before the call is seen by it, work queued
// after sees its result, and the call itself returns without waiting.
TEST_F(GpuCollectives, StreamOrdering) {
  STRATA_REQUIRE_GPU();
  Watchdog dog(120, "stream ordering");
  start(2);
  const size_t count = 1 << 22;
  std::vector<DeviceBuffer> buf;
  for (int r = 0; r < 2; ++r) buf.emplace_back(count);
  for (int iter = 1; iter <= 3; ++iter) {
    ASSERT_EQ(ncclGroupStart(), ncclSuccess);
    for (int r = 0; r < 2; ++r) {
      ASSERT_EQ(cudaMemsetAsync(buf[r].get(), iter, count, streams_[r]), cudaSuccess);
      ASSERT_EQ(ncclAllReduce(buf[r].get(), buf[r].get(), count, ncclUint8, ncclSum, comms_[r],
                              streams_[r]), ncclSuccess);
    }
    ASSERT_EQ(ncclGroupEnd(), ncclSuccess);
    for (int r = 0; r < 2; ++r) {
      std::vector<uint8_t> host(count);
      ASSERT_EQ(cudaMemcpyAsync(host.data(), buf[r].get(), count, cudaMemcpyDeviceToHost, streams_[r]),
                cudaSuccess);
      ASSERT_EQ(cudaStreamSynchronize(streams_[r]), cudaSuccess);
      for (size_t i = 0; i < count; i += 4097) ASSERT_EQ(host[i], uint8_t(2 * iter)) << i;
    }
  }
}

// Each rank on its own thread with its own communicator and stream. The
// buffers are allocated before the first collective and freed after every
// rank is done: cudaFree waits for the whole device, so a rank freeing while
// a peer's kernel waits for a third rank that is blocked behind that
// cudaFree would deadlock (NCCL has the same rule for ranks sharing a
// process).
TEST(GpuThreads, RanksAsThreads) {
  STRATA_REQUIRE_GPU();
  ScopedEnv cudaOn("STRATA_CUDA", "1");
  const std::vector<size_t> counts = {2, 100000, 3u << 20};
  for (int n : {2, 4, 8}) {
    SCOPED_TRACE(strCat(n, " ranks"));
    ncclUniqueId id;
    ASSERT_EQ(ncclGetUniqueId(&id), ncclSuccess);
    std::barrier allDone(n);
    runThreads(n, [&](int r) {
      ASSERT_EQ(cudaSetDevice(0), cudaSuccess);
      ncclComm_t comm;
      ASSERT_EQ(ncclCommInitRank(&comm, n, id, r), ncclSuccess);
      cudaStream_t s;
      ASSERT_EQ(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
      std::vector<DeviceBuffer> bufs;
      for (size_t count : counts) bufs.emplace_back(count * 4);
      // A rank that fails an assertion and returns early leaves the barrier
      // (before its buffers go: declared after them), so the others do
      // not wait for it.
      struct LeaveOnEarlyReturn {
        std::barrier<>& b;
        bool arrived = false;
        ~LeaveOnEarlyReturn() {
          if (!arrived) b.arrive_and_drop();
        }
      } leave{allDone};
      for (size_t k = 0; k < counts.size(); ++k) {
        const size_t count = counts[k];
        std::vector<int32_t> v(count, r + 1);
        ASSERT_EQ(cudaMemcpy(bufs[k].get(), v.data(), count * 4, cudaMemcpyHostToDevice), cudaSuccess);
        ASSERT_EQ(ncclAllReduce(bufs[k].get(), bufs[k].get(), count, ncclInt32, ncclSum, comm, s),
                  ncclSuccess) << ncclGetLastError(comm);
        ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
        ncclResult_t async = ncclSuccess;
        ASSERT_EQ(ncclCommGetAsyncError(comm, &async), ncclSuccess);
        ASSERT_EQ(async, ncclSuccess) << "count " << count << ": " << ncclGetLastError(comm);
        ASSERT_EQ(cudaMemcpy(v.data(), bufs[k].get(), count * 4, cudaMemcpyDeviceToHost), cudaSuccess);
        for (size_t i = 0; i < count; i += 997) ASSERT_EQ(v[i], n * (n + 1) / 2) << "count " << count;
      }
      leave.arrived = true;
      allDone.arrive_and_wait();
      bufs.clear();
      cudaStreamDestroy(s);
      ASSERT_EQ(ncclCommDestroy(comm), ncclSuccess);
    }, 600);
  }
}

// Capture of an all-reduce on each rank's stream into a CUDA graph; the
// graphs replay with new data written into the same buffers.
TEST_F(GpuCollectives, GraphCaptureOfAllReduce) {
  STRATA_REQUIRE_GPU();
  Watchdog dog(300, "graph capture");
  start(2);
  for (size_t count : {size_t(2), size_t(1u << 20)}) {
    std::vector<DeviceBuffer> in, out;
    for (int r = 0; r < 2; ++r) {
      in.emplace_back(count * 4);
      out.emplace_back(count * 4);
    }
    auto issueAll = [&] {
      ASSERT_EQ(ncclGroupStart(), ncclSuccess);
      for (int r = 0; r < 2; ++r) {
        ASSERT_EQ(ncclAllReduce(in[r].get(), out[r].get(), count, ncclFloat32, ncclSum, comms_[r],
                                streams_[r]), ncclSuccess) << ncclGetLastError(comms_[r]);
      }
      ASSERT_EQ(ncclGroupEnd(), ncclSuccess);
    };
    issueAll();  // warm-up outside the capture
    syncAll();
    std::vector<cudaGraph_t> graphs(2);
    std::vector<cudaGraphExec_t> execs(2);
    for (int r = 0; r < 2; ++r) {
      ASSERT_EQ(cudaStreamBeginCapture(streams_[r], cudaStreamCaptureModeGlobal), cudaSuccess);
    }
    issueAll();
    // Global capture mode forbids instantiating while any stream still
    // captures: end both captures first.
    for (int r = 0; r < 2; ++r) ASSERT_EQ(cudaStreamEndCapture(streams_[r], &graphs[r]), cudaSuccess);
    for (int r = 0; r < 2; ++r) ASSERT_EQ(cudaGraphInstantiate(&execs[r], graphs[r], 0), cudaSuccess);
    for (int iter = 0; iter < 5; ++iter) {
      for (int r = 0; r < 2; ++r) {
        std::vector<float> v(count, float(iter * 10 + r));
        ASSERT_EQ(cudaMemcpy(in[r].get(), v.data(), count * 4, cudaMemcpyHostToDevice), cudaSuccess);
      }
      for (int r = 0; r < 2; ++r) ASSERT_EQ(cudaGraphLaunch(execs[r], streams_[r]), cudaSuccess);
      syncAll();
      for (int r = 0; r < 2; ++r) {
        std::vector<float> v(count);
        ASSERT_EQ(cudaMemcpy(v.data(), out[r].get(), count * 4, cudaMemcpyDeviceToHost), cudaSuccess);
        for (size_t i = 0; i < count; i += 1009) ASSERT_EQ(v[i], float(iter * 20 + 1)) << i;
      }
    }
    for (int r = 0; r < 2; ++r) {
      cudaGraphExecDestroy(execs[r]);
      cudaGraphDestroy(graphs[r]);
    }
  }
}

// Processes sharing the GPU (2, 3 and 4): the CUDA IPC path. The test
// starts this binary once per rank with a filter that selects the child
// below.
TEST(GpuProcesses, ProcessesThroughCudaIpc) {
  STRATA_REQUIRE_GPU();
  for (int n : {2, 3, 4}) {
    SCOPED_TRACE(strCat(n, " processes"));
    ncclUniqueId id;
    ASSERT_EQ(ncclGetUniqueId(&id), ncclSuccess);
    char hex[STRATA_UNIQUE_ID_HEX_BYTES];
    ASSERT_EQ(strataUniqueIdToHex(&id, hex), ncclSuccess);
    std::vector<pid_t> pids;
    for (int r = 0; r < n; ++r) {
      std::vector<std::string> env;
      for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
      env.push_back(std::string("STRATA_UNIQUE_ID=") + hex);
      env.push_back("STRATA_RANK=" + std::to_string(r));
      env.push_back("STRATA_WORLD_SIZE=" + std::to_string(n));
      env.push_back("STRATA_CUDA=1");
      env.push_back("STRATA_TEST_GPU_CHILD=1");
      std::vector<char*> envp;
      for (auto& e : env) envp.push_back(e.data());
      envp.push_back(nullptr);
      std::string filter = "--gtest_filter=GpuProcesses.Child";
      char self[] = "/proc/self/exe";
      char* argv[] = {self, filter.data(), nullptr};
      pid_t pid;
      ASSERT_EQ(posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv, envp.data()), 0);
      pids.push_back(pid);
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(240);
    for (pid_t pid : pids) {
      int status = 0;
      while (waitpid(pid, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > deadline) {
          for (pid_t p : pids) kill(p, SIGKILL);
          FAIL() << "child processes timed out";
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child failed, status " << status;
    }
  }
}

TEST(GpuProcesses, Child) {
  if (std::getenv("STRATA_TEST_GPU_CHILD") == nullptr) {
    GTEST_SKIP() << "started by ProcessesThroughCudaIpc";
  }
  Watchdog dog(200, "GPU child process");
  ASSERT_EQ(cudaSetDevice(0), cudaSuccess);
  ncclComm_t comm;
  ASSERT_EQ(strataCommInitFromEnv(&comm), ncclSuccess) << ncclGetLastError(nullptr);
  int rank = -1, n = 0;
  ASSERT_EQ(ncclCommUserRank(comm, &rank), ncclSuccess);
  ASSERT_EQ(ncclCommCount(comm, &n), ncclSuccess);
  int dev = -2;
  ASSERT_EQ(ncclCommCuDevice(comm, &dev), ncclSuccess);
  ASSERT_EQ(dev, 0);
  cudaStream_t s;
  ASSERT_EQ(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
  for (size_t count : {size_t(2), size_t(5000), size_t(4u << 20)}) {
    DeviceBuffer b(count * 4);
    std::vector<float> v(count, float(rank + 1));
    ASSERT_EQ(cudaMemcpy(b.get(), v.data(), count * 4, cudaMemcpyHostToDevice), cudaSuccess);
    ASSERT_EQ(ncclAllReduce(b.get(), b.get(), count, ncclFloat32, ncclSum, comm, s), ncclSuccess)
        << ncclGetLastError(comm);
    ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
    ASSERT_EQ(cudaMemcpy(v.data(), b.get(), count * 4, cudaMemcpyDeviceToHost), cudaSuccess);
    for (size_t i = 0; i < count; i += 101) ASSERT_EQ(v[i], float(n * (n + 1) / 2)) << i;
  }
  cudaStreamDestroy(s);
  ASSERT_EQ(ncclCommDestroy(comm), ncclSuccess);
}

}  // namespace
}  // namespace strata::testing
