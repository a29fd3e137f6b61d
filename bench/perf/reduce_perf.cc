#include "common/shapes.h"

using namespace strata::perf;  // NOLINT

static const Collective kColl = {
    "reduce", true, true, true, factorOne, shapeSame,
    [](const Call& c, bool) {
      return ncclReduce(c.send, c.recv, c.count, c.type, c.op, c.root, c.comm, nullptr);
    },
    inPlaceSame,
    [](const Shape& s, ncclDataType_t t, int op, int, int rank, int, void* send) {
      for (size_t i = 0; i < s.sendElems; ++i) writeValue(t, send, i, inputValue(op, t, rank, i));
    },
    [](const Shape&, ncclDataType_t t, int op, int root, int rank, int n, size_t i) {
      return rank == root ? reducedValue(op, t, n, i) : kUndefined();
    }};

int main(int argc, char** argv) { return perfMain(argc, argv, kColl); }
