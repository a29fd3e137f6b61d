// Chain Broadcast: the root's data flows down a chain root, root+1, ...
// (root, root-1, ... on odd channels), pipelined in slices of at most
// maxStepElems. Per slice:
//   root    Send slice to the next rank; Copy Input -> Output (onto itself
//           when in place)
//   middle  RecvCopySend: receive into Output and pass on
//   last    Recv into Output
// Only the root reads Input.
#include "algorithms/builders.h"
#include "algorithms/partition.h"
#include "algorithms/program_builder.h"
#include "algorithms/rank_order.h"

namespace strata::algorithms {

plan::RankPlan buildChainBroadcast(const plan::CollArgs& args,
                                   const plan::PlanOptions& options) {
  plan::RankPlan plan = emptyPlan(args, "chain");
  const int n = args.nranks;
  for (int ch = 0; ch < options.nchannels; ++ch) {
    const Range share =
        alignedPart(args.count, static_cast<size_t>(options.nchannels), static_cast<size_t>(ch),
                    options.alignElems);
    const RankOrder chain = RankOrder::forChannel(n, args.root, ch);
    const int pos = chain.positionOf(args.rank);
    const int next = chain.rankAt(pos + 1);
    const int prev = chain.rankAt(pos - 1);
    ProgramBuilder b(ch);
    const size_t slices = pieceCount(share.count, options.maxStepElems);
    for (size_t s = 0; s < slices; ++s) {
      const Range slice =
          shifted(alignedPart(share.count, slices, s, options.alignElems), share.offset);
      if (pos == 0) {
        if (n > 1) b.send(next, input(slice.offset), slice.count);
        b.copy(input(slice.offset), output(slice.offset), slice.count, false);
      } else if (pos < n - 1) {
        b.recvCopySend(prev, next, output(slice.offset), slice.count);
      } else {
        b.recv(prev, output(slice.offset), slice.count);
      }
    }
    b.finishInto(plan);
  }
  return plan;
}

}  // namespace strata::algorithms
