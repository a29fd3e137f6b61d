// Direct all-reduce for small messages: every rank sends its data to every
// other rank, then reduces all contributions in rank order 0..n-1. One step
// of latency instead of the ring's 2(n-1), at the price of (n-1) times the
// data, so it is chosen for small messages only.
//
// Every rank reduces in the same order, so floating-point results are equal
// on all ranks. Partial sums live in Scratch and only the last reduction
// writes Output, after this rank's Input (which Output may alias) was read.
// Large counts go in chunks of maxStepElems: a chunk's sends all fit in
// flight before its receives start, so no rank can block another.
#include <algorithm>

#include "algorithms/builders.h"
#include "algorithms/program_builder.h"

namespace strata::algorithms {
namespace {

plan::Ref scratch(size_t offset) { return plan::Ref{plan::Buf::kScratch, offset}; }

}  // namespace

plan::RankPlan buildDirectAllReduce(const plan::CollArgs& args, const plan::PlanOptions& options) {
  plan::RankPlan plan = emptyPlan(args, "direct");
  const int n = args.nranks;
  const int me = args.rank;
  if (args.count == 0) return plan;
  ProgramBuilder prog(0);
  if (n == 1) {
    prog.copyInPieces(input(0), output(0), args.count, options.maxStepElems, true);
    prog.finishInto(plan);
    return plan;
  }
  const size_t chunk = std::min(args.count, options.maxStepElems);
  plan.scratchElems = chunk;
  for (size_t off = 0; off < args.count; off += chunk) {
    const size_t m = std::min(chunk, args.count - off);
    for (int k = 1; k < n; ++k) prog.send((me + k) % n, input(off), m);
    for (int q = 0; q < n; ++q) {
      const bool last = q == n - 1;
      const plan::Ref acc = last ? output(off) : scratch(0);
      if (q == 0) {
        if (me == 0) {
          prog.copy(input(off), acc, m, false);
        } else {
          prog.recv(0, acc, m);
        }
      } else if (q == me) {
        prog.localReduce(scratch(0), input(off), acc, m, last);
      } else {
        prog.recvReduceCopy(q, scratch(0), acc, m, last);
      }
    }
  }
  prog.finishInto(plan);
  return plan;
}

}  // namespace strata::algorithms
