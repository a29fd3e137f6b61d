// A communicator: one rank's membership in a group of ranks, with its
// bootstrap, its connections and the parameters every rank agreed on.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "bootstrap/bootstrap.h"
#include "comm/low_latency_links.h"
#include "core/status.h"
#include "core/types.h"
#include "plan/plan.h"
#include "transports/manager.h"

namespace strata {

namespace cuda {
class DeviceComm;
}

struct CommOptions {
  bool blocking = true;
  int nchannels = 0;  // 0: from STRATA_NCHANNELS
  std::string name;
  std::chrono::milliseconds timeout{0};  // 0: from STRATA_TIMEOUT
  int cudaDevice = -1;  // GPU for device buffers; -1: none
};

// STRATA_SINGLE_COPY: never; within a process at any size and across the
// processes of one host (cross-memory attach) below
// STRATA_SINGLE_COPY_CMA_MAX_BYTES; or at any size everywhere on one host.
enum class SingleCopyMode { kOff, kAuto, kOn };

// How an operation uses the single-copy path: not at all, always (peers'
// memory is reached by pointer or cross-memory attach), or only if every
// buffer that a rank of another process must read lies in a shared host
// buffer, which the ranks find out from each other's first control message
// (and otherwise run the operation's plan through the FIFOs).
enum class SingleCopyUse { kNo, kYes, kIfShared };

// Parameters all ranks of a communicator share, agreed at creation.
struct AgreedParams {
  int nchannels = 1;
  size_t stepBytes = 0;  // the most one plan step moves
  size_t directMaxBytes = 0;  // all-reduce up to this size goes direct
  // Every rank shares one host and could read every peer's memory (probed
  // at creation); operations of at least singleCopyMinBytes then read peers'
  // buffers directly instead of streaming through FIFOs.
  bool singleCopy = false;
  size_t singleCopyMinBytes = SIZE_MAX;
  // ... and below singleCopyMaxBytes: set when some peer is another process
  // (cross-memory attach loses to the FIFOs on large operations).
  size_t singleCopyMaxBytes = SIZE_MAX;
  // Every rank shares one host and every rank can map the shared host
  // buffers (transport/host_window.h) of every rank in another process:
  // operations of at least singleCopyMinBytes that singleCopy does not
  // serve read peers in place when all the buffers they read are shared,
  // and stream through the FIFOs otherwise (SingleCopyUse::kIfShared).
  bool singleCopyShared = false;
  // ... from this size (total bytes) on, and never for an in-place
  // all-reduce: below it, and in place, the FIFOs measured faster.
  size_t singleCopySharedMinBytes = SIZE_MAX;
  // All-reduces of at most this many bytes use the low-latency protocol
  // (0: never; every rank reaches every peer through memory otherwise).
  size_t lowLatencyMaxBytes = 0;
  bool device = false;        // every rank can run device work (see src/cuda)
  // Channels (thread blocks, each with its own FIFOs) of device plans;
  // the host's nchannels applies to host buffers only.
  int deviceChannels = 1;
};

class Communicator {
 public:
  // Collective over the nranks ranks holding `id`.
  static StatusOr<std::unique_ptr<Communicator>> create(const bootstrap::UniqueId& id, int nranks,
                                                        int rank, const CommOptions& options);
  ~Communicator();

  int rank() const { return rank_; }
  int nranks() const { return nranks_; }
  const CommOptions& options() const { return options_; }
  const AgreedParams& params() const { return params_; }
  std::chrono::milliseconds timeout() const { return options_.timeout; }
  // How long a waiting executor polls before it sleeps (STRATA_SPIN_US).
  std::chrono::microseconds spinTime() const { return spin_; }
  // The first part of the poll, spent without yielding the core.
  std::chrono::microseconds busyPollTime() const { return busyPoll_; }
  // Operations with at least this much output write it with non-temporal
  // stores (STRATA_STREAM_MIN_BYTES; 0: never).
  size_t streamMinBytes() const { return streamMin_; }
  bootstrap::Bootstrap& bootstrap() { return *bootstrap_; }
  transport::ConnectionManager& connections() { return *connections_; }
  // The device side (FIFOs in GPU memory), or nullptr when not every rank
  // can run device work.
  cuda::DeviceComm* device() { return device_.get(); }

  // The cached plan for an operation of this communicator.
  // `device`: the plan for the CUDA executor (params().deviceChannels).
  StatusOr<std::shared_ptr<const plan::RankPlan>> planFor(const plan::CollArgs& args,
                                                          DataType type, bool device = false);

  // Whether this operation runs on the single-copy path (the same answer on
  // every rank: it depends only on agreed parameters and the arguments).
  SingleCopyUse singleCopyUse(const plan::CollArgs& args, DataType type) const;
  bool useSingleCopy(const plan::CollArgs& args, DataType type) const {
    return singleCopyUse(args, type) == SingleCopyUse::kYes;
  }
  // Whether an all-reduce runs with the low-latency protocol (agreed the
  // same way).
  bool useLowLatency(const plan::CollArgs& args, DataType type) const;
  // The low-latency mailboxes, mapped on first use.
  StatusOr<LowLatencyLinks*> lowLatencyLinks();

  // PreMulSum operators made by ncclRedOpCreatePreMulSum.
  StatusOr<int> createPreMulSum(DataType type, const void* scalar, bool immediate);
  Status destroyRedOp(int op);
  // Resolves an ncclRedOp_t value for a datatype into what the kernels apply.
  StatusOr<Reduction> reductionFor(int op, DataType type) const;

  // Faults.
  const AbortFlag& abortFlag() const { return abort_; }
  bool aborted() const { return abort_.load(); }
  void abort();
  Status asyncError() const;
  void recordError(const Status& s);

  // Operations running in this communicator (so teardown waits for them).
  void enterOperation() { active_.fetch_add(1); }
  void leaveOperation() { active_.fetch_sub(1); }
  // Waits up to `limit` for running operations to leave.
  void waitIdle(std::chrono::milliseconds limit);

  // Single-copy operations that may only run on shared host buffers
  // (SingleCopyUse::kIfShared): how many ran that way and how many the
  // ranks declined (run through the FIFOs). For tests and diagnostics.
  struct SharedSingleCopyCounts {
    uint64_t ran = 0;
    uint64_t declined = 0;
  };
  SharedSingleCopyCounts sharedSingleCopyCounts() const {
    return {sharedRan_.load(std::memory_order_relaxed), sharedDeclined_.load(std::memory_order_relaxed)};
  }
  void countSharedSingleCopy(bool declined) {
    (declined ? sharedDeclined_ : sharedRan_).fetch_add(1, std::memory_order_relaxed);
  }

  // Bootstrap tags used by communicator-level protocols (split).
  uint32_t nextControlTag() { return kControlTagBase + controlSeq_++; }

 private:
  Communicator() = default;
  Status init(const bootstrap::UniqueId& id);
  Status agreeOnParams();
  struct ProbeTarget {
    uint64_t addr;   // the rank's probe word
    uint64_t value;  // what a peer must read there
    transport::WindowRef window;  // the shared host buffer holding it, if any
  };
  Status probeSingleCopy(uint64_t cmaMaxBytes, const std::vector<ProbeTarget>& targets);

  static constexpr uint32_t kControlTagBase = 0x53000000u;

  int rank_ = 0;
  int nranks_ = 1;
  CommOptions options_;
  AgreedParams params_;
  std::unique_ptr<bootstrap::Bootstrap> bootstrap_;
  std::unique_ptr<transport::ConnectionManager> connections_;
  std::unique_ptr<cuda::DeviceComm> device_;
  AbortFlag abort_{false};
  std::atomic<uint64_t> sharedRan_{0};
  std::atomic<uint64_t> sharedDeclined_{0};
  std::atomic<int> active_{0};
  uint32_t controlSeq_ = 0;
  uint64_t probeWord_ = 0;  // read by peers when they probe direct access
  std::unique_ptr<LowLatencyLinks> lowLatency_;
  std::atomic<LowLatencyLinks*> lowLatencyReady_{nullptr};  // lowLatency_ once mapped
  std::chrono::microseconds spin_{0};
  std::chrono::microseconds busyPoll_{0};
  size_t streamMin_ = 0;
  std::string algoOverride_;  // STRATA_ALGO, lower case

  mutable std::mutex mu_;  // guards the members below
  Status asyncError_;
  struct PreMulSumOp {
    DataType type;
    bool immediate;
    Scalar value;         // immediate
    const void* pointer;  // read at each use otherwise
  };
  std::map<int, PreMulSumOp> redOps_;
  int nextRedOp_ = 5;  // ncclNumOps
  std::map<std::tuple<int, size_t, int, int, int, bool>, std::shared_ptr<const plan::RankPlan>>
      plans_;
};

}  // namespace strata
