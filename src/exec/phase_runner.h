// A phase that is not a set of plan lanes but runs its own protocol (single
// copy, low latency). The host executor drives it like a lane: advance()
// does a bounded amount of work and never blocks.
#pragma once

#include <string>

#include "core/status.h"

namespace strata::exec {

class PhaseRunner {
 public:
  virtual ~PhaseRunner() = default;
  // True if anything moved.
  virtual StatusOr<bool> advance() = 0;
  virtual bool done() const = 0;
  // What it waits for, for timeout messages.
  virtual std::string describe() const = 0;
  // Health of the links it waits on.
  virtual Status health() = 0;
};

}  // namespace strata::exec
