/*
 * Strata extensions to the NCCL API. Everything in nccl.h works unchanged;
 * these functions are exported by libstrata.so (not by the drop-in
 * libnccl.so.2).
 */
#ifndef STRATA_H_
#define STRATA_H_

#include "nccl.h"

#ifdef __cplusplus
extern "C" {
#endif

/* "0.1.0 (NCCL API 2.28.3)" */
const char* strataGetVersionString(void);

/* Creates a communicator from the environment a launcher sets, for programs
 * that do not pass a unique id themselves.
 *   rank:  STRATA_RANK, RANK (torchrun), OMPI_COMM_WORLD_RANK, PMI_RANK, SLURM_PROCID
 *   size:  STRATA_WORLD_SIZE, WORLD_SIZE, OMPI_COMM_WORLD_SIZE, PMI_SIZE, SLURM_NTASKS
 *   id:    STRATA_UNIQUE_ID (hex, as tools/strata-run sets it); otherwise
 *          rank 0 hosts the root at STRATA_ROOT_ADDR (host:port), or at
 *          MASTER_ADDR:(MASTER_PORT+1) under torchrun, and every rank must
 *          share the secret STRATA_SECRET (32 hex digits). */
ncclResult_t strataCommInitFromEnv(ncclComm_t* comm);

/* Unique ids as text (256 hex digits + NUL), for environment variables and
 * command lines. */
#define STRATA_UNIQUE_ID_HEX_BYTES (2 * NCCL_UNIQUE_ID_BYTES + 1)
ncclResult_t strataUniqueIdToHex(const ncclUniqueId* id, char* hex);
ncclResult_t strataUniqueIdFromHex(const char* hex, ncclUniqueId* id);

/* Host memory that ranks in other processes of this host read in place.
 * Large all-reduce, reduce-scatter, all-gather and broadcast between the
 * processes of one host stream through shared FIFOs (each byte is copied
 * into a FIFO and out again); when every buffer that ranks of other
 * processes read (the send and receive buffers of all ranks for
 * all-reduce, the send buffers for reduce-scatter and all-gather, the
 * root's send buffer for broadcast) comes from strataMemAllocHost, they
 * read it directly instead, with one copy. Ranks find this out from each
 * other at each such call; mixed buffers simply take the FIFOs.
 * The memory is zero-filled and page aligned. A buffer freed while peers
 * still map it stays allocated until they drop the mapping (at the latest
 * when their communicator is destroyed). */
ncclResult_t strataMemAllocHost(void** ptr, size_t size);
/* Frees a buffer from strataMemAllocHost; NULL is ignored. */
ncclResult_t strataMemFreeHost(void* ptr);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* STRATA_H_ */
