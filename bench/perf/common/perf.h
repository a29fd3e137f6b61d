// Shared driver of the nccl-tests style bandwidth tools (all_reduce_perf,
// all_gather_perf, ...): the same options, output columns, bus-bandwidth
// formulas and exit status as nccl-tests, over Strata's NCCL API.
//
// Ranks come from one of:
//   -t N             N threads in this process (ncclCommInitRank each)
//   tools/strata-run the environment it sets (strataCommInitFromEnv)
//   mpirun           built with MPI: rank 0's unique id through MPI_Bcast
//                    (mpi_launch.h); without MPI, OMPI_COMM_WORLD_* plus
//                    STRATA_ROOT_ADDR/STRATA_SECRET
#pragma once

#include <cstddef>
#include <string>

#include "nccl.h"

namespace strata::perf {

// Sizes of one operation for a given "size" (bytes) of the sweep, following
// nccl-tests: size is the largest buffer of the operation.
struct Shape {
  size_t sendElems = 0;  // elements in each rank's send buffer
  size_t recvElems = 0;  // elements in each rank's receive buffer
  size_t count = 0;      // the count argument passed to the NCCL call
  size_t printedCount = 0;
};

struct Call {
  const void* send;
  void* recv;
  size_t count;
  ncclDataType_t type;
  ncclRedOp_t op;
  int root;
  int rank;
  int nranks;
  ncclComm_t comm;
};

struct Collective {
  const char* name;  // "all_reduce"
  bool reduces;      // uses -o
  bool rooted;       // uses -r
  bool hasInPlace;   // NCCL defines an in-place form
  double (*busFactor)(int nranks);
  Shape (*shape)(size_t bytes, size_t typeSize, int nranks);
  ncclResult_t (*run)(const Call& c, bool inPlace);
  // Offsets (elements) that make the call in place: send = recv + sendOffset
  // or recv = send + recvOffset, per NCCL's definition for the collective.
  void (*inPlaceBuffers)(const Shape& s, int rank, int nranks, int root, size_t typeSize, char* base,
                         const void** send, void** recv);
  // Fills rank's input for checking.
  void (*fill)(const Shape& s, ncclDataType_t t, int op, int root, int rank, int nranks,
               void* send);
  // Expected value of element i of rank's output; NaN where the output is
  // not defined (e.g. off the root).
  double (*expect)(const Shape& s, ncclDataType_t t, int op, int root, int rank, int nranks,
                   size_t i);
};

// Runs the tool: parses argv, sets up ranks, sweeps sizes, prints the table.
// Returns the process exit status (non-zero if any value was wrong).
int perfMain(int argc, char** argv, const Collective& coll);

// Helpers for Collective::fill implementations.
int inputValue(int op, ncclDataType_t t, int rank, size_t i);
double reducedValue(int op, ncclDataType_t t, int nranks, size_t i);
int moveValue(int rank, size_t i);
void writeValue(ncclDataType_t t, void* buf, size_t i, int v);

}  // namespace strata::perf
