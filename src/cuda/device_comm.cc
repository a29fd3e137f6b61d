#include "cuda/device_comm.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>

#include "core/config.h"
#include "core/log.h"
#include "cuda/lowering.h"
#include "cuda/runtime.h"
#include "kernels/cuda/device_plan.h"

#if STRATA_HAVE_CUDA
#include <cuda_runtime_api.h>

#include "kernels/cuda/executor.h"
#endif

namespace strata::cuda {

using namespace cuda_kernels;

FifoGeometry fifoGeometryFromSettings(int nchannels) {
  FifoGeometry g;
  g.nslots = static_cast<uint32_t>(std::clamp<int64_t>(config::getInt("STRATA_CUDA_NSLOTS"), 0, 1 << 20));
  g.slotBytes = static_cast<uint64_t>(std::max<int64_t>(0, config::getInt("STRATA_CUDA_SLOT_BYTES")));
  g.llSlotBytes =
      static_cast<uint64_t>(std::max<int64_t>(0, config::getInt("STRATA_CUDA_LL_SLOT_BYTES")));
  g.nchannels = static_cast<uint32_t>(nchannels);
  return g;
}

StatusOr<std::vector<LoweredLane>> lowerLaunch(const DeviceLaunchSpec& spec, int nranks,
                                               int nchannels, uint64_t llMaxBytes) {
  if (spec.ops.size() > static_cast<size_t>(kMaxOpsPerLaunch)) {
    return InvalidUsage("more than ", kMaxOpsPerLaunch,
                        " device operations in one launch (a group's sends and receives)");
  }
  const bool reduces = spec.type != DataType::kUint8 || spec.reduction.hasPreScale ||
                       spec.reduction.postDivisor > 1;
  const DevProtocol proto = chooseProtocol(spec.operationBytes, llMaxBytes);
  std::vector<LoweredLane> lanes(spec.lanes.size());
  for (size_t l = 0; l < spec.lanes.size(); ++l) {
    for (auto [opIdx, progIdx] : spec.lanes[l]) {
      if (opIdx < 0 || static_cast<size_t>(opIdx) >= spec.ops.size() ||
          progIdx < 0 || static_cast<size_t>(progIdx) >= spec.ops[opIdx].plan->programs.size()) {
        return InternalError("launch lane ", l, " names operation ", opIdx, " program ", progIdx,
                             " that does not exist");
      }
      const DeviceOpSpec& op = spec.ops[opIdx];
      LoweringContext ctx;
      ctx.nranks = nranks;
      ctx.nchannels = nchannels;
      ctx.elemSize = op.elemSize;
      ctx.preScale = reduces && spec.reduction.hasPreScale;
      ctx.postDivide = reduces && spec.reduction.postDivisor > 1;
      ctx.inputBase = static_cast<uint8_t>(kBufFirstOp + 2 * opIdx);
      ctx.outputBase = static_cast<uint8_t>(kBufFirstOp + 2 * opIdx + 1);
      STRATA_RETURN_IF_ERROR(lowerProgram(op.plan->programs[progIdx], ctx, &lanes[l]));
    }
    lanes[l].protocol = spec.perLaneProtocol ? chooseProtocol(lanes[l].bytes, llMaxBytes) : proto;
  }
  return lanes;
}

uint64_t planExtentBytes(const plan::RankPlan& p, plan::Buf buf, size_t elemSize) {
  uint64_t extent = 0;
  for (const auto& prog : p.programs) {
    for (const auto& s : prog.steps) {
      for (const plan::Ref* r : {&s.src, &s.src2, &s.dst}) {
        if (r->buf == buf && s.count > 0) {
          extent = std::max<uint64_t>(extent, (r->offset + s.count) * elemSize);
        }
      }
    }
  }
  return extent;
}

#if STRATA_HAVE_CUDA

namespace {

Status cudaStatus(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return Status::Ok();
  cudaGetLastError();
  return Status(Code::kCudaError, strCat(what, ": ", cudaErrorText(e)));
}
#define STRATA_CUDA_CHECK(call) STRATA_RETURN_IF_ERROR(cudaStatus((call), #call))

// Lets uploads and allocations happen while the caller's stream is being
// captured into a CUDA graph (they are not part of the graph).
class RelaxedCapture {
 public:
  RelaxedCapture() {
    mode_ = cudaStreamCaptureModeRelaxed;
    cudaThreadExchangeStreamCaptureMode(&mode_);
  }
  ~RelaxedCapture() { cudaThreadExchangeStreamCaptureMode(&mode_); }

 private:
  cudaStreamCaptureMode mode_;
};

// Makes `device` current for a scope and restores the caller's device.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    if (cudaGetDevice(&saved_) != cudaSuccess) saved_ = -1;
    if (saved_ != device) cudaSetDevice(device);
  }
  ~DeviceGuard() {
    if (saved_ >= 0) cudaSetDevice(saved_);
  }

 private:
  int saved_ = -1;
};

// Peer FIFO allocations opened through CUDA IPC, shared by the ranks of
// this process: a handle is opened once per process and closed when its
// last user goes.
class IpcMappings {
 public:
  static IpcMappings& get() {
    static IpcMappings* m = new IpcMappings();  // outlives static destructors
    return *m;
  }
  StatusOr<void*> open(const uint8_t (&bytes)[kIpcHandleBytes], int device) {
    std::lock_guard<std::mutex> lock(mu_);
    std::string key(reinterpret_cast<const char*>(bytes), kIpcHandleBytes);
    key.append(reinterpret_cast<const char*>(&device), sizeof device);
    auto it = open_.find(key);
    if (it != open_.end()) {
      ++it->second.second;
      return it->second.first;
    }
    cudaIpcMemHandle_t h;
    std::memcpy(&h, bytes, kIpcHandleBytes);
    void* p = nullptr;
    cudaError_t e = cudaIpcOpenMemHandle(&p, h, cudaIpcMemLazyEnablePeerAccess);
    if (e != cudaSuccess) {
      cudaGetLastError();
      return Status(Code::kCudaError, strCat("cudaIpcOpenMemHandle: ", cudaErrorText(e)));
    }
    open_[key] = {p, 1};
    return p;
  }
  void close(void* p) {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = open_.begin(); it != open_.end(); ++it) {
      if (it->second.first == p && --it->second.second == 0) {
        cudaIpcCloseMemHandle(p);
        open_.erase(it);
        return;
      }
    }
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::pair<void*, int>> open_;
};

struct LoweredEntry {
  std::vector<std::shared_ptr<const plan::RankPlan>> plans;  // keep addresses unique
  void* memory = nullptr;  // steps then lanes
  const DevLane* lanes = nullptr;
  int nlanes = 0;
};

}  // namespace

struct DeviceComm::Impl {
  DeviceCommOptions opt;
  FifoGeometry geometry;
  int device = -1;
  void* fifoMemory = nullptr;
  std::vector<DeviceRankInfo> peers;
  std::vector<PeerPath> paths;
  std::vector<void*> ipcOpened;
  DevFifo* sendTable = nullptr;  // device memory
  DevFifo* recvTable = nullptr;
  uint32_t nfifos = 0;
  int32_t* hostWords = nullptr;  // [0] abort, [1] error; host-mapped
  int32_t* deviceWords = nullptr;
  cudaStream_t uploadStream = nullptr;
  uint64_t llMaxBytes = 0;
  int threads = 512;
  bool allOnThisGpu = false;  // every rank uses this GPU: GPU-scope acquire/release suffice

  std::mutex mu;  // guards the members below
  std::map<std::string, LoweredEntry> lowered;
  void* scratch = nullptr;
  size_t scratchBytes = 0;
  std::vector<void*> retired;  // earlier scratch/spare buffers a captured graph may still use
  std::vector<std::pair<void*, size_t>> spare;  // per base slot, for buffers a rank passed as NULL

  ~Impl() {
    DeviceGuard onDevice(device >= 0 ? device : 0);
    cudaDeviceSynchronize();  // kernels of this communicator may still run
    for (auto& [k, e] : lowered) cudaFree(e.memory);
    for (void* p : retired) cudaFree(p);
    for (auto& [p, n] : spare) cudaFree(p);
    cudaFree(scratch);
    for (void* p : ipcOpened) IpcMappings::get().close(p);
    cudaFree(sendTable);
    cudaFree(recvTable);
    cudaFree(fifoMemory);
    if (hostWords != nullptr) cudaFreeHost(hostWords);
    if (uploadStream != nullptr) cudaStreamDestroy(uploadStream);
    cudaGetLastError();
  }

  Status setUpLocal(DeviceRankInfo* me);
  Status connect(const std::vector<std::string>& all, const DeviceRankInfo& me);
  Status upload(void* dst, const void* src, size_t bytes);
  StatusOr<const LoweredEntry*> lanesFor(const DeviceLaunchSpec& spec);
  StatusOr<void*> grow(void** p, size_t* have, size_t need);
};

Status DeviceComm::Impl::upload(void* dst, const void* src, size_t bytes) {
  STRATA_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, uploadStream));
  STRATA_CUDA_CHECK(cudaStreamSynchronize(uploadStream));
  return Status::Ok();
}

Status DeviceComm::Impl::setUpLocal(DeviceRankInfo* me) {
  if (opt.device >= 0) {
    device = opt.device;
  } else {
    STRATA_CUDA_CHECK(cudaGetDevice(&device));
  }
  DeviceGuard onDevice(device);
  char bus[kMaxBusIdBytes] = {};
  STRATA_CUDA_CHECK(cudaDeviceGetPCIBusId(bus, sizeof bus, device));
  geometry = fifoGeometryFromSettings(opt.nchannels);
  STRATA_RETURN_IF_ERROR(checkFifoGeometry(geometry).withContext("STRATA_CUDA_* settings"));
  llMaxBytes = effectiveLlMaxBytes(
      geometry.nslots, geometry.llSlotBytes,
      static_cast<uint64_t>(std::max<int64_t>(0, config::getInt("STRATA_CUDA_LL_MAX_BYTES"))));
  threads = static_cast<int>(std::clamp<int64_t>(config::getInt("STRATA_CUDA_THREADS"), 32,
                                                 kMaxPlanThreads));
  threads -= threads % 32;
  const uint64_t bytes = fifoAllocationBytes(geometry, opt.nranks);
  STRATA_CUDA_CHECK(cudaMalloc(&fifoMemory, bytes));
  STRATA_CUDA_CHECK(cudaMemset(fifoMemory, 0, bytes));
  STRATA_CUDA_CHECK(cudaDeviceSynchronize());
  STRATA_CUDA_CHECK(cudaHostAlloc(reinterpret_cast<void**>(&hostWords), 2 * sizeof(int32_t),
                                  cudaHostAllocMapped));
  hostWords[0] = 0;
  hostWords[1] = 0;
  STRATA_CUDA_CHECK(cudaHostGetDevicePointer(reinterpret_cast<void**>(&deviceWords), hostWords, 0));
  STRATA_CUDA_CHECK(cudaStreamCreateWithFlags(&uploadStream, cudaStreamNonBlocking));

  me->rank = opt.rank;
  me->nranks = opt.nranks;
  me->processToken = opt.processToken;
  me->pid = getpid();
  me->hostId = opt.hostId;
  me->device = device;
  me->busId = bus;
  me->fifoBase = reinterpret_cast<uint64_t>(fifoMemory);
  me->fifoBytes = bytes;
  me->geometry = geometry;
  cudaIpcMemHandle_t handle;
  static_assert(sizeof(handle) == kIpcHandleBytes, "cudaIpcMemHandle_t size changed");
  cudaError_t e = cudaIpcGetMemHandle(&handle, fifoMemory);
  if (e == cudaSuccess) {
    std::memcpy(me->ipcHandle, &handle, kIpcHandleBytes);
    me->hasIpcHandle = true;
  } else {
    cudaGetLastError();
    STRATA_INFO(log::kInit, "rank ", opt.rank, ": no CUDA IPC handle for the device FIFOs (",
                cudaErrorText(e), "); other processes reach this rank host-staged");
  }
  return Status::Ok();
}

Status DeviceComm::Impl::connect(const std::vector<std::string>& all, const DeviceRankInfo& me) {
  DeviceGuard onDevice(device);
  const int n = opt.nranks;
  peers.resize(n);
  paths.assign(n, PeerPath::kSameProcess);
  for (int r = 0; r < n; ++r) {
    if (all[r].empty()) return RemoteError("rank ", r, " could not set up its device FIFOs");
    STRATA_ASSIGN_OR_RETURN(peers[r], DeviceRankInfo::decode(all[r]));
    STRATA_RETURN_IF_ERROR(validatePeerInfo(me, peers[r], r));
  }
  std::vector<uint8_t*> peerBase(n, nullptr);
  for (int r = 0; r < n; ++r) {
    if (r == opt.rank) {
      peerBase[r] = static_cast<uint8_t*>(fifoMemory);
      continue;
    }
    bool access = false;
    if (peers[r].hostId == me.hostId) {
      int peerDev = -1;
      if (cudaDeviceGetByPCIBusId(&peerDev, peers[r].busId.c_str()) == cudaSuccess) {
        if (peerDev == device) {
          access = true;
        } else {
          int can = 0;
          if (cudaDeviceCanAccessPeer(&can, device, peerDev) == cudaSuccess && can) {
            cudaError_t e = cudaDeviceEnablePeerAccess(peerDev, 0);
            access = e == cudaSuccess || e == cudaErrorPeerAccessAlreadyEnabled;
          }
        }
      }
      cudaGetLastError();
    }
    paths[r] = decidePath(me, peers[r], access);
    if (paths[r] == PeerPath::kSameProcess) {
      peerBase[r] = reinterpret_cast<uint8_t*>(peers[r].fifoBase);
    } else if (paths[r] == PeerPath::kIpc) {
      auto p = IpcMappings::get().open(peers[r].ipcHandle, device);
      if (!p.ok()) {
        STRATA_INFO(log::kInit, "rank ", opt.rank, ": cannot open rank ", r, "'s IPC handle (",
                    p.status().message(), "): host-staged");
        paths[r] = PeerPath::kHostStaged;
      } else {
        ipcOpened.push_back(p.value());
        peerBase[r] = static_cast<uint8_t*>(p.value());
      }
    }
    STRATA_INFO(log::kInit, "rank ", opt.rank, " -> rank ", r, " device path ",
                peerPathName(paths[r]));
  }
  allOnThisGpu = true;
  for (int r = 0; r < n; ++r) {
    allOnThisGpu = allOnThisGpu && peers[r].hostId == me.hostId && peers[r].busId == me.busId;
  }
  nfifos = geometry.nchannels * static_cast<uint32_t>(n);
  std::vector<DevFifo> send, recv;
  buildFifoTables(geometry, n, opt.rank, peerBase, &send, &recv);
  STRATA_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&sendTable), nfifos * sizeof(DevFifo)));
  STRATA_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&recvTable), nfifos * sizeof(DevFifo)));
  STRATA_RETURN_IF_ERROR(upload(sendTable, send.data(), nfifos * sizeof(DevFifo)));
  STRATA_RETURN_IF_ERROR(upload(recvTable, recv.data(), nfifos * sizeof(DevFifo)));
  return Status::Ok();
}

StatusOr<void*> DeviceComm::Impl::grow(void** p, size_t* have, size_t need) {
  if (*have >= need && *p != nullptr) return *p;
  void* fresh = nullptr;
  STRATA_CUDA_CHECK(cudaMalloc(&fresh, std::max<size_t>(need, 256)));
  if (*p != nullptr) retired.push_back(*p);
  *p = fresh;
  *have = need;
  return fresh;
}

StatusOr<const LoweredEntry*> DeviceComm::Impl::lanesFor(const DeviceLaunchSpec& spec) {
  const DevProtocol proto = chooseProtocol(spec.operationBytes, llMaxBytes);
  std::string key;
  auto put = [&key](const void* p, size_t n) { key.append(static_cast<const char*>(p), n); };
  uint8_t flags[4] = {uint8_t(spec.reduction.hasPreScale), uint8_t(spec.reduction.postDivisor > 1),
                      uint8_t(proto), uint8_t(spec.perLaneProtocol)};
  put(flags, sizeof flags);
  for (const auto& op : spec.ops) {
    const void* pp = op.plan.get();
    put(&pp, sizeof pp);
    put(&op.elemSize, sizeof op.elemSize);
  }
  for (const auto& lane : spec.lanes) {
    uint32_t m = static_cast<uint32_t>(lane.size());
    put(&m, sizeof m);
    for (const auto& item : lane) put(&item, sizeof item);
  }
  auto it = lowered.find(key);
  if (it != lowered.end()) return &it->second;

  STRATA_ASSIGN_OR_RETURN(std::vector<LoweredLane> lanes,
                          lowerLaunch(spec, opt.nranks, static_cast<int>(geometry.nchannels),
                                      llMaxBytes));
  for (const LoweredLane& lane : lanes) {
    for (const DevStep& s : lane.steps) {
      for (int32_t f : {s.sendFifo, s.recvFifo}) {
        if (f < 0) continue;
        int peer = f % opt.nranks;
        if (paths[peer] == PeerPath::kHostStaged) {
          return InvalidUsage("rank ", opt.rank, " reaches rank ", peer,
                              " only through host staging, which the CUDA executor does not "
                              "do yet (different hosts, no peer access or no CUDA IPC)");
        }
      }
    }
  }
  size_t nsteps = 0;
  for (const auto& l : lanes) nsteps += l.steps.size();
  const size_t stepBytes = nsteps * sizeof(DevStep);
  const size_t laneOffset = (stepBytes + 255) / 256 * 256;
  std::vector<uint8_t> image(laneOffset + lanes.size() * sizeof(DevLane));
  void* memory = nullptr;
  STRATA_CUDA_CHECK(cudaMalloc(&memory, std::max<size_t>(image.size(), 256)));
  auto* devSteps = static_cast<DevStep*>(memory);
  size_t at = 0;
  for (size_t l = 0; l < lanes.size(); ++l) {
    DevLane lane;
    lane.steps = devSteps + at;
    lane.nsteps = static_cast<uint32_t>(lanes[l].steps.size());
    lane.protocol = lanes[l].protocol;
    std::memcpy(image.data() + at * sizeof(DevStep), lanes[l].steps.data(),
                lanes[l].steps.size() * sizeof(DevStep));
    std::memcpy(image.data() + laneOffset + l * sizeof(DevLane), &lane, sizeof lane);
    at += lanes[l].steps.size();
  }
  Status s = upload(memory, image.data(), image.size());
  if (!s.ok()) {
    cudaFree(memory);
    return s;
  }
  LoweredEntry e;
  for (const auto& op : spec.ops) e.plans.push_back(op.plan);
  e.memory = memory;
  e.lanes = reinterpret_cast<const DevLane*>(static_cast<uint8_t*>(memory) + laneOffset);
  e.nlanes = static_cast<int>(lanes.size());
  return &lowered.emplace(std::move(key), std::move(e)).first->second;
}

DeviceComm::DeviceComm(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DeviceComm::~DeviceComm() = default;

StatusOr<std::unique_ptr<DeviceComm>> DeviceComm::create(bootstrap::Bootstrap& bootstrap,
                                                         const DeviceCommOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->opt = options;
  DeviceRankInfo me;
  Status local = impl->setUpLocal(&me);
  // Every rank takes part in the exchange, so a local failure is reported
  // to the others instead of leaving them waiting.
  std::string mine = local.ok() ? me.encode() : std::string();
  STRATA_ASSIGN_OR_RETURN(auto all, bootstrap.allGatherStrings(mine));
  if (!local.ok()) return local.withContext("setting up device FIFOs");
  Status connected = impl->connect(all, me).withContext("connecting device FIFOs");
  // Both ends must agree that a pair is reachable, or one side would launch
  // and wait for a peer that refuses: exchange each rank's view.
  std::string row(static_cast<size_t>(options.nranks), '\0');
  if (connected.ok()) {
    for (int r = 0; r < options.nranks; ++r) {
      row[r] = impl->paths[r] != PeerPath::kHostStaged ? 1 : 0;
    }
  }
  STRATA_ASSIGN_OR_RETURN(auto rows, bootstrap.allGatherStrings(row));
  STRATA_RETURN_IF_ERROR(connected);
  for (int r = 0; r < options.nranks; ++r) {
    if (rows[r].size() != row.size()) return RemoteError("rank ", r, " sent a bad reachability row");
    if (rows[r][options.rank] == 0) impl->paths[r] = PeerPath::kHostStaged;
  }
  return std::unique_ptr<DeviceComm>(new DeviceComm(std::move(impl)));
}

Status DeviceComm::enqueue(const std::vector<DeviceLaunchSpec>& launches, void* stream) {
  STRATA_RETURN_IF_ERROR(asyncError());
  RelaxedCapture relaxed;
  std::lock_guard<std::mutex> lock(impl_->mu);
  DeviceGuard onDevice(impl_->device);
  for (const DeviceLaunchSpec& spec : launches) {
    if (spec.lanes.empty()) continue;
    STRATA_ASSIGN_OR_RETURN(const LoweredEntry* entry, impl_->lanesFor(spec));
    DevLaunch L;
    L.lanes = entry->lanes;
    STRATA_ASSIGN_OR_RETURN(void* scratch,
                            impl_->grow(&impl_->scratch, &impl_->scratchBytes, spec.scratchBytes));
    L.bases[kBufScratch] = static_cast<uint8_t*>(scratch);
    if (impl_->spare.size() < 2 * spec.ops.size()) impl_->spare.resize(2 * spec.ops.size());
    for (size_t k = 0; k < spec.ops.size(); ++k) {
      const DeviceOpSpec& op = spec.ops[k];
      void* in = const_cast<void*>(op.input);
      void* out = op.output;
      // A rank may pass NULL for a buffer it does not own; the plan may
      // still stage data there.
      if (in == nullptr) {
        uint64_t need = planExtentBytes(*op.plan, plan::Buf::kInput, op.elemSize);
        if (need > 0) {
          auto& [p, n] = impl_->spare[2 * k];
          STRATA_ASSIGN_OR_RETURN(in, impl_->grow(&p, &n, need));
        }
      }
      if (out == nullptr) {
        uint64_t need = planExtentBytes(*op.plan, plan::Buf::kOutput, op.elemSize);
        if (need > 0) {
          auto& [p, n] = impl_->spare[2 * k + 1];
          STRATA_ASSIGN_OR_RETURN(out, impl_->grow(&p, &n, need));
        }
      }
      L.bases[kBufFirstOp + 2 * k] = static_cast<uint8_t*>(in);
      L.bases[kBufFirstOp + 2 * k + 1] = static_cast<uint8_t*>(out);
    }
    L.sendFifos = impl_->sendTable;
    L.recvFifos = impl_->recvTable;
    L.nfifos = impl_->nfifos;
    L.elemSize = static_cast<uint32_t>(spec.type == DataType::kUint8 ? 1 : dataTypeSize(spec.type));
    L.red = toDevReduction(spec.reduction);
    L.abortFlag = impl_->deviceWords;
    L.error = impl_->deviceWords + 1;
    L.timeoutNs = static_cast<uint64_t>(impl_->opt.timeout.count()) * 1000000ull;
    L.systemScope = impl_->allOnThisGpu ? 0 : 1;
    int e = launchPlan(spec.type, spec.reduction.op, L, entry->nlanes, impl_->threads, stream);
    STRATA_RETURN_IF_ERROR(cudaStatus(static_cast<cudaError_t>(e), "launching the plan kernel"));
  }
  return Status::Ok();
}

void DeviceComm::abort() {
  if (impl_->hostWords != nullptr) {
    __atomic_store_n(&impl_->hostWords[0], 1, __ATOMIC_RELEASE);
  }
}

Status DeviceComm::asyncError() const {
  int32_t e = __atomic_load_n(&impl_->hostWords[1], __ATOMIC_ACQUIRE);
  switch (e) {
    case kDevOk: return Status::Ok();
    case kDevAborted: return Aborted("a device operation was aborted");
    case kDevTimeout:
      return Timeout("a device operation made no progress for ",
                     impl_->opt.timeout.count() / 1000, " s");
    case kDevBadStream:
      return InvalidUsage("a device operation received data that does not match its step: "
                          "mismatched counts or datatypes between ranks");
    default: return InternalError("device error word ", e);
  }
}

int DeviceComm::device() const { return impl_->device; }
PeerPath DeviceComm::path(int peer) const { return impl_->paths.at(peer); }

#else  // !STRATA_HAVE_CUDA

struct DeviceComm::Impl {};

DeviceComm::DeviceComm(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DeviceComm::~DeviceComm() = default;

StatusOr<std::unique_ptr<DeviceComm>> DeviceComm::create(bootstrap::Bootstrap&,
                                                         const DeviceCommOptions&) {
  return InvalidUsage("device FIFOs: this build has no CUDA support");
}
Status DeviceComm::enqueue(const std::vector<DeviceLaunchSpec>&, void*) {
  return InvalidUsage("device buffers: this build has no CUDA support");
}
void DeviceComm::abort() {}
Status DeviceComm::asyncError() const { return Status::Ok(); }
int DeviceComm::device() const { return -1; }
PeerPath DeviceComm::path(int) const { return PeerPath::kHostStaged; }

#endif

}  // namespace strata::cuda
