// Deadlines: every blocking wait in Strata takes one.
#pragma once

#include <atomic>
#include <chrono>

namespace strata {

class Deadline {
 public:
  using Clock = std::chrono::steady_clock;

  static Deadline after(std::chrono::milliseconds d) { return Deadline(Clock::now() + d); }
  static Deadline never() { return Deadline(Clock::time_point::max()); }

  bool expired() const { return Clock::now() >= at_; }
  Clock::time_point at() const { return at_; }
  // Milliseconds left, clamped to [0, INT_MAX]; suitable for poll().
  int remainingMs() const;
  std::chrono::nanoseconds remaining() const;
  // The earlier of this deadline and now + d.
  Deadline capped(std::chrono::milliseconds d) const;

 private:
  explicit Deadline(Clock::time_point at) : at_(at) {}
  Clock::time_point at_;
};

// A flag that stops waits early (ncclCommAbort, a failed peer).
using AbortFlag = std::atomic<bool>;

}  // namespace strata
