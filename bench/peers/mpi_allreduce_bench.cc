// MPI_Allreduce over the all-reduce sweep of all_reduce_perf (float32 sum),
// for comparing Strata with the MPI library it is built against:
//
//   mpirun -np 4 build/bench/peers/mpi_allreduce_bench -b 8 -e 256M -f 4 -J mpi.json
#include <mpi.h>

#include <cstdio>
#include <string>

#include "peer_sweep.h"

namespace {

std::string libraryName() {
  char text[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(text, &len);
  std::string name(text, static_cast<size_t>(len));
  // "Open MPI v4.1.4, package: ..., ident: ..." -> "Open MPI v4.1.4"
  size_t cut = name.find_first_of(",\n");
  if (cut != std::string::npos) name.resize(cut);
  return name;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  strata::peers::SweepOptions o;
  if (!strata::peers::parseSweepOptions(argc, argv, &o)) {
    MPI_Finalize();
    return 2;
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);

  strata::peers::Backend b;
  b.library = libraryName();
  MPI_Comm_rank(MPI_COMM_WORLD, &b.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &b.nranks);
  b.allreduce = [](const float* send, float* recv, size_t count) {
    // Sizes beyond INT_MAX elements would need MPI 4 large counts; the sweep
    // stops far below that.
    const void* in = send == recv ? MPI_IN_PLACE : send;
    MPI_Allreduce(in, recv, static_cast<int>(count), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
  };
  b.sum = [](double v) {
    double out = 0;
    MPI_Allreduce(&v, &out, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    return out;
  };
  if (o.maxBytes / sizeof(float) > 0x7fffffffu) {
    if (b.rank == 0) std::fprintf(stderr, "-e is too large for MPI's int counts\n");
    MPI_Finalize();
    return 2;
  }
  int code = strata::peers::runSweep(b, o);
  MPI_Finalize();
  return code;
}
