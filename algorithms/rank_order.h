// The order in which a ring or a chain visits the ranks. Even channels walk
// the ranks upwards (r, r+1, ...), odd channels downwards, so that two
// channels load both directions of every link.
#pragma once

namespace strata::algorithms {

class RankOrder {
 public:
  // Position 0 is `first`; position p is first + p*direction (mod nranks).
  RankOrder(int nranks, int first, int direction)
      : nranks_(nranks), first_(first), direction_(direction) {}

  // The order used by channel `channel`, starting at `first`.
  static RankOrder forChannel(int nranks, int first, int channel) {
    return RankOrder(nranks, first, channel % 2 == 0 ? 1 : -1);
  }

  // The rank at position p; any integer p is taken modulo nranks.
  int rankAt(long long p) const {
    const long long n = nranks_;
    long long r = (first_ + direction_ * (p % n)) % n;
    return static_cast<int>(r < 0 ? r + n : r);
  }

  int positionOf(int rank) const {
    const long long n = nranks_;
    long long p = (static_cast<long long>(rank) - first_) * direction_ % n;
    return static_cast<int>(p < 0 ? p + n : p);
  }

  int nranks() const { return nranks_; }

 private:
  int nranks_;
  int first_;
  int direction_;
};

}  // namespace strata::algorithms
