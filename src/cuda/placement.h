// Where a call's buffers live decides which executor runs it. Host and
// pinned host memory go to the host executor; device and managed memory to
// the CUDA executor, when it can run. Everything else is a clear error,
// never a host access of device memory: device buffers in a build or on a
// machine that cannot run them, one call mixing host and device memory, or
// buffers on two different GPUs.
#pragma once

#include "core/status.h"

namespace strata::cuda {

enum class Placement { kHost, kDevice };

// `fn` names the API call in messages. Only the buffers the call uses on
// this rank are classified (use* false: ignored, may be NULL).
StatusOr<Placement> placeBuffers(const char* fn, const void* sendbuff, bool useSend,
                                 const void* recvbuff, bool useRecv);

}  // namespace strata::cuda
