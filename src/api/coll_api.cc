// Collectives and point-to-point: argument checks, then submission to the
// group machinery (a call outside a group runs as a group of one).

#include "api/api_util.h"
#include "api/group.h"
#include "api/handle.h"
#include "cuda/placement.h"

namespace strata::api {
namespace {

using plan::CollType;

struct CallArgs {
  const char* fn;
  CollType type;
  const void* sendbuff;
  void* recvbuff;
  size_t count;
  int datatype;  // ncclDataType_t as passed (may be out of range)
  int op = -1;   // ncclRedOp_t for reducing collectives
  int root = 0;
  int peer = -1;
  ncclComm_t comm;
  cudaStream_t stream = nullptr;  // used for device buffers only
};

// Elements of each buffer, per plan.h's table.
void bufferElems(const CallArgs& a, int nranks, size_t* sendElems, size_t* recvElems) {
  size_t n = a.count;
  size_t all = n * static_cast<size_t>(nranks);
  switch (a.type) {
    case CollType::kReduceScatter: *sendElems = all; *recvElems = n; break;
    case CollType::kAllGather: *sendElems = n; *recvElems = all; break;
    case CollType::kAllToAll: *sendElems = all; *recvElems = all; break;
    case CollType::kGather: *sendElems = n; *recvElems = all; break;
    case CollType::kScatter: *sendElems = all; *recvElems = n; break;
    case CollType::kSend: *sendElems = n; *recvElems = 0; break;
    case CollType::kRecv: *sendElems = 0; *recvElems = n; break;
    default: *sendElems = n; *recvElems = n; break;
  }
}

Status check(const CallArgs& a, Communicator* c, DataType* type, Reduction* red,
             cuda::Placement* place) {
  if (!isValidDataType(a.datatype)) {
    return InvalidArgument(a.fn, ": invalid datatype ", a.datatype);
  }
  *type = static_cast<DataType>(a.datatype);
  const int n = c->nranks();
  const bool rooted = a.type == CollType::kBroadcast || a.type == CollType::kReduce ||
                      a.type == CollType::kGather || a.type == CollType::kScatter;
  if (rooted && (a.root < 0 || a.root >= n)) {
    return InvalidArgument(a.fn, ": root ", a.root, " is outside [0, ", n, ")");
  }
  if ((a.type == CollType::kSend || a.type == CollType::kRecv) && (a.peer < 0 || a.peer >= n)) {
    return InvalidArgument(a.fn, ": peer ", a.peer, " is outside [0, ", n, ")");
  }
  // Byte sizes must fit in size_t.
  size_t es = dataTypeSize(*type);
  size_t totalBytes = 0;
  if (__builtin_mul_overflow(a.count, es * static_cast<size_t>(n), &totalBytes)) {
    return InvalidArgument(a.fn, ": count ", a.count, " of ", dataTypeName(*type), " times ", n,
                           " ranks overflows the address space");
  }
  size_t sendElems = 0, recvElems = 0;
  bufferElems(a, n, &sendElems, &recvElems);
  const bool isRoot = c->rank() == a.root;
  // Buffers that this rank must provide.
  bool needSend = sendElems > 0 && a.type != CollType::kRecv &&
                  !(a.type == CollType::kScatter && !isRoot) &&
                  !(a.type == CollType::kBroadcast && !isRoot);
  bool needRecv = recvElems > 0 && a.type != CollType::kSend &&
                  !(a.type == CollType::kReduce && !isRoot) &&
                  !(a.type == CollType::kGather && !isRoot);
  if (needSend && a.sendbuff == nullptr) return InvalidArgument(a.fn, ": sendbuff is NULL");
  if (needRecv && a.recvbuff == nullptr) return InvalidArgument(a.fn, ": recvbuff is NULL");
  if (plan::collReduces(a.type)) {
    STRATA_ASSIGN_OR_RETURN(*red, c->reductionFor(a.op, *type));
  }
  // Device buffers never reach the host executor.
  STRATA_ASSIGN_OR_RETURN(*place,
                          cuda::placeBuffers(a.fn, a.sendbuff, needSend, a.recvbuff, needRecv));
  return Status::Ok();
}

Status call(const CallArgs& a) {
  auto comm = lookup(a.comm, a.fn);
  if (!comm.ok()) {
    recordGroupError(comm.status());
    return comm.status();
  }
  Communicator* c = comm.value();
  if (c->aborted()) return Aborted(a.fn, ": communicator was aborted");
  PendingOp op;
  cuda::Placement place = cuda::Placement::kHost;
  Status s = check(a, c, &op.type, &op.reduction, &place);
  if (!s.ok()) {
    recordGroupError(s);
    return s;
  }
  op.handle = a.comm;
  op.comm = c;
  op.args.type = a.type;
  op.args.count = a.count;
  op.args.root = a.root;
  op.args.peer = a.peer;
  op.args.rank = c->rank();
  op.args.nranks = c->nranks();
  op.buffers.input = a.sendbuff;
  op.buffers.output = a.recvbuff;
  op.onDevice = place == cuda::Placement::kDevice;
  op.stream = a.stream;
  return submit(std::move(op));
}

}  // namespace
}  // namespace strata::api

using strata::api::CallArgs;
using strata::api::guarded;
using strata::plan::CollType;

NCCL_API_EXPORT ncclResult_t ncclAllReduce(const void* sendbuff, void* recvbuff, size_t count,
                                           ncclDataType_t datatype, ncclRedOp_t op,
                                           ncclComm_t comm, cudaStream_t stream) {
  return guarded([&] {
    return strata::api::call(CallArgs{"ncclAllReduce", CollType::kAllReduce, sendbuff, recvbuff,
                                      count, strata::api::rawEnum(datatype), strata::api::rawEnum(op), 0, -1, comm, stream});
  });
}
NCCL_API_ALIAS(ncclResult_t, ncclAllReduce,
               (const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t datatype,
                ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream))

NCCL_API_EXPORT ncclResult_t ncclReduceScatter(const void* sendbuff, void* recvbuff,
                                               size_t recvcount, ncclDataType_t datatype,
                                               ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream) {
  return guarded([&] {
    return strata::api::call(CallArgs{"ncclReduceScatter", CollType::kReduceScatter, sendbuff,
                                      recvbuff, recvcount, strata::api::rawEnum(datatype), strata::api::rawEnum(op), 0, -1, comm, stream});
  });
}
NCCL_API_ALIAS(ncclResult_t, ncclReduceScatter,
               (const void* sendbuff, void* recvbuff, size_t recvcount, ncclDataType_t datatype,
                ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream))

NCCL_API_EXPORT ncclResult_t ncclAllGather(const void* sendbuff, void* recvbuff, size_t sendcount,
                                           ncclDataType_t datatype, ncclComm_t comm,
                                           cudaStream_t stream) {
  return guarded([&] {
    return strata::api::call(CallArgs{"ncclAllGather", CollType::kAllGather, sendbuff, recvbuff,
                                      sendcount, strata::api::rawEnum(datatype), -1, 0, -1, comm, stream});
  });
}
NCCL_API_ALIAS(ncclResult_t, ncclAllGather,
               (const void* sendbuff, void* recvbuff, size_t sendcount, ncclDataType_t datatype,
                ncclComm_t comm, cudaStream_t stream))

NCCL_API_EXPORT ncclResult_t ncclBroadcast(const void* sendbuff, void* recvbuff, size_t count,
                                           ncclDataType_t datatype, int root, ncclComm_t comm,
                                           cudaStream_t stream) {
  return guarded([&] {
    return strata::api::call(CallArgs{"ncclBroadcast", CollType::kBroadcast, sendbuff, recvbuff,
                                      count, strata::api::rawEnum(datatype), -1, root, -1, comm, stream});
  });
}
NCCL_API_ALIAS(ncclResult_t, ncclBroadcast,
               (const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t datatype,
                int root, ncclComm_t comm, cudaStream_t stream))

NCCL_API_EXPORT ncclResult_t ncclBcast(void* buff, size_t count, ncclDataType_t datatype, int root,
                                       ncclComm_t comm, cudaStream_t stream) {
  return guarded([&] {
    return strata::api::call(CallArgs{"ncclBcast", CollType::kBroadcast, buff, buff, count,
                                      strata::api::rawEnum(datatype), -1, root, -1, comm, stream});
  });
}
NCCL_API_ALIAS(ncclResult_t, ncclBcast,
               (void* buff, size_t count, ncclDataType_t datatype, int root, ncclComm_t comm,
                cudaStream_t stream))

NCCL_API_EXPORT ncclResult_t ncclReduce(const void* sendbuff, void* recvbuff, size_t count,
                                        ncclDataType_t datatype, ncclRedOp_t op, int root,
                                        ncclComm_t comm, cudaStream_t stream) {
  return guarded([&] {
    return strata::api::call(CallArgs{"ncclReduce", CollType::kReduce, sendbuff, recvbuff, count,
                                      strata::api::rawEnum(datatype), strata::api::rawEnum(op), root, -1, comm, stream});
  });
}
NCCL_API_ALIAS(ncclResult_t, ncclReduce,
               (const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t datatype,
                ncclRedOp_t op, int root, ncclComm_t comm, cudaStream_t stream))

NCCL_API_EXPORT ncclResult_t ncclAlltoAll(const void* sendbuff, void* recvbuff, size_t count,
                                          ncclDataType_t datatype, ncclComm_t comm, cudaStream_t stream) {
  return guarded([&] {
    return strata::api::call(CallArgs{"ncclAlltoAll", CollType::kAllToAll, sendbuff, recvbuff,
                                      count, strata::api::rawEnum(datatype), -1, 0, -1, comm, stream});
  });
}
NCCL_API_ALIAS(ncclResult_t, ncclAlltoAll,
               (const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t datatype,
                ncclComm_t comm, cudaStream_t stream))

NCCL_API_EXPORT ncclResult_t ncclAllToAll(const void* sendbuff, void* recvbuff, size_t count,
                                          ncclDataType_t datatype, ncclComm_t comm,
                                          cudaStream_t stream) {
  return ncclAlltoAll(sendbuff, recvbuff, count, datatype, comm, stream);
}
NCCL_API_ALIAS(ncclResult_t, ncclAllToAll,
               (const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t datatype,
                ncclComm_t comm, cudaStream_t stream))

NCCL_API_EXPORT ncclResult_t ncclGather(const void* sendbuff, void* recvbuff, size_t count,
                                        ncclDataType_t datatype, int root, ncclComm_t comm,
                                        cudaStream_t stream) {
  return guarded([&] {
    return strata::api::call(CallArgs{"ncclGather", CollType::kGather, sendbuff, recvbuff, count,
                                      strata::api::rawEnum(datatype), -1, root, -1, comm, stream});
  });
}
NCCL_API_ALIAS(ncclResult_t, ncclGather,
               (const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t datatype,
                int root, ncclComm_t comm, cudaStream_t stream))

NCCL_API_EXPORT ncclResult_t ncclScatter(const void* sendbuff, void* recvbuff, size_t count,
                                         ncclDataType_t datatype, int root, ncclComm_t comm,
                                         cudaStream_t stream) {
  return guarded([&] {
    return strata::api::call(CallArgs{"ncclScatter", CollType::kScatter, sendbuff, recvbuff,
                                      count, strata::api::rawEnum(datatype), -1, root, -1, comm, stream});
  });
}
NCCL_API_ALIAS(ncclResult_t, ncclScatter,
               (const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t datatype,
                int root, ncclComm_t comm, cudaStream_t stream))

NCCL_API_EXPORT ncclResult_t ncclSend(const void* sendbuff, size_t count, ncclDataType_t datatype,
                                      int peer, ncclComm_t comm, cudaStream_t stream) {
  return guarded([&] {
    return strata::api::call(CallArgs{"ncclSend", CollType::kSend, sendbuff, nullptr, count,
                                      strata::api::rawEnum(datatype), -1, 0, peer, comm, stream});
  });
}
NCCL_API_ALIAS(ncclResult_t, ncclSend,
               (const void* sendbuff, size_t count, ncclDataType_t datatype, int peer,
                ncclComm_t comm, cudaStream_t stream))

NCCL_API_EXPORT ncclResult_t ncclRecv(void* recvbuff, size_t count, ncclDataType_t datatype,
                                      int peer, ncclComm_t comm, cudaStream_t stream) {
  return guarded([&] {
    return strata::api::call(CallArgs{"ncclRecv", CollType::kRecv, nullptr, recvbuff, count,
                                      strata::api::rawEnum(datatype), -1, 0, peer, comm, stream});
  });
}
NCCL_API_ALIAS(ncclResult_t, ncclRecv,
               (void* recvbuff, size_t count, ncclDataType_t datatype, int peer, ncclComm_t comm,
                cudaStream_t stream))
