// Whether device buffers can be used, and why not. A CUDA build links the
// CUDA runtime statically; the runtime opens the driver only when a CUDA
// call is made, so on a machine without a driver or a GPU every query here
// answers "no device" instead of failing.
#pragma once

#include <string>

#include "core/status.h"

namespace strata::cuda {

// True when this build has CUDA support compiled in.
bool builtWithCuda();

// Devices the CUDA runtime sees; 0 without CUDA, driver or GPU. Queried once.
int deviceCount();

// The calling thread's current device, or -1 without CUDA or a GPU.
int currentDevice();

// STRATA_CUDA_EXPERIMENTAL: allow the device executor, which has not yet
// been run on a GPU by this project's tests.
bool experimentalEnabled();

// Ok when collectives on device buffers can run in this process;
// otherwise InvalidUsage saying why (no CUDA in the build, no GPU or
// driver, or the device executor not enabled).
Status deviceExecutionAvailable();

// The text of a CUDA runtime error code ("cudaErrorNoDevice: no CUDA-capable
// device is detected"); "CUDA not built" without CUDA.
std::string cudaErrorText(int code);

}  // namespace strata::cuda
