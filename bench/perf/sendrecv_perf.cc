// Each rank sends to the next and receives from the previous, in one group.
#include "common/shapes.h"

using namespace strata::perf;  // NOLINT

static const Collective kColl = {
    "sendrecv", false, false, false, factorOne, shapeSame,
    [](const Call& c, bool) {
      ncclGroupStart();
      ncclResult_t a = ncclSend(c.send, c.count, c.type, (c.rank + 1) % c.nranks, c.comm, nullptr);
      ncclResult_t b = ncclRecv(c.recv, c.count, c.type, (c.rank - 1 + c.nranks) % c.nranks,
                                c.comm, nullptr);
      ncclResult_t e = ncclGroupEnd();
      return a != ncclSuccess ? a : (b != ncclSuccess ? b : e);
    },
    inPlaceSame,
    [](const Shape& s, ncclDataType_t t, int, int, int rank, int, void* send) {
      for (size_t i = 0; i < s.sendElems; ++i) writeValue(t, send, i, moveValue(rank, i));
    },
    [](const Shape&, ncclDataType_t, int, int, int rank, int n, size_t i) -> double {
      return moveValue((rank - 1 + n) % n, i);
    }};

int main(int argc, char** argv) { return perfMain(argc, argv, kColl); }
