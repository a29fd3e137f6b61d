// Multi-rank test helpers. Every multi-rank test runs under a watchdog: a
// hang fails the test within its time limit instead of stalling CI.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace strata::testing {

// While alive, aborts the process with a message once `seconds` pass.
class Watchdog {
 public:
  Watchdog(int seconds, std::string what);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

 private:
  struct State;
  State* state_;
};

// Runs fn(rank) for rank in [0, n) on n threads and joins them. The whole
// run is under a Watchdog of timeoutSec.
void runThreads(int n, const std::function<void(int rank)>& fn, int timeoutSec = 120);

// Forks n processes; child `rank` runs fn(rank) and exits with its return
// value (a gtest failure inside the child counts as nonzero). The parent waits
// at most timeoutSec, then kills the children. Returns each child's exit code
// (128+signal if killed; -1 if it had to be killed for the timeout).
std::vector<int> runProcesses(int n, const std::function<int(int rank)>& fn,
                              int timeoutSec = 120);

// Sets an environment variable for the lifetime of the object.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value);
  ~ScopedEnv();

 private:
  std::string name_;
  bool hadOld_;
  std::string old_;
};

}  // namespace strata::testing
