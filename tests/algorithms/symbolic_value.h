// Symbolic element values for the plan verifier. Every element of a rank's
// Input starts as the symbol (rank, index); reductions build multisets of
// such contributions. Each contribution counts how often it was pre-scaled,
// each value how often it was finalized (post-divided).
//
// A value is a 64-bit handle: a single contribution is stored inline, a
// reduced value lives in the ValuePool. Values never change; operations make
// new handles.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace strata::testing {

using ValueHandle = uint64_t;

// One rank's input element with the number of times it was pre-scaled.
struct Contribution {
  int rank = 0;
  size_t index = 0;
  int preScaled = 0;

  bool operator==(const Contribution&) const = default;
};

// A value spelled out: its contributions sorted by (rank, index), how often
// it was finalized, and whether a finalized value was reduced further.
struct ExpandedValue {
  std::vector<Contribution> contributions;
  int finalized = 0;
  bool reducedAfterFinalize = false;
};

class ValuePool {
 public:
  // Largest rank and index a symbol can hold.
  static constexpr int kMaxRank = (1 << 16) - 1;
  static constexpr size_t kMaxIndex = (size_t{1} << 40) - 1;

  static ValueHandle symbol(int rank, size_t index);

  // a op b.
  ValueHandle reduce(ValueHandle a, ValueHandle b);
  // Every contribution pre-scaled once more.
  ValueHandle preScale(ValueHandle v);
  // Post-divided once more.
  ValueHandle finalize(ValueHandle v);

  ExpandedValue expand(ValueHandle v) const;
  std::string describe(ValueHandle v) const;

  // Drops all reduced values (handles from before become invalid).
  void clear();

 private:
  // A pooled value: parts_[begin, begin+size) are its packed contributions,
  // sorted. One arena for all values keeps reductions allocation-free.
  struct Reduced {
    size_t begin = 0;
    uint32_t size = 0;
    uint8_t finalized = 0;
    bool reducedAfterFinalize = false;
  };

  ValueHandle add(const Reduced& r);
  // A copy of v's parts at the end of the arena, as a new (unregistered) value.
  Reduced copyOf(ValueHandle v);

  std::vector<Reduced> reduced_;
  std::vector<uint64_t> parts_;
};

}  // namespace strata::testing
