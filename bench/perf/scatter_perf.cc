#include "common/shapes.h"

using namespace strata::perf;  // NOLINT

static const Collective kColl = {
    "scatter", false, true, true, factorSpread,
    [](size_t bytes, size_t es, int n) { return shapeBlocks(bytes, es, n, true, false); },
    [](const Call& c, bool) {
      return ncclScatter(c.send, c.recv, c.count, c.type, c.root, c.comm, nullptr);
    },
    // In place at the root: its output is its own block of the input.
    [](const Shape& s, int rank, int, int root, size_t es, char* base, const void** send,
       void** recv) {
      *recv = base;
      if (rank == root) {
        *send = base;
        *recv = base + static_cast<size_t>(root) * s.count * es;
      }
    },
    // Block r of the root's input is for rank r.
    [](const Shape& s, ncclDataType_t t, int, int, int, int, void* send) {
      for (size_t i = 0; i < s.sendElems; ++i) {
        writeValue(t, send, i, moveValue(static_cast<int>(i / s.count), i % s.count));
      }
    },
    [](const Shape&, ncclDataType_t, int, int, int rank, int, size_t i) -> double {
      return moveValue(rank, i);
    }};

int main(int argc, char** argv) { return perfMain(argc, argv, kColl); }
