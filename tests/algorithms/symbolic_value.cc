#include "algorithms/symbolic_value.h"

#include <algorithm>
#include <iterator>
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

ValueHandle ValuePool::add(Reduced r) {
  reduced_.push_back(std::move(r));
  return static_cast<ValueHandle>(reduced_.size() - 1);
}

ValueHandle ValuePool::reduce(ValueHandle a, ValueHandle b) {
  Reduced r;
  int finA = 0;
  int finB = 0;
  std::vector<uint64_t> partsA;
  std::vector<uint64_t> partsB;
  auto load = [this](ValueHandle v, std::vector<uint64_t>& parts, int& fin, bool& raf) {
    if (isInline(v)) {
      parts.push_back(withoutFin(v));
      fin = finOf(v);
    } else {
      const Reduced& src = reduced_[v];
      parts = src.parts;
      fin = src.finalized;
      raf = raf || src.reducedAfterFinalize;
    }
  };
  load(a, partsA, finA, r.reducedAfterFinalize);
  load(b, partsB, finB, r.reducedAfterFinalize);
  r.parts.reserve(partsA.size() + partsB.size());
  std::merge(partsA.begin(), partsA.end(), partsB.begin(), partsB.end(),
             std::back_inserter(r.parts));
  r.finalized = static_cast<uint8_t>(std::min(finA + finB, 15));
  r.reducedAfterFinalize = r.reducedAfterFinalize || finA > 0 || finB > 0;
  return add(std::move(r));
}

ValueHandle ValuePool::preScale(ValueHandle v) {
  if (isInline(v)) return bumpPre(v);
  Reduced r = reduced_[v];
  for (uint64_t& p : r.parts) p = bumpPre(p);
  return add(std::move(r));
}

ValueHandle ValuePool::finalize(ValueHandle v) {
  if (isInline(v)) return bumpFin(v);
  Reduced r = reduced_[v];
  if (r.finalized < 15) ++r.finalized;
  return add(std::move(r));
}

ExpandedValue ValuePool::expand(ValueHandle v) const {
  ExpandedValue e;
  if (isInline(v)) {
    e.contributions.push_back(unpack(v));
    e.finalized = finOf(v);
    return e;
  }
  const Reduced& r = reduced_[v];
  for (uint64_t p : r.parts) e.contributions.push_back(unpack(p));
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

void ValuePool::clear() { reduced_.clear(); }

}  // namespace strata::testing
