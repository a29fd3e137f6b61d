// The public host reduce entry points and the generic implementation.
#include "kernels/host/reduce.h"

#include <cstring>

#include "kernels/host/reduce_loops.h"

namespace strata::kernels {
namespace detail {
namespace {

template <DataType D, class Op, bool kBinary, bool kPre, bool kPost>
struct GenericKernel {
  static void run(void* dst, const void* a, const void* b, size_t n, const Reduction& r) {
    genericLoop<D, Op, kBinary, kPre, kPost>(dst, a, b, n, Params<D>(r));
  }
};

void genericApply(DataType t, const Reduction& r, bool binary, bool pre, bool post, void* dst,
                  const void* a, const void* b, size_t count) {
  dispatch<GenericKernel>(t, r, binary, pre, post, dst, a, b, count);
}

}  // namespace

const HostReduceImpl& genericReduceImpl() {
  static constexpr HostReduceImpl kImpl{"generic", genericApply};
  return kImpl;
}

const HostReduceImpl& activeReduceImpl() {
  static const HostReduceImpl* const impl = [] {
    const HostReduceImpl* fast = avx2ReduceImpl();
    return fast != nullptr ? fast : &genericReduceImpl();
  }();
  return *impl;
}

}  // namespace detail

namespace {

bool usesPost(const Reduction& r) { return r.postDivisor > 1; }

// The one-operand forms: dst = post?(pre?(src)); a copy when neither applies.
void unary(DataType type, const Reduction& r, bool pre, bool post, void* dst, const void* src,
           size_t count) {
  if (count == 0) return;
  if (!pre && !post) {
    if (dst != src) std::memmove(dst, src, count * dataTypeSize(type));
    return;
  }
  detail::activeReduceImpl().apply(type, r, false, pre, post, dst, src, src, count);
}

}  // namespace

void reduce(DataType type, const Reduction& r, void* dst, const void* a, const void* b,
            size_t count) {
  if (count == 0) return;
  detail::activeReduceImpl().apply(type, r, true, r.hasPreScale, usesPost(r), dst, a, b, count);
}

void transform(DataType type, const Reduction& r, void* dst, const void* src, size_t count) {
  unary(type, r, r.hasPreScale, usesPost(r), dst, src, count);
}

void preScale(DataType type, const Reduction& r, void* dst, const void* src, size_t count) {
  unary(type, r, r.hasPreScale, false, dst, src, count);
}

void postDivide(DataType type, const Reduction& r, void* dst, const void* src, size_t count) {
  unary(type, r, false, usesPost(r), dst, src, count);
}

const char* reduceImplName() { return detail::activeReduceImpl().name; }

}  // namespace strata::kernels
