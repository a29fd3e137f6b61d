// The low-latency all-reduce for small messages between ranks that reach
// each other through memory. Every rank copies its input into a mailbox in
// each peer's memory and then publishes a header word (the call's sequence
// number, size and type) with a release store; a reader that acquires a
// header with the expected sequence number sees the data before it. There
// is no head/tail bookkeeping and no acknowledgement: one handoff per call,
// and peers reduce straight from the mailboxes. Every rank reduces the n
// contributions in rank order 0..n-1, so all ranks hold identical bits.
//
// Mailboxes alternate between two halves by sequence parity. A writer of
// call s reuses the half of call s-2, which every reader has finished: the
// writer is in call s only after receiving everyone's call s-1 data, which
// each rank sends only after finishing call s-2.
//
// The header carries the byte count and datatype, so ranks that disagree on
// the call get an error instead of reading a wrong-sized message.
#pragma once

#include <memory>
#include <string>

#include "exec/phase_runner.h"
#include "exec/work.h"
#include "comm/low_latency_links.h"

namespace strata::exec {

class LowLatencyRunner final : public PhaseRunner {
 public:
  // One runner serves call after call (the executor keeps it per thread):
  // start() sets it up for the next one without allocating. The task must
  // outlive the call (it is the phase's).
  LowLatencyRunner();
  ~LowLatencyRunner() override;
  void start(Communicator* comm, const LowLatencyTask& task);
  StatusOr<bool> advance() override;
  bool done() const override;
  std::string describe() const override;
  Status health() override;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace strata::exec
