// The host executor: runs plans on host memory, moving data through the
// transports' FIFOs slot by slot and reducing with the host kernels as data
// arrives. One calling thread drives the work of one or several
// communicators (a group over several ranks of one process) round-robin;
// when nothing can progress it spins briefly, then sleeps on the doorbells.
#pragma once

#include <vector>

#include "core/status.h"
#include "exec/work.h"

namespace strata::exec {

// Runs all the work to completion, or until an error, a timeout (no progress
// for the communicator's timeout) or an abort. On error every communicator
// involved records it as its asynchronous error.
Status runHostWork(std::vector<RankWork>& work);

}  // namespace strata::exec
