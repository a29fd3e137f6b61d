#include "api/group.h"

#include <pthread.h>

#include <algorithm>
#include <map>
#include <thread>
#include <vector>

#include "algorithms/partition.h"
#include "api/handle.h"
#include "core/log.h"
#include "exec/device_executor.h"
#include "exec/host_executor.h"

namespace strata::api {
namespace {

struct GroupState {
  int depth = 0;
  std::vector<PendingOp> ops;
  std::vector<PendingInit> inits;
  Status error;
};

// Memory a thread reuses from call to call (see runOps and submit).
struct Scratch {
  std::vector<PendingOp> one;          // a call outside a group
  std::vector<exec::RankWork> work;    // what the executor runs
  exec::RunCache runs;                 // the executor's own bookkeeping
};

// One thread-local object: each thread_local of a shared library costs a
// lookup (__tls_get_addr) per access.
struct ThreadState {
  GroupState group;
  Scratch scratch;
};
// A plain pointer: a thread_local object with a constructor would cost an
// initialisation check (a second lookup) on every access. The object is
// made on the thread's first call and freed by a pthread key's destructor
// when the thread exits.
thread_local ThreadState* threadState = nullptr;
pthread_key_t stateKey;
pthread_once_t stateKeyOnce = PTHREAD_ONCE_INIT;

void freeState(void* p) {
  threadState = nullptr;
  delete static_cast<ThreadState*>(p);
}

[[gnu::noinline]] ThreadState& createState() {
  pthread_once(&stateKeyOnce, [] { pthread_key_create(&stateKey, freeState); });
  auto* ts = new ThreadState();
  pthread_setspecific(stateKey, ts);
  threadState = ts;
  return *ts;
}

// The calling thread's state: entry points look it up once through this
// and hand the reference down. Opaque to the compiler: were the thread-local
// visible, it would propagate it into the functions that get parts of it
// and look it up again after every call they make.
[[gnu::noipa]] ThreadState& state() {
  ThreadState* ts = threadState;
  return ts != nullptr ? *ts : createState();
}

Status runInit(PendingInit& init) {
  auto comm = Communicator::create(init.id, init.nranks, init.rank, init.options);
  if (!comm.ok()) {
    init.handle->initStatus = comm.status();
    return comm.status();
  }
  init.handle->impl = std::move(comm).value();
  return Status::Ok();
}

// Creations in one group rendezvous with each other, so each gets a thread.
Status runInits(std::vector<PendingInit>& inits) {
  if (inits.size() == 1) return runInit(inits[0]);
  std::vector<Status> results(inits.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < inits.size(); ++i) {
    threads.emplace_back([&, i] { results[i] = runInit(inits[i]); });
  }
  for (auto& t : threads) t.join();
  for (auto& r : results) {
    if (!r.ok()) return r;
  }
  return Status::Ok();
}

// The highest element index + 1 a plan touches in buffer `buf`.
size_t extentOf(const plan::RankPlan& p, plan::Buf buf) {
  size_t extent = 0;
  for (const auto& prog : p.programs) {
    for (const auto& s : prog.steps) {
      for (const plan::Ref* r : {&s.src, &s.src2, &s.dst}) {
        if (r->buf == buf && s.count > 0) extent = std::max(extent, r->offset + s.count);
      }
    }
  }
  return extent;
}

// A rank may pass NULL for a buffer it does not own (reduce's recvbuff off the
// root, scatter's sendbuff off the root). If the plan still stages data there,
// give it memory of its own for the duration of the group.
void provideMissingBuffers(exec::Task& task, const plan::RankPlan& p,
                           std::vector<std::unique_ptr<char[]>>& temporaries) {
  size_t es = dataTypeSize(task.type);
  if (task.buffers.output == nullptr) {
    size_t n = extentOf(p, plan::Buf::kOutput);
    if (n > 0) {
      temporaries.emplace_back(new char[n * es]);
      task.buffers.output = temporaries.back().get();
    }
  }
  if (task.buffers.input == nullptr) {
    size_t n = extentOf(p, plan::Buf::kInput);
    if (n > 0) {
      temporaries.emplace_back(new char[n * es]());
      task.buffers.input = temporaries.back().get();
    }
  }
}

// Bytes of output an operation writes on this rank (a cheap bound first, so
// small operations do not walk their plan).
size_t outputBytes(const PendingOp& op, const plan::RankPlan& p, int nranks) {
  size_t es = dataTypeSize(op.type);
  if (algorithms::saturatingMul(algorithms::saturatingMul(op.args.count, es), nranks) < (size_t{1} << 20)) {
    return 0;
  }
  return algorithms::saturatingMul(extentOf(p, plan::Buf::kOutput), es);
}

// Turns `ops` into one RankWork per communicator in `work`, reusing the
// vectors `work` already holds (a thread issuing call after call allocates
// nothing here for small operations). `verified`: every op's comm field was
// resolved just now (a call outside a group); otherwise handles are looked
// up again.
Status buildWork(std::vector<PendingOp>& ops, bool verified, std::vector<exec::RankWork>& work,
                 std::vector<std::unique_ptr<char[]>>& temporaries) {
  // Communicators in order of first appearance.
  size_t ncomms = 0;
  for (auto& op : ops) {
    if (!verified) {
      STRATA_ASSIGN_OR_RETURN(op.comm, lookup(op.handle, "ncclGroupEnd"));
    }
    size_t i = 0;
    while (i < ncomms && work[i].comm != op.comm) ++i;
    if (i < ncomms) continue;
    if (work.size() <= ncomms) work.emplace_back();
    work[ncomms].comm = op.comm;
    work[ncomms].phases.clear();
    ++ncomms;
  }
  work.resize(ncomms);
  for (exec::RankWork& w : work) {
    Communicator* comm = w.comm;
    const size_t streamMin = comm->streamMinBytes();
    // (direction, peer) -> lane; std::map keeps a deterministic order.
    std::map<std::pair<int, int>, exec::Lane> p2p;
    for (auto& op : ops) {
      if (op.comm != comm) continue;
      if (comm->useLowLatency(op.args, op.type)) {
        exec::Phase& phase = w.phases.emplace_back();
        phase.lowLatency = exec::LowLatencyTask{op.args.count, op.buffers, op.type, op.reduction};
        continue;
      }
      const SingleCopyUse singleCopy = comm->singleCopyUse(op.args, op.type);
      if (singleCopy == SingleCopyUse::kYes) {
        exec::Phase& phase = w.phases.emplace_back();
        phase.singleCopy = exec::SingleCopyTask{op.args, op.buffers, op.type, op.reduction};
        continue;
      }
      STRATA_ASSIGN_OR_RETURN(auto p, comm->planFor(op.args, op.type));
      exec::Task proto;
      proto.plan = p;
      proto.buffers = op.buffers;
      proto.type = op.type;
      proto.reduction = op.reduction;
      provideMissingBuffers(proto, *p, temporaries);
      proto.streamOutput = streamMin > 0 && outputBytes(op, *p, comm->nranks()) >= streamMin;
      bool isP2p = op.args.type == plan::CollType::kSend || op.args.type == plan::CollType::kRecv;
      if (isP2p) {
        int dir = op.args.type == plan::CollType::kSend ? 0 : 1;
        for (const auto& prog : p->programs) {
          exec::Task t = proto;
          t.program = &prog;
          p2p[{dir, op.args.peer}].tasks.push_back(t);
        }
        continue;
      }
      exec::Phase& phase = w.phases.emplace_back();
      phase.scratchBytes = p->scratchElems * dataTypeSize(op.type);
      for (const auto& prog : p->programs) {
        exec::Task t = proto;
        t.program = &prog;
        phase.lanes.push_back(exec::Lane{{t}});
      }
      if (singleCopy == SingleCopyUse::kIfShared) {
        // Single copy if every buffer read across processes is shared; the
        // lanes above run only if the ranks decline it.
        phase.singleCopy = exec::SingleCopyTask{op.args, op.buffers, op.type, op.reduction};
        phase.singleCopy->ifShared = true;
      }
    }
    if (!p2p.empty()) {
      exec::Phase& phase = w.phases.emplace_back();
      for (auto& [key, lane] : p2p) phase.lanes.push_back(std::move(lane));
    }
  }
  return Status::Ok();
}

// Takes the device-buffer operations out of `ops` and enqueues them, per
// communicator, on their stream (src/exec/device_executor.h).
Status enqueueDeviceOps(std::vector<PendingOp>& ops) {
  if (std::none_of(ops.begin(), ops.end(), [](const PendingOp& op) { return op.onDevice; })) {
    return Status::Ok();
  }
  std::vector<std::pair<Communicator*, std::vector<exec::DeviceOp>>> perComm;
  std::vector<PendingOp> hostOps;
  for (auto& op : ops) {
    if (!op.onDevice) {
      hostOps.push_back(std::move(op));
      continue;
    }
    STRATA_ASSIGN_OR_RETURN(Communicator * c, lookup(op.handle, "ncclGroupEnd"));
    if (c->aborted()) return Aborted("communicator rank ", c->rank(), " was aborted");
    auto it = std::find_if(perComm.begin(), perComm.end(), [c](auto& e) { return e.first == c; });
    if (it == perComm.end()) it = perComm.insert(perComm.end(), {c, {}});
    it->second.push_back(exec::DeviceOp{op.args, op.buffers, op.type, op.reduction, op.stream});
  }
  ops = std::move(hostOps);
  for (auto& [c, dops] : perComm) STRATA_RETURN_IF_ERROR(exec::enqueueDeviceOps(*c, dops));
  return Status::Ok();
}

// `scratch`: the calling thread's (the executor is not re-entered from a
// call it runs).
Status runOps(std::vector<PendingOp>& ops, bool verified, Scratch& scratch) {
  std::vector<exec::RankWork>& work = scratch.work;
  STRATA_RETURN_IF_ERROR(enqueueDeviceOps(ops));
  if (ops.empty()) return Status::Ok();
  std::vector<std::unique_ptr<char[]>> temporaries;
  struct Clear {  // drops plan references on every way out, keeps the memory
    std::vector<exec::RankWork>& work;
    ~Clear() {
      for (auto& w : work) w.phases.clear();
    }
  } clear{work};
  STRATA_RETURN_IF_ERROR(buildWork(ops, verified, work, temporaries));
  for (auto& w : work) {
    if (w.comm->aborted()) return Aborted("communicator rank ", w.comm->rank(), " was aborted");
  }
  for (auto& w : work) w.comm->enterOperation();
  Status s = exec::runHostWork(work, scratch.runs);
  for (auto& w : work) w.comm->leaveOperation();
  return s;
}

}  // namespace

bool inGroup() { return state().group.depth > 0; }

Status groupStart() {
  ++state().group.depth;
  return Status::Ok();
}

void recordGroupError(const Status& s) {
  GroupState& g = state().group;
  if (g.depth > 0 && g.error.ok()) g.error = s;
}

Status groupEnd() {
  ThreadState& ts = state();
  if (ts.group.depth == 0) return InvalidUsage("ncclGroupEnd: not inside a group (no matching ncclGroupStart)");
  if (--ts.group.depth > 0) return Status::Ok();
  std::vector<PendingOp> ops = std::move(ts.group.ops);
  std::vector<PendingInit> inits = std::move(ts.group.inits);
  Status error = ts.group.error;
  ts.group = GroupState();
  if (!error.ok()) {
    return error.withContext("ncclGroupEnd: an operation in the group was invalid; nothing ran");
  }
  STRATA_RETURN_IF_ERROR(runInits(inits));
  return runOps(ops, false, ts.scratch);
}

Status submit(PendingOp&& op) {
  ThreadState& ts = state();
  if (ts.group.depth > 0) {
    ts.group.ops.push_back(std::move(op));
    return Status::Ok();
  }
  // A call outside a group. A small all-reduce on host memory goes to the
  // low-latency protocol straight away; anything else runs as a group of
  // one, in a vector kept per thread.
  if (!op.onDevice && op.comm->useLowLatency(op.args, op.type)) {
    Communicator* c = op.comm;
    c->enterOperation();
    Status s = exec::runLowLatencyCall(
        *c, exec::LowLatencyTask{op.args.count, op.buffers, op.type, op.reduction}, ts.scratch.runs);
    c->leaveOperation();
    return s;
  }
  std::vector<PendingOp>& one = ts.scratch.one;
  one.clear();
  one.push_back(std::move(op));
  Status s = runOps(one, true, ts.scratch);
  one.clear();
  return s;
}

Status submitInit(PendingInit init) {
  GroupState& g = state().group;
  if (g.depth > 0) {
    g.inits.push_back(std::move(init));
    return Status::Ok();
  }
  return runInit(init);
}

}  // namespace strata::api
