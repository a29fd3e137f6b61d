// The plan IR: what one rank does for one collective, as ordered lists of
// primitive steps, one list per channel. Algorithms (algorithms/) produce
// plans; executors (src/exec) run them; the verifier (tests) proves them.
//
// Semantics. Each channel of a rank is a program run in order. A step moves
// `count` elements. Steps that send append elements to the stream towards
// (sendPeer, channel); steps that receive take the next elements from the
// stream from (recvPeer, channel). Streams are FIFO and matched by element
// count, not by step boundaries: a sender's one step may be received as two.
//
//   Send               stream(sendPeer) <- src
//   Recv               dst <- stream(recvPeer)
//   RecvReduceSend     stream(sendPeer) <- stream(recvPeer) op src
//   RecvReduceCopy     dst <- stream(recvPeer) op src
//   RecvCopySend       dst <- stream(recvPeer); stream(sendPeer) <- same data
//   RecvReduceCopySend dst <- stream(recvPeer) op src; stream(sendPeer) <- dst
//   Copy               dst <- src
//   LocalReduce        dst <- src op src2
//
// Reduction semantics (see Reduction in core/types.h): every read of the
// Input buffer in a reducing collective is pre-scaled (PreMulSum), and a step
// with `finalize` applies the post-division (Avg) to the value it produces,
// before writing or sending it.
//
// Buffers are named, not addressed: Input and Output are the user's send and
// receive buffers (which may alias, see CollArgs), Scratch is executor-owned
// memory of plan.scratchElems elements. Offsets and counts are in elements.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace strata::plan {

struct ZeroCopyMap;  // plan/zero_copy.h

enum class Op : uint8_t {
  kSend,
  kRecv,
  kRecvReduceSend,
  kRecvReduceCopy,
  kRecvCopySend,
  kRecvReduceCopySend,
  kCopy,
  kLocalReduce,
};
const char* opName(Op op);

// Which operands an op uses.
bool opSends(Op op);
bool opRecvs(Op op);
bool opReadsSrc(Op op);
bool opWritesDst(Op op);
bool opReduces(Op op);

enum class Buf : uint8_t { kNone, kInput, kOutput, kScratch };
const char* bufName(Buf b);

struct Ref {
  Buf buf = Buf::kNone;
  size_t offset = 0;  // elements
};

struct Step {
  Op op = Op::kCopy;
  int sendPeer = -1;
  int recvPeer = -1;
  Ref src;
  Ref src2;  // LocalReduce only
  Ref dst;
  size_t count = 0;
  bool finalize = false;
  // Set by an algorithm on a receiving step whose bytes, for every element,
  // other ranks can only produce after they received what this program's
  // earlier steps read from that element: the ring all-reduce's all-gather,
  // whose finished sums come back around the ring after this rank's
  // contribution went out. When Input and Output alias (in-place calls),
  // such a step may write where earlier steps of its program only read, and
  // an earlier step may send those elements by reference (plan/zero_copy.h).
  bool returnsOwn = false;
};

struct ChannelProgram {
  int channel = 0;  // connection channel: streams are keyed by (peer, channel)
  std::vector<Step> steps;
};

// Everything one rank does for one operation. Channel programs run
// concurrently; no two programs of a plan may use the same directed stream.
struct RankPlan {
  int rank = 0;
  int nranks = 1;
  std::vector<ChannelProgram> programs;
  size_t scratchElems = 0;
  std::string algorithm;  // for logs and strata-sim: "ring", "chain", "p2p", ...
  // Which steps may use the user's buffers in place (plan/zero_copy.h): set
  // by the communicator when some peer is reached through a transport that
  // can; null otherwise.
  std::shared_ptr<const ZeroCopyMap> zeroCopy;
  // The same for the operation's in-place form (Input inside Output where
  // NCCL puts it; ZeroCopyMap::inputAt), where it has one.
  std::shared_ptr<const ZeroCopyMap> zeroCopyInPlace;

  size_t stepCount() const;
};

std::string toString(const Step& s);
std::string toString(const RankPlan& p);

// --- Inputs to plan builders -------------------------------------------------

enum class CollType : uint8_t {
  kAllReduce,
  kReduceScatter,
  kAllGather,
  kBroadcast,
  kReduce,
  kAllToAll,
  kGather,
  kScatter,
  kSend,
  kRecv,
};
const char* collName(CollType t);
bool collReduces(CollType t);

// Counts follow NCCL's API: AllReduce/Broadcast/Reduce count; ReduceScatter
// recvcount; AllGather sendcount; AllToAll/Gather/Scatter per-rank count;
// Send/Recv count. Buffer sizes in elements:
//   AllReduce, Broadcast, Reduce   Input count,          Output count
//   ReduceScatter                  Input nranks*count,   Output count
//   AllGather                      Input count,          Output nranks*count
//   AllToAll                       Input nranks*count,   Output nranks*count
//   Gather                         Input count,          Output nranks*count (root)
//   Scatter                        Input nranks*count (root), Output count
//   Send                           Input count;   Recv  Output count
// Root-only buffers are absent elsewhere (NCCL lets callers pass NULL):
// Broadcast Input, Reduce Output, Gather Output and Scatter Input exist only
// at the root, and plans must not touch them on other ranks.
// In-place calls alias Input onto Output at the offsets NCCL defines
// (AllGather: Input = Output + rank*count; ReduceScatter: Output = Input +
// rank*count; Gather: Input = Output + root*count at the root; Scatter:
// Output = Input + root*count at the root). Plans must be correct either way.
struct CollArgs {
  CollType type = CollType::kAllReduce;
  size_t count = 0;
  int root = 0;   // Broadcast, Reduce, Gather, Scatter
  int peer = -1;  // Send, Recv
  int rank = 0;
  int nranks = 1;
};

struct PlanOptions {
  int nchannels = 1;        // collective channels 0..nchannels-1
  int p2pChannel = 1;       // channel used by point-to-point programs
  size_t maxStepElems = 1;  // largest count of one step; also the pipelining grain
  // Channel shares, slices and ring chunks start at multiples of this many
  // elements (so that kernels move whole aligned vectors); maxStepElems is
  // a multiple of it.
  size_t alignElems = 1;
};

}  // namespace strata::plan
