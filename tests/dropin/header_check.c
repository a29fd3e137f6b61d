/* nccl.h must compile as C with and without the CUDA headers, give NCCL
 * 2.28's values, and keep the ABI layout: the build compiles this file both
 * ways (with CUDA's include directory when the toolkit is present). */
#include <stddef.h>

#include "nccl.h"

#define CHECK(cond) typedef char check_##__LINE__[(cond) ? 1 : -1]
#define STATIC_ASSERT(cond, name) typedef char name[(cond) ? 1 : -1]

STATIC_ASSERT(NCCL_VERSION_CODE == 22803, version_code);
STATIC_ASSERT(NCCL_VERSION(2, 28, 3) == 22803, version_macro);
STATIC_ASSERT(sizeof(ncclUniqueId) == 128, unique_id_size);
STATIC_ASSERT(ncclNumResults == 8 && ncclInProgress == 7 && ncclRemoteError == 6, results);
STATIC_ASSERT(ncclFloat8e4m3 == 10 && ncclFloat8e5m2 == 11 && ncclNumTypes == 12, datatypes);
STATIC_ASSERT(ncclBfloat16 == 9 && ncclFloat64 == 8 && ncclHalf == 6, datatypes_old);
STATIC_ASSERT(ncclAvg == 4 && ncclNumOps == 5 && sizeof(ncclRedOp_t) == 4, redops);
STATIC_ASSERT(offsetof(ncclConfig_t, blocking) == 16, config_blocking);
STATIC_ASSERT(offsetof(ncclConfig_t, netName) == 32, config_netname);
STATIC_ASSERT(offsetof(ncclConfig_t, commName) == 48, config_commname);
STATIC_ASSERT(offsetof(ncclConfig_t, nvlinkCentricSched) == 76, config_last);
STATIC_ASSERT(sizeof(ncclConfig_t) == 80, config_size);
STATIC_ASSERT(sizeof(cudaStream_t) == sizeof(void*), stream_is_a_pointer);

int main(void) {
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  ncclSimInfo_t sim = NCCL_SIM_INFO_INITIALIZER;
  /* Every 2.28 entry point is declared: take their addresses. */
  void* fns[] = {(void*)ncclGetVersion, (void*)ncclGetUniqueId, (void*)ncclCommInitRank,
                 (void*)ncclCommInitRankConfig, (void*)ncclCommInitAll,
                 (void*)ncclCommInitRankScalable, (void*)ncclCommFinalize,
                 (void*)ncclCommDestroy, (void*)ncclCommAbort, (void*)ncclCommSplit,
                 (void*)ncclCommShrink, (void*)ncclCommRevoke, (void*)ncclCommGetAsyncError, (void*)ncclCommCount,
                 (void*)ncclCommCuDevice, (void*)ncclCommUserRank, (void*)ncclCommRegister,
                 (void*)ncclCommDeregister, (void*)ncclCommWindowRegister,
                 (void*)ncclCommWindowDeregister, (void*)ncclRedOpCreatePreMulSum,
                 (void*)ncclRedOpDestroy, (void*)ncclReduce, (void*)ncclBcast,
                 (void*)ncclBroadcast, (void*)ncclAllReduce, (void*)ncclReduceScatter,
                 (void*)ncclAllGather, (void*)ncclAlltoAll, (void*)ncclGather,
                 (void*)ncclScatter, (void*)ncclSend, (void*)ncclRecv, (void*)ncclGroupStart,
                 (void*)ncclGroupEnd, (void*)ncclGroupSimulateEnd, (void*)ncclMemAlloc,
                 (void*)ncclMemFree, (void*)ncclGetErrorString, (void*)ncclGetLastError,
                 (void*)ncclDevCommCreate, (void*)ncclDevCommDestroy,
                 (void*)pncclAllReduce, (void*)pncclGroupEnd};
  int version = 0;
  if (ncclGetVersion(&version) != ncclSuccess || version != NCCL_VERSION_CODE) return 1;
  if (config.size != sizeof(ncclConfig_t) || config.magic != 0xcafebeef) return 2;
  if (config.version != NCCL_VERSION_CODE || config.blocking != NCCL_CONFIG_UNDEF_INT) return 3;
  if (sim.magic != 0x74685283u) return 4;
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; ++i) {
    if (fns[i] == NULL) return 5;
  }
  return 0;
}
