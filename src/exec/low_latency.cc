#include "exec/low_latency.h"

#include <algorithm>
#include <atomic>
#include <cstring>

#include "comm/communicator.h"
#include "exec/rank_order.h"
#include "transports/connection.h"

namespace strata::exec {
namespace {

constexpr uint32_t kHeaderTag = 0xA5u << 24;  // marks an all-reduce header line

uint64_t line(uint32_t flag, uint32_t data) { return (uint64_t{flag} << 32) | data; }

std::atomic<uint64_t>* lines(char* half) { return reinterpret_cast<std::atomic<uint64_t>*>(half); }

uint32_t nextSeq(uint32_t seq) { return seq + 1 == 0 ? 1 : seq + 1; }

// Contributions of every rank, kept per thread between calls.
thread_local std::vector<char> tlsStaging;

}  // namespace

static_assert(std::atomic<uint64_t>::is_always_lock_free, "LL lines are single atomic words");

struct LowLatencyRunner::State {
  Communicator* comm;
  LowLatencyLinks* links;
  LowLatencyTask task;
  int rank;
  int nranks;
  size_t bytes;
  size_t nlines;  // data lines
  uint32_t header;
  bool sent = false;
  bool reduced = false;
  std::vector<size_t> linesSeen;  // per peer: valid lines read so far (header included)
  int pending;                    // peers whose data is not complete
  char* staging;

  char* contribution(int p) { return staging + static_cast<size_t>(p) * kLowLatencyMaxBytes; }

  void sendAll() {
    const auto* in = static_cast<const unsigned char*>(task.buffers.input);
    for (int p = 0; p < nranks; ++p) {
      if (p == rank) continue;
      uint32_t seq = links->sendSeq[p] = nextSeq(links->sendSeq[p]);
      std::atomic<uint64_t>* out = lines(links->send[p].base + (seq & 1) * kLowLatencyHalfBytes);
      size_t full = bytes / 4;
      for (size_t i = 0; i < full; ++i) {
        uint32_t word;
        std::memcpy(&word, in + 4 * i, 4);
        out[1 + i].store(line(seq, word), std::memory_order_relaxed);
      }
      if (full < nlines) {
        uint32_t word = 0;
        std::memcpy(&word, in + 4 * full, bytes - 4 * full);
        out[1 + full].store(line(seq, word), std::memory_order_relaxed);
      }
      out[0].store(line(seq, header), std::memory_order_release);
      transport::ring(links->send[p].peerBell);
    }
    // My own contribution, staged so that an in-place output cannot
    // overwrite it before rank order reaches it.
    std::memcpy(contribution(rank), in, bytes);
  }

  // Reads what has arrived from `p`; true once all of it has.
  StatusOr<bool> receive(int p, bool* progressed) {
    uint32_t seq = nextSeq(links->recvSeq[p]);
    std::atomic<uint64_t>* in = lines(links->recv[p].base + (seq & 1) * kLowLatencyHalfBytes);
    size_t& seen = linesSeen[p];
    if (seen == 0) {
      uint64_t h = in[0].load(std::memory_order_acquire);
      if (static_cast<uint32_t>(h >> 32) != seq) return false;
      if (static_cast<uint32_t>(h) != header) {
        uint32_t theirs = static_cast<uint32_t>(h);
        return InvalidUsage("rank ", rank, " runs an all-reduce of ", bytes, " bytes of ",
                            dataTypeName(task.type), " but rank ", p, " sent ",
                            (theirs & 0xff000000u) == kHeaderTag
                                ? strCat(theirs & 0xffffu, " bytes of type ", (theirs >> 16) & 0xffu)
                                : std::string("a message of another protocol"),
                            ": every rank must call the same collectives in the same order");
      }
      seen = 1;
      *progressed = true;
    }
    // The contribution buffer has room for whole words (kLowLatencyMaxBytes
    // is a multiple of 4), so every line is copied as a full word.
    char* dst = contribution(p);
    size_t start = seen;
    while (seen <= nlines) {
      uint64_t v = in[seen].load(std::memory_order_acquire);
      if (static_cast<uint32_t>(v >> 32) != seq) break;
      uint32_t word = static_cast<uint32_t>(v);
      std::memcpy(dst + 4 * (seen - 1), &word, 4);
      ++seen;
    }
    if (seen != start) *progressed = true;
    if (seen <= nlines) return false;
    links->recvSeq[p] = seq;
    return true;
  }
};

LowLatencyRunner::LowLatencyRunner(Communicator* comm, LowLatencyLinks* links,
                                   const LowLatencyTask& task)
    : s_(std::make_unique<State>()) {
  State& s = *s_;
  s.comm = comm;
  s.links = links;
  s.task = task;
  s.rank = comm->rank();
  s.nranks = comm->nranks();
  s.bytes = task.count * dataTypeSize(task.type);
  s.nlines = (s.bytes + 3) / 4;
  s.header = kHeaderTag | (static_cast<uint32_t>(task.type) & 0xffu) << 16 |
             static_cast<uint32_t>(s.bytes & 0xffffu);
  s.linesSeen.assign(s.nranks, 0);
  s.pending = s.nranks - 1;
  size_t need = static_cast<size_t>(s.nranks) * kLowLatencyMaxBytes;
  if (tlsStaging.size() < need) tlsStaging.resize(need);
  s.staging = tlsStaging.data();
}

LowLatencyRunner::~LowLatencyRunner() = default;

bool LowLatencyRunner::done() const { return s_->reduced; }

StatusOr<bool> LowLatencyRunner::advance() {
  State& s = *s_;
  if (s.reduced) return false;
  bool progressed = false;
  if (!s.sent) {
    s.sendAll();
    s.sent = true;
    progressed = true;
  }
  for (int p = 0; p < s.nranks && s.pending > 0; ++p) {
    if (p == s.rank || s.linesSeen[p] > s.nlines) continue;
    STRATA_ASSIGN_OR_RETURN(bool complete, s.receive(p, &progressed));
    if (complete) --s.pending;
  }
  if (s.pending > 0) return progressed;
  STRATA_RETURN_IF_ERROR(reduceInRankOrder(
      s.task.type, s.task.reduction, s.task.buffers.output, s.task.count, s.nranks,
      [&](int k) -> StatusOr<const void*> { return static_cast<const void*>(s.contribution(k)); }));
  s.reduced = true;
  return true;
}

std::string LowLatencyRunner::describe() const {
  const State& s = *s_;
  std::string waiting;
  for (int p = 0; p < s.nranks; ++p) {
    if (p != s.rank && s.linesSeen[p] <= s.nlines) waiting += strCat(waiting.empty() ? "" : ", ", p);
  }
  return strCat("low-latency all-reduce of ", s.bytes, " bytes waiting for rank(s) ", waiting);
}

Status LowLatencyRunner::health() {
  State& s = *s_;
  for (int p = 0; p < s.nranks; ++p) {
    if (p == s.rank || s.linesSeen[p] > s.nlines) continue;
    // The peer's liveness is watched by its FIFO connections on channel 0.
    STRATA_ASSIGN_OR_RETURN(transport::RecvConnection * c, s.comm->connections().recv(p, 0));
    STRATA_RETURN_IF_ERROR(c->health());
  }
  return Status::Ok();
}

}  // namespace strata::exec
