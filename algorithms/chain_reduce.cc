// Chain Reduce: partial reductions flow along a chain that ends at the root
// (root+1, root+2, ..., root; downwards on odd channels), pipelined in
// slices of at most maxStepElems. Per slice:
//   first   Send its Input slice
//   middle  RecvReduceSend with its Input slice
//   root    RecvReduceCopy with its Input slice into Output, finalize
// Non-root ranks never touch Output (NCCL allows it to be absent there).
#include "algorithms/builders.h"
#include "algorithms/partition.h"
#include "algorithms/program_builder.h"
#include "algorithms/rank_order.h"

namespace strata::algorithms {

plan::RankPlan buildChainReduce(const plan::CollArgs& args, const plan::PlanOptions& options) {
  plan::RankPlan plan = emptyPlan(args, "chain");
  const int n = args.nranks;
  for (int ch = 0; ch < options.nchannels; ++ch) {
    const Range share =
        alignedPart(args.count, static_cast<size_t>(options.nchannels), static_cast<size_t>(ch),
                    options.alignElems);
    // The chain starts right after the root, so the root is at position n-1.
    const int first = RankOrder::forChannel(n, args.root, ch).rankAt(1);
    const RankOrder chain = RankOrder::forChannel(n, first, ch);
    const int pos = chain.positionOf(args.rank);
    const int next = chain.rankAt(pos + 1);
    const int prev = chain.rankAt(pos - 1);
    ProgramBuilder b(ch);
    const size_t slices = pieceCount(share.count, options.maxStepElems);
    for (size_t s = 0; s < slices; ++s) {
      const Range slice =
          shifted(alignedPart(share.count, slices, s, options.alignElems), share.offset);
      if (n == 1) {
        b.copy(input(slice.offset), output(slice.offset), slice.count, true);
      } else if (pos == 0) {
        b.send(next, input(slice.offset), slice.count);
      } else if (pos < n - 1) {
        b.recvReduceSend(prev, next, input(slice.offset), slice.count);
      } else {
        b.recvReduceCopy(prev, input(slice.offset), output(slice.offset), slice.count, true);
      }
    }
    b.finishInto(plan);
  }
  return plan;
}

}  // namespace strata::algorithms
