#include "algorithms/p2p_programs.h"

#include "algorithms/partition.h"
#include "algorithms/program_builder.h"

namespace strata::algorithms {

void addSendProgram(plan::RankPlan& plan, int channel, int to, size_t srcOffset, size_t count,
                    size_t maxStep) {
  ProgramBuilder b(channel);
  const size_t pieces = pieceCount(count, maxStep);
  for (size_t i = 0; i < pieces; ++i) {
    const Range r = evenPart(count, pieces, i);
    b.send(to, input(srcOffset + r.offset), r.count);
  }
  b.finishInto(plan);
}

void addRecvProgram(plan::RankPlan& plan, int channel, int from, size_t dstOffset, size_t count,
                    size_t maxStep) {
  ProgramBuilder b(channel);
  const size_t pieces = pieceCount(count, maxStep);
  for (size_t i = 0; i < pieces; ++i) {
    const Range r = evenPart(count, pieces, i);
    b.recv(from, output(dstOffset + r.offset), r.count);
  }
  b.finishInto(plan);
}

void addCopyProgram(plan::RankPlan& plan, int channel, size_t srcOffset, size_t dstOffset,
                    size_t count, size_t maxStep) {
  ProgramBuilder b(channel);
  b.copyInPieces(input(srcOffset), output(dstOffset), count, maxStep, false);
  b.finishInto(plan);
}

}  // namespace strata::algorithms
