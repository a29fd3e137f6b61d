// ncclMemAlloc / ncclMemFree: device memory on the caller's current device.
// Without CUDA or a GPU both fail with ncclInvalidUsage and say why.
#include "api/api_util.h"
#include "cuda/runtime.h"

using strata::api::guarded;

NCCL_API_EXPORT ncclResult_t ncclMemAlloc(void** ptr, size_t size) {
  return guarded([&]() -> strata::Status {
    return strata::cuda::deviceAlloc(ptr, size).withContext("ncclMemAlloc");
  });
}
NCCL_API_ALIAS(ncclResult_t, ncclMemAlloc, (void** ptr, size_t size))

NCCL_API_EXPORT ncclResult_t ncclMemFree(void* ptr) {
  return guarded([&]() -> strata::Status {
    return strata::cuda::deviceFree(ptr).withContext("ncclMemFree");
  });
}
NCCL_API_ALIAS(ncclResult_t, ncclMemFree, (void* ptr))
