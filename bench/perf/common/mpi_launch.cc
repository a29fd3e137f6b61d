#include "mpi_launch.h"

#include <cstdio>
#include <cstdlib>

#ifdef STRATA_PERF_WITH_MPI
#include <mpi.h>
#endif

namespace strata::perf {
namespace {

bool isSet(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0';
}

#ifdef STRATA_PERF_WITH_MPI
bool gInitialised = false;
#endif

}  // namespace

bool startedByMpi() {
  // tools/strata-run and tools/strata-hosts set these; they win.
  if (isSet("STRATA_UNIQUE_ID") || isSet("STRATA_ROOT_ADDR")) return false;
  return isSet("OMPI_COMM_WORLD_SIZE") || isSet("PMI_SIZE") || isSet("PMIX_RANK");
}

#ifdef STRATA_PERF_WITH_MPI

bool mpiAvailable() { return true; }

int mpiInitComm(int* argc, char*** argv, ncclComm_t* comm) {
  if (MPI_Init(argc, argv) != MPI_SUCCESS) {
    std::fprintf(stderr, "MPI_Init failed\n");
    return 2;
  }
  gInitialised = true;
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  int rank = 0, size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  ncclUniqueId id{};
  // Rank 0 reports a failed ncclGetUniqueId through the broadcast as well,
  // so no rank waits for an id that will never come.
  int ok = 1;
  if (rank == 0 && ncclGetUniqueId(&id) != ncclSuccess) {
    std::fprintf(stderr, "rank 0: ncclGetUniqueId failed: %s\n", ncclGetLastError(nullptr));
    ok = 0;
  }
  if (MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD) != MPI_SUCCESS ||
      MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, MPI_COMM_WORLD) != MPI_SUCCESS) {
    std::fprintf(stderr, "rank %d: MPI_Bcast of the unique id failed\n", rank);
    return 2;
  }
  if (!ok) return 2;
  if (ncclCommInitRank(comm, size, id, rank) != ncclSuccess) {
    std::fprintf(stderr, "rank %d: ncclCommInitRank failed: %s\n", rank, ncclGetLastError(nullptr));
    return 2;
  }
  return 0;
}

void mpiFinish() {
  if (gInitialised) {
    MPI_Finalize();
    gInitialised = false;
  }
}

#else  // !STRATA_PERF_WITH_MPI

bool mpiAvailable() { return false; }

int mpiInitComm(int*, char***, ncclComm_t*) {
  std::fprintf(stderr,
               "started by mpirun, but the perf tools were built without MPI: install "
               "libopenmpi-dev and rebuild, or set STRATA_ROOT_ADDR and STRATA_SECRET\n");
  return 2;
}

void mpiFinish() {}

#endif

}  // namespace strata::perf
