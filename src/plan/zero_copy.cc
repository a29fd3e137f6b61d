#include "plan/zero_copy.h"

#include <algorithm>

namespace strata::plan {
namespace {

// One step's use of an element range of Input or Output.
struct Access {
  size_t begin = 0;
  size_t end = 0;
  uint32_t program = 0;
  uint32_t step = 0;
  bool write = false;
  bool returnsOwn = false;  // the step's Step::returnsOwn
};

// The accesses of one buffer, sorted by where they begin, with the longest
// one's length: a range [b, e) can only overlap accesses that begin in
// (b - longest, e).
class AccessIndex {
 public:
  void add(const Access& a) {
    accesses_.push_back(a);
    longest_ = std::max(longest_, a.end - a.begin);
  }
  void seal() {
    std::sort(accesses_.begin(), accesses_.end(),
              [](const Access& x, const Access& y) { return x.begin < y.begin; });
  }
  // True if some access overlapping [b, e) satisfies conflict(access).
  template <class Pred>
  bool any(size_t b, size_t e, Pred conflict) const {
    size_t from = b >= longest_ ? b - longest_ + 1 : 0;
    auto it = std::lower_bound(accesses_.begin(), accesses_.end(), from,
                               [](const Access& a, size_t v) { return a.begin < v; });
    for (; it != accesses_.end() && it->begin < e; ++it) {
      if (it->end > b && conflict(*it)) return true;
    }
    return false;
  }

 private:
  std::vector<Access> accesses_;
  size_t longest_ = 0;
};

bool inUserBuffer(Buf b) { return b == Buf::kInput || b == Buf::kOutput; }

// The region whose bytes a step sends and that could be sent in place, if any.
const Ref* sentRegion(const Step& s) {
  switch (s.op) {
    case Op::kSend: return &s.src;
    case Op::kRecvCopySend:
    case Op::kRecvReduceCopySend: return &s.dst;
    default: return nullptr;
  }
}

// The region a step receives into that a transport could write directly.
const Ref* receivedRegion(const Step& s) {
  switch (s.op) {
    case Op::kRecv:
    case Op::kRecvCopySend: return &s.dst;
    default: return nullptr;
  }
}

}  // namespace

ZeroCopyMap analyzeZeroCopy(const RankPlan& plan, std::optional<int64_t> inputAt) {
  ZeroCopyMap map;
  map.aliased = inputAt.has_value();
  map.inputAt = inputAt.value_or(0);
  // Separate: Input in index 0 and Output in index 1, at their own offsets.
  // Aliased: both in index 0, at Output's offsets moved by `bias` so that
  // none is negative.
  AccessIndex index[2];
  const uint64_t bias = map.inputAt < 0 ? static_cast<uint64_t>(-map.inputAt) : 0;
  auto indexOf = [&](Buf b) { return map.aliased || b == Buf::kInput ? 0 : 1; };
  auto where = [&](const Ref& r) -> size_t {
    if (!map.aliased) return r.offset;
    return r.offset + bias + (r.buf == Buf::kInput ? static_cast<uint64_t>(map.inputAt) : 0);
  };
  map.flags.resize(plan.programs.size());
  map.recvPosition.resize(plan.programs.size());
  for (size_t p = 0; p < plan.programs.size(); ++p) {
    const auto& steps = plan.programs[p].steps;
    map.flags[p].assign(steps.size(), 0);
    map.recvPosition[p].assign(steps.size(), 0);
    std::vector<size_t> received(static_cast<size_t>(std::max(plan.nranks, 1)), 0);
    for (size_t i = 0; i < steps.size(); ++i) {
      const Step& s = steps[i];
      if (opRecvs(s.op) && s.recvPeer >= 0) {
        if (static_cast<size_t>(s.recvPeer) >= received.size()) received.resize(s.recvPeer + 1, 0);
        map.recvPosition[p][i] = received[s.recvPeer];
        received[s.recvPeer] += s.count;
      }
      if (s.count == 0) continue;
      auto note = [&](const Ref& r, bool write) {
        if (!inUserBuffer(r.buf)) return;
        Access a{where(r), where(r) + s.count, static_cast<uint32_t>(p), static_cast<uint32_t>(i),
                 write, s.returnsOwn};
        index[indexOf(r.buf)].add(a);
        size_t& extent = r.buf == Buf::kInput ? map.inputExtent : map.outputExtent;
        extent = std::max(extent, r.offset + s.count);
        if (write && r.buf == Buf::kInput) map.writesInput = true;
      };
      if (opReadsSrc(s.op)) note(s.src, false);
      if (s.op == Op::kLocalReduce) note(s.src2, false);
      if (opWritesDst(s.op)) note(s.dst, true);
    }
  }
  for (auto& ix : index) ix.seal();

  for (size_t p = 0; p < plan.programs.size(); ++p) {
    const auto& steps = plan.programs[p].steps;
    for (size_t i = 0; i < steps.size(); ++i) {
      const Step& s = steps[i];
      if (s.count == 0) continue;
      const uint32_t prog = static_cast<uint32_t>(p);
      const uint32_t step = static_cast<uint32_t>(i);
      if (const Ref* r = sentRegion(s); r != nullptr && inUserBuffer(r->buf)) {
        bool changed = index[indexOf(r->buf)].any(where(*r), where(*r) + s.count,
                                                  [&](const Access& a) {
          return a.write && (a.program != prog || (a.step > step && !a.returnsOwn));
        });
        if (!changed) map.flags[p][i] |= kStableSend;
      }
      if (const Ref* r = receivedRegion(s); r != nullptr && inUserBuffer(r->buf)) {
        bool touched = index[indexOf(r->buf)].any(where(*r), where(*r) + s.count,
                                                  [&](const Access& a) {
          return a.program != prog || (a.step < step && (a.write || !s.returnsOwn));
        });
        if (!touched) map.flags[p][i] |= kUntouchedRecv;
      }
    }
  }
  return map;
}

std::optional<int64_t> inPlaceInputAt(const CollArgs& args) {
  int64_t shift = 0;
  if (args.count > static_cast<size_t>(INT64_MAX) ||
      __builtin_mul_overflow(static_cast<int64_t>(args.rank), static_cast<int64_t>(args.count),
                             &shift)) {
    return std::nullopt;
  }
  switch (args.type) {
    case CollType::kAllReduce:
    case CollType::kBroadcast:
    case CollType::kReduce: return 0;
    case CollType::kAllGather: return shift;
    case CollType::kReduceScatter: return -shift;
    default: return std::nullopt;
  }
}

}  // namespace strata::plan
