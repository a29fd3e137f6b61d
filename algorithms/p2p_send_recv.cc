// Point-to-point Send and Recv: one program on options.p2pChannel that
// streams the buffer in steps of at most maxStepElems.
#include "algorithms/builders.h"
#include "algorithms/p2p_programs.h"

namespace strata::algorithms {

plan::RankPlan buildP2pSend(const plan::CollArgs& args, const plan::PlanOptions& options) {
  plan::RankPlan plan = emptyPlan(args, "p2p");
  addSendProgram(plan, options.p2pChannel, args.peer, 0, args.count, options.maxStepElems);
  return plan;
}

plan::RankPlan buildP2pRecv(const plan::CollArgs& args, const plan::PlanOptions& options) {
  plan::RankPlan plan = emptyPlan(args, "p2p");
  addRecvProgram(plan, options.p2pChannel, args.peer, 0, args.count, options.maxStepElems);
  return plan;
}

}  // namespace strata::algorithms
