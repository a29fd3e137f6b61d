// strataCommInitFromEnv and unique-id text helpers. The launchers' own
// variables (RANK, OMPI_COMM_WORLD_RANK, ...) are read here and nowhere else.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "api/api_util.h"
#include "bootstrap/bootstrap.h"
#include "core/config.h"
#include "strata.h"

namespace strata::api {
namespace {

// The first of `names` that is set, as an integer; -1 if none is.
StatusOr<int> firstIntVar(std::initializer_list<const char*> names) {
  for (const char* name : names) {
    const char* v = std::getenv(name);
    if (v == nullptr || *v == '\0') continue;
    char* end = nullptr;
    long parsed = std::strtol(v, &end, 10);
    if (*end != '\0' || parsed < 0 || parsed > (1 << 30)) {
      return InvalidArgument("environment variable ", name, "=", v, " is not a valid rank/size");
    }
    return static_cast<int>(parsed);
  }
  return -1;
}

Status parseSecret(const std::string& hex, net::Secret* secret) {
  if (hex.size() != 32) {
    return InvalidArgument("STRATA_SECRET must be 32 hex digits (got ", hex.size(), " characters)");
  }
  for (size_t i = 0; i < 16; ++i) {
    unsigned byte = 0;
    if (std::sscanf(hex.c_str() + 2 * i, "%2x", &byte) != 1) {
      return InvalidArgument("STRATA_SECRET is not hexadecimal");
    }
    secret->bytes[i] = static_cast<uint8_t>(byte);
  }
  return Status::Ok();
}

StatusOr<bootstrap::UniqueId> idFromEnv(int rank) {
  std::string hex = config::getString("STRATA_UNIQUE_ID");
  if (!hex.empty()) {
    auto id = bootstrap::UniqueId::fromHex(hex);
    if (!id.ok()) return InvalidArgument("STRATA_UNIQUE_ID is malformed: ", id.status().message());
    return id;
  }
  std::string root = config::getString("STRATA_ROOT_ADDR");
  if (root.empty()) {
    const char* master = std::getenv("MASTER_ADDR");
    const char* port = std::getenv("MASTER_PORT");
    if (master != nullptr && port != nullptr) {
      root = strCat(master, ":", std::atoi(port) + 1);
    }
  }
  if (root.empty()) {
    return InvalidArgument(
        "no unique id in the environment: set STRATA_UNIQUE_ID (tools/strata-run does), or "
        "STRATA_ROOT_ADDR (or torchrun's MASTER_ADDR/MASTER_PORT) and STRATA_SECRET");
  }
  bootstrap::UniqueId id;
  STRATA_ASSIGN_OR_RETURN(id.root, net::Address::parse(root));
  STRATA_RETURN_IF_ERROR(parseSecret(config::getString("STRATA_SECRET"), &id.secret));
  // Every rank derives the same nonce from the secret.
  net::Digest d = net::sha256(id.secret.bytes.data(), id.secret.bytes.size());
  std::memcpy(&id.nonce, d.data(), sizeof id.nonce);
  if (rank == 0) STRATA_RETURN_IF_ERROR(bootstrap::startRoot(id));
  return id;
}

}  // namespace
}  // namespace strata::api

using namespace strata;  // NOLINT

NCCL_API_EXPORT const char* strataGetVersionString(void) { return "0.1.0 (NCCL API 2.28.3)"; }

NCCL_API_EXPORT ncclResult_t strataCommInitFromEnv(ncclComm_t* comm) {
  ncclUniqueId uid;
  int rank = -1, size = -1;
  ncclResult_t rc = api::guarded([&]() -> Status {
    if (comm == nullptr) return InvalidArgument("strataCommInitFromEnv: comm is NULL");
    STRATA_ASSIGN_OR_RETURN(rank, api::firstIntVar({"STRATA_RANK", "RANK", "OMPI_COMM_WORLD_RANK",
                                                     "PMI_RANK", "SLURM_PROCID"}));
    STRATA_ASSIGN_OR_RETURN(size, api::firstIntVar({"STRATA_WORLD_SIZE", "WORLD_SIZE",
                                                     "OMPI_COMM_WORLD_SIZE", "PMI_SIZE",
                                                     "SLURM_NTASKS"}));
    if (rank < 0 || size < 1) {
      return InvalidArgument("strataCommInitFromEnv: no rank/world size in the environment "
                             "(STRATA_RANK/STRATA_WORLD_SIZE, RANK/WORLD_SIZE, OMPI_COMM_WORLD_*, "
                             "SLURM_PROCID/SLURM_NTASKS)");
    }
    STRATA_ASSIGN_OR_RETURN(bootstrap::UniqueId id, api::idFromEnv(rank));
    std::memset(uid.internal, 0, sizeof uid.internal);
    id.encode(reinterpret_cast<uint8_t*>(uid.internal));
    return Status::Ok();
  });
  if (rc != ncclSuccess) return rc;
  return ncclCommInitRank(comm, size, uid, rank);
}

NCCL_API_EXPORT ncclResult_t strataUniqueIdToHex(const ncclUniqueId* id, char* hex) {
  return api::guarded([&]() -> Status {
    if (id == nullptr || hex == nullptr) return InvalidArgument("strataUniqueIdToHex: NULL argument");
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < NCCL_UNIQUE_ID_BYTES; ++i) {
      auto b = static_cast<unsigned char>(id->internal[i]);
      hex[2 * i] = digits[b >> 4];
      hex[2 * i + 1] = digits[b & 15];
    }
    hex[2 * NCCL_UNIQUE_ID_BYTES] = '\0';
    return Status::Ok();
  });
}

NCCL_API_EXPORT ncclResult_t strataUniqueIdFromHex(const char* hex, ncclUniqueId* id) {
  return api::guarded([&]() -> Status {
    if (id == nullptr || hex == nullptr) return InvalidArgument("strataUniqueIdFromHex: NULL argument");
    if (std::strlen(hex) != 2 * NCCL_UNIQUE_ID_BYTES) {
      return InvalidArgument("strataUniqueIdFromHex: expected ", 2 * NCCL_UNIQUE_ID_BYTES,
                             " hex digits");
    }
    for (int i = 0; i < NCCL_UNIQUE_ID_BYTES; ++i) {
      unsigned byte = 0;
      if (std::sscanf(hex + 2 * i, "%2x", &byte) != 1) {
        return InvalidArgument("strataUniqueIdFromHex: not hexadecimal at position ", 2 * i);
      }
      id->internal[i] = static_cast<char>(byte);
    }
    return Status::Ok();
  });
}
