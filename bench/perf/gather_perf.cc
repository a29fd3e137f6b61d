#include "common/shapes.h"

using namespace strata::perf;  // NOLINT

static const Collective kColl = {
    "gather", false, true, true, factorSpread,
    [](size_t bytes, size_t es, int n) { return shapeBlocks(bytes, es, n, false, true); },
    [](const Call& c, bool) {
      return ncclGather(c.send, c.recv, c.count, c.type, c.root, c.comm, nullptr);
    },
    // In place at the root: its input is its own block of the output.
    [](const Shape& s, int rank, int, int root, size_t es, char* base, const void** send,
       void** recv) {
      *recv = base;
      if (rank == root) *send = base + static_cast<size_t>(root) * s.count * es;
    },
    [](const Shape& s, ncclDataType_t t, int, int, int rank, int, void* send) {
      for (size_t i = 0; i < s.sendElems; ++i) writeValue(t, send, i, moveValue(rank, i));
    },
    [](const Shape& s, ncclDataType_t, int, int root, int rank, int, size_t i) -> double {
      if (rank != root) return kUndefined();
      return moveValue(static_cast<int>(i / s.count), i % s.count);
    }};

int main(int argc, char** argv) { return perfMain(argc, argv, kColl); }
