// Ring ReduceScatter: rank b's result is the reduction of every rank's
// Input block b (Input[b*count, (b+1)*count)). Per channel and pipeline slice
// of the block, the rank at ring position q runs:
//   step 0          Send            block of rank(q-1)   Input
//   steps 1..n-2    RecvReduceSend  block of rank(q-1-t) Input
//   step n-1        RecvReduceCopy  own block, finalize  Input -> Output
// In place, Output is Input + rank*count: the last step reads and writes the
// same elements, and nothing else writes.
#include "algorithms/builders.h"
#include "algorithms/partition.h"
#include "algorithms/program_builder.h"
#include "algorithms/rank_order.h"

namespace strata::algorithms {

plan::RankPlan buildRingReduceScatter(const plan::CollArgs& args,
                                      const plan::PlanOptions& options) {
  plan::RankPlan plan = emptyPlan(args, "ring");
  const int n = args.nranks;
  const size_t count = args.count;
  if (n == 1) {
    ProgramBuilder b(0);
    b.copyInPieces(input(0), output(0), count, options.maxStepElems, true);
    b.finishInto(plan);
    return plan;
  }
  for (int ch = 0; ch < options.nchannels; ++ch) {
    const Range share =
        alignedPart(count, static_cast<size_t>(options.nchannels), static_cast<size_t>(ch),
                    options.alignElems);
    const RankOrder ring = RankOrder::forChannel(n, 0, ch);
    const int pos = ring.positionOf(args.rank);
    const int next = ring.rankAt(pos + 1);
    const int prev = ring.rankAt(pos - 1);
    // Offset of `slice` inside the Input block of the rank at position p.
    auto blockAt = [&](long long p, const Range& slice) {
      return static_cast<size_t>(ring.rankAt(p)) * count + slice.offset;
    };
    ProgramBuilder b(ch);
    const size_t slices = pieceCount(share.count, options.maxStepElems);
    for (size_t s = 0; s < slices; ++s) {
      const Range slice =
          shifted(alignedPart(share.count, slices, s, options.alignElems), share.offset);
      b.send(next, input(blockAt(pos - 1, slice)), slice.count);
      for (int t = 1; t <= n - 2; ++t) {
        b.recvReduceSend(prev, next, input(blockAt(pos - 1 - t, slice)), slice.count);
      }
      b.recvReduceCopy(prev, input(blockAt(pos, slice)), output(slice.offset), slice.count, true);
    }
    b.finishInto(plan);
  }
  return plan;
}

}  // namespace strata::algorithms
