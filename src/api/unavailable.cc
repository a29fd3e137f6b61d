// Entry points of the NCCL 2.28 API that Strata does not provide yet. Each
// fails with ncclInvalidUsage and says so in ncclGetLastError; none pretends
// to succeed.
#include "api/api_util.h"

namespace {

ncclResult_t unavailable(const char* fn, const char* why) {
  return strata::api::report(strata::InvalidUsage(fn, " is not available in this Strata build: ", why));
}

}  // namespace

NCCL_API_EXPORT ncclResult_t ncclCommShrink(ncclComm_t, int*, int, ncclComm_t*, ncclConfig_t*, int) {
  return unavailable("ncclCommShrink", "shrinking needs fault-tolerant bootstrap (planned)");
}
NCCL_API_ALIAS(ncclResult_t, ncclCommShrink,
               (ncclComm_t comm, int* excludeRanksList, int excludeRanksCount, ncclComm_t* newcomm,
                ncclConfig_t* config, int shrinkFlags))

NCCL_API_EXPORT ncclResult_t ncclCommRegister(const ncclComm_t, void*, size_t, void**) {
  return unavailable("ncclCommRegister", "buffer registration comes with the CUDA and RDMA paths");
}
NCCL_API_ALIAS(ncclResult_t, ncclCommRegister,
               (const ncclComm_t comm, void* buff, size_t size, void** handle))

NCCL_API_EXPORT ncclResult_t ncclCommDeregister(const ncclComm_t, void*) {
  return unavailable("ncclCommDeregister", "buffer registration comes with the CUDA and RDMA paths");
}
NCCL_API_ALIAS(ncclResult_t, ncclCommDeregister, (const ncclComm_t comm, void* handle))

NCCL_API_EXPORT ncclResult_t ncclCommWindowRegister(ncclComm_t, void*, size_t, ncclWindow_t*, int) {
  return unavailable("ncclCommWindowRegister", "symmetric memory windows need the CUDA path");
}
NCCL_API_ALIAS(ncclResult_t, ncclCommWindowRegister,
               (ncclComm_t comm, void* buff, size_t size, ncclWindow_t* win, int winFlags))

NCCL_API_EXPORT ncclResult_t ncclCommWindowDeregister(ncclComm_t, ncclWindow_t) {
  return unavailable("ncclCommWindowDeregister", "symmetric memory windows need the CUDA path");
}
NCCL_API_ALIAS(ncclResult_t, ncclCommWindowDeregister, (ncclComm_t comm, ncclWindow_t win))

NCCL_API_EXPORT ncclResult_t ncclGroupSimulateEnd(ncclSimInfo_t*) {
  return unavailable("ncclGroupSimulateEnd", "the cost model arrives with the simulator");
}
NCCL_API_ALIAS(ncclResult_t, ncclGroupSimulateEnd, (ncclSimInfo_t * simInfo))

NCCL_API_EXPORT ncclResult_t ncclDevCommCreate(ncclComm_t, const ncclDevCommRequirements*,
                                               ncclDevComm*) {
  return unavailable("ncclDevCommCreate",
                     "NCCL's device-side communication API (kernels that communicate "
                     "themselves) is not provided");
}
NCCL_API_ALIAS(ncclResult_t, ncclDevCommCreate,
               (ncclComm_t comm, const ncclDevCommRequirements* reqs, ncclDevComm* outDevComm))

NCCL_API_EXPORT ncclResult_t ncclDevCommDestroy(ncclComm_t, const ncclDevComm*) {
  return unavailable("ncclDevCommDestroy",
                     "NCCL's device-side communication API (kernels that communicate "
                     "themselves) is not provided");
}
NCCL_API_ALIAS(ncclResult_t, ncclDevCommDestroy, (ncclComm_t comm, const ncclDevComm* devComm))
