// Buffer shapes and checking rules shared by the perf tools.
#pragma once

#include <cmath>
#include <limits>

#include "perf.h"

namespace strata::perf {

inline double factorOne(int) { return 1.0; }
inline double factorAllReduce(int n) { return 2.0 * (n - 1) / n; }
inline double factorSpread(int n) { return static_cast<double>(n - 1) / n; }

// count elements in and out (all-reduce, broadcast, reduce, send/recv).
inline Shape shapeSame(size_t bytes, size_t es, int) {
  size_t c = bytes / es;
  return Shape{c, c, c, c};
}
// A total of bytes split into nranks blocks; the call's count is one block.
// `bigSend`: the send side holds all blocks (reduce-scatter, scatter).
inline Shape shapeBlocks(size_t bytes, size_t es, int n, bool bigSend, bool bigRecv) {
  size_t block = bytes / es / static_cast<size_t>(n);
  size_t all = block * static_cast<size_t>(n);
  return Shape{bigSend ? all : block, bigRecv ? all : block, block, all};
}

inline void inPlaceSame(const Shape&, int, int, int, size_t, char* base, const void** send, void** recv) {
  *send = base;
  *recv = base;
}

inline double kUndefined() { return std::numeric_limits<double>::quiet_NaN(); }

}  // namespace strata::perf
