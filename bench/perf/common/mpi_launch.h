// Rank setup through MPI for the perf tools: under mpirun (Open MPI sets
// OMPI_COMM_WORLD_*), rank 0 makes the unique id and MPI_Bcast hands it to
// the others, like nccl-tests built with MPI=1. Built only when CMake finds
// MPI (STRATA_PERF_WITH_MPI); otherwise the tools use strataCommInitFromEnv.
#pragma once

#include "nccl.h"

namespace strata::perf {

// Whether this process was started by an MPI launcher (Open MPI's mpirun,
// or a PMI-based one) and no Strata launcher variables take precedence.
bool startedByMpi();
// Whether the tools were built with MPI support.
bool mpiAvailable();

// MPI_Init, then the unique id from rank 0 through MPI_Bcast, and the
// communicator. Returns 0 or a process exit status, after printing why.
int mpiInitComm(int* argc, char*** argv, ncclComm_t* comm);
// MPI_Finalize if mpiInitComm initialised MPI.
void mpiFinish();

}  // namespace strata::perf
