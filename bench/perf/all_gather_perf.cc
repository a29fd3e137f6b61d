#include "common/shapes.h"

using namespace strata::perf;  // NOLINT

static const Collective kColl = {
    "all_gather", false, false, true, factorSpread,
    [](size_t bytes, size_t es, int n) { return shapeBlocks(bytes, es, n, false, true); },
    [](const Call& c, bool) {
      return ncclAllGather(c.send, c.recv, c.count, c.type, c.comm, nullptr);
    },
    [](const Shape& s, int rank, int, int, size_t es, char* base, const void** send, void** recv) {
      *recv = base;
      *send = base + static_cast<size_t>(rank) * s.count * es;
    },
    [](const Shape& s, ncclDataType_t t, int, int, int rank, int, void* send) {
      for (size_t i = 0; i < s.sendElems; ++i) writeValue(t, send, i, moveValue(rank, i));
    },
    [](const Shape& s, ncclDataType_t, int, int, int, int, size_t i) -> double {
      return moveValue(static_cast<int>(i / s.count), i % s.count);
    }};

int main(int argc, char** argv) { return perfMain(argc, argv, kColl); }
