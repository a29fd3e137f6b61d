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

bool experimentalEnabled() { return config::getBool("STRATA_CUDA_EXPERIMENTAL"); }

Status deviceExecutionAvailable() {
  const Probe& p = probe();
  if (p.devices == 0) {
    return InvalidUsage("device (GPU) buffers are not available: ", p.why,
                        "; pass host memory or run on a machine with a GPU");
  }
  if (!experimentalEnabled()) {
    return InvalidUsage(
        "device (GPU) buffers are not available: the CUDA executor has not been validated on a "
        "GPU yet and is off by default; set STRATA_CUDA_EXPERIMENTAL=1 to try it");
  }
  return Status::Ok();
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
