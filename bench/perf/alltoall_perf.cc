#include "common/shapes.h"

using namespace strata::perf;  // NOLINT

static const Collective kColl = {
    "alltoall", false, false, false, factorSpread,
    [](size_t bytes, size_t es, int n) { return shapeBlocks(bytes, es, n, true, true); },
    [](const Call& c, bool) {
      return ncclAlltoAll(c.send, c.recv, c.count, c.type, c.comm, nullptr);
    },
    inPlaceSame,
    // Block j of rank r's input is for rank j.
    [](const Shape& s, ncclDataType_t t, int, int, int rank, int n, void* send) {
      for (size_t i = 0; i < s.sendElems; ++i) {
        writeValue(t, send, i, moveValue(rank * n + static_cast<int>(i / s.count), i % s.count));
      }
    },
    [](const Shape& s, ncclDataType_t, int, int, int rank, int n, size_t i) -> double {
      return moveValue(static_cast<int>(i / s.count) * n + rank, i % s.count);
    }};

int main(int argc, char** argv) { return perfMain(argc, argv, kColl); }
