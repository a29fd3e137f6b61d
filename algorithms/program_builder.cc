#include "algorithms/program_builder.h"

#include <utility>

#include "algorithms/partition.h"

namespace strata::algorithms {

using plan::Op;
using plan::Ref;
using plan::Step;

void ProgramBuilder::add(const Step& s) {
  if (s.count == 0) return;
  program_.steps.push_back(s);
}

void ProgramBuilder::send(int to, Ref src, size_t count) {
  Step s;
  s.op = Op::kSend;
  s.sendPeer = to;
  s.src = src;
  s.count = count;
  add(s);
}

void ProgramBuilder::recv(int from, Ref dst, size_t count, bool returnsOwn) {
  Step s;
  s.op = Op::kRecv;
  s.recvPeer = from;
  s.dst = dst;
  s.count = count;
  s.returnsOwn = returnsOwn;
  add(s);
}

void ProgramBuilder::recvReduceSend(int from, int to, Ref src, size_t count) {
  Step s;
  s.op = Op::kRecvReduceSend;
  s.recvPeer = from;
  s.sendPeer = to;
  s.src = src;
  s.count = count;
  add(s);
}

void ProgramBuilder::recvReduceCopy(int from, Ref src, Ref dst, size_t count, bool finalize) {
  Step s;
  s.op = Op::kRecvReduceCopy;
  s.recvPeer = from;
  s.src = src;
  s.dst = dst;
  s.count = count;
  s.finalize = finalize;
  add(s);
}

void ProgramBuilder::recvCopySend(int from, int to, Ref dst, size_t count, bool returnsOwn) {
  Step s;
  s.op = Op::kRecvCopySend;
  s.recvPeer = from;
  s.sendPeer = to;
  s.dst = dst;
  s.count = count;
  s.returnsOwn = returnsOwn;
  add(s);
}

void ProgramBuilder::recvReduceCopySend(int from, int to, Ref src, Ref dst, size_t count,
                                        bool finalize) {
  Step s;
  s.op = Op::kRecvReduceCopySend;
  s.recvPeer = from;
  s.sendPeer = to;
  s.src = src;
  s.dst = dst;
  s.count = count;
  s.finalize = finalize;
  add(s);
}

void ProgramBuilder::copy(Ref src, Ref dst, size_t count, bool finalize) {
  Step s;
  s.op = Op::kCopy;
  s.src = src;
  s.dst = dst;
  s.count = count;
  s.finalize = finalize;
  add(s);
}

void ProgramBuilder::localReduce(Ref src, Ref src2, Ref dst, size_t count, bool finalize) {
  Step s;
  s.op = Op::kLocalReduce;
  s.src = src;
  s.src2 = src2;
  s.dst = dst;
  s.count = count;
  s.finalize = finalize;
  add(s);
}

void ProgramBuilder::copyInPieces(Ref src, Ref dst, size_t count, size_t maxStep,
                                  bool finalize) {
  const size_t pieces = pieceCount(count, maxStep);
  for (size_t i = 0; i < pieces; ++i) {
    const Range r = evenPart(count, pieces, i);
    copy(Ref{src.buf, src.offset + r.offset}, Ref{dst.buf, dst.offset + r.offset}, r.count,
         finalize);
  }
}

void ProgramBuilder::finishInto(plan::RankPlan& plan) {
  if (program_.steps.empty()) return;
  plan.programs.push_back(std::move(program_));
  program_.steps.clear();
}

}  // namespace strata::algorithms
