// Group semantics. Operations issued between ncclGroupStart and the matching
// ncclGroupEnd are collected on the calling thread and run together at the
// outermost ncclGroupEnd: collectives of a communicator in issue order, then
// all of its sends and receives concurrently, and the work of several
// communicators (ranks driven by one thread) interleaved. Outside a group an
// operation is a group of one.
#pragma once

#include "bootstrap/bootstrap.h"
#include "comm/communicator.h"
#include "core/status.h"
#include "exec/work.h"
#include "nccl.h"
#include "plan/plan.h"

namespace strata::api {

struct PendingOp {
  ncclComm* handle = nullptr;
  // The communicator `handle` resolved to when the call was checked. Calls
  // outside a group run at once and use it; queued calls look the handle
  // up again at ncclGroupEnd (it may have been destroyed meanwhile).
  Communicator* comm = nullptr;
  plan::CollArgs args;
  exec::Buffers buffers;
  DataType type = DataType::kFloat32;
  Reduction reduction;
  bool onDevice = false;          // device buffers: run by the CUDA executor
  cudaStream_t stream = nullptr;  // the caller's stream (device buffers)
};

struct PendingInit {
  ncclComm* handle = nullptr;
  bootstrap::UniqueId id;
  int nranks = 0;
  int rank = 0;
  CommOptions options;
};

Status groupStart();
Status groupEnd();
bool inGroup();
// Queues the operation, or runs it now when no group is open.
Status submit(PendingOp&& op);
// Queues a communicator creation, or runs it now when no group is open.
Status submitInit(PendingInit init);
// Records an argument error of an operation inside the group: ncclGroupEnd
// then fails without running anything.
void recordGroupError(const Status& s);

}  // namespace strata::api
