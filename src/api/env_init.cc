// strataCommInitFromEnv and unique-id text helpers. The launchers' own
// variables (RANK, OMPI_COMM_WORLD_RANK, ...) are read here and nowhere else.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "api/api_util.h"
#include "bootstrap/bootstrap.h"
#include "core/config.h"
#include "core/log.h"
#include "strata.h"

namespace strata::api {
namespace {

// The variables one launcher sets for each process. Rank and size are taken
// from the same launcher, never mixed (mpirun inside a Slurm allocation sets
// both families; the first launcher in this list that set a rank wins).
struct Launcher {
  const char* name;
  const char* rank;
  const char* size;
  const char* localRank;
};
constexpr Launcher kLaunchers[] = {
    {"strata-run/strata-hosts", "STRATA_RANK", "STRATA_WORLD_SIZE", "STRATA_LOCAL_RANK"},
    {"torchrun", "RANK", "WORLD_SIZE", "LOCAL_RANK"},
    {"Open MPI", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK"},
    {"PMI", "PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID"},
    {"Slurm", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID"},
};

// The variable as a non-negative integer; -1 if it is not set.
StatusOr<int> intVar(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return -1;
  char* end = nullptr;
  long parsed = std::strtol(v, &end, 10);
  if (*end != '\0' || parsed < 0 || parsed > (1 << 30)) {
    return InvalidArgument("environment variable ", name, "=", v, " is not a valid rank/size");
  }
  return static_cast<int>(parsed);
}

struct Placement {
  const Launcher* launcher = nullptr;
  int rank = -1, size = -1, localRank = -1;
};

StatusOr<Placement> placementFromEnv() {
  for (const Launcher& l : kLaunchers) {
    Placement p;
    STRATA_ASSIGN_OR_RETURN(p.rank, intVar(l.rank));
    if (p.rank < 0) continue;
    p.launcher = &l;
    STRATA_ASSIGN_OR_RETURN(p.size, intVar(l.size));
    if (p.size < 1) {
      return InvalidArgument("strataCommInitFromEnv: ", l.rank, " is set (", l.name, ") but ",
                             l.size, " is not");
    }
    if (p.rank >= p.size) {
      return InvalidArgument("strataCommInitFromEnv: ", l.rank, "=", p.rank, " is not below ",
                             l.size, "=", p.size);
    }
    STRATA_ASSIGN_OR_RETURN(p.localRank, intVar(l.localRank));
    return p;
  }
  return InvalidArgument("strataCommInitFromEnv: no rank/world size in the environment "
                         "(STRATA_RANK/STRATA_WORLD_SIZE, torchrun's RANK/WORLD_SIZE, "
                         "OMPI_COMM_WORLD_*, PMI_RANK/PMI_SIZE, SLURM_PROCID/SLURM_NTASKS)");
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
      char* end = nullptr;
      long p = std::strtol(port, &end, 10);
      if (*port == '\0' || *end != '\0' || p < 1 || p > 65534) {
        return InvalidArgument("MASTER_PORT=", port, " is not a port number below 65535");
      }
      // torchrun's store listens on MASTER_PORT; the bootstrap root takes the next one.
      root = strCat(master, ":", p + 1);
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
    STRATA_ASSIGN_OR_RETURN(api::Placement p, api::placementFromEnv());
    rank = p.rank;
    size = p.size;
    STRATA_INFO(log::kInit | log::kEnv, "rank ", rank, " of ", size, " (local rank ", p.localRank,
                ") from ", p.launcher->name, "'s environment");
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
