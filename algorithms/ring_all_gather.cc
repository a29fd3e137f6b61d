// Ring AllGather: every rank's Input lands in block `rank` of everyone's
// Output (Output[rank*count, (rank+1)*count)). Per channel and pipeline
// slice, the rank at ring position q runs:
//   step 0          Send          own slice            Input
//   step 1          Copy          own slice            Input -> own block
//   steps 2..n-1    RecvCopySend  block of rank(q-k)   -> Output, k = 1..n-2
//   step n          Recv          block of rank(q+1)   -> Output
// In place, Input is Output + rank*count: the Copy copies onto itself and
// the received blocks never touch the own block.
#include "algorithms/builders.h"
#include "algorithms/partition.h"
#include "algorithms/program_builder.h"
#include "algorithms/rank_order.h"

namespace strata::algorithms {

plan::RankPlan buildRingAllGather(const plan::CollArgs& args, const plan::PlanOptions& options) {
  plan::RankPlan plan = emptyPlan(args, "ring");
  const int n = args.nranks;
  const size_t count = args.count;
  const size_t ownBlock = static_cast<size_t>(args.rank) * count;
  if (n == 1) {
    ProgramBuilder b(0);
    b.copyInPieces(input(0), output(0), count, options.maxStepElems, false);
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
    auto blockAt = [&](long long p, const Range& slice) {
      return static_cast<size_t>(ring.rankAt(p)) * count + slice.offset;
    };
    ProgramBuilder b(ch);
    const size_t slices = pieceCount(share.count, options.maxStepElems);
    for (size_t s = 0; s < slices; ++s) {
      const Range slice =
          shifted(alignedPart(share.count, slices, s, options.alignElems), share.offset);
      b.send(next, input(slice.offset), slice.count);
      b.copy(input(slice.offset), output(ownBlock + slice.offset), slice.count, false);
      for (int k = 1; k <= n - 2; ++k) {
        b.recvCopySend(prev, next, output(blockAt(pos - k, slice)), slice.count);
      }
      b.recv(prev, output(blockAt(pos + 1, slice)), slice.count);
    }
    b.finishInto(plan);
  }
  return plan;
}

}  // namespace strata::algorithms
