#include "cuda/runtime.h"

#include "core/config.h"
#include "core/log.h"

#if STRATA_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

namespace strata::cuda {
namespace {

struct Probe {
  int devices = 0;
  std::string why;  // reason for 0 devices
};

Probe makeProbe() {
  Probe p;
#if STRATA_HAVE_CUDA
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    p.devices = 0;
    p.why = strCat("no usable CUDA driver or GPU (cudaGetDeviceCount: ", cudaErrorText(e), ")");
    cudaGetLastError();  // the error is expected here; do not leave it sticky
  } else {
    p.devices = n;
    if (n == 0) p.why = "no CUDA device is present";
  }
#else
  p.why = "this build has no CUDA support (configured with STRATA_WITH_CUDA=OFF or no toolkit)";
#endif
  return p;
}

// Probed once; every call classifies its buffers, so after the first the
// answer costs one guard check.
const Probe& probe() {
  static const Probe p = makeProbe();
  return p;
}

}  // namespace

bool builtWithCuda() {
#if STRATA_HAVE_CUDA
  return true;
#else
  return false;
#endif
}

int deviceCount() { return probe().devices; }

int currentDevice() {
  if (deviceCount() == 0) return -1;
#if STRATA_HAVE_CUDA
  int d = -1;
  if (cudaGetDevice(&d) != cudaSuccess) {
    cudaGetLastError();
    return -1;
  }
  return d;
#else
  return -1;
#endif
}

bool executorEnabled() { return config::getBool("STRATA_CUDA"); }

Status deviceExecutionAvailable() {
  const Probe& p = probe();
  if (p.devices == 0) {
    return InvalidUsage("device (GPU) buffers are not available: ", p.why,
                        "; pass host memory or run on a machine with a GPU");
  }
  if (!executorEnabled()) {
    return InvalidUsage(
        "device (GPU) buffers are not available: the CUDA executor is turned off (STRATA_CUDA=0)");
  }
  return Status::Ok();
}

LocalGpu localGpu(int device) {
  LocalGpu g;
  if (deviceCount() == 0) return g;
#if STRATA_HAVE_CUDA
  if (device < 0) device = currentDevice();
  if (device < 0) return g;
  char bus[32] = {};
  if (cudaDeviceGetPCIBusId(bus, sizeof bus, device) == cudaSuccess) g.busId = bus;
  if (cudaDeviceGetAttribute(&g.multiprocessors, cudaDevAttrMultiProcessorCount, device) !=
      cudaSuccess) {
    g.multiprocessors = 0;
  }
  cudaGetLastError();
#else
  (void)device;
#endif
  return g;
}

Status deviceAlloc(void** ptr, size_t bytes) {
  if (ptr == nullptr) return InvalidArgument("the pointer to store the allocation in is NULL");
  *ptr = nullptr;
  const Probe& p = probe();
  if (p.devices == 0) return InvalidUsage("device memory is not available: ", p.why);
#if STRATA_HAVE_CUDA
  if (bytes == 0) return Status::Ok();
  cudaError_t e = cudaMalloc(ptr, bytes);
  if (e != cudaSuccess) {
    cudaGetLastError();
    *ptr = nullptr;
    return Status(Code::kCudaError, strCat("cudaMalloc of ", bytes, " bytes: ", cudaErrorText(e)));
  }
  return Status::Ok();
#else
  (void)bytes;
  return InvalidUsage("device memory is not available: this build has no CUDA support");
#endif
}

Status deviceFree(void* ptr) {
  if (ptr == nullptr) return Status::Ok();
  const Probe& p = probe();
  if (p.devices == 0) return InvalidUsage("device memory is not available: ", p.why);
#if STRATA_HAVE_CUDA
  cudaError_t e = cudaFree(ptr);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return Status(Code::kCudaError, strCat("cudaFree: ", cudaErrorText(e)));
  }
  return Status::Ok();
#else
  return InvalidUsage("device memory is not available: this build has no CUDA support");
#endif
}

std::string cudaErrorText(int code) {
#if STRATA_HAVE_CUDA
  auto e = static_cast<cudaError_t>(code);
  return strCat(cudaGetErrorName(e), ": ", cudaGetErrorString(e));
#else
  return strCat("CUDA error ", code, " (CUDA not built)");
#endif
}

}  // namespace strata::cuda
