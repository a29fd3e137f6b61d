#include "exec/low_latency.h"

#include <algorithm>
#include <atomic>
#include <cstring>

#include "comm/communicator.h"
#include "exec/rank_order.h"
#include "transports/connection.h"

namespace strata::exec {
namespace {

constexpr uint32_t kHeaderTag = 0xA5u << 24;  // marks an all-reduce header

uint64_t headerWord(uint32_t seq, uint32_t header) { return (uint64_t{seq} << 32) | header; }

// Sequence numbers skip 0 (what fresh memory holds) and keep alternating in
// parity across the wrap (0xffffffff is followed by 2), so consecutive calls
// always use different halves.
uint32_t nextSeq(uint32_t seq) { return seq + 1 == 0 ? 2 : seq + 1; }

std::atomic<uint64_t>& headerOf(char* half) { return *reinterpret_cast<std::atomic<uint64_t>*>(half); }
char* dataOf(char* half) { return half + kLowLatencyHeaderBytes; }

}  // namespace

static_assert(std::atomic<uint64_t>::is_always_lock_free, "the header is one atomic word");

struct LowLatencyRunner::State {
  Communicator* comm = nullptr;
  LowLatencyLinks* links = nullptr;  // the communicator's, fetched on the first advance()
  const LowLatencyTask* task = nullptr;  // the phase's, alive for the call
  int rank = 0;
  int nranks = 0;
  size_t bytes = 0;
  uint32_t header = 0;
  bool sent = false;
  bool rung = false;  // the peers' doorbells were rung for this call's messages
  bool reduced = false;
  uint32_t received = 0;  // bit p: rank p's contribution has arrived (n <= 32)
  uint32_t expected = 0;

  void sendAll() {
    for (int p = 0; p < nranks; ++p) {
      if (p == rank) continue;
      uint32_t seq = links->sendSeq[p] = nextSeq(links->sendSeq[p]);
      char* half = links->send[p].base + (seq & 1) * kLowLatencyHalfBytes;
      std::memcpy(dataOf(half), task->buffers.input, bytes);
      // Release: a reader that sees this header sees the data before it.
      headerOf(half).store(headerWord(seq, header), std::memory_order_release);
    }
  }

  // Wakes peers that sleep waiting for the messages sendAll published. Not
  // done right after publishing: a ring's fence waits until the header's
  // store reaches the peer's cache, and a peer that sleeps has published
  // its own message first, so this rank can take it and reduce meanwhile.
  // Rung once per call: as soon as this rank finds a peer's message
  // missing (it waits anyway), else when it has reduced, before the call
  // returns.
  void ringAll() {
    rung = true;
    for (int p = 0; p < nranks; ++p) {
      if (p != rank) transport::ring(links->send[p].peerBell);
    }
  }

  // Whether rank p's contribution of this call has arrived.
  StatusOr<bool> arrived(int p) {
    uint32_t seq = nextSeq(links->recvSeq[p]);
    char* half = links->recv[p].base + (seq & 1) * kLowLatencyHalfBytes;
    uint64_t h = headerOf(half).load(std::memory_order_acquire);
    if (static_cast<uint32_t>(h >> 32) != seq) return false;
    uint32_t theirs = static_cast<uint32_t>(h);
    if (theirs != header) {
      return InvalidUsage("rank ", rank, " runs an all-reduce of ", bytes, " bytes of ",
                          dataTypeName(task->type), " but rank ", p, " sent ",
                          (theirs & 0xff000000u) == kHeaderTag
                              ? strCat(theirs & 0xffffu, " bytes of type ", (theirs >> 16) & 0xffu)
                              : std::string("a message of another protocol"),
                          ": every rank must call the same collectives in the same order");
    }
    return true;
  }

  // Only the first operand of the reduction may share memory with the
  // output: as rank > 0 in place, keep a copy of my input, taken before the
  // reduction starts writing the output.
  const void* own = nullptr;
  // Per runner, not per thread: one thread may drive several ranks (a group).
  alignas(64) char ownCopy[kLowLatencyMaxBytes];
  void keepOwn() {
    const char* in = static_cast<const char*>(task->buffers.input);
    const char* out = static_cast<const char*>(task->buffers.output);
    own = in;
    if (rank > 0 && in < out + bytes && out < in + bytes) {
      std::memcpy(ownCopy, in, bytes);
      own = ownCopy;
    }
  }

  // Rank k's contribution: mine, or the data in k's mailbox half, which
  // stays untouched until k sends the call after next (by then this call is
  // over: k cannot start it before receiving my next contribution).
  const void* contribution(int k) {
    if (k == rank) return own;
    uint32_t seq = links->recvSeq[k];
    return dataOf(links->recv[k].base + (seq & 1) * kLowLatencyHalfBytes);
  }
};

LowLatencyRunner::LowLatencyRunner() : s_(new State) {}  // the copy buffer is not zeroed

void LowLatencyRunner::start(Communicator* comm, const LowLatencyTask& task) {
  State& s = *s_;
  s.comm = comm;
  s.links = nullptr;  // looked up per call: the communicator may be another one
  s.task = &task;
  s.rank = comm->rank();
  s.nranks = comm->nranks();
  s.bytes = task.count * dataTypeSize(task.type);
  s.header = kHeaderTag | (static_cast<uint32_t>(task.type) & 0xffu) << 16 |
             static_cast<uint32_t>(s.bytes & 0xffffu);
  s.expected = (s.nranks >= 32 ? ~0u : (1u << s.nranks) - 1) & ~(1u << s.rank);
  s.reduced = false;
  s.sent = false;
  s.rung = false;
  s.received = 0;
  s.own = nullptr;
}

LowLatencyRunner::~LowLatencyRunner() = default;

bool LowLatencyRunner::done() const { return s_->reduced; }

StatusOr<bool> LowLatencyRunner::advance() {
  State& s = *s_;
  if (s.reduced) return false;
  bool progressed = false;
  if (!s.sent) {  // first advance of the call: send
    STRATA_ASSIGN_OR_RETURN(s.links, s.comm->lowLatencyLinks());
    s.sent = true;
    s.sendAll();
    s.keepOwn();
    progressed = true;
  }
  for (int p = 0; p < s.nranks && s.received != s.expected; ++p) {
    if (p == s.rank || (s.received & (1u << p))) continue;
    StatusOr<bool> here = s.arrived(p);
    if (!here.ok()) {
      if (!s.rung) s.ringAll();  // peers see the mismatch too, awake
      return here.status();
    }
    if (!here.value()) continue;
    s.links->recvSeq[p] = nextSeq(s.links->recvSeq[p]);
    s.received |= 1u << p;
    progressed = true;
  }
  if (s.received != s.expected) {
    if (!s.rung) s.ringAll();
    return progressed;
  }
  Status reducedOk = reduceInRankOrder(s.task->type, s.task->reduction, s.task->buffers.output,
                                       s.task->count, s.nranks,
                                       [&](int k) -> StatusOr<const void*> { return s.contribution(k); });
  if (!s.rung) s.ringAll();
  STRATA_RETURN_IF_ERROR(reducedOk);
  s.reduced = true;
  return true;
}

std::string LowLatencyRunner::describe() const {
  const State& s = *s_;
  std::string waiting;
  for (int p = 0; p < s.nranks; ++p) {
    if (p != s.rank && !(s.received & (1u << p))) waiting += strCat(waiting.empty() ? "" : ", ", p);
  }
  return strCat("low-latency all-reduce of ", s.bytes, " bytes waiting for rank(s) ", waiting);
}

Status LowLatencyRunner::health() {
  State& s = *s_;
  for (int p = 0; p < s.nranks; ++p) {
    if (p == s.rank || (s.received & (1u << p))) continue;
    // The peer's liveness is watched by its FIFO connections on channel 0.
    STRATA_ASSIGN_OR_RETURN(transport::RecvConnection * c, s.comm->connections().recv(p, 0));
    STRATA_RETURN_IF_ERROR(c->health());
  }
  return Status::Ok();
}

}  // namespace strata::exec
