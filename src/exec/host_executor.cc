#include "exec/host_executor.h"

#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "comm/communicator.h"
#include "core/log.h"
#include "exec/low_latency.h"
#include "exec/single_copy.h"
#include "kernels/host/reduce.h"
#include "kernels/host/stream_copy.h"
#include "plan/zero_copy.h"
#include "transports/connection.h"

namespace strata::exec {
namespace {

using Clock = std::chrono::steady_clock;
using plan::Buf;
using plan::Op;

// Slices one lane may move before yielding to the other lanes.
constexpr int kSlicesPerTurn = 4;
// Steps that write the same result to two places (recvCopySend,
// recvReduceCopySend) work in blocks this small, so the second copy reads
// from cache instead of memory.
constexpr size_t kCacheBlockBytes = 16 * 1024;

// Reduction that applies to one operand read and one result: the pre-scale
// only on reads of Input, the post-division only on finalizing steps.
Reduction effective(const Reduction& r, bool operandIsInput, bool finalize) {
  Reduction e = r;
  e.hasPreScale = r.hasPreScale && operandIsInput;
  if (!finalize) e.postDivisor = 1;
  return e;
}

// Where a block of a streamed result is computed before it goes to memory.
char* streamBlock() {
  alignas(64) static thread_local char block[kCacheBlockBytes];
  return block;
}

inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

bool isIdentity(const Reduction& r) { return !r.hasPreScale && r.postDivisor <= 1; }

// A send connection that was handed references to user memory in the
// current phase: the phase ends only once it is idle (every referenced byte
// written out by the transport).
struct ReferencedSend {
  transport::SendConnection* conn = nullptr;
  int peer = -1;
  int channel = 0;
};

// The user memory one task touches, as byte ranges.
struct TaskMemory {
  const plan::RankPlan* plan = nullptr;
  Buffers buffers;
  const char* inBegin = nullptr;
  const char* inEnd = nullptr;
  const char* outBegin = nullptr;
  const char* outEnd = nullptr;
  bool writesInput = false;
};

TaskMemory memoryOf(const Task& t) {
  TaskMemory m;
  m.plan = t.plan.get();
  m.buffers = t.buffers;
  const plan::ZeroCopyMap* z = t.plan->zeroCopy.get();
  size_t es = dataTypeSize(t.type);
  if (t.buffers.input != nullptr) {
    m.inBegin = static_cast<const char*>(t.buffers.input);
    m.inEnd = m.inBegin + z->inputExtent * es;
  }
  if (t.buffers.output != nullptr) {
    m.outBegin = static_cast<const char*>(t.buffers.output);
    m.outEnd = m.outBegin + z->outputExtent * es;
  }
  m.writesInput = z->writesInput;
  return m;
}

bool overlaps(const char* b1, const char* e1, const char* b2, const char* e2) {
  return b1 < e2 && b2 < e1;
}

// Whether two tasks that run concurrently could see each other's writes.
bool interfere(const TaskMemory& a, const TaskMemory& b) {
  auto pairs = [](const char* b1, const char* e1, bool w1, const char* b2, const char* e2, bool w2) {
    return (w1 || w2) && overlaps(b1, e1, b2, e2);
  };
  return pairs(a.inBegin, a.inEnd, a.writesInput, b.inBegin, b.inEnd, b.writesInput) ||
         pairs(a.inBegin, a.inEnd, a.writesInput, b.outBegin, b.outEnd, true) ||
         pairs(a.outBegin, a.outEnd, true, b.inBegin, b.inEnd, b.writesInput) ||
         pairs(a.outBegin, a.outEnd, true, b.outBegin, b.outEnd, true);
}

// The plan's analysis that fits a task's buffers: the one with Input and
// Output apart when they do not overlap, the in-place one when Input sits
// exactly where the operation's in-place form puts it, else none.
const plan::ZeroCopyMap* mapFor(const Task& t, const TaskMemory& m) {
  if (!overlaps(m.inBegin, m.inEnd, m.outBegin, m.outEnd)) return t.plan->zeroCopy.get();
  const plan::ZeroCopyMap* z = t.plan->zeroCopyInPlace.get();
  if (z == nullptr) return nullptr;
  const auto es = static_cast<intptr_t>(dataTypeSize(t.type));
  const intptr_t at = reinterpret_cast<intptr_t>(m.inBegin) - reinterpret_cast<intptr_t>(m.outBegin);
  return at == static_cast<intptr_t>(z->inputAt) * es ? z : nullptr;
}

// Which tasks of `lane` may use their user buffers in place, and with which
// of the plan's analyses (plan/zero_copy.h): one covers Input and Output
// apart, the other the operation's in-place form. A task gives zero copy up
// when its buffers overlap in any other way, or when its memory overlaps
// what another operation of the phase writes (or reads, where it writes).
std::vector<const plan::ZeroCopyMap*> zeroCopyTasks(const Phase& phase, const Lane& lane) {
  if (std::none_of(lane.tasks.begin(), lane.tasks.end(),
                   [](const Task& t) { return t.plan != nullptr && t.plan->zeroCopy != nullptr; })) {
    return {};
  }
  std::vector<const plan::ZeroCopyMap*> allowed(lane.tasks.size(), nullptr);
  for (size_t i = 0; i < lane.tasks.size(); ++i) {
    const Task& t = lane.tasks[i];
    if (t.plan == nullptr || t.plan->zeroCopy == nullptr) continue;
    TaskMemory mine = memoryOf(t);
    const plan::ZeroCopyMap* map = mapFor(t, mine);
    if (map == nullptr) continue;
    bool alone = true;
    for (const Lane& other : phase.lanes) {
      for (const Task& u : other.tasks) {
        if (u.plan.get() == mine.plan && u.buffers.input == mine.buffers.input &&
            u.buffers.output == mine.buffers.output) {
          continue;  // the same operation: the plan's analysis covers it
        }
        if (u.plan == nullptr || u.plan->zeroCopy == nullptr) {
          alone = false;  // unknown extents: assume the worst
          break;
        }
        if (interfere(mine, memoryOf(u))) {
          alone = false;
          break;
        }
      }
      if (!alone) break;
    }
    if (alone) allowed[i] = map;
  }
  return allowed;
}

// State of a communicator's run.
struct CommRun;

class LaneRunner {
 public:
  // zeroCopy[i]: the analysis under which task i of the lane may use its
  // user buffers in place, or nullptr.
  LaneRunner(CommRun* run, Lane* lane, std::vector<const plan::ZeroCopyMap*> zeroCopy)
      : run_(run), lane_(lane), zeroCopy_(std::move(zeroCopy)) {}

  bool done() const { return taskIdx_ >= lane_->tasks.size(); }
  // True if any progress was made.
  StatusOr<bool> advance();
  // The reason the lane cannot move, for timeout messages.
  std::string describe() const;
  // Health of the connections the current step waits on.
  Status health();

 private:
  const Task& task() const { return lane_->tasks[taskIdx_]; }
  const plan::Step& step() const { return task().program->steps[stepIdx_]; }
  void skipEmpty();
  void nextStep();
  char* resolve(const plan::Ref& ref) const;
  char* resolve(const plan::Ref& ref, const Task& t) const;
  uint8_t zeroCopyFlags() const;
  Status bindConnections();
  // Offers the transports the user memory that the task's receiving steps
  // write, so that bytes arriving for them can land there directly.
  Status postTargets();
  StatusOr<bool> moveSlice();

  CommRun* run_;
  Lane* lane_;
  std::vector<const plan::ZeroCopyMap*> zeroCopy_;
  size_t taskIdx_ = 0;
  size_t stepIdx_ = 0;
  size_t done_ = 0;  // elements of the current step already moved
  bool bound_ = false;
  size_t targetedTask_ = SIZE_MAX;  // the task whose targets were posted
  // The current step sends from user memory instead of copying into slots.
  bool sendByReference_ = false;
  transport::SendConnection* send_ = nullptr;
  transport::RecvConnection* recv_ = nullptr;
};

struct CommRun {
  RankWork* work = nullptr;  // null for an adopted run
  Communicator* rankComm = nullptr;
  size_t phase = 0;
  std::vector<LaneRunner> lanes;
  PhaseRunner* special = nullptr;  // the phase's own protocol, if it has one
  std::unique_ptr<SingleCopyRunner> singleCopy;
  std::unique_ptr<LowLatencyRunner> lowLatency;  // kept from call to call
  std::vector<char> scratch;
  // Bytes already taken from the slot at the head of each receive FIFO: a
  // sender's slot may be consumed by several receiving steps.
  // A handful of connections per run: a flat list beats a hash map here.
  std::vector<std::pair<transport::RecvConnection*, size_t>> recvOffsets;
  size_t& recvOffset(transport::RecvConnection* c) {
    for (auto& entry : recvOffsets) {
      if (entry.first == c) return entry.second;
    }
    recvOffsets.emplace_back(c, 0);
    return recvOffsets.back().second;
  }
  bool finished = false;
  // Connections of the current phase that send from or receive into user
  // memory; waited for (references) or withdrawn (on errors) before the
  // call may return.
  std::vector<ReferencedSend> referenced;
  std::vector<transport::RecvConnection*> targeted;

  void noteReferenced(transport::SendConnection* c, int peer, int channel) {
    for (const auto& r : referenced) {
      if (r.conn == c) return;
    }
    referenced.push_back(ReferencedSend{c, peer, channel});
  }
  void noteTargeted(transport::RecvConnection* c) {
    if (std::find(targeted.begin(), targeted.end(), c) == targeted.end()) targeted.push_back(c);
  }
  // Error paths: the transports stop using user memory before the call returns.
  void withdrawUserMemory() {
    for (auto& r : referenced) r.conn->withdrawReferences();
    for (auto* c : targeted) c->withdrawTargets();
    referenced.clear();
    targeted.clear();
  }

  // Prepares for a new run of `w`, keeping the memory of earlier runs.
  void reset(RankWork* w) {
    work = w;
    rankComm = w != nullptr ? w->comm : nullptr;
    phase = 0;
    lanes.clear();
    special = nullptr;
    singleCopy.reset();
    recvOffsets.clear();
    referenced.clear();
    targeted.clear();
    finished = false;
  }
  // A run of one phase that is already under way, driven by `runner`
  // (runLowLatencyCall): no RankWork behind it, finished once it is done.
  void adopt(Communicator* c, PhaseRunner* runner) {
    reset(nullptr);
    rankComm = c;
    special = runner;
  }
  Communicator& comm() { return *rankComm; }
  void startPhase() {
    lanes.clear();
    special = nullptr;
    singleCopy.reset();
    referenced.clear();
    targeted.clear();
    if (work == nullptr || phase >= work->phases.size()) {
      finished = true;
      return;
    }
    Phase& p = work->phases[phase];
    if (p.singleCopy) {
      // The single copy runs alone; a declinable one keeps its lanes for
      // switchToLanes.
      singleCopy = std::make_unique<SingleCopyRunner>(work->comm, *p.singleCopy);
      special = singleCopy.get();
      return;
    }
    startLanes(p);
    if (p.lowLatency) {
      if (lowLatency == nullptr) lowLatency = std::make_unique<LowLatencyRunner>();
      lowLatency->start(work->comm, *p.lowLatency);
      special = lowLatency.get();
    }
  }
  void startLanes(Phase& p) {
    if (scratch.size() < p.scratchBytes) scratch.resize(p.scratchBytes);
    lanes.reserve(p.lanes.size());
    for (auto& lane : p.lanes) lanes.emplace_back(this, &lane, zeroCopyTasks(p, lane));
  }
  // The phase's single copy was declined (its buffers are not all shared):
  // its lanes run the operation through the FIFOs instead.
  bool switchToLanes() {
    if (singleCopy == nullptr || !singleCopy->declined()) return false;
    special = nullptr;
    singleCopy.reset();
    startLanes(work->phases[phase]);
    return true;
  }
  bool phaseDone() const {
    return std::all_of(lanes.begin(), lanes.end(), [](const LaneRunner& l) { return l.done(); }) &&
           (special == nullptr || special->done()) &&
           std::all_of(referenced.begin(), referenced.end(),
                       [](const ReferencedSend& r) { return r.conn->idle(); });
  }
};


char* LaneRunner::resolve(const plan::Ref& ref) const { return resolve(ref, task()); }

char* LaneRunner::resolve(const plan::Ref& ref, const Task& t) const {
  size_t es = dataTypeSize(t.type);
  char* base = nullptr;
  switch (ref.buf) {
    case Buf::kInput: base = const_cast<char*>(static_cast<const char*>(t.buffers.input)); break;
    case Buf::kOutput: base = static_cast<char*>(t.buffers.output); break;
    case Buf::kScratch: base = run_->scratch.data(); break;
    case Buf::kNone: return nullptr;
  }
  return base + ref.offset * es;
}

uint8_t LaneRunner::zeroCopyFlags() const {
  if (taskIdx_ >= zeroCopy_.size() || zeroCopy_[taskIdx_] == nullptr) return 0;
  const Task& t = task();
  size_t program = static_cast<size_t>(t.program - t.plan->programs.data());
  return zeroCopy_[taskIdx_]->at(program, stepIdx_);
}

void LaneRunner::nextStep() {
  ++stepIdx_;
  done_ = 0;
  bound_ = false;
  skipEmpty();
}

// Moves past finished tasks and zero-count steps.
void LaneRunner::skipEmpty() {
  while (taskIdx_ < lane_->tasks.size()) {
    const auto& steps = task().program->steps;
    while (stepIdx_ < steps.size() && steps[stepIdx_].count == 0) ++stepIdx_;
    if (stepIdx_ < steps.size()) return;
    ++taskIdx_;
    stepIdx_ = 0;
    done_ = 0;
  }
}

Status LaneRunner::bindConnections() {
  const plan::Step& s = step();
  int channel = task().program->channel;
  auto& conns = run_->comm().connections();
  send_ = nullptr;
  recv_ = nullptr;
  if (plan::opSends(s.op)) {
    STRATA_ASSIGN_OR_RETURN(send_, conns.send(s.sendPeer, channel));
  }
  if (plan::opRecvs(s.op)) {
    STRATA_ASSIGN_OR_RETURN(recv_, conns.recv(s.recvPeer, channel));
  }
  // Sending by reference: the transport reads the bytes from user memory
  // after this step has moved on, so they must be exactly what the slot
  // would hold (a plain copy of src, or the dst this step writes) and stay
  // unchanged until the phase ends (the plan's analysis says so).
  sendByReference_ = false;
  if (send_ != nullptr && send_->supportsReferences() && (zeroCopyFlags() & plan::kStableSend)) {
    const Reduction& red = task().reduction;
    switch (s.op) {
      case Op::kSend:
        sendByReference_ = isIdentity(effective(red, s.src.buf == Buf::kInput, s.finalize));
        break;
      case Op::kRecvCopySend:
      case Op::kRecvReduceCopySend: sendByReference_ = true; break;
      default: break;
    }
  }
  if (sendByReference_) run_->noteReferenced(send_, s.sendPeer, channel);
  bound_ = true;
  return Status::Ok();
}

Status LaneRunner::postTargets() {
  targetedTask_ = taskIdx_;
  if (taskIdx_ >= zeroCopy_.size() || zeroCopy_[taskIdx_] == nullptr) return Status::Ok();
  const Task& t = task();
  const plan::ZeroCopyMap& z = *zeroCopy_[taskIdx_];
  const size_t program = static_cast<size_t>(t.program - t.plan->programs.data());
  const size_t es = dataTypeSize(t.type);
  auto& conns = run_->comm().connections();
  // Stream positions are counted from what each connection has delivered
  // to the executor when the task starts (none of its steps ran yet).
  struct Base {
    transport::RecvConnection* conn;
    uint64_t position;
  };
  std::vector<Base> bases;
  const auto& steps = t.program->steps;
  for (size_t i = 0; i < steps.size(); ++i) {
    const plan::Step& s = steps[i];
    if (s.count == 0 || (z.at(program, i) & plan::kUntouchedRecv) == 0) continue;
    if (s.op != Op::kRecv && s.op != Op::kRecvCopySend) continue;
    if (!isIdentity(effective(t.reduction, false, s.finalize))) continue;
    STRATA_ASSIGN_OR_RETURN(transport::RecvConnection * c, conns.recv(s.recvPeer, t.program->channel));
    if (!c->supportsTargets()) continue;
    auto it = std::find_if(bases.begin(), bases.end(), [c](const Base& b) { return b.conn == c; });
    if (it == bases.end()) {
      bases.push_back(Base{c, c->position() + run_->recvOffset(c)});
      it = bases.end() - 1;
      run_->noteTargeted(c);
    }
    c->postTarget(it->position + z.recvPosition[program][i] * es, resolve(s.dst, t),
                  s.count * es);
  }
  return Status::Ok();
}

StatusOr<bool> LaneRunner::advance() {
  bool progressed = false;
  for (int turn = 0; turn < kSlicesPerTurn; ++turn) {
    if (stepIdx_ == 0 && done_ == 0) skipEmpty();
    if (done()) return progressed;
    if (targetedTask_ != taskIdx_) STRATA_RETURN_IF_ERROR(postTargets());
    if (!bound_) STRATA_RETURN_IF_ERROR(bindConnections());
    STRATA_ASSIGN_OR_RETURN(bool moved, moveSlice());
    if (!moved) return progressed;
    progressed = true;
  }
  return progressed;
}

// Moves as many elements of the current step as one receive slot and one
// send slot allow.
StatusOr<bool> LaneRunner::moveSlice() {
  const plan::Step& s = step();
  const Task& t = task();
  const size_t es = dataTypeSize(t.type);
  size_t n = s.count - done_;

  const char* in = nullptr;
  size_t slotBytes = 0;
  size_t* offset = nullptr;
  if (recv_ != nullptr) {
    in = static_cast<const char*>(recv_->peek(&slotBytes));
    if (in == nullptr) return false;
    offset = &run_->recvOffset(recv_);
    size_t avail = (slotBytes - *offset) / es;
    if (avail == 0) {
      return InvalidUsage("rank ", run_->comm().rank(), " received ", slotBytes - *offset,
                          " bytes from rank ", s.recvPeer,
                          " that do not form a whole element: mismatched send/recv counts or types");
    }
    in += *offset;
    n = std::min(n, avail);
  }
  char* out = nullptr;
  if (send_ != nullptr) {
    size_t capacity = 0;
    out = static_cast<char*>(send_->acquire(&capacity));
    if (out == nullptr) return false;
    n = std::min(n, capacity / es);
  }

  const bool srcIsInput = s.src.buf == Buf::kInput;
  const char* src = plan::opReadsSrc(s.op) ? resolve(s.src) + done_ * es : nullptr;
  char* dst = plan::opWritesDst(s.op) ? resolve(s.dst) + done_ * es : nullptr;
  const Reduction& red = t.reduction;
  const DataType type = t.type;
  // Bytes sent by reference are read by the transport right away: keep them
  // in cache rather than stream them out to memory.
  const bool stream =
      t.streamOutput && s.dst.buf == Buf::kOutput && dst != nullptr && !sendByReference_;
  // Runs fn(offset, count) over [0, n) in cache-sized blocks.
  auto forBlocks = [&](auto&& fn) {
    const size_t block = std::max<size_t>(1, kCacheBlockBytes / es);
    for (size_t off = 0; off < n; off += block) fn(off, std::min(block, n - off));
  };

  // dst <- in, transformed: the body of Recv, also the first half of
  // RecvCopySend when the send half goes by reference. Nothing to do when
  // the transport received the bytes into dst already (a target).
  auto receiveInto = [&](const Reduction& e) {
    if (in == dst && isIdentity(e)) return;
    if (!stream) {
      kernels::transform(type, e, dst, in, n);
    } else if (isIdentity(e)) {
      kernels::streamCopy(dst, in, n * es);
    } else {
      forBlocks([&](size_t off, size_t m) {
        kernels::transform(type, e, streamBlock(), in + off * es, m);
        kernels::streamCopy(dst + off * es, streamBlock(), m * es);
      });
    }
  };
  // dst <- in op src: RecvReduceCopy, and RecvReduceCopySend by reference.
  auto reduceInto = [&](const Reduction& e) {
    if (!stream) {
      kernels::reduce(type, e, dst, in, src, n);
    } else {
      forBlocks([&](size_t off, size_t m) {
        kernels::reduce(type, e, streamBlock(), in + off * es, src + off * es, m);
        kernels::streamCopy(dst + off * es, streamBlock(), m * es);
      });
    }
  };
  // What a by-reference send posts: the bytes the slot would have held.
  const char* reference = nullptr;

  switch (s.op) {
    case Op::kSend:
      if (sendByReference_) {
        reference = src;
      } else {
        kernels::transform(type, effective(red, srcIsInput, s.finalize), out, src, n);
      }
      break;
    case Op::kRecv:
      receiveInto(effective(red, false, s.finalize));
      break;
    case Op::kRecvReduceSend:
      kernels::reduce(type, effective(red, srcIsInput, s.finalize), out, in, src, n);
      break;
    case Op::kRecvReduceCopy:
      reduceInto(effective(red, srcIsInput, s.finalize));
      break;
    case Op::kRecvCopySend: {
      Reduction e = effective(red, false, s.finalize);
      if (sendByReference_) {
        receiveInto(e);
        reference = dst;
      } else if (in == dst && isIdentity(e)) {
        std::memcpy(out, dst, n * es);  // received in place: only the send copy is left
      } else {
        // Both destinations get the same bytes: write one, copy it to the
        // other while it is in cache (the send slot stays cached for its
        // reader; the output may bypass the cache).
        forBlocks([&](size_t off, size_t m) {
          if (stream) {
            kernels::transform(type, e, out + off * es, in + off * es, m);
            kernels::streamCopy(dst + off * es, out + off * es, m * es);
          } else {
            kernels::transform(type, e, dst + off * es, in + off * es, m);
            std::memcpy(out + off * es, dst + off * es, m * es);
          }
        });
      }
      break;
    }
    case Op::kRecvReduceCopySend: {
      Reduction e = effective(red, srcIsInput, s.finalize);
      if (sendByReference_) {
        reduceInto(e);
        reference = dst;
        break;
      }
      forBlocks([&](size_t off, size_t m) {
        if (stream) {
          kernels::reduce(type, e, out + off * es, in + off * es, src + off * es, m);
          kernels::streamCopy(dst + off * es, out + off * es, m * es);
        } else {
          kernels::reduce(type, e, dst + off * es, in + off * es, src + off * es, m);
          std::memcpy(out + off * es, dst + off * es, m * es);
        }
      });
      break;
    }
    case Op::kCopy: {
      Reduction e = effective(red, srcIsInput, s.finalize);
      if (!(dst == src && isIdentity(e))) kernels::transform(type, e, dst, src, n);
      break;
    }
    case Op::kLocalReduce: {
      const char* src2 = resolve(s.src2) + done_ * es;
      bool src2IsInput = s.src2.buf == Buf::kInput;
      if (srcIsInput && src2IsInput && red.hasPreScale) {
        kernels::preScale(type, red, dst, src, n);
        kernels::reduce(type, effective(red, true, s.finalize), dst, dst, src2, n);
      } else if (srcIsInput) {
        kernels::reduce(type, effective(red, true, s.finalize), dst, src2, src, n);
      } else {
        kernels::reduce(type, effective(red, src2IsInput, s.finalize), dst, src, src2, n);
      }
      break;
    }
  }

  if (send_ != nullptr) {
    if (reference != nullptr) {
      send_->postReference(reference, n * es);
    } else {
      send_->post(n * es);
    }
  }
  if (recv_ != nullptr) {
    *offset += n * es;
    if (*offset >= slotBytes) {
      *offset = 0;
      recv_->release();
    }
  }
  done_ += n;
  if (done_ >= s.count) nextStep();
  return true;
}

std::string LaneRunner::describe() const {
  if (done()) return "done";
  const plan::Step& s = step();
  return strCat("channel ", task().program->channel, " step ", stepIdx_, " (", plan::opName(s.op),
                s.recvPeer >= 0 ? strCat(" from rank ", s.recvPeer) : std::string(),
                s.sendPeer >= 0 ? strCat(" to rank ", s.sendPeer) : std::string(), ", ", done_,
                "/", s.count, " elements)");
}

Status LaneRunner::health() {
  if (done() || !bound_) return Status::Ok();
  if (send_ != nullptr) STRATA_RETURN_IF_ERROR(send_->health());
  if (recv_ != nullptr) STRATA_RETURN_IF_ERROR(recv_->health());
  return Status::Ok();
}

Status checkBlocked(std::vector<CommRun>& runs, Clock::time_point lastProgress) {
  auto idle = Clock::now() - lastProgress;
  for (auto& run : runs) {
    if (run.finished) continue;
    Communicator& comm = run.comm();
    if (comm.aborted()) return Aborted("communicator rank ", comm.rank(), " was aborted");
    for (auto& lane : run.lanes) {
      Status h = lane.health();
      if (!h.ok()) {
        return h.withContext(strCat("rank ", comm.rank(), " ", lane.describe()));
      }
    }
    if (run.special != nullptr) {
      Status h = run.special->health();
      if (!h.ok()) return h.withContext(strCat("rank ", comm.rank(), " ", run.special->describe()));
    }
    for (auto& r : run.referenced) {
      Status h = r.conn->health();
      if (!h.ok()) {
        return h.withContext(strCat("rank ", comm.rank(), " sending from user memory to rank ",
                                    r.peer, " channel ", r.channel));
      }
    }
    if (idle > comm.timeout()) {
      std::string blocked;
      for (auto& lane : run.lanes) {
        if (!lane.done()) blocked += strCat("; ", lane.describe());
      }
      for (auto& r : run.referenced) {
        if (!r.conn->idle()) {
          blocked += strCat("; data sent from user memory to rank ", r.peer, " channel ",
                            r.channel, " not yet written out");
        }
      }
      if (run.special != nullptr && !run.special->done()) {
        blocked += strCat("; ", run.special->describe());
      }
      return Timeout("rank ", comm.rank(), " made no progress for ",
                     std::chrono::duration_cast<std::chrono::seconds>(comm.timeout()).count(),
                     " s", blocked);
    }
  }
  return Status::Ok();
}

// One pass over every run: advances lanes and special runners and starts
// the next phases. Sets *allDone when every run has finished.
StatusOr<bool> advanceAll(std::vector<CommRun>& runs, bool* allDone) {
  bool progressed = false;
  *allDone = true;
  for (auto& run : runs) {
    if (run.finished) continue;
    for (auto& lane : run.lanes) {
      STRATA_ASSIGN_OR_RETURN(bool moved, lane.advance());
      progressed |= moved;
    }
    if (run.special != nullptr) {
      STRATA_ASSIGN_OR_RETURN(bool moved, run.special->advance());
      progressed |= moved;
    }
    while (!run.finished && run.phaseDone()) {
      if (!run.switchToLanes()) {
        ++run.phase;
        run.startPhase();
      }
      progressed = true;
    }
    *allDone &= run.finished;
  }
  return progressed;
}

Status runLoop(std::vector<CommRun>& runs) {
  auto spin = std::chrono::microseconds::max();
  auto busyPoll = std::chrono::microseconds::max();
  for (auto& run : runs) {
    spin = std::min(spin, run.comm().spinTime());
    busyPoll = std::min(busyPoll, run.comm().busyPollTime());
  }
  const auto healthEvery = std::chrono::milliseconds(50);
  // The clock is read once every kClockEvery idle passes: a small call
  // finishes within a few passes, and reading the clock on each of them
  // costs more than the work itself. An idle stretch is timed from its
  // first clock read (kClockEvery passes late, well under a microsecond).
  constexpr uint32_t kClockEvery = 16;
  const bool mayPoll = busyPoll.count() > 0;
  uint32_t idlePasses = 0;
  bool polling = mayPoll;  // while idle: pause (true) or yield
  Clock::time_point lastProgress{}, lastHealth{}, now{};
  auto backOff = [&] {
    if (polling) {
      cpuRelax();
    } else {
      sched_yield();
    }
  };
  while (true) {
    bool allDone = false;
    STRATA_ASSIGN_OR_RETURN(bool progressed, advanceAll(runs, &allDone));
    if (allDone) return Status::Ok();
    if (progressed) {
      idlePasses = 0;
      polling = mayPoll;
      continue;
    }
    if (++idlePasses % kClockEvery != 0) {
      backOff();
      continue;
    }
    now = Clock::now();
    if (idlePasses == kClockEvery) lastProgress = lastHealth = now;  // a new idle stretch
    if (now - lastProgress < spin) {
      polling = now - lastProgress < busyPoll;
      backOff();
      continue;
    }
    if (now - lastHealth >= healthEvery) {
      STRATA_RETURN_IF_ERROR(checkBlocked(runs, lastProgress));
      lastHealth = now;
    }
    // Sleep on a doorbell that can wake us: announce, look at the work once
    // more, then sleep (connection.h). With several communicators on this
    // thread, sleep briefly so the others are looked at too.
    size_t pending = 0;
    transport::Doorbell* bell = nullptr;
    for (auto& run : runs) {
      if (run.finished) continue;
      ++pending;
      if (bell == nullptr) bell = run.comm().connections().doorbell();
    }
    transport::DoorbellWait wait(bell);
    STRATA_ASSIGN_OR_RETURN(progressed, advanceAll(runs, &allDone));
    if (allDone) return Status::Ok();
    if (progressed) {
      idlePasses = 0;  // the next idle pass starts a new stretch
      polling = mayPoll;
      continue;
    }
    wait.sleep(pending > 1 ? std::chrono::microseconds(200) : std::chrono::microseconds(10000));
    // The idle stretch goes on (lastProgress stays); look at the clock
    // again after the next pass.
    idlePasses = kClockEvery * (idlePasses / kClockEvery + 1) - 1;
  }
}

}  // namespace

struct RunCache::Runs {
  std::vector<CommRun> runs;
  // runLowLatencyCall's: the runner, and a run of one to wait in.
  LowLatencyRunner lowLatency;
  std::vector<CommRun> waiting = std::vector<CommRun>(1);
};

RunCache::RunCache() : runs_(std::make_unique<Runs>()) {}
RunCache::~RunCache() = default;

Status runHostWork(std::vector<RankWork>& work, RunCache& cache) {
  // Taken out of the cache for the run (a call made from inside this one
  // would find it empty, not in use) and put back after it.
  std::vector<CommRun>& cached = cache.runs_->runs;
  std::vector<CommRun> runs = std::move(cached);
  runs.resize(work.size());
  for (size_t i = 0; i < work.size(); ++i) {
    runs[i].reset(&work[i]);
    runs[i].startPhase();
  }
  struct Keep {
    std::vector<CommRun>& runs;
    std::vector<CommRun>& cached;
    ~Keep() {
      for (auto& run : runs) run.reset(nullptr);
      cached = std::move(runs);
    }
  } keep{runs, cached};
  Status status = runLoop(runs);
  if (!status.ok()) {
    // Transports may still read or write user memory for the phase that
    // failed; that ends here, before the caller gets its buffers back.
    for (auto& run : runs) run.withdrawUserMemory();
    for (auto& w : work) w.comm->recordError(status);
  } else {
    for (auto& run : runs) {
      for (auto& [conn, offset] : run.recvOffsets) {
        if (offset != 0) {
          status = InvalidUsage("rank ", run.comm().rank(),
                                " left received data unconsumed: mismatched send/recv counts");
        }
      }
    }
  }
  return status;
}

Status runLowLatencyCall(Communicator& comm, const LowLatencyTask& task, RunCache& cache) {
  RunCache::Runs& cached = *cache.runs_;
  LowLatencyRunner& runner = cached.lowLatency;
  runner.start(&comm, task);
  // The peers' messages usually arrive within a few polls: poll here, with
  // none of the waiting machinery, and hand over to it only after that. A
  // rank that may not busy-poll (it shares its core) looks once and goes
  // straight to the loop, which yields.
  const int quickPolls = comm.busyPollTime().count() > 0 ? 64 : 1;
  Status status;
  for (int poll = 0; poll < quickPolls; ++poll) {
    StatusOr<bool> moved = runner.advance();
    if (!moved.ok()) {
      status = moved.status();
      break;
    }
    if (runner.done()) return Status::Ok();
    cpuRelax();
  }
  if (status.ok()) {
    std::vector<CommRun>& runs = cached.waiting;
    runs[0].adopt(&comm, &runner);
    status = runLoop(runs);
    runs[0].reset(nullptr);
    if (status.ok()) return status;
  }
  comm.recordError(status);
  return status;
}

}  // namespace strata::exec
