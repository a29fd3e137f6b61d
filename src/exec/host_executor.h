// The host executor: runs plans on host memory, moving data through the
// transports' FIFOs slot by slot and reducing with the host kernels as data
// arrives. One calling thread drives the work of one or several
// communicators (a group over several ranks of one process) round-robin;
// when nothing can progress it spins briefly, then sleeps on the doorbells.
#pragma once

#include <memory>
#include <vector>

#include "core/status.h"
#include "exec/work.h"

namespace strata::exec {

// The memory of a run's bookkeeping (lanes, scratch, receive offsets, the
// low-latency runner), kept by the calling thread from one call to the
// next so that small calls allocate nothing. Not shared between threads.
class RunCache {
 public:
  RunCache();
  ~RunCache();
  RunCache(const RunCache&) = delete;
  RunCache& operator=(const RunCache&) = delete;
  struct Runs;  // host_executor.cc

 private:
  friend Status runHostWork(std::vector<RankWork>& work, RunCache& cache);
  friend Status runLowLatencyCall(Communicator& comm, const LowLatencyTask& task, RunCache& cache);
  std::unique_ptr<Runs> runs_;
};

// Runs all the work to completion, or until an error, a timeout (no progress
// for the communicator's timeout) or an abort. On error every communicator
// involved records it as its asynchronous error.
Status runHostWork(std::vector<RankWork>& work, RunCache& cache);

// One low-latency all-reduce called outside a group, run without building
// a phase for it: what runHostWork would do with the same work, in less
// time (an 8-byte call costs a few hundred nanoseconds, and building and
// running a phase for it was about a fifth of that). The caller has
// checked Communicator::useLowLatency and holds the communicator's
// operation count (enterOperation). Errors are recorded as with runHostWork.
Status runLowLatencyCall(Communicator& comm, const LowLatencyTask& task, RunCache& cache);

}  // namespace strata::exec
