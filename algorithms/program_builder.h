// Appends the steps of one channel program, reading like the algorithm:
// send(next, input(off), n), recvReduceSend(prev, next, input(off), n), ...
// Steps of zero elements are left out (every rank computes the same chunk
// sizes, so a sender and its receiver skip the same empty chunks).
#pragma once

#include <cstddef>

#include "plan/plan.h"

namespace strata::algorithms {

inline plan::Ref input(size_t offset) { return plan::Ref{plan::Buf::kInput, offset}; }
inline plan::Ref output(size_t offset) { return plan::Ref{plan::Buf::kOutput, offset}; }

class ProgramBuilder {
 public:
  explicit ProgramBuilder(int channel) { program_.channel = channel; }

  void send(int to, plan::Ref src, size_t count);
  // returnsOwn: see plan::Step::returnsOwn.
  void recv(int from, plan::Ref dst, size_t count, bool returnsOwn = false);
  void recvReduceSend(int from, int to, plan::Ref src, size_t count);
  void recvReduceCopy(int from, plan::Ref src, plan::Ref dst, size_t count, bool finalize);
  void recvCopySend(int from, int to, plan::Ref dst, size_t count, bool returnsOwn = false);
  void recvReduceCopySend(int from, int to, plan::Ref src, plan::Ref dst, size_t count,
                          bool finalize);
  void copy(plan::Ref src, plan::Ref dst, size_t count, bool finalize);
  // dst = src op src2.
  void localReduce(plan::Ref src, plan::Ref src2, plan::Ref dst, size_t count, bool finalize);

  // Copies [0, count) of src to dst in steps of at most maxStep elements.
  void copyInPieces(plan::Ref src, plan::Ref dst, size_t count, size_t maxStep, bool finalize);

  // Appends the program to `plan` unless it has no steps.
  void finishInto(plan::RankPlan& plan);

 private:
  void add(const plan::Step& s);

  plan::ChannelProgram program_;
};

}  // namespace strata::algorithms
