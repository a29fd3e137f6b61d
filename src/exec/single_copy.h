// Single-copy collectives for ranks that share one host. Instead of
// streaming data through FIFO slots (one copy into a slot, one out of it),
// every rank reads its peers' buffers directly: through the pointer for a
// rank of the same process; for another process, through a read-only
// mapping of the peer's buffer where it lies in a shared host buffer
// (strataMemAllocHost, transports/host_window.h), else with cross-memory
// attach (process_vm_readv) where that is enabled. When only shared buffers
// could serve an operation (SingleCopyTask::ifShared), the announcements of
// step 1 tell every rank whether all of them are: if not, all ranks decline
// together and run the operation through the FIFOs. Each byte crosses memory once per reader, and ranks meet
// only at three small control exchanges instead of at every slot, which also
// suits more ranks than cores.
//
// All-reduce, n ranks, rank r owns chunk r of the buffer:
//   1. announce  send every peer the addresses of my input and output
//   2. reduce    output[chunk r] = input_0 op input_1 op ... op input_{n-1}
//                over chunk r, in rank order, reading peers' inputs in
//                cache-sized blocks
//   3. reduced   tell every peer chunk r is final; wait for all of theirs
//   4. gather    output[chunk p] = rank p's output[chunk p], for p != r
//   5. finished  tell every peer I no longer read its buffers; wait for all
//                of theirs (a rank's buffers must not change under a reader)
// Reduce-scatter is steps 1, 2 (into the output) and 5; all-gather 1, 4
// (from the peers' inputs) and 5; broadcast 1, 4 (non-roots read the root's
// input) and 5. Each chunk is reduced by one rank and copied by the others,
// so every rank ends with identical bits.
//
// The control messages use channel 0's FIFOs and carry the collective, count
// and datatype: ranks that called different operations get an error instead
// of reading the wrong memory.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "exec/phase_runner.h"
#include "exec/work.h"

namespace strata::exec {

class SingleCopyRunner final : public PhaseRunner {
 public:
  SingleCopyRunner(Communicator* comm, const SingleCopyTask& task);
  ~SingleCopyRunner();
  SingleCopyRunner(const SingleCopyRunner&) = delete;
  SingleCopyRunner& operator=(const SingleCopyRunner&) = delete;

  StatusOr<bool> advance() override;
  bool done() const override;
  std::string describe() const override;
  Status health() override;
  // The ranks found a buffer that must be read across processes outside
  // any shared host buffer (SingleCopyTask::ifShared): the runner is done
  // without moving data, and the phase runs its lanes instead.
  bool declined() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace strata::exec
