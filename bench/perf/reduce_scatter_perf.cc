#include "common/shapes.h"

using namespace strata::perf;  // NOLINT

static const Collective kColl = {
    "reduce_scatter", true, false, true, factorSpread,
    [](size_t bytes, size_t es, int n) { return shapeBlocks(bytes, es, n, true, false); },
    [](const Call& c, bool) {
      return ncclReduceScatter(c.send, c.recv, c.count, c.type, c.op, c.comm, nullptr);
    },
    [](const Shape& s, int rank, int, int, size_t es, char* base, const void** send, void** recv) {
      *send = base;
      *recv = base + static_cast<size_t>(rank) * s.count * es;
    },
    [](const Shape& s, ncclDataType_t t, int op, int, int rank, int, void* send) {
      for (size_t i = 0; i < s.sendElems; ++i) writeValue(t, send, i, inputValue(op, t, rank, i));
    },
    [](const Shape& s, ncclDataType_t t, int op, int, int rank, int n, size_t i) {
      return reducedValue(op, t, n, static_cast<size_t>(rank) * s.count + i);
    }};

int main(int argc, char** argv) { return perfMain(argc, argv, kColl); }
