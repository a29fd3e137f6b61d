#include "exec/single_copy.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <vector>

#include "algorithms/partition.h"
#include "comm/communicator.h"
#include "core/log.h"
#include "exec/rank_order.h"
#include "kernels/host/reduce.h"
#include "transports/connection.h"
#include "transports/host_window.h"
#include "transports/manager.h"

namespace strata::exec {
namespace {

using algorithms::Range;
using plan::CollType;

constexpr uint32_t kMagic = 0x53435031;  // "SCP1"
// Peers' data is reduced in blocks this large: the block of each operand and
// of the result stay in the core's L2 while it is reduced.
constexpr size_t kBlockBytes = 128 * 1024;
// Bytes one advance() call moves before it returns to the executor loop.
constexpr size_t kBytesPerTurn = 2 * 1024 * 1024;

enum class Stage : uint16_t {
  kAnnounce = 1,  // the addresses of my buffers
  kReduced = 3,   // my chunk is final
  kFinished = 5,  // I no longer read your buffers
};

struct ControlMessage {
  uint32_t magic;
  uint16_t stage;
  uint16_t coll;
  uint32_t dtype;
  int32_t root;
  uint64_t count;
  uint64_t input;
  uint64_t output;
  // The shared host buffers holding the input and the output (announce
  // only; id 0: not in one).
  transport::WindowRef inputWindow;
  transport::WindowRef outputWindow;
};
static_assert(sizeof(ControlMessage) == 120, "control message layout");

// Steps of the state machine, in order; collectives skip the ones they lack.
enum class Step {
  kAnnounce,
  kCollectAddresses,
  kReduce,
  kSignalReduced,
  kWaitReduced,
  kGather,
  kSignalFinished,
  kWaitFinished,
  kDone,
};

const char* stepName(Step s) {
  switch (s) {
    case Step::kAnnounce: return "announcing buffers";
    case Step::kCollectAddresses: return "waiting for peers' buffer addresses";
    case Step::kReduce: return "reducing";
    case Step::kSignalReduced: return "announcing its reduced chunk";
    case Step::kWaitReduced: return "waiting for peers' reduced chunks";
    case Step::kGather: return "gathering";
    case Step::kSignalFinished: return "announcing it finished reading";
    case Step::kWaitFinished: return "waiting for peers to finish reading its buffers";
    case Step::kDone: return "done";
  }
  return "?";
}

// Scratch blocks for peers' data, kept per thread between calls.
struct Bounce {
  char* data = nullptr;
  size_t bytes = 0;
  ~Bounce() { ::operator delete[](data, std::align_val_t{64}); }
  char* get(size_t want) {
    if (bytes < want) {
      ::operator delete[](data, std::align_val_t{64});
      data = static_cast<char*>(::operator new[](want, std::align_val_t{64}));
      bytes = want;
    }
    return data;
  }
};
thread_local Bounce tlsBounce;

}  // namespace

struct SingleCopyRunner::State {
  Communicator* comm;
  SingleCopyTask task;
  int rank;
  int nranks;
  size_t es;
  Step step = Step::kAnnounce;
  // Per peer: the message of the current exchange was sent / received.
  std::vector<char> sent, received;
  std::vector<uint64_t> peerInput, peerOutput;
  std::vector<transport::WindowRef> peerInputWindow, peerOutputWindow;
  bool declined = false;
  // Progress within kReduce (elements of my chunk) and kGather (peer index
  // and bytes of that peer's part).
  size_t reduceDone = 0;
  int gatherPeer = 0;
  size_t gatherDone = 0;

  bool isRoot() const { return rank == task.args.root; }
  const char* input() const { return static_cast<const char*>(task.buffers.input); }
  char* output() const { return static_cast<char*>(task.buffers.output); }

  // The step after `s` for this collective.
  Step next(Step s) const {
    CollType t = task.args.type;
    switch (s) {
      case Step::kAnnounce: return Step::kCollectAddresses;
      case Step::kCollectAddresses:
        return (t == CollType::kAllReduce || t == CollType::kReduceScatter) ? Step::kReduce
                                                                             : Step::kGather;
      case Step::kReduce:
        return t == CollType::kAllReduce ? Step::kSignalReduced : Step::kSignalFinished;
      case Step::kSignalReduced: return Step::kWaitReduced;
      case Step::kWaitReduced: return Step::kGather;
      case Step::kGather: return Step::kSignalFinished;
      case Step::kSignalFinished: return Step::kWaitFinished;
      case Step::kWaitFinished: return Step::kDone;
      case Step::kDone: return Step::kDone;
    }
    return Step::kDone;
  }

  void advanceStep() {
    step = next(step);
    std::fill(sent.begin(), sent.end(), 0);
    std::fill(received.begin(), received.end(), 0);
    sent[rank] = received[rank] = 1;
  }

  ControlMessage message(Stage stage) const {
    ControlMessage m{};
    m.magic = kMagic;
    m.stage = static_cast<uint16_t>(stage);
    m.coll = static_cast<uint16_t>(task.args.type);
    m.dtype = static_cast<uint32_t>(task.type);
    m.root = task.args.root;
    m.count = task.args.count;
    m.input = reinterpret_cast<uintptr_t>(task.buffers.input);
    m.output = reinterpret_cast<uintptr_t>(task.buffers.output);
    if (stage == Stage::kAnnounce) {
      m.inputWindow = peerInputWindow[rank];
      m.outputWindow = peerOutputWindow[rank];
    }
    return m;
  }

  // Bytes of rank p's input and output that the collective touches.
  size_t inputBytes() const {
    size_t n = task.args.count * es;
    return task.args.type == CollType::kReduceScatter ? n * static_cast<size_t>(nranks) : n;
  }
  size_t outputBytes() const {
    size_t n = task.args.count * es;
    return task.args.type == CollType::kAllGather ? n * static_cast<size_t>(nranks) : n;
  }

  // Whether the ranks go ahead with a declinable single copy: every buffer
  // that peers read lies in a shared host buffer (with kIfShared, some rank
  // is in another process than any given one, so every buffer read at all
  // is read across processes), and an all-reduce is out of place on every
  // rank. Every rank has every rank's announcement, so all reach the same
  // answer.
  bool proceeds() const {
    for (int p = 0; p < nranks; ++p) {
      switch (task.args.type) {
        case CollType::kAllReduce:
          // In place, the FIFOs measured faster (docs/PERFORMANCE.md).
          if (peerInput[p] == peerOutput[p]) return false;
          if (!peerInputWindow[p].valid() || !peerOutputWindow[p].valid()) return false;
          break;
        case CollType::kReduceScatter:
        case CollType::kAllGather:
          if (!peerInputWindow[p].valid()) return false;
          break;
        case CollType::kBroadcast:
          if (p == task.args.root && !peerInputWindow[p].valid()) return false;
          break;
        default: return false;
      }
    }
    return true;
  }

  // Where rank p's bytes [addr, addr + bytes) of its input (or output) can
  // be read in place: by pointer within this process, through the mapping
  // of its shared buffer in another; nullptr: only cross-memory attach can.
  StatusOr<const char*> inPlace(int p, bool output, uint64_t addr, size_t bytes) {
    auto& conns = comm->connections();
    if (conns.sharesAddressSpace(p)) return reinterpret_cast<const char*>(static_cast<uintptr_t>(addr));
    const transport::WindowRef& w = output ? peerOutputWindow[p] : peerInputWindow[p];
    if (!w.valid()) return static_cast<const char*>(nullptr);
    return conns.mapPeerWindow(p, w, addr, bytes);
  }

  // Sends `stage` to every peer that has not had it; true once all have.
  StatusOr<bool> sendAll(Stage stage, bool* progressed) {
    bool all = true;
    for (int p = 0; p < nranks; ++p) {
      if (sent[p]) continue;
      STRATA_ASSIGN_OR_RETURN(transport::SendConnection * c, comm->connections().send(p, 0));
      size_t capacity = 0;
      void* slot = c->acquire(&capacity);
      if (slot == nullptr || capacity < sizeof(ControlMessage)) {
        all = false;
        continue;
      }
      ControlMessage m = message(stage);
      std::memcpy(slot, &m, sizeof(m));
      c->post(sizeof(m));
      sent[p] = 1;
      *progressed = true;
    }
    return all;
  }

  // Receives `stage` from every peer that has not sent it yet; true once all
  // have. Announcements record the peer's buffer addresses.
  StatusOr<bool> receiveAll(Stage stage, bool* progressed) {
    bool all = true;
    for (int p = 0; p < nranks; ++p) {
      if (received[p]) continue;
      STRATA_ASSIGN_OR_RETURN(transport::RecvConnection * c, comm->connections().recv(p, 0));
      size_t bytes = 0;
      const void* slot = c->peek(&bytes);
      if (slot == nullptr) {
        all = false;
        continue;
      }
      ControlMessage m;
      if (bytes != sizeof(m)) {
        return mismatch(p, strCat("a message of ", bytes, " bytes"));
      }
      std::memcpy(&m, slot, sizeof(m));
      c->release();
      if (m.magic != kMagic || m.stage != static_cast<uint16_t>(stage)) {
        return mismatch(p, "a message of another protocol");
      }
      ControlMessage mine = message(stage);
      if (m.coll != mine.coll || m.dtype != mine.dtype || m.count != mine.count ||
          m.root != mine.root) {
        const char* theirColl = m.coll <= static_cast<uint16_t>(CollType::kRecv)
                                    ? plan::collName(static_cast<CollType>(m.coll))
                                    : "an unknown operation";
        return mismatch(p, strCat(theirColl, " of ", m.count, " elements of type ", m.dtype,
                                  " root ", m.root));
      }
      if (stage == Stage::kAnnounce) {
        peerInput[p] = m.input;
        peerOutput[p] = m.output;
        peerInputWindow[p] = m.inputWindow;
        peerOutputWindow[p] = m.outputWindow;
      }
      received[p] = 1;
      *progressed = true;
    }
    return all;
  }

  Status mismatch(int peer, const std::string& what) const {
    return InvalidUsage("rank ", rank, " runs ", plan::collName(task.args.type), " of ",
                        task.args.count, " elements of ", dataTypeName(task.type), " (root ",
                        task.args.root, ") but rank ", peer, " sent ", what,
                        ": every rank must call the same collectives in the same order");
  }

  // The part of the reduction this rank computes: which elements of every
  // rank's input, and where in the output they go.
  Range reduceSource() const {
    if (task.args.type == CollType::kReduceScatter) {
      return Range{static_cast<size_t>(rank) * task.args.count, task.args.count};
    }
    return algorithms::evenPart(task.args.count, nranks, rank);
  }
  size_t reduceDestination() const {
    return task.args.type == CollType::kReduceScatter ? 0 : reduceSource().offset;
  }

  // Operand k of a block: my own input, a peer's memory in this process, or
  // a copy of the peer's block in `bounce`.
  StatusOr<const char*> operand(int k, size_t elemOffset, size_t bytes, char* bounce) {
    if (k == rank) return input() + elemOffset * es;
    uint64_t addr = peerInput[k] + elemOffset * es;
    STRATA_ASSIGN_OR_RETURN(const char* direct, inPlace(k, false, addr, bytes));
    if (direct != nullptr) return direct;
    STRATA_RETURN_IF_ERROR(comm->connections().readPeer(k, addr, bounce, bytes));
    return static_cast<const char*>(bounce);
  }

  // Reduces the next blocks of my chunk; true when the chunk is complete.
  StatusOr<bool> reduceSome(bool* progressed) {
    Range src = reduceSource();
    const size_t blockElems = std::max<size_t>(1, kBlockBytes / es);
    char* bounce = tlsBounce.get(3 * blockElems * es);
    char* bounceA = bounce;
    char* bounceB = bounce + blockElems * es;
    char* ownCopy = bounce + 2 * blockElems * es;
    size_t moved = 0;
    while (reduceDone < src.count && moved < kBytesPerTurn) {
      size_t m = std::min(blockElems, src.count - reduceDone);
      size_t bytes = m * es;
      size_t inOff = src.offset + reduceDone;
      char* dst = output() + (reduceDestination() + reduceDone) * es;
      // In place, my input block is overwritten by partial results before
      // rank order reaches me (or by the pre-scaled first operand when I am
      // rank 1): read it first. As rank 0 I am the first operand: safe.
      const char* own = input() + inOff * es;
      bool aliased = own < dst + bytes && dst < own + bytes;
      if (aliased && rank >= 1) {
        std::memcpy(ownCopy, own, bytes);
        own = ownCopy;
      }
      // Operands alternate between two bounce buffers: one is being reduced
      // while the next is read.
      auto get = [&](int k) -> StatusOr<const void*> {
        if (k == rank) return static_cast<const void*>(own);
        STRATA_ASSIGN_OR_RETURN(const char* p, operand(k, inOff, bytes, (k & 1) ? bounceB : bounceA));
        return static_cast<const void*>(p);
      };
      STRATA_RETURN_IF_ERROR(reduceInRankOrder(task.type, task.reduction, dst, m, nranks, get));
      reduceDone += m;
      moved += bytes;
      *progressed = true;
    }
    return reduceDone >= src.count;
  }

  // For the gather: the bytes of peer p's part, where they are in p's
  // memory, and where they go in mine.
  struct Part {
    uint64_t from = 0;
    char* to = nullptr;
    size_t bytes = 0;
  };
  Part gatherPart(int p) const {
    Part part;
    switch (task.args.type) {
      case CollType::kAllReduce: {
        Range r = algorithms::evenPart(task.args.count, nranks, p);
        part.from = peerOutput[p] + r.offset * es;
        part.to = output() + r.offset * es;
        part.bytes = r.count * es;
        break;
      }
      case CollType::kAllGather:
        part.from = peerInput[p];
        part.to = output() + static_cast<size_t>(p) * task.args.count * es;
        part.bytes = task.args.count * es;
        break;
      case CollType::kBroadcast:
        if (p == task.args.root) {
          part.from = peerInput[p];
          part.to = output();
          part.bytes = task.args.count * es;
        }
        break;
      default: break;
    }
    return part;
  }

  // Copies the next parts from peers; true when every part is in place.
  StatusOr<bool> gatherSome(bool* progressed) {
    size_t moved = 0;
    while (gatherPeer < nranks && moved < kBytesPerTurn) {
      int p = gatherPeer;
      Part part = gatherPart(p);
      if (p == rank) {
        // My own part: all-gather copies its input, a broadcast root its
        // input to its output; nothing to do in place.
        if (part.bytes > 0 && task.args.type != CollType::kAllReduce) {
          const char* from = input();
          if (from != part.to) std::memmove(part.to, from, part.bytes);
        }
        part.bytes = 0;
      }
      size_t piece = std::min(part.bytes - std::min(part.bytes, gatherDone), kBytesPerTurn - moved);
      if (piece > 0) {
        const bool fromOutput = task.args.type == CollType::kAllReduce;
        STRATA_ASSIGN_OR_RETURN(const char* direct, inPlace(p, fromOutput, part.from + gatherDone, piece));
        if (direct != nullptr) {
          std::memcpy(part.to + gatherDone, direct, piece);
        } else {
          STRATA_RETURN_IF_ERROR(
              comm->connections().readPeer(p, part.from + gatherDone, part.to + gatherDone, piece));
        }
        gatherDone += piece;
        moved += piece;
        *progressed = true;
      }
      if (gatherDone >= part.bytes) {
        ++gatherPeer;
        gatherDone = 0;
        *progressed = true;
      }
    }
    return gatherPeer >= nranks;
  }
};

SingleCopyRunner::SingleCopyRunner(Communicator* comm, const SingleCopyTask& task)
    : s_(std::make_unique<State>()) {
  s_->comm = comm;
  s_->task = task;
  s_->rank = comm->rank();
  s_->nranks = comm->nranks();
  s_->es = dataTypeSize(task.type);
  s_->sent.assign(s_->nranks, 0);
  s_->received.assign(s_->nranks, 0);
  s_->sent[s_->rank] = s_->received[s_->rank] = 1;
  s_->peerInput.assign(s_->nranks, 0);
  s_->peerOutput.assign(s_->nranks, 0);
  s_->peerInput[s_->rank] = reinterpret_cast<uintptr_t>(task.buffers.input);
  s_->peerOutput[s_->rank] = reinterpret_cast<uintptr_t>(task.buffers.output);
  s_->peerInputWindow.assign(s_->nranks, transport::WindowRef{});
  s_->peerOutputWindow.assign(s_->nranks, transport::WindowRef{});
  // My buffers' shared host buffers, announced to peers in other processes.
  if (!comm->params().singleCopyShared) return;
  transport::WindowRef w;
  if (transport::findWindow(task.buffers.input, s_->inputBytes(), &w)) s_->peerInputWindow[s_->rank] = w;
  if (transport::findWindow(task.buffers.output, s_->outputBytes(), &w)) s_->peerOutputWindow[s_->rank] = w;
}

bool SingleCopyRunner::declined() const { return s_->declined; }

SingleCopyRunner::~SingleCopyRunner() = default;

bool SingleCopyRunner::done() const { return s_->step == Step::kDone; }

StatusOr<bool> SingleCopyRunner::advance() {
  State& s = *s_;
  bool progressed = false;
  while (s.step != Step::kDone) {
    bool complete = false;
    switch (s.step) {
      case Step::kAnnounce: {
        STRATA_ASSIGN_OR_RETURN(complete, s.sendAll(Stage::kAnnounce, &progressed));
        break;
      }
      case Step::kCollectAddresses: {
        STRATA_ASSIGN_OR_RETURN(complete, s.receiveAll(Stage::kAnnounce, &progressed));
        if (complete && s.task.ifShared) {
          const bool shared = s.proceeds();
          const auto before = s.comm->sharedSingleCopyCounts();
          if ((shared ? before.ran : before.declined) == 0) {
            STRATA_INFO(log::kColl, "rank ", s.rank, ": ", plan::collName(s.task.args.type), " of ",
                        s.task.args.count, " elements ",
                        shared ? "reads peers' shared host buffers in place"
                               : "streams through the FIFOs: some buffer read across processes is "
                                 "not from strataMemAllocHost, or a rank runs it in place",
                        " (logged once per communicator)");
          }
          s.comm->countSharedSingleCopy(!shared);
          if (!shared) {
            // Nobody has read anything: every rank stops here alike.
            s.declined = true;
            s.step = Step::kDone;
            return true;
          }
        }
        break;
      }
      case Step::kReduce: {
        STRATA_ASSIGN_OR_RETURN(complete, s.reduceSome(&progressed));
        if (!complete) return progressed;  // yield between blocks of work
        break;
      }
      case Step::kSignalReduced: {
        STRATA_ASSIGN_OR_RETURN(complete, s.sendAll(Stage::kReduced, &progressed));
        break;
      }
      case Step::kWaitReduced: {
        STRATA_ASSIGN_OR_RETURN(complete, s.receiveAll(Stage::kReduced, &progressed));
        break;
      }
      case Step::kGather: {
        STRATA_ASSIGN_OR_RETURN(complete, s.gatherSome(&progressed));
        if (!complete) return progressed;
        break;
      }
      case Step::kSignalFinished: {
        STRATA_ASSIGN_OR_RETURN(complete, s.sendAll(Stage::kFinished, &progressed));
        break;
      }
      case Step::kWaitFinished: {
        STRATA_ASSIGN_OR_RETURN(complete, s.receiveAll(Stage::kFinished, &progressed));
        break;
      }
      case Step::kDone: complete = true; break;
    }
    if (!complete) return progressed;
    s.advanceStep();
    progressed = true;
  }
  return progressed;
}

std::string SingleCopyRunner::describe() const {
  const State& s = *s_;
  std::string waiting;
  bool sending = s.step == Step::kAnnounce || s.step == Step::kSignalReduced ||
                 s.step == Step::kSignalFinished;
  bool receiving = s.step == Step::kCollectAddresses || s.step == Step::kWaitReduced ||
                   s.step == Step::kWaitFinished;
  for (int p = 0; p < s.nranks; ++p) {
    if ((sending && !s.sent[p]) || (receiving && !s.received[p])) {
      waiting += strCat(waiting.empty() ? " (rank " : ", rank ", p);
    }
  }
  if (!waiting.empty()) waiting += ")";
  return strCat("single-copy ", plan::collName(s.task.args.type), " ", stepName(s.step), waiting);
}

Status SingleCopyRunner::health() {
  State& s = *s_;
  if (s.step == Step::kDone) return Status::Ok();
  for (int p = 0; p < s.nranks; ++p) {
    if (p == s.rank) continue;
    STRATA_ASSIGN_OR_RETURN(transport::SendConnection * sc, s.comm->connections().send(p, 0));
    STRATA_RETURN_IF_ERROR(sc->health());
    STRATA_ASSIGN_OR_RETURN(transport::RecvConnection * rc, s.comm->connections().recv(p, 0));
    STRATA_RETURN_IF_ERROR(rc->health());
  }
  return Status::Ok();
}

}  // namespace strata::exec
