#include "algorithms/symbolic_value.h"

#include <algorithm>
#include <sstream>

namespace strata::testing {

// Handle layout. Inline (bit 63 set): rank in bits 47..62, index in bits
// 7..46, pre-scale count in bits 4..6, finalize count in bits 0..3 (both
// saturate). Pooled (bit 63 clear): the index into reduced_.
// A packed contribution inside a pooled value uses the inline layout with a
// finalize count of 0.
namespace {

constexpr uint64_t kInline = uint64_t{1} << 63;
constexpr int kRankShift = 47;
constexpr int kIndexShift = 7;
constexpr int kPreShift = 4;
constexpr uint64_t kPreMask = 0x7;
constexpr uint64_t kFinMask = 0xF;
constexpr uint64_t kIndexMask = (uint64_t{1} << 40) - 1;

bool isInline(ValueHandle v) { return (v & kInline) != 0; }
int finOf(uint64_t packed) { return static_cast<int>(packed & kFinMask); }
uint64_t withoutFin(uint64_t packed) { return packed & ~kFinMask; }

uint64_t bumpPre(uint64_t packed) {
  uint64_t pre = (packed >> kPreShift) & kPreMask;
  if (pre < kPreMask) packed += uint64_t{1} << kPreShift;
  return packed;
}

uint64_t bumpFin(uint64_t packed) { return (packed & kFinMask) < kFinMask ? packed + 1 : packed; }

Contribution unpack(uint64_t packed) {
  Contribution c;
  c.rank = static_cast<int>((packed >> kRankShift) & 0xFFFF);
  c.index = static_cast<size_t>((packed >> kIndexShift) & kIndexMask);
  c.preScaled = static_cast<int>((packed >> kPreShift) & kPreMask);
  return c;
}

}  // namespace

ValueHandle ValuePool::symbol(int rank, size_t index) {
  return kInline | (static_cast<uint64_t>(rank) << kRankShift) |
         (static_cast<uint64_t>(index & kIndexMask) << kIndexShift);
}

ValueHandle ValuePool::add(const Reduced& r) {
  reduced_.push_back(r);
  return static_cast<ValueHandle>(reduced_.size() - 1);
}

ValuePool::Reduced ValuePool::copyOf(ValueHandle v) {
  Reduced r = reduced_[v];
  const size_t from = r.begin;
  r.begin = parts_.size();
  parts_.resize(parts_.size() + r.size);
  std::copy_n(parts_.begin() + static_cast<std::ptrdiff_t>(from), r.size,
              parts_.begin() + static_cast<std::ptrdiff_t>(r.begin));
  return r;
}

ValueHandle ValuePool::reduce(ValueHandle a, ValueHandle b) {
  // Where a value's parts are: the inline contribution itself (copied into
  // `single`), or a range of the arena (as offsets: the arena grows below).
  struct Parts {
    uint64_t single = 0;
    bool isSingle = false;
    size_t begin = 0;
    size_t size = 1;
    int fin = 0;
    bool reducedAfterFinalize = false;
  };
  auto partsOf = [this](ValueHandle v) {
    Parts p;
    if (isInline(v)) {
      p.single = withoutFin(v);
      p.isSingle = true;
      p.fin = finOf(v);
    } else {
      const Reduced& r = reduced_[v];
      p.begin = r.begin;
      p.size = r.size;
      p.fin = r.finalized;
      p.reducedAfterFinalize = r.reducedAfterFinalize;
    }
    return p;
  };
  const Parts pa = partsOf(a);
  const Parts pb = partsOf(b);
  Reduced r;
  r.begin = parts_.size();
  r.size = static_cast<uint32_t>(pa.size + pb.size);
  parts_.resize(parts_.size() + r.size);
  const uint64_t* first = pa.isSingle ? &pa.single : parts_.data() + pa.begin;
  const uint64_t* second = pb.isSingle ? &pb.single : parts_.data() + pb.begin;
  std::merge(first, first + pa.size, second, second + pb.size, parts_.data() + r.begin);
  r.finalized = static_cast<uint8_t>(std::min(pa.fin + pb.fin, 15));
  r.reducedAfterFinalize =
      pa.reducedAfterFinalize || pb.reducedAfterFinalize || pa.fin > 0 || pb.fin > 0;
  return add(r);
}

ValueHandle ValuePool::preScale(ValueHandle v) {
  if (isInline(v)) return bumpPre(v);
  const Reduced r = copyOf(v);
  for (size_t i = 0; i < r.size; ++i) parts_[r.begin + i] = bumpPre(parts_[r.begin + i]);
  return add(r);
}

ValueHandle ValuePool::finalize(ValueHandle v) {
  if (isInline(v)) return bumpFin(v);
  Reduced r = reduced_[v];  // same parts, one more finalize
  if (r.finalized < 15) ++r.finalized;
  return add(r);
}

ExpandedValue ValuePool::expand(ValueHandle v) const {
  ExpandedValue e;
  if (isInline(v)) {
    e.contributions.push_back(unpack(v));
    e.finalized = finOf(v);
    return e;
  }
  const Reduced& r = reduced_[v];
  for (size_t i = 0; i < r.size; ++i) e.contributions.push_back(unpack(parts_[r.begin + i]));
  e.finalized = r.finalized;
  e.reducedAfterFinalize = r.reducedAfterFinalize;
  return e;
}

std::string ValuePool::describe(ValueHandle v) const {
  const ExpandedValue e = expand(v);
  std::ostringstream os;
  os << '{';
  for (size_t i = 0; i < e.contributions.size(); ++i) {
    const Contribution& c = e.contributions[i];
    if (i > 0) os << ' ';
    os << '(' << c.rank << ',' << c.index << ')';
    if (c.preScaled > 0) os << "*pre" << c.preScaled;
  }
  os << '}';
  if (e.finalized > 0) os << " finalized x" << e.finalized;
  if (e.reducedAfterFinalize) os << " (reduced after finalize)";
  return os.str();
}

void ValuePool::clear() {
  reduced_.clear();
  parts_.clear();
}

}  // namespace strata::testing
