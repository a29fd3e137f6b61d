#include "algorithms/partition.h"

#include <algorithm>
#include <cstdint>

namespace strata::algorithms {

Range evenPart(size_t total, size_t parts, size_t index) {
  const size_t base = total / parts;
  const size_t extra = total % parts;
  Range r;
  // index * base <= total and min(index, extra) <= extra: no overflow.
  r.offset = index * base + std::min(index, extra);
  r.count = base + (index < extra ? 1 : 0);
  return r;
}

Range alignedPart(size_t total, size_t parts, size_t index, size_t grain) {
  if (grain <= 1) return evenPart(total, parts, index);
  Range r = evenPart(total / grain, parts, index);
  r.offset *= grain;
  r.count *= grain;
  if (index + 1 == parts) r.count += total % grain;
  return r;
}

size_t pieceCount(size_t total, size_t maxPiece) {
  return total / maxPiece + (total % maxPiece != 0 ? 1 : 0);
}

size_t saturatingMul(size_t a, size_t b) {
  if (a != 0 && b > SIZE_MAX / a) return SIZE_MAX;
  return a * b;
}

}  // namespace strata::algorithms
