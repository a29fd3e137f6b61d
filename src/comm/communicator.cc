#include "comm/communicator.h"

#include <algorithm>
#include <cctype>
#include <thread>
#include <vector>

#include "algorithms/algorithms.h"
#include "core/config.h"
#include "core/log.h"
#include "cuda/device_comm.h"
#include "cuda/runtime.h"
#include "transports/descriptor.h"

namespace strata {
namespace {

constexpr size_t kPlanCacheLimit = 512;
constexpr int kMaxChannels = 32;

struct ParamsWire {
  int32_t nchannels;
  int32_t device;  // 1: this rank can run device work
  uint64_t stepBytes;
  uint64_t directMaxBytes;
};

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
  mo.nchannels = options_.nchannels + 1;  // the last channel carries point-to-point traffic
  mo.timeout = options_.timeout;
  mo.abort = &abort_;
  STRATA_ASSIGN_OR_RETURN(connections_, transport::ConnectionManager::create(*bootstrap_, mo));
  STRATA_RETURN_IF_ERROR(agreeOnParams());
  if (params_.device) {
    cuda::DeviceCommOptions dopt;
    dopt.rank = rank_;
    dopt.nranks = nranks_;
    dopt.nchannels = options_.nchannels + 1;
    dopt.hostId = transport::hostIdentity();
    dopt.processToken = transport::processToken();
    dopt.timeout = options_.timeout;
    dopt.device = options_.cudaDevice;
    STRATA_ASSIGN_OR_RETURN(device_, cuda::DeviceComm::create(*bootstrap_, dopt));
  }
  STRATA_INFO(log::kInit, "comm rank ", rank_, "/", nranks_, " ready: ", params_.nchannels,
              " channels, ", params_.stepBytes, " bytes per step");
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
  if (device) {
    // Device FIFOs must hold a step with room to spare, as the host ones do.
    cuda::FifoGeometry g = cuda::fifoGeometryFromSettings(options_.nchannels + 1);
    if (!cuda::checkFifoGeometry(g).ok()) return cuda::checkFifoGeometry(g).withContext("STRATA_CUDA_*");
    step = std::min<size_t>(step, g.nslots * g.slotBytes / 2);
  }
  all[rank_] = ParamsWire{options_.nchannels, device, step, direct};
  STRATA_RETURN_IF_ERROR_CTX(bootstrap_->allGather(all.data(), sizeof(ParamsWire)),
                             "agreeing on communicator parameters");
  params_.nchannels = kMaxChannels;
  params_.stepBytes = SIZE_MAX;
  params_.directMaxBytes = SIZE_MAX;
  params_.device = true;
  for (const auto& p : all) {
    params_.device = params_.device && p.device == 1;
    params_.directMaxBytes = std::min<size_t>(params_.directMaxBytes, p.directMaxBytes);
    params_.nchannels = std::min<int>(params_.nchannels, std::max(1, p.nchannels));
    params_.stepBytes = std::min<size_t>(params_.stepBytes, std::max<uint64_t>(64, p.stepBytes));
  }
  return Status::Ok();
}

Communicator::~Communicator() {
  // Connections reference the bootstrap; tear down in reverse order.
  device_.reset();
  connections_.reset();
  bootstrap_.reset();
}

StatusOr<std::shared_ptr<const plan::RankPlan>> Communicator::planFor(const plan::CollArgs& args,
                                                                      DataType type) {
  size_t elemSize = dataTypeSize(type);
  auto key = std::make_tuple(static_cast<int>(args.type), args.count, args.root, args.peer,
                             static_cast<int>(elemSize));
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = plans_.find(key);
    if (it != plans_.end()) return it->second;
  }
  plan::PlanOptions po;
  po.nchannels = params_.nchannels;
  po.p2pChannel = params_.nchannels;
  po.maxStepElems = std::max<size_t>(1, params_.stepBytes / elemSize);
  std::string algo = algoOverride_;
  auto available = algorithms::availableAlgorithms(args.type);
  if (!algo.empty() && std::find(available.begin(), available.end(), algo) == available.end()) {
    algo.clear();  // a forced algorithm applies only where it exists
  }
  // Small all-reduces are latency-bound: one direct exchange beats 2(n-1)
  // ring steps. The threshold is agreed, so every rank picks the same plan.
  if (algo.empty() && args.type == plan::CollType::kAllReduce && nranks_ > 1 &&
      nranks_ <= kDirectMaxRanks && args.count * elemSize <= params_.directMaxBytes) {
    algo = "direct";
  }
  STRATA_ASSIGN_OR_RETURN(plan::RankPlan built, algorithms::buildPlan(args, po, algo));
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
