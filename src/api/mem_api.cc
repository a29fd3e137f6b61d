// ncclMemAlloc / ncclMemFree: device memory on the caller's current device.
// Without CUDA or a GPU both fail with ncclInvalidUsage and say why.
// strataMemAllocHost / strataMemFreeHost: shared host buffers
// (transports/host_window.h).
#include "api/api_util.h"
#include "cuda/runtime.h"
#include "strata.h"
#include "transports/host_window.h"

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

NCCL_API_EXPORT ncclResult_t strataMemAllocHost(void** ptr, size_t size) {
  return guarded([&]() -> strata::Status {
    if (ptr == nullptr) return strata::InvalidArgument("strataMemAllocHost: ptr is NULL");
    *ptr = nullptr;
    auto p = strata::transport::allocateWindow(size);
    if (!p.ok()) {
      strata::Status s = p.status();
      return s.withContext("strataMemAllocHost");
    }
    *ptr = p.value();
    return strata::Status::Ok();
  });
}

NCCL_API_EXPORT ncclResult_t strataMemFreeHost(void* ptr) {
  return guarded([&]() -> strata::Status {
    if (ptr == nullptr || strata::transport::freeWindow(ptr)) return strata::Status::Ok();
    return strata::InvalidArgument("strataMemFreeHost: ", ptr,
                                   " is not a buffer from strataMemAllocHost (or was freed already)");
  });
}
