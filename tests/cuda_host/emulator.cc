#include "cuda_host/emulator.h"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "kernels/cuda/plan_interp.h"

namespace strata::testing {
namespace {

using namespace cuda_kernels;

// One host thread as a one-thread block.
struct HostBlockCtx {
  int tid() const { return 0; }
  int nthreads() const { return 1; }
  void barrier() {}
  static std::atomic_ref<uint64_t> ref(const uint64_t* p) {
    return std::atomic_ref<uint64_t>(*const_cast<uint64_t*>(p));
  }
  uint64_t loadAcquire(const uint64_t* p) { return ref(p).load(std::memory_order_acquire); }
  void storeRelease(uint64_t* p, uint64_t v) { ref(p).store(v, std::memory_order_release); }
  uint64_t loadVolatile(const uint64_t* p) { return ref(p).load(std::memory_order_acquire); }
  void storeVolatile(uint64_t* p, uint64_t v) { ref(p).store(v, std::memory_order_release); }
  uint64_t nowNs() {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     std::chrono::steady_clock::now().time_since_epoch())
                                     .count());
  }
  void pause(uint64_t) { std::this_thread::yield(); }
  void setError(int32_t* word, int32_t code) {
    if (word == nullptr) return;
    int32_t expected = 0;
    std::atomic_ref<int32_t>(*word).compare_exchange_strong(expected, code);
  }
};

template <DataType D>
int32_t runTyped(ReduceOp op, const DevLaunch& L, const DevLane& lane) {
  HostBlockCtx ctx;
  ChunkState shared{};
  shared.error = kDevOk;
  switch (op) {
    case ReduceOp::kSum: return runLane<D, ReduceOp::kSum>(ctx, L, lane, shared);
    case ReduceOp::kProd: return runLane<D, ReduceOp::kProd>(ctx, L, lane, shared);
    case ReduceOp::kMax: return runLane<D, ReduceOp::kMax>(ctx, L, lane, shared);
    case ReduceOp::kMin: return runLane<D, ReduceOp::kMin>(ctx, L, lane, shared);
  }
  return -1;
}

int32_t runOne(DataType t, ReduceOp op, const DevLaunch& L, const DevLane& lane) {
  switch (t) {
    case DataType::kInt8: return runTyped<DataType::kInt8>(op, L, lane);
    case DataType::kUint8: return runTyped<DataType::kUint8>(op, L, lane);
    case DataType::kInt32: return runTyped<DataType::kInt32>(op, L, lane);
    case DataType::kUint32: return runTyped<DataType::kUint32>(op, L, lane);
    case DataType::kInt64: return runTyped<DataType::kInt64>(op, L, lane);
    case DataType::kUint64: return runTyped<DataType::kUint64>(op, L, lane);
    case DataType::kFloat16: return runTyped<DataType::kFloat16>(op, L, lane);
    case DataType::kFloat32: return runTyped<DataType::kFloat32>(op, L, lane);
    case DataType::kFloat64: return runTyped<DataType::kFloat64>(op, L, lane);
    case DataType::kBfloat16: return runTyped<DataType::kBfloat16>(op, L, lane);
    case DataType::kFloat8e4m3: return runTyped<DataType::kFloat8e4m3>(op, L, lane);
    case DataType::kFloat8e5m2: return runTyped<DataType::kFloat8e5m2>(op, L, lane);
  }
  return -1;
}

}  // namespace

DeviceEmulator::DeviceEmulator(int nranks, const cuda::FifoGeometry& g) : nranks_(nranks), g_(g) {
  const uint64_t bytes = cuda::fifoAllocationBytes(g, nranks);
  for (int r = 0; r < nranks; ++r) {
    auto* p = static_cast<uint8_t*>(std::aligned_alloc(256, (bytes + 255) / 256 * 256));
    std::memset(p, 0, bytes);  // LL flags start at 0, as cudaMemset leaves them
    mem_.push_back(p);
  }
  send_.resize(nranks);
  recv_.resize(nranks);
  for (int r = 0; r < nranks; ++r) cuda::buildFifoTables(g, nranks, r, mem_, &send_[r], &recv_[r]);
}

DeviceEmulator::~DeviceEmulator() {
  for (uint8_t* p : mem_) std::free(p);
}

std::vector<int32_t> DeviceEmulator::run(DataType type, ReduceOp op, const DevReduction& red,
                                         size_t elemSize, std::vector<RankLaunch>& ranks,
                                         uint64_t timeoutNs) {
  std::vector<int32_t> errors(ranks.size(), kDevOk);
  std::vector<std::vector<DevLane>> lanes(ranks.size());
  std::vector<DevLaunch> launches(ranks.size());
  for (size_t r = 0; r < ranks.size(); ++r) {
    for (auto& l : ranks[r].lanes) {
      DevLane d;
      d.steps = l.steps.data();
      d.nsteps = static_cast<uint32_t>(l.steps.size());
      d.protocol = l.protocol;
      lanes[r].push_back(d);
    }
    DevLaunch& L = launches[r];
    L.lanes = lanes[r].data();
    std::memcpy(L.bases, ranks[r].bases, sizeof L.bases);
    L.sendFifos = send_[r].data();
    L.recvFifos = recv_[r].data();
    L.nfifos = static_cast<uint32_t>(send_[r].size());
    L.elemSize = static_cast<uint32_t>(elemSize);
    L.red = red;
    L.abortFlag = &abort_;
    L.error = &errors[r];
    L.timeoutNs = timeoutNs;
  }
  std::vector<std::thread> threads;
  for (size_t r = 0; r < ranks.size(); ++r) {
    for (size_t l = 0; l < lanes[r].size(); ++l) {
      threads.emplace_back([&, r, l] { runOne(type, op, launches[r], lanes[r][l]); });
    }
  }
  for (auto& t : threads) t.join();
  return errors;
}

}  // namespace strata::testing
