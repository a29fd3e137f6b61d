// Version, error strings and the last-error text.
#include <string>

#include "api/api_util.h"
#include "core/log.h"

namespace strata::api {
namespace {
thread_local std::string tlsLastError;
}

void setLastError(const std::string& text) { tlsLastError = text; }
const char* lastError() { return tlsLastError.c_str(); }

ncclResult_t report(const Status& s) {
  if (s.ok()) return ncclSuccess;
  setLastError(s.message());
  STRATA_WARN(log::kAll, s.toString());
  return static_cast<ncclResult_t>(s.code());
}

}  // namespace strata::api

using strata::api::guarded;

NCCL_API_EXPORT ncclResult_t ncclGetVersion(int* version) {
  return guarded([&]() -> strata::Status {
    if (version == nullptr) return strata::InvalidArgument("ncclGetVersion: version is NULL");
    *version = NCCL_VERSION_CODE;
    return strata::Status::Ok();
  });
}
NCCL_API_ALIAS(ncclResult_t, ncclGetVersion, (int* version))

NCCL_API_EXPORT const char* ncclGetErrorString(ncclResult_t result) {
  switch (strata::api::rawEnum(result)) {
    case ncclSuccess: return "no error";
    case ncclUnhandledCudaError: return "unhandled cuda error (run with NCCL_DEBUG=INFO for details)";
    case ncclSystemError: return "unhandled system error (run with NCCL_DEBUG=INFO for details)";
    case ncclInternalError: return "internal error - please report this issue to the Strata developers";
    case ncclInvalidArgument: return "invalid argument (run with NCCL_DEBUG=WARN for details)";
    case ncclInvalidUsage: return "invalid usage (run with NCCL_DEBUG=WARN for details)";
    case ncclRemoteError: return "remote process exited or there was a network error";
    case ncclInProgress: return "NCCL operation in progress";
    default: return "unknown result code";
  }
}
NCCL_API_ALIAS(const char*, ncclGetErrorString, (ncclResult_t result))

NCCL_API_EXPORT const char* ncclGetLastError(ncclComm_t) { return strata::api::lastError(); }
NCCL_API_ALIAS(const char*, ncclGetLastError, (ncclComm_t comm))

NCCL_API_EXPORT void ncclResetDebugInit(void) { strata::log::reset(); }
NCCL_API_ALIAS(void, ncclResetDebugInit, (void))
