// Point-to-point AllToAll: block p of a rank's Input goes to block `rank` of
// rank p's Output. Programs, all on options.p2pChannel:
//   one Copy program for the own block (Input block rank -> Output block rank)
//   for k = 1..n-1: a Send program to rank+k (Input block rank+k) and a Recv
//   program from rank-k (into Output block rank-k)
// Each program uses one directed stream, so the 2(n-1) transfers proceed
// concurrently. In place is not defined for AllToAll.
#include "algorithms/builders.h"
#include "algorithms/p2p_programs.h"

namespace strata::algorithms {

plan::RankPlan buildP2pAllToAll(const plan::CollArgs& args, const plan::PlanOptions& options) {
  plan::RankPlan plan = emptyPlan(args, "p2p");
  const int n = args.nranks;
  const size_t count = args.count;
  const size_t maxStep = options.maxStepElems;
  const int ch = options.p2pChannel;
  const size_t own = static_cast<size_t>(args.rank) * count;
  addCopyProgram(plan, ch, own, own, count, maxStep);
  for (int k = 1; k < n; ++k) {
    const int to = (args.rank + k) % n;
    const int from = (args.rank - k + n) % n;
    addSendProgram(plan, ch, to, static_cast<size_t>(to) * count, count, maxStep);
    addRecvProgram(plan, ch, from, static_cast<size_t>(from) * count, count, maxStep);
  }
  return plan;
}

}  // namespace strata::algorithms
