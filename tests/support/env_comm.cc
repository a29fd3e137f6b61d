#include "support/env_comm.h"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "strata.h"

namespace strata::testing {

ncclComm_t initCommFromEnv(int rank, int nranks, int port, const char* secret) {
  setenv("STRATA_RANK", std::to_string(rank).c_str(), 1);
  setenv("STRATA_WORLD_SIZE", std::to_string(nranks).c_str(), 1);
  setenv("STRATA_ROOT_ADDR", ("127.0.0.1:" + std::to_string(port)).c_str(), 1);
  setenv("STRATA_SECRET", secret, 1);
  ncclComm_t comm = nullptr;
  if (strataCommInitFromEnv(&comm) != ncclSuccess) {
    std::fprintf(stderr, "rank %d: init: %s\n", rank, ncclGetLastError(nullptr));
    return nullptr;
  }
  return comm;
}

}  // namespace strata::testing
