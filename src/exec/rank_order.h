// Reducing n contributions in rank order 0..n-1, so that every rank that
// reduces the same data gets identical bits. The pre-scale (PreMulSum)
// applies to every contribution and the post-division (Avg) once, at the end.
#pragma once

#include <cstddef>

#include "core/status.h"
#include "core/types.h"
#include "kernels/host/reduce.h"

namespace strata::exec {

// dst = c_0 op c_1 op ... op c_{n-1} over `count` elements, n >= 2, where
// get(k) returns StatusOr<const void*> pointing at c_k. get(k) is called in
// order and only after c_{k-1} is consumed, so it may reuse a buffer. Only
// c_0 may alias dst.
template <typename Get>
Status reduceInRankOrder(DataType type, const Reduction& red, void* dst, size_t count, int n,
                         Get&& get) {
  auto step = [&](bool last) {
    Reduction e = red;
    if (!last) e.postDivisor = 1;
    return e;
  };
  STRATA_ASSIGN_OR_RETURN(const void* a, get(0));
  if (red.hasPreScale) {
    kernels::preScale(type, red, dst, a, count);
    a = dst;
  }
  STRATA_ASSIGN_OR_RETURN(const void* b, get(1));
  kernels::reduce(type, step(n == 2), dst, a, b, count);
  for (int k = 2; k < n; ++k) {
    STRATA_ASSIGN_OR_RETURN(const void* c, get(k));
    kernels::reduce(type, step(k == n - 1), dst, dst, c, count);
  }
  return Status::Ok();
}

}  // namespace strata::exec
