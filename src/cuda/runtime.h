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

// STRATA_CUDA (default on): collectives on device buffers run on the CUDA
// executor; off, they are refused.
bool executorEnabled();

// Ok when collectives on device buffers can run in this process;
// otherwise InvalidUsage saying why (no CUDA in the build, no GPU or
// driver, or the device executor not enabled).
Status deviceExecutionAvailable();

// A GPU as the device channel count needs it: its PCI bus id and its
// multiprocessors. `device` -1: the calling thread's current device. Empty
// and 0 without CUDA or a GPU.
struct LocalGpu {
  std::string busId;
  int multiprocessors = 0;
};
LocalGpu localGpu(int device);

// Device memory on the calling thread's current device (ncclMemAlloc /
// ncclMemFree). InvalidUsage without CUDA or a GPU; CudaError when the
// runtime refuses.
Status deviceAlloc(void** ptr, size_t bytes);
Status deviceFree(void* ptr);

// The text of a CUDA runtime error code ("cudaErrorNoDevice: no CUDA-capable
// device is detected"); "CUDA not built" without CUDA.
std::string cudaErrorText(int code);

}  // namespace strata::cuda
