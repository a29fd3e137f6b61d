// Point-to-point Scatter: block p of the root's Input goes to rank p's
// Output. The root runs one Send program per peer and a Copy program for its
// own block (onto itself in place, where Output is Input + root*count);
// every other rank runs one Recv program. All on options.p2pChannel.
#include "algorithms/builders.h"
#include "algorithms/p2p_programs.h"

namespace strata::algorithms {

plan::RankPlan buildP2pScatter(const plan::CollArgs& args, const plan::PlanOptions& options) {
  plan::RankPlan plan = emptyPlan(args, "p2p");
  const size_t count = args.count;
  const size_t maxStep = options.maxStepElems;
  const int ch = options.p2pChannel;
  if (args.rank != args.root) {
    addRecvProgram(plan, ch, args.root, 0, count, maxStep);
    return plan;
  }
  for (int k = 1; k < args.nranks; ++k) {
    const int to = (args.root + k) % args.nranks;
    addSendProgram(plan, ch, to, static_cast<size_t>(to) * count, count, maxStep);
  }
  addCopyProgram(plan, ch, static_cast<size_t>(args.root) * count, 0, count, maxStep);
  return plan;
}

}  // namespace strata::algorithms
