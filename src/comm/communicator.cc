#include "comm/communicator.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <map>
#include <sched.h>
#include <unistd.h>
#include <thread>
#include <vector>

#include "algorithms/algorithms.h"
#include "core/config.h"
#include "core/log.h"
#include "algorithms/partition.h"
#include "cuda/device_comm.h"
#include "cuda/runtime.h"
#include "net/auth.h"
#include "plan/zero_copy.h"
#include "transports/descriptor.h"

namespace strata {
namespace {

constexpr size_t kPlanCacheLimit = 512;
constexpr size_t kPlanAlignBytes = 64;
constexpr int kMaxChannels = 32;

struct ParamsWire {
  int32_t nchannels;
  int32_t device;  // 1: this rank can run device work
  uint64_t stepBytes;
  uint64_t directMaxBytes;
  uint64_t singleCopyMinBytes;  // UINT64_MAX: this rank turned single copy off
  uint64_t probeAddr;           // address of the rank's probe word
  uint64_t probeValue;          // what a peer must read there
  uint64_t lowLatencyMaxBytes;  // 0 if this rank has a peer it reaches over the network
  // Auto mode across processes: single copy below this size (0: never).
  uint64_t singleCopyCmaMaxBytes;
  // Device channels: STRATA_CUDA_NCHANNELS (0: derived), this rank's GPU's
  // multiprocessors, and which GPU (ranks with equal keys share one).
  int32_t deviceChannelsSetting;
  int32_t multiprocessors;
  uint64_t gpuKey;
  // The shared host buffer holding the probe word (no window: id 0).
  transport::WindowRef probeWindow;
  // Single copy through shared host buffers from this size (total bytes).
  uint64_t singleCopySharedMinBytes;
};

// Device channels when STRATA_CUDA_NCHANNELS is 0: each channel is one
// thread block on its own multiprocessor, and the kernels of all ranks
// sharing a GPU must be resident at once (they wait for each other), so
// the ranks on the fullest GPU share its multiprocessors; the device FIFOs
// (one per channel and peer) stay within kDeviceFifoBudget per rank.
constexpr int kMaxDeviceChannels = 63;  // plus the send/recv channel: 64 FIFO channels
constexpr uint64_t kDeviceFifoBudget = 512ull << 20;

int agreeDeviceChannels(const std::vector<ParamsWire>& all, uint64_t fifoBytesPerPeerChannel) {
  std::map<uint64_t, int> ranksOnGpu;
  for (const auto& p : all) ++ranksOnGpu[p.gpuKey];
  int channels = kMaxDeviceChannels;
  bool automatic = true;
  for (const auto& p : all) {
    if (p.deviceChannelsSetting > 0) {
      automatic = false;
      channels = std::min(channels, p.deviceChannelsSetting);
    } else {
      channels = std::min(channels, std::max(1, p.multiprocessors / ranksOnGpu[p.gpuKey]));
    }
  }
  if (automatic && fifoBytesPerPeerChannel > 0) {
    const uint64_t fit = kDeviceFifoBudget / (fifoBytesPerPeerChannel * all.size());
    channels = static_cast<int>(std::min<uint64_t>(channels, std::max<uint64_t>(1, fit)));
  }
  return std::clamp(channels, 1, kMaxDeviceChannels);
}

StatusOr<SingleCopyMode> singleCopyMode() {
  std::string v = config::getString("STRATA_SINGLE_COPY");
  for (char& ch : v) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (v.empty() || v == "auto") return SingleCopyMode::kAuto;
  if (v == "0" || v == "off" || v == "no" || v == "false") return SingleCopyMode::kOff;
  if (v == "1" || v == "on" || v == "yes" || v == "true" || v == "cma") return SingleCopyMode::kOn;
  return InvalidArgument("STRATA_SINGLE_COPY=", v, " is not one of auto, 0 or 1");
}

// Beyond this many ranks the direct all-reduce sends too many copies.
constexpr int kDirectMaxRanks = 16;

}  // namespace

StatusOr<std::unique_ptr<Communicator>> Communicator::create(const bootstrap::UniqueId& id,
                                                             int nranks, int rank,
                                                             const CommOptions& options) {
  std::unique_ptr<Communicator> comm(new Communicator());
  comm->rank_ = rank;
  comm->nranks_ = nranks;
  comm->options_ = options;
  if (comm->options_.timeout.count() <= 0) {
    comm->options_.timeout =
        std::chrono::milliseconds(std::max<int64_t>(1, config::getInt("STRATA_TIMEOUT")) * 1000);
  }
  if (comm->options_.nchannels <= 0) {
    comm->options_.nchannels = static_cast<int>(config::getInt("STRATA_NCHANNELS"));
  }
  comm->options_.nchannels = std::clamp(comm->options_.nchannels, 1, kMaxChannels);
  comm->spin_ = std::chrono::microseconds(std::max<int64_t>(0, config::getInt("STRATA_SPIN_US")));
  comm->streamMin_ = static_cast<size_t>(std::max<int64_t>(0, config::getInt("STRATA_STREAM_MIN_BYTES")));
  comm->algoOverride_ = config::getString("STRATA_ALGO");
  for (char& ch : comm->algoOverride_) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  STRATA_RETURN_IF_ERROR(comm->init(id));
  return comm;
}

Status Communicator::init(const bootstrap::UniqueId& id) {
  bootstrap::Options bo;
  bo.timeout = options_.timeout;
  bo.abort = &abort_;
  STRATA_ASSIGN_OR_RETURN(bootstrap_, bootstrap::Bootstrap::create(id, rank_, nranks_, bo));

  transport::ManagerOptions mo;
  // After the collective channels: one for point-to-point traffic, one whose
  // memory holds the low-latency mailboxes.
  mo.nchannels = options_.nchannels + 2;
  mo.timeout = options_.timeout;
  mo.abort = &abort_;
  STRATA_ASSIGN_OR_RETURN(connections_, transport::ConnectionManager::create(*bootstrap_, mo));
  STRATA_RETURN_IF_ERROR(agreeOnParams());
  // Polling without yielding is only fair when this rank has a core of its
  // own: pinned to one core (as launchers pin ranks) and no more ranks on
  // this host than cores. Two unpinned ranks may share a core, and then a
  // spinning rank holds it for the whole window while its peer waits.
  int64_t busy = config::getInt("STRATA_BUSY_POLL_US");
  if (busy < 0) {
    int local = 0;
    for (int r = 0; r < nranks_; ++r) local += connections_->hostOf(r) == connections_->hostOf(rank_) ? 1 : 0;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    cpu_set_t mine;
    bool pinned = sched_getaffinity(0, sizeof(mine), &mine) == 0 && CPU_COUNT(&mine) == 1;
    busy = pinned && cores > 0 && local <= cores ? spin_.count() : 0;
  }
  busyPoll_ = std::min(spin_, std::chrono::microseconds(busy));
  if (params_.device) {
    cuda::DeviceCommOptions dopt;
    dopt.rank = rank_;
    dopt.nranks = nranks_;
    dopt.nchannels = params_.deviceChannels + 1;  // + the send/recv channel
    dopt.hostId = transport::hostIdentity();
    dopt.processToken = transport::processToken();
    dopt.timeout = options_.timeout;
    dopt.device = options_.cudaDevice;
    STRATA_ASSIGN_OR_RETURN(device_, cuda::DeviceComm::create(*bootstrap_, dopt));
  }
  STRATA_INFO(log::kInit, "comm rank ", rank_, "/", nranks_, " ready: ", params_.nchannels,
              " channels, ", params_.stepBytes, " bytes per step",
              params_.device ? strCat(", ", params_.deviceChannels, " device channels") : "");
  return Status::Ok();
}

// Every rank must build identical plans, so the parameters plans depend on
// are reduced to the minimum over all ranks.
Status Communicator::agreeOnParams() {
  size_t capacity = connections_->minFifoCapacityBytes();
  size_t step = static_cast<size_t>(std::max<int64_t>(0, config::getInt("STRATA_CHUNK_BYTES")));
  // Two steps in flight per connection keep a ring pipelined.
  if (step == 0 || step > capacity / 2) step = capacity / 2;
  step = std::max<size_t>(step, 64);
  std::vector<ParamsWire> all(nranks_);
  uint64_t direct =
      static_cast<uint64_t>(std::max<int64_t>(0, config::getInt("STRATA_DIRECT_MAX_BYTES")));
  int32_t device = cuda::deviceExecutionAvailable().ok() ? 1 : 0;
  cuda::LocalGpu gpu;
  uint64_t fifoBytesPerPeerChannel = 0;
  if (device) {
    // Device FIFOs must hold a step with room to spare, as the host ones do.
    cuda::FifoGeometry g = cuda::fifoGeometryFromSettings(1);
    if (!cuda::checkFifoGeometry(g).ok()) return cuda::checkFifoGeometry(g).withContext("STRATA_CUDA_*");
    step = std::min<size_t>(step, g.nslots * g.slotBytes / 2);
    fifoBytesPerPeerChannel = cuda::fifoStride(g);
    gpu = cuda::localGpu(options_.cudaDevice);
  }
  const int32_t deviceChannelsSetting = static_cast<int32_t>(
      std::clamp<int64_t>(config::getInt("STRATA_CUDA_NCHANNELS"), 0, kMaxDeviceChannels));
  const uint64_t gpuKey =
      std::hash<std::string>{}(strCat(transport::hostIdentity(), "/", gpu.busId)) | 1;
  STRATA_ASSIGN_OR_RETURN(SingleCopyMode mode, singleCopyMode());
  uint64_t singleCopyMin = UINT64_MAX;
  uint64_t singleCopySharedMin = UINT64_MAX;
  uint64_t singleCopyCmaMax = 0;
  if (mode != SingleCopyMode::kOff) {
    singleCopyMin = static_cast<uint64_t>(std::max<int64_t>(0, config::getInt("STRATA_SINGLE_COPY_MIN_BYTES")));
    singleCopySharedMin = static_cast<uint64_t>(
        std::max<int64_t>(0, config::getInt("STRATA_SINGLE_COPY_SHARED_MIN_BYTES")));
    singleCopyCmaMax = mode == SingleCopyMode::kOn
                           ? UINT64_MAX
                           : static_cast<uint64_t>(std::max<int64_t>(
                                 0, config::getInt("STRATA_SINGLE_COPY_CMA_MAX_BYTES")));
  }
  uint64_t random = 0;
  STRATA_RETURN_IF_ERROR(net::randomBytes(&random, sizeof(random)));
  probeWord_ = random | 1;
  // The probe word sits in a shared host buffer where one can be made, so
  // that peers in other processes can test mapping it as well as reading it
  // with cross-memory attach; the buffer is freed once every rank probed.
  uint64_t* probeWord = &probeWord_;
  transport::WindowRef probeWindow;
  struct WindowGuard {
    void* p = nullptr;
    ~WindowGuard() {
      if (p != nullptr) transport::freeWindow(p);
    }
  } probeGuard;
  if (singleCopyMin != UINT64_MAX && nranks_ > 1) {
    auto w = transport::allocateWindow(sizeof(uint64_t));
    if (w.ok()) {
      probeGuard.p = w.value();
      probeWord = static_cast<uint64_t*>(probeGuard.p);
      *probeWord = probeWord_;
      if (!transport::findWindow(probeWord, sizeof(uint64_t), &probeWindow)) probeWindow = {};
    } else {
      STRATA_INFO(log::kInit, "rank ", rank_, ": no shared host buffer for the probe: ", w.status().message());
    }
  }
  uint64_t lowLatency = 0;
  if (connections_->allPeersInMemory()) {
    lowLatency = static_cast<uint64_t>(std::clamp<int64_t>(config::getInt("STRATA_LL_MAX_BYTES"), 0,
                                                           static_cast<int64_t>(kLowLatencyMaxBytes)));
  }
  all[rank_] = ParamsWire{options_.nchannels, device,     step, direct, singleCopyMin,
                          reinterpret_cast<uintptr_t>(probeWord), probeWord_, lowLatency,
                          singleCopyCmaMax, deviceChannelsSetting, gpu.multiprocessors, gpuKey,
                          probeWindow, singleCopySharedMin};
  STRATA_RETURN_IF_ERROR_CTX(bootstrap_->allGather(all.data(), sizeof(ParamsWire)),
                             "agreeing on communicator parameters");
  params_.nchannels = kMaxChannels;
  params_.stepBytes = SIZE_MAX;
  params_.directMaxBytes = SIZE_MAX;
  params_.lowLatencyMaxBytes = kLowLatencyMaxBytes;
  uint64_t singleCopyMinAll = 0;
  uint64_t singleCopySharedMinAll = 0;
  uint64_t singleCopyCmaMaxAll = UINT64_MAX;
  std::vector<ProbeTarget> probes;
  params_.device = true;
  for (const auto& p : all) {
    params_.device = params_.device && p.device == 1;
    singleCopyMinAll = std::max(singleCopyMinAll, p.singleCopyMinBytes);
    singleCopySharedMinAll = std::max(singleCopySharedMinAll, p.singleCopySharedMinBytes);
    singleCopyCmaMaxAll = std::min(singleCopyCmaMaxAll, p.singleCopyCmaMaxBytes);
    params_.lowLatencyMaxBytes = std::min<size_t>(params_.lowLatencyMaxBytes, p.lowLatencyMaxBytes);
    probes.push_back(ProbeTarget{p.probeAddr, p.probeValue, p.probeWindow});
    params_.directMaxBytes = std::min<size_t>(params_.directMaxBytes, p.directMaxBytes);
    params_.nchannels = std::min<int>(params_.nchannels, std::max(1, p.nchannels));
    params_.stepBytes = std::min<size_t>(params_.stepBytes, std::max<uint64_t>(64, p.stepBytes));
  }
  params_.deviceChannels = agreeDeviceChannels(all, fifoBytesPerPeerChannel);
  params_.singleCopyMinBytes = static_cast<size_t>(std::min<uint64_t>(singleCopyMinAll, SIZE_MAX));
  params_.singleCopySharedMinBytes = static_cast<size_t>(std::min<uint64_t>(
      std::max(singleCopySharedMinAll, singleCopyMinAll), SIZE_MAX));
  if (singleCopyMinAll != UINT64_MAX && nranks_ > 1) {
    STRATA_RETURN_IF_ERROR(probeSingleCopy(singleCopyCmaMaxAll, probes));
  }
  return Status::Ok();
}

// Single copy needs every rank on one host. Each rank probes every peer:
// one in this process by pointer; one in another process by mapping its
// probe window (shared host buffers) and, where cross-memory attach is
// allowed (cmaMaxBytes > 0, agreed by all ranks), by reading its probe word
// with it. All ranks then learn what worked everywhere:
//   singleCopy        every peer readable by pointer or cross-memory attach;
//                     cross-memory attach bounds the sizes (cmaMaxBytes);
//   singleCopyShared  every peer in another process can have its shared
//                     host buffers mapped.
Status Communicator::probeSingleCopy(uint64_t cmaMaxBytes, const std::vector<ProbeTarget>& targets) {
  struct Probe {
    int32_t oneHost;       // every peer is on this rank's host
    int32_t readable;      // every peer readable by pointer or cross-memory attach
    int32_t mappable;      // every peer in another process: its windows map
    int32_t crossProcess;  // some peer is another process
  };
  Probe mine{1, 1, 1, 0};
  std::string whyRead, whyMap;
  for (int p = 0; p < nranks_ && mine.oneHost; ++p) {
    if (p == rank_) continue;
    if (connections_->hostOf(p) != connections_->hostOf(rank_)) {
      mine.oneHost = 0;
      whyRead = whyMap = strCat("rank ", p, " is on another host");
      break;
    }
    const ProbeTarget& t = targets[p];
    if (connections_->sharesAddressSpace(p)) {
      uint64_t seen = 0;
      Status s = connections_->readPeer(p, t.addr, &seen, sizeof(seen));
      if (!s.ok() || seen != t.value) {
        mine.readable = 0;
        whyRead = s.ok() ? strCat("read a wrong value from rank ", p) : s.message();
      }
      continue;
    }
    mine.crossProcess = 1;
    if (mine.mappable) {
      if (!t.window.valid()) {
        mine.mappable = 0;
        whyMap = strCat("rank ", p, " could not make a shared host buffer");
      } else {
        auto mapped = connections_->mapPeerWindow(p, t.window, t.addr, sizeof(uint64_t));
        uint64_t seen = 0;
        if (mapped.ok()) std::memcpy(&seen, mapped.value(), sizeof(seen));
        if (!mapped.ok() || seen != t.value) {
          mine.mappable = 0;
          whyMap = mapped.ok() ? strCat("read a wrong value from rank ", p, "'s shared host buffer")
                               : mapped.status().message();
        }
      }
    }
    if (mine.readable) {
      if (cmaMaxBytes == 0) {
        mine.readable = 0;
        whyRead = strCat("rank ", p, " is another process and STRATA_SINGLE_COPY_CMA_MAX_BYTES is 0");
        continue;
      }
      uint64_t seen = 0;
      Status s = connections_->readPeer(p, t.addr, &seen, sizeof(seen));
      if (!s.ok() || seen != t.value) {
        mine.readable = 0;
        whyRead = s.ok() ? strCat("read a wrong value from rank ", p) : s.message();
      }
    }
  }
  std::vector<Probe> all(nranks_, Probe{0, 0, 0, 0});
  all[rank_] = mine;
  STRATA_RETURN_IF_ERROR_CTX(bootstrap_->allGather(all.data(), sizeof(Probe)),
                             "agreeing on single-copy access");
  const bool oneHost = std::all_of(all.begin(), all.end(), [](const Probe& v) { return v.oneHost == 1; });
  params_.singleCopy =
      oneHost && std::all_of(all.begin(), all.end(), [](const Probe& v) { return v.readable == 1; });
  bool crossProcess = std::any_of(all.begin(), all.end(), [](const Probe& v) { return v.crossProcess == 1; });
  params_.singleCopyShared = oneHost && crossProcess &&
      std::all_of(all.begin(), all.end(), [](const Probe& v) { return v.mappable == 1; });
  params_.singleCopyMaxBytes =
      crossProcess ? static_cast<size_t>(std::min<uint64_t>(cmaMaxBytes, SIZE_MAX)) : SIZE_MAX;
  if (!mine.oneHost || !mine.readable) {
    STRATA_INFO(log::kInit, "rank ", rank_, ": single copy by pointer or cross-memory attach off: ", whyRead);
  }
  if (crossProcess && (!mine.oneHost || !mine.mappable)) {
    STRATA_INFO(log::kInit, "rank ", rank_, ": single copy through shared host buffers off: ", whyMap);
  }
  return Status::Ok();
}

bool Communicator::useLowLatency(const plan::CollArgs& args, DataType type) const {
  if (args.type != plan::CollType::kAllReduce || nranks_ < 2 || nranks_ > kDirectMaxRanks) return false;
  if (!algoOverride_.empty() && algoOverride_ != "ll") return false;
  size_t bytes = algorithms::saturatingMul(args.count, dataTypeSize(type));
  return bytes > 0 && bytes <= params_.lowLatencyMaxBytes;
}

StatusOr<LowLatencyLinks*> Communicator::lowLatencyLinks() {
  if (LowLatencyLinks* ready = lowLatencyReady_.load(std::memory_order_acquire)) return ready;
  std::lock_guard<std::mutex> lock(mu_);
  if (lowLatency_ != nullptr) return lowLatency_.get();
  auto links = std::make_unique<LowLatencyLinks>();
  const int channel = options_.nchannels + 1;
  links->send.resize(nranks_);
  links->recv.resize(nranks_);
  links->sendSeq.assign(nranks_, 0);
  links->recvSeq.assign(nranks_, 0);
  for (int p = 0; p < nranks_; ++p) {
    if (p == rank_) continue;
    STRATA_ASSIGN_OR_RETURN(links->send[p], connections_->mailbox(p, channel, true, kLowLatencyMailboxBytes));
    STRATA_ASSIGN_OR_RETURN(links->recv[p], connections_->mailbox(p, channel, false, kLowLatencyMailboxBytes));
  }
  lowLatency_ = std::move(links);
  lowLatencyReady_.store(lowLatency_.get(), std::memory_order_release);
  return lowLatency_.get();
}

SingleCopyUse Communicator::singleCopyUse(const plan::CollArgs& args, DataType type) const {
  if (!params_.singleCopy && !params_.singleCopyShared) return SingleCopyUse::kNo;
  if (!algoOverride_.empty() && algoOverride_ != "single-copy" && algoOverride_ != "singlecopy") {
    return SingleCopyUse::kNo;
  }
  size_t es = dataTypeSize(type);
  size_t total = 0;
  switch (args.type) {
    case plan::CollType::kAllReduce:
    case plan::CollType::kBroadcast:
      total = algorithms::saturatingMul(args.count, es);
      break;
    case plan::CollType::kReduceScatter:
    case plan::CollType::kAllGather:
      total = algorithms::saturatingMul(algorithms::saturatingMul(args.count, es),
                                        static_cast<size_t>(nranks_));
      break;
    default:
      return SingleCopyUse::kNo;
  }
  if (total == 0) return SingleCopyUse::kNo;
  bool forced = !algoOverride_.empty();
  if (params_.singleCopy &&
      (forced || (total >= params_.singleCopyMinBytes && total < params_.singleCopyMaxBytes))) {
    return SingleCopyUse::kYes;
  }
  if (params_.singleCopyShared && (forced || total >= params_.singleCopySharedMinBytes)) {
    return SingleCopyUse::kIfShared;
  }
  return SingleCopyUse::kNo;
}

Communicator::~Communicator() {
  // Connections reference the bootstrap; tear down in reverse order.
  device_.reset();
  connections_.reset();
  bootstrap_.reset();
}

StatusOr<std::shared_ptr<const plan::RankPlan>> Communicator::planFor(const plan::CollArgs& args,
                                                                      DataType type, bool device) {
  size_t elemSize = dataTypeSize(type);
  auto key = std::make_tuple(static_cast<int>(args.type), args.count, args.root, args.peer,
                             static_cast<int>(elemSize), device);
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = plans_.find(key);
    if (it != plans_.end()) return it->second;
  }
  plan::PlanOptions po;
  po.nchannels = device ? params_.deviceChannels : params_.nchannels;
  po.p2pChannel = po.nchannels;
  // Shares and chunks on 64-byte boundaries: kernels (host SIMD, the
  // device's 16-byte vectors) then move whole aligned vectors everywhere
  // but the tail. Steps hold whole grains.
  po.alignElems = std::max<size_t>(1, kPlanAlignBytes / elemSize);
  po.maxStepElems = std::max<size_t>(1, params_.stepBytes / elemSize);
  if (po.maxStepElems >= po.alignElems) po.maxStepElems -= po.maxStepElems % po.alignElems;
  std::string algo = algoOverride_;
  auto available = algorithms::availableAlgorithms(args.type);
  if (!algo.empty() && std::find(available.begin(), available.end(), algo) == available.end()) {
    algo.clear();  // a forced algorithm applies only where it exists
  }
  // Small all-reduces are latency-bound: one direct exchange beats 2(n-1)
  // ring steps. Direct sends (n-1) copies of the message per rank, so the
  // bound is on those bytes. The threshold is agreed, so every rank picks
  // the same plan.
  if (algo.empty() && args.type == plan::CollType::kAllReduce && nranks_ > 1 &&
      nranks_ <= kDirectMaxRanks &&
      algorithms::saturatingMul(args.count * elemSize, static_cast<size_t>(nranks_ - 1)) <=
          params_.directMaxBytes) {
    algo = "direct";
  }
  STRATA_ASSIGN_OR_RETURN(plan::RankPlan built, algorithms::buildPlan(args, po, algo));
  // Which steps may send from and receive into the user's buffers: only
  // worth knowing when some connection can do it.
  if (!device && connections_->anyZeroCopyPeer()) {
    built.zeroCopy = std::make_shared<const plan::ZeroCopyMap>(plan::analyzeZeroCopy(built));
    if (auto at = plan::inPlaceInputAt(args); at.has_value()) {
      built.zeroCopyInPlace =
          std::make_shared<const plan::ZeroCopyMap>(plan::analyzeZeroCopy(built, at));
    }
  }
  auto shared = std::make_shared<const plan::RankPlan>(std::move(built));
  std::lock_guard<std::mutex> lock(mu_);
  if (plans_.size() >= kPlanCacheLimit) plans_.clear();
  plans_[key] = shared;
  return std::shared_ptr<const plan::RankPlan>(shared);
}

StatusOr<int> Communicator::createPreMulSum(DataType type, const void* scalar, bool immediate) {
  PreMulSumOp op{type, immediate, Scalar{}, scalar};
  if (immediate) op.value = Scalar::fromBytes(type, scalar);
  std::lock_guard<std::mutex> lock(mu_);
  if (nextRedOp_ == 0x7fffffff) return InvalidUsage("too many reduction operators created");
  int id = nextRedOp_++;
  redOps_[id] = op;
  return id;
}

Status Communicator::destroyRedOp(int op) {
  std::lock_guard<std::mutex> lock(mu_);
  if (op < 5) return InvalidArgument("reduction operator ", op, " is built in and cannot be destroyed");
  if (redOps_.erase(op) == 0) {
    return InvalidArgument("reduction operator ", op, " was not created on this communicator");
  }
  return Status::Ok();
}

StatusOr<Reduction> Communicator::reductionFor(int op, DataType type) const {
  Reduction r;
  switch (op) {
    case 0: r.op = ReduceOp::kSum; return r;
    case 1: r.op = ReduceOp::kProd; return r;
    case 2: r.op = ReduceOp::kMax; return r;
    case 3: r.op = ReduceOp::kMin; return r;
    case 4:
      r.op = ReduceOp::kSum;
      r.postDivisor = static_cast<uint64_t>(nranks_);
      return r;
    default: break;
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto it = redOps_.find(op);
  if (it == redOps_.end()) {
    return InvalidArgument("invalid reduction operator ", op,
                           " (not built in and not created on this communicator)");
  }
  if (it->second.type != type) {
    return InvalidArgument("reduction operator ", op, " was created for datatype ",
                           dataTypeName(it->second.type), " but used with ", dataTypeName(type));
  }
  r.op = ReduceOp::kSum;
  r.hasPreScale = true;
  r.preScale = it->second.immediate ? it->second.value
                                    : Scalar::fromBytes(type, it->second.pointer);
  return r;
}

void Communicator::abort() {
  abort_.store(true);
  recordError(Aborted("communicator rank ", rank_, " was aborted"));
  if (bootstrap_) bootstrap_->abort();
  if (connections_) connections_->abort();
  if (device_) device_->abort();
}

Status Communicator::asyncError() const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!asyncError_.ok()) return asyncError_;
  }
  return device_ ? device_->asyncError() : Status::Ok();
}

void Communicator::recordError(const Status& s) {
  if (s.ok()) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (asyncError_.ok()) asyncError_ = s;
}

void Communicator::waitIdle(std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (active_.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace strata
