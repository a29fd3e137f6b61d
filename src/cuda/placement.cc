#include "cuda/placement.h"

#include "cuda/pointer.h"
#include "cuda/runtime.h"

namespace strata::cuda {

StatusOr<Placement> placeBuffers(const char* fn, const void* sendbuff, bool useSend,
                                 const void* recvbuff, bool useRecv) {
  PointerInfo send, recv;
  if (useSend) send = classify(sendbuff);
  if (useRecv) recv = useSend && recvbuff == sendbuff ? send : classify(recvbuff);  // in place: once
  const bool sendDev = useSend && needsDevice(send.kind);
  const bool recvDev = useRecv && needsDevice(recv.kind);
  if (!sendDev && !recvDev) return Placement::kHost;
  if (useSend && useRecv && sendDev != recvDev) {
    return InvalidUsage(fn, ": sendbuff is ", memoryKindName(send.kind), " memory but recvbuff is ",
                        memoryKindName(recv.kind),
                        " memory; one call must use host buffers or device buffers, not both");
  }
  if (sendDev && recvDev && send.device != recv.device) {
    return InvalidUsage(fn, ": sendbuff is on device ", send.device, " but recvbuff on device ",
                        recv.device, "; both must be on the communicator's device");
  }
  Status avail = deviceExecutionAvailable();
  if (!avail.ok()) return avail.withContext(fn);
  return Placement::kDevice;
}

}  // namespace strata::cuda
