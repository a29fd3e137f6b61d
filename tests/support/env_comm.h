// A communicator for a test process, created the way a launcher would have
// it created: through strataCommInitFromEnv with STRATA_RANK,
// STRATA_WORLD_SIZE, a root on 127.0.0.1:port and the secret set in the
// environment (other STRATA_* settings are the caller's to set).
#pragma once

#include "nccl.h"

namespace strata::testing {

// nullptr, after printing the error, when the communicator cannot be made.
ncclComm_t initCommFromEnv(int rank, int nranks, int port, const char* secret);

}  // namespace strata::testing
