// Copies that bypass the caches on their way to memory (non-temporal
// stores). For results written once and not read again soon, and larger
// than the caches: a plain store first reads every destination line into the
// cache (read-for-ownership) and later evicts it, so a streaming store saves
// a third of the memory traffic of a large copy. Only the destination is
// streamed; the source is read normally (typically it was just produced in
// cache).
#pragma once

#include <cstddef>

namespace strata::kernels {

// dst[0, bytes) = src[0, bytes); the ranges must not overlap. Unaligned
// heads and tails are copied normally. Ends with a store fence, so the data
// is ordered before any later store (a FIFO post, a flag) like a plain copy.
void streamCopy(void* dst, const void* src, size_t bytes);

}  // namespace strata::kernels
