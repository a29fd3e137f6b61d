// Ring AllReduce: per channel and per pipeline slice, a reduce-scatter that
// leaves each rank with the finished chunk it owns, followed by an
// all-gather that passes the finished chunks once around the ring.
//
// With the ring positions 0..n-1 and chunk(p) the chunk owned by the rank at
// position p, the rank at position q runs, for every slice:
//   step 0          Send               chunk(q-1)           Input
//   steps 1..n-2    RecvReduceSend     chunk(q-1-t)         Input
//   step n-1        RecvReduceCopySend chunk(q), finalize   Input -> Output
//   steps n..2n-3   RecvCopySend       chunk(q-k)           -> Output
//   step 2n-2       Recv               chunk(q+1)           -> Output
// Every Input chunk is read before the Output chunk at the same offsets is
// written, so the plan is correct when Input and Output alias. The
// all-gather steps are marked returnsOwn: the finished chunk(x) reaches this
// rank only after the rank that finishes it received, through the ring, the
// partial sum this rank sent from chunk(x) during the reduce-scatter (an
// in-place call may then send and receive those chunks by reference).
#include "algorithms/builders.h"
#include "algorithms/partition.h"
#include "algorithms/program_builder.h"
#include "algorithms/rank_order.h"

namespace strata::algorithms {

namespace {

void addRingAllReduceSlice(ProgramBuilder& b, const RankOrder& ring, int pos, Range slice,
                           size_t grain) {
  const int n = ring.nranks();
  const int next = ring.rankAt(pos + 1);
  const int prev = ring.rankAt(pos - 1);
  // The part of the slice owned by the rank at ring position p.
  auto chunk = [&](long long p) {
    return shifted(alignedPart(slice.count, n, static_cast<size_t>(ring.rankAt(p)), grain),
                   slice.offset);
  };

  Range c = chunk(pos - 1);
  b.send(next, input(c.offset), c.count);
  for (int t = 1; t <= n - 2; ++t) {
    c = chunk(pos - 1 - t);
    b.recvReduceSend(prev, next, input(c.offset), c.count);
  }
  c = chunk(pos);
  b.recvReduceCopySend(prev, next, input(c.offset), output(c.offset), c.count, true);
  for (int k = 1; k <= n - 2; ++k) {
    c = chunk(pos - k);
    b.recvCopySend(prev, next, output(c.offset), c.count, /*returnsOwn=*/true);
  }
  c = chunk(pos + 1);
  b.recv(prev, output(c.offset), c.count, /*returnsOwn=*/true);
}

}  // namespace

plan::RankPlan buildRingAllReduce(const plan::CollArgs& args, const plan::PlanOptions& options) {
  plan::RankPlan plan = emptyPlan(args, "ring");
  const int n = args.nranks;
  if (n == 1) {
    ProgramBuilder b(0);
    b.copyInPieces(input(0), output(0), args.count, options.maxStepElems, true);
    b.finishInto(plan);
    return plan;
  }
  const size_t maxSlice = saturatingMul(static_cast<size_t>(n), options.maxStepElems);
  for (int ch = 0; ch < options.nchannels; ++ch) {
    const Range share = alignedPart(args.count, static_cast<size_t>(options.nchannels),
                                    static_cast<size_t>(ch), options.alignElems);
    const RankOrder ring = RankOrder::forChannel(n, 0, ch);
    const int pos = ring.positionOf(args.rank);
    ProgramBuilder b(ch);
    const size_t slices = pieceCount(share.count, maxSlice);
    for (size_t s = 0; s < slices; ++s) {
      const Range slice =
          shifted(alignedPart(share.count, slices, s, options.alignElems), share.offset);
      addRingAllReduceSlice(b, ring, pos, slice, options.alignElems);
    }
    b.finishInto(plan);
  }
  return plan;
}

}  // namespace strata::algorithms
