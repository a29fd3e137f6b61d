// Communicator lifecycle and queries.
#include <algorithm>
#include <cstring>
#include <thread>
#include <vector>

#include "api/api_util.h"
#include "api/comm_config.h"
#include "api/group.h"
#include "api/handle.h"
#include "core/log.h"
#include "cuda/device_comm.h"
#include "cuda/pointer.h"
#include "cuda/runtime.h"

namespace strata::api {
namespace {

StatusOr<bootstrap::UniqueId> decodeId(const ncclUniqueId& id) {
  auto decoded = bootstrap::UniqueId::decode(reinterpret_cast<const uint8_t*>(id.internal));
  if (!decoded.ok()) {
    return InvalidArgument("unique id is not valid (not made by ncclGetUniqueId?): ",
                           decoded.status().message());
  }
  return decoded;
}

// `cudaDevice`: the GPU the communicator binds to for device buffers; -1
// takes the calling thread's current device (as NCCL does).
Status initRank(ncclComm_t* out, int nranks, const ncclUniqueId& uid, int rank,
                const ncclConfig_t* config, int cudaDevice = -1) {
  if (out == nullptr) return InvalidArgument("ncclCommInitRank: comm is NULL");
  *out = nullptr;
  if (nranks < 1) return InvalidArgument("ncclCommInitRank: nranks must be >= 1, not ", nranks);
  if (rank < 0 || rank >= nranks) {
    return InvalidArgument("ncclCommInitRank: rank ", rank, " is outside [0, ", nranks, ")");
  }
  STRATA_ASSIGN_OR_RETURN(CommOptions options, parseConfig(config));
  options.cudaDevice = cudaDevice >= 0 ? cudaDevice : cuda::currentDevice();
  STRATA_ASSIGN_OR_RETURN(bootstrap::UniqueId id, decodeId(uid));
  ncclComm* handle = newHandle();
  PendingInit init{handle, id, nranks, rank, options};
  Status s = submitInit(std::move(init));
  if (!s.ok()) {
    destroyHandle(handle);
    return s;
  }
  *out = handle;
  return Status::Ok();
}

Status teardown(ncclComm_t comm, bool abort, const char* fn) {
  if (comm == nullptr) return Status::Ok();  // NCCL accepts NULL here
  if (!isLive(comm)) {
    return InvalidArgument(fn, ": comm ", static_cast<const void*>(comm),
                           " is not a live communicator (already destroyed?)");
  }
  if (comm->impl) {
    if (abort) comm->impl->abort();
    // Operations on other threads see the abort flag and leave.
    comm->impl->waitIdle(abort ? std::chrono::milliseconds(30000) : comm->impl->timeout());
  }
  destroyHandle(comm);
  return Status::Ok();
}

struct SplitWire {
  int32_t color;
  int32_t key;
  int32_t rank;
  int32_t pad;
};

Status split(ncclComm_t comm, int color, int key, ncclComm_t* newcomm, ncclConfig_t* config) {
  if (newcomm == nullptr) return InvalidArgument("ncclCommSplit: newcomm is NULL");
  *newcomm = nullptr;
  STRATA_ASSIGN_OR_RETURN(Communicator * parent, lookup(comm, "ncclCommSplit"));
  if (color < 0 && color != NCCL_SPLIT_NOCOLOR) {
    return InvalidArgument("ncclCommSplit: color must be >= 0 or NCCL_SPLIT_NOCOLOR, not ", color);
  }
  STRATA_ASSIGN_OR_RETURN(CommOptions options, parseConfig(config, parent->options()));
  const int n = parent->nranks();
  std::vector<SplitWire> all(n);
  all[parent->rank()] = SplitWire{color, key, parent->rank(), 0};
  uint32_t tag = parent->nextControlTag();
  STRATA_RETURN_IF_ERROR_CTX(parent->bootstrap().allGather(all.data(), sizeof(SplitWire)),
                             "ncclCommSplit: exchanging colors");
  if (color == NCCL_SPLIT_NOCOLOR) return Status::Ok();
  std::vector<SplitWire> members;
  for (const auto& m : all) {
    if (m.color == color) members.push_back(m);
  }
  std::stable_sort(members.begin(), members.end(), [](const SplitWire& a, const SplitWire& b) {
    return a.key != b.key ? a.key < b.key : a.rank < b.rank;
  });
  int newRank = 0;
  while (members[newRank].rank != parent->rank()) ++newRank;
  // The new rank 0 makes the id and hands it to the others over the parent.
  uint8_t wire[bootstrap::kUniqueIdBytes];
  if (newRank == 0) {
    STRATA_ASSIGN_OR_RETURN(bootstrap::UniqueId id, bootstrap::createUniqueId());
    id.encode(wire);
    for (size_t i = 1; i < members.size(); ++i) {
      STRATA_RETURN_IF_ERROR_CTX(parent->bootstrap().send(members[i].rank, tag, wire, sizeof wire),
                                 "ncclCommSplit: sending the new id");
    }
  } else {
    STRATA_RETURN_IF_ERROR_CTX(parent->bootstrap().recv(members[0].rank, tag, wire, sizeof wire),
                               "ncclCommSplit: receiving the new id");
  }
  ncclUniqueId uid;
  std::memcpy(uid.internal, wire, sizeof wire);
  STRATA_ASSIGN_OR_RETURN(bootstrap::UniqueId id, decodeId(uid));
  auto child = Communicator::create(id, static_cast<int>(members.size()), newRank, options);
  if (!child.ok()) {
    Status s = child.status();
    return s.withContext("ncclCommSplit");
  }
  ncclComm* handle = newHandle();
  handle->impl = std::move(child).value();
  *newcomm = handle;
  return Status::Ok();
}

}  // namespace
}  // namespace strata::api

using namespace strata;       // NOLINT
using namespace strata::api;  // NOLINT

NCCL_API_EXPORT ncclResult_t ncclGetUniqueId(ncclUniqueId* uniqueId) {
  return guarded([&]() -> Status {
    if (uniqueId == nullptr) return InvalidArgument("ncclGetUniqueId: uniqueId is NULL");
    STRATA_ASSIGN_OR_RETURN(bootstrap::UniqueId id, bootstrap::createUniqueId());
    std::memset(uniqueId->internal, 0, sizeof uniqueId->internal);
    id.encode(reinterpret_cast<uint8_t*>(uniqueId->internal));
    return Status::Ok();
  });
}
NCCL_API_ALIAS(ncclResult_t, ncclGetUniqueId, (ncclUniqueId * uniqueId))

NCCL_API_EXPORT ncclResult_t ncclCommInitRank(ncclComm_t* comm, int nranks, ncclUniqueId commId,
                                              int rank) {
  return guarded([&] { return initRank(comm, nranks, commId, rank, nullptr); });
}
NCCL_API_ALIAS(ncclResult_t, ncclCommInitRank,
               (ncclComm_t * comm, int nranks, ncclUniqueId commId, int rank))

NCCL_API_EXPORT ncclResult_t ncclCommInitRankConfig(ncclComm_t* comm, int nranks,
                                                    ncclUniqueId commId, int rank,
                                                    ncclConfig_t* config) {
  return guarded([&] { return initRank(comm, nranks, commId, rank, config); });
}
NCCL_API_ALIAS(ncclResult_t, ncclCommInitRankConfig,
               (ncclComm_t * comm, int nranks, ncclUniqueId commId, int rank,
                ncclConfig_t* config))

NCCL_API_EXPORT ncclResult_t ncclCommInitRankScalable(ncclComm_t* newcomm, int nranks, int myrank,
                                                      int nId, ncclUniqueId* commIds,
                                                      ncclConfig_t* config) {
  return guarded([&]() -> Status {
    if (nId < 1 || commIds == nullptr) {
      return InvalidArgument("ncclCommInitRankScalable: need at least one unique id");
    }
    // Every rank meets at the root of the first id.
    return initRank(newcomm, nranks, commIds[0], myrank, config);
  });
}
NCCL_API_ALIAS(ncclResult_t, ncclCommInitRankScalable,
               (ncclComm_t * newcomm, int nranks, int myrank, int nId, ncclUniqueId* commIds,
                ncclConfig_t* config))

NCCL_API_EXPORT ncclResult_t ncclCommInitAll(ncclComm_t* comms, int ndev, const int* devlist) {
  return guarded([&]() -> Status {
    if (comms == nullptr) return InvalidArgument("ncclCommInitAll: comms is NULL");
    if (ndev < 1) return InvalidArgument("ncclCommInitAll: ndev must be >= 1, not ", ndev);
    if (devlist != nullptr) {
      for (int i = 0; i < ndev; ++i) {
        if (devlist[i] < 0) return InvalidArgument("ncclCommInitAll: devlist[", i, "] is negative");
      }
    }
    STRATA_ASSIGN_OR_RETURN(bootstrap::UniqueId id, bootstrap::createUniqueId());
    ncclUniqueId uid;
    std::memset(uid.internal, 0, sizeof uid.internal);
    id.encode(reinterpret_cast<uint8_t*>(uid.internal));
    // The ranks rendezvous with each other: create them from one group.
    STRATA_RETURN_IF_ERROR(groupStart());
    Status first;
    for (int r = 0; r < ndev; ++r) {
      Status s = initRank(&comms[r], ndev, uid, r, nullptr, devlist != nullptr ? devlist[r] : r);
      if (!s.ok() && first.ok()) first = s;
    }
    Status end = groupEnd();
    if (!first.ok()) return first;
    if (!end.ok()) {
      for (int r = 0; r < ndev; ++r) {
        if (comms[r] != nullptr) destroyHandle(comms[r]);
        comms[r] = nullptr;
      }
    }
    return end;
  });
}
NCCL_API_ALIAS(ncclResult_t, ncclCommInitAll, (ncclComm_t * comms, int ndev, const int* devlist))

NCCL_API_EXPORT ncclResult_t ncclCommFinalize(ncclComm_t comm) {
  return guarded([&]() -> Status {
    STRATA_ASSIGN_OR_RETURN(Communicator * c, lookup(comm, "ncclCommFinalize"));
    // Host operations complete before their call (or group) returns, so
    // nothing is left in flight; wait out operations of other threads.
    c->waitIdle(c->timeout());
    return Status::Ok();
  });
}
NCCL_API_ALIAS(ncclResult_t, ncclCommFinalize, (ncclComm_t comm))

NCCL_API_EXPORT ncclResult_t ncclCommDestroy(ncclComm_t comm) {
  return guarded([&] { return teardown(comm, false, "ncclCommDestroy"); });
}
NCCL_API_ALIAS(ncclResult_t, ncclCommDestroy, (ncclComm_t comm))

NCCL_API_EXPORT ncclResult_t ncclCommAbort(ncclComm_t comm) {
  return guarded([&] { return teardown(comm, true, "ncclCommAbort"); });
}
NCCL_API_ALIAS(ncclResult_t, ncclCommAbort, (ncclComm_t comm))

NCCL_API_EXPORT ncclResult_t ncclCommRevoke(ncclComm_t comm, int revokeFlags) {
  return guarded([&]() -> Status {
    if (revokeFlags != NCCL_REVOKE_DEFAULT) {
      return InvalidArgument("ncclCommRevoke: revokeFlags must be NCCL_REVOKE_DEFAULT, not ",
                             revokeFlags);
    }
    STRATA_ASSIGN_OR_RETURN(Communicator * c, lookup(comm, "ncclCommRevoke"));
    // Operations in flight on other threads see the flag and fail; later
    // ones are refused. Only ncclCommDestroy/ncclCommAbort remain useful.
    c->abort();
    c->waitIdle(c->timeout());
    return Status::Ok();
  });
}
NCCL_API_ALIAS(ncclResult_t, ncclCommRevoke, (ncclComm_t comm, int revokeFlags))

NCCL_API_EXPORT ncclResult_t ncclCommSplit(ncclComm_t comm, int color, int key,
                                           ncclComm_t* newcomm, ncclConfig_t* config) {
  return guarded([&] { return split(comm, color, key, newcomm, config); });
}
NCCL_API_ALIAS(ncclResult_t, ncclCommSplit,
               (ncclComm_t comm, int color, int key, ncclComm_t* newcomm, ncclConfig_t* config))

NCCL_API_EXPORT ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t* asyncError) {
  return guarded([&]() -> Status {
    if (asyncError == nullptr) return InvalidArgument("ncclCommGetAsyncError: asyncError is NULL");
    STRATA_ASSIGN_OR_RETURN(Communicator * c, lookup(comm, "ncclCommGetAsyncError"));
    Status s = c->asyncError();
    if (!s.ok()) setLastError(s.message());
    *asyncError = static_cast<ncclResult_t>(s.code());
    return Status::Ok();
  });
}
NCCL_API_ALIAS(ncclResult_t, ncclCommGetAsyncError, (ncclComm_t comm, ncclResult_t* asyncError))

NCCL_API_EXPORT ncclResult_t ncclCommCount(const ncclComm_t comm, int* count) {
  return guarded([&]() -> Status {
    if (count == nullptr) return InvalidArgument("ncclCommCount: count is NULL");
    STRATA_ASSIGN_OR_RETURN(Communicator * c, lookup(comm, "ncclCommCount"));
    *count = c->nranks();
    return Status::Ok();
  });
}
NCCL_API_ALIAS(ncclResult_t, ncclCommCount, (const ncclComm_t comm, int* count))

NCCL_API_EXPORT ncclResult_t ncclCommUserRank(const ncclComm_t comm, int* rank) {
  return guarded([&]() -> Status {
    if (rank == nullptr) return InvalidArgument("ncclCommUserRank: rank is NULL");
    STRATA_ASSIGN_OR_RETURN(Communicator * c, lookup(comm, "ncclCommUserRank"));
    *rank = c->rank();
    return Status::Ok();
  });
}
NCCL_API_ALIAS(ncclResult_t, ncclCommUserRank, (const ncclComm_t comm, int* rank))

NCCL_API_EXPORT ncclResult_t ncclCommCuDevice(const ncclComm_t comm, int* device) {
  return guarded([&]() -> Status {
    if (device == nullptr) return InvalidArgument("ncclCommCuDevice: device is NULL");
    STRATA_ASSIGN_OR_RETURN(Communicator * c, lookup(comm, "ncclCommCuDevice"));
    // Communicators without device FIFOs are bound to no CUDA device.
    *device = c->device() != nullptr ? c->device()->device() : -1;
    return Status::Ok();
  });
}
NCCL_API_ALIAS(ncclResult_t, ncclCommCuDevice, (const ncclComm_t comm, int* device))

NCCL_API_EXPORT ncclResult_t ncclRedOpCreatePreMulSum(ncclRedOp_t* op, void* scalar,
                                                      ncclDataType_t datatype,
                                                      ncclScalarResidence_t residence,
                                                      ncclComm_t comm) {
  return guarded([&]() -> Status {
    if (op == nullptr) return InvalidArgument("ncclRedOpCreatePreMulSum: op is NULL");
    if (scalar == nullptr) return InvalidArgument("ncclRedOpCreatePreMulSum: scalar is NULL");
    const int type = rawEnum(datatype);
    const int where = rawEnum(residence);
    if (!isValidDataType(type)) {
      return InvalidArgument("ncclRedOpCreatePreMulSum: invalid datatype ", type);
    }
    if (where != ncclScalarDevice && where != ncclScalarHostImmediate) {
      return InvalidArgument("ncclRedOpCreatePreMulSum: invalid residence ", where);
    }
    if (where == ncclScalarDevice && cuda::needsDevice(cuda::classify(scalar).kind)) {
      // The scalar is read on the host when an operation is issued.
      return InvalidUsage("ncclRedOpCreatePreMulSum: a scalar in device memory is not supported "
                          "yet; pass host memory (ncclScalarHostImmediate or a host pointer)");
    }
    STRATA_ASSIGN_OR_RETURN(Communicator * c, lookup(comm, "ncclRedOpCreatePreMulSum"));
    STRATA_ASSIGN_OR_RETURN(int id, c->createPreMulSum(static_cast<DataType>(type), scalar,
                                                       where == ncclScalarHostImmediate));
    *op = static_cast<ncclRedOp_t>(id);
    return Status::Ok();
  });
}
NCCL_API_ALIAS(ncclResult_t, ncclRedOpCreatePreMulSum,
               (ncclRedOp_t * op, void* scalar, ncclDataType_t datatype,
                ncclScalarResidence_t residence, ncclComm_t comm))

NCCL_API_EXPORT ncclResult_t ncclRedOpDestroy(ncclRedOp_t op, ncclComm_t comm) {
  return guarded([&]() -> Status {
    STRATA_ASSIGN_OR_RETURN(Communicator * c, lookup(comm, "ncclRedOpDestroy"));
    return c->destroyRedOp(rawEnum(op));
  });
}
NCCL_API_ALIAS(ncclResult_t, ncclRedOpDestroy, (ncclRedOp_t op, ncclComm_t comm))

NCCL_API_EXPORT ncclResult_t ncclGroupStart(void) {
  return guarded([] { return groupStart(); });
}
NCCL_API_ALIAS(ncclResult_t, ncclGroupStart, (void))

NCCL_API_EXPORT ncclResult_t ncclGroupEnd(void) {
  return guarded([] { return groupEnd(); });
}
NCCL_API_ALIAS(ncclResult_t, ncclGroupEnd, (void))
