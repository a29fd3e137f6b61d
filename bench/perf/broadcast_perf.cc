#include "common/shapes.h"

using namespace strata::perf;  // NOLINT

static const Collective kColl = {
    "broadcast", false, true, true, factorOne, shapeSame,
    [](const Call& c, bool) {
      return ncclBroadcast(c.send, c.recv, c.count, c.type, c.root, c.comm, nullptr);
    },
    inPlaceSame,
    [](const Shape& s, ncclDataType_t t, int, int, int rank, int, void* send) {
      for (size_t i = 0; i < s.sendElems; ++i) writeValue(t, send, i, moveValue(rank, i));
    },
    [](const Shape&, ncclDataType_t, int, int root, int, int, size_t i) -> double {
      return moveValue(root, i);
    }};

int main(int argc, char** argv) { return perfMain(argc, argv, kColl); }
