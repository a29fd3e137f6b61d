// ncclComm_t handles. A handle is valid from creation until ncclCommDestroy
// or ncclCommAbort; every entry point looks it up in the registry of live
// handles first, so a destroyed or made-up handle is an error, not a crash.
#pragma once

#include <memory>

#include "comm/communicator.h"
#include "core/status.h"
#include "nccl.h"

struct ncclComm {
  std::unique_ptr<strata::Communicator> impl;  // null until initialisation finished
  strata::Status initStatus;                   // result of a deferred (grouped) init
};

namespace strata::api {

ncclComm* newHandle();
// Removes the handle from the registry and frees it (after its operations drained).
void destroyHandle(ncclComm* handle);
// The communicator behind a live, initialised handle.
StatusOr<Communicator*> lookup(const ncclComm* handle, const char* function);
// Live handle, initialised or not.
bool isLive(const ncclComm* handle);

}  // namespace strata::api
