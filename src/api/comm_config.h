// Reads a caller's ncclConfig_t, honouring its size/version so that structs
// from older NCCL headers (fewer fields) are read correctly.
#pragma once

#include "comm/communicator.h"
#include "core/status.h"
#include "nccl.h"

namespace strata::api {

// config may be NULL (defaults). `base` supplies values the config leaves
// undefined (a split inherits its parent's options).
StatusOr<CommOptions> parseConfig(const ncclConfig_t* config, const CommOptions& base = {});

}  // namespace strata::api
