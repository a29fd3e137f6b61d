#include "core/deadline.h"

#include <climits>

namespace strata {

std::chrono::nanoseconds Deadline::remaining() const {
  if (at_ == Clock::time_point::max()) return std::chrono::nanoseconds::max();
  auto now = Clock::now();
  if (now >= at_) return std::chrono::nanoseconds(0);
  return at_ - now;
}

int Deadline::remainingMs() const {
  auto ns = remaining();
  if (ns == std::chrono::nanoseconds::max()) return INT_MAX;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(ns).count();
  if (ms == 0 && ns.count() > 0) ms = 1;
  return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
}

Deadline Deadline::capped(std::chrono::milliseconds d) const {
  auto other = Clock::now() + d;
  return Deadline(other < at_ ? other : at_);
}

}  // namespace strata
