// Point-to-point Gather: every rank's Input lands in block `rank` of the
// root's Output. The root runs a Copy program for its own block (onto itself
// in place, where Input is Output + root*count) and one Recv program per
// peer; every other rank runs one Send program. All on options.p2pChannel.
#include "algorithms/builders.h"
#include "algorithms/p2p_programs.h"

namespace strata::algorithms {

plan::RankPlan buildP2pGather(const plan::CollArgs& args, const plan::PlanOptions& options) {
  plan::RankPlan plan = emptyPlan(args, "p2p");
  const size_t count = args.count;
  const size_t maxStep = options.maxStepElems;
  const int ch = options.p2pChannel;
  if (args.rank != args.root) {
    addSendProgram(plan, ch, args.root, 0, count, maxStep);
    return plan;
  }
  addCopyProgram(plan, ch, 0, static_cast<size_t>(args.root) * count, count, maxStep);
  for (int k = 1; k < args.nranks; ++k) {
    const int from = (args.root + k) % args.nranks;
    addRecvProgram(plan, ch, from, static_cast<size_t>(from) * count, count, maxStep);
  }
  return plan;
}

}  // namespace strata::algorithms
