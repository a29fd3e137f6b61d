// Splitting element ranges into channel shares, pipeline slices and ring
// chunks. All arithmetic is size_t and never forms a product that can
// overflow, so counts beyond 2^32 elements split correctly.
#pragma once

#include <cstddef>

namespace strata::algorithms {

struct Range {
  size_t offset = 0;
  size_t count = 0;
};

// Part `index` of `parts` nearly equal parts of [0, total): the first
// total % parts parts are one element longer. parts >= 1.
Range evenPart(size_t total, size_t parts, size_t index);

// The same in whole grains of `grain` elements: every part starts at a
// multiple of grain, and the last part also takes the total % grain
// leftover elements. Parts stay within ceil(total / parts) rounded up to a
// grain, plus the leftover for the last one. grain >= 1; grain 1 is
// evenPart.
Range alignedPart(size_t total, size_t parts, size_t index, size_t grain);

// How many pieces of at most maxPiece elements cover total (0 for total 0).
// maxPiece >= 1.
size_t pieceCount(size_t total, size_t maxPiece);

// a * b, or SIZE_MAX when the product does not fit.
size_t saturatingMul(size_t a, size_t b);

// `r` shifted by `base`.
inline Range shifted(Range r, size_t base) { return Range{r.offset + base, r.count}; }

}  // namespace strata::algorithms
