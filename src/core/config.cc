#include "core/config.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <strings.h>

namespace strata::config {
namespace {

using T = SettingType;

// One row per setting. Keep sorted by area; strata-info prints them in this order.
const std::vector<Setting> kSettings = {
    // Logging
    {"STRATA_DEBUG", "NCCL_DEBUG", T::kString, "WARN",
     "log level: NONE, VERSION, WARN, INFO or TRACE"},
    {"STRATA_DEBUG_SUBSYS", "NCCL_DEBUG_SUBSYS", T::kString, "ALL",
     "comma-separated subsystems to log (INIT,COLL,P2P,SHM,NET,BOOTSTRAP,ENV,ALLOC,ALL); ^ excludes"},
    {"STRATA_DEBUG_FILE", "NCCL_DEBUG_FILE", T::kString, "",
     "write logs to this file instead of stderr (%h host name, %p pid)"},
    // Waiting and faults
    {"STRATA_TIMEOUT", nullptr, T::kInt, "300",
     "seconds any blocking wait (bootstrap, connection, collective) may take before it fails"},
    {"STRATA_HANDSHAKE_TIMEOUT_MS", nullptr, T::kInt, "20000",
     "milliseconds an incoming connection has to prove it holds the secret"},
    {"STRATA_SPIN_US", nullptr, T::kInt, "20",
     "microseconds a waiting rank polls before it sleeps on a futex"},
    {"STRATA_BUSY_POLL_US", nullptr, T::kInt, "-1",
     "microseconds of the poll spent without yielding the core (-1: all of STRATA_SPIN_US when "
     "the rank is pinned to one core and this host's ranks do not outnumber its cores, else 0)"},
    // Bootstrap and launchers
    {"STRATA_COMM_ID", "NCCL_COMM_ID", T::kString, "",
     "host:port on which ncclGetUniqueId's root listens (default: any port on the chosen interface)"},
    {"STRATA_UNIQUE_ID", nullptr, T::kString, "",
     "hex-encoded unique id handed to ranks by tools/strata-run"},
    {"STRATA_RANK", nullptr, T::kInt, "-1", "this process's rank, set by launchers"},
    {"STRATA_WORLD_SIZE", nullptr, T::kInt, "-1", "number of ranks, set by launchers"},
    {"STRATA_LOCAL_RANK", nullptr, T::kInt, "-1", "rank among the ranks on this host"},
    {"STRATA_ROOT_ADDR", nullptr, T::kString, "",
     "host:port where rank 0 hosts the bootstrap root when initialising from the environment"},
    {"STRATA_SECRET", nullptr, T::kString, "",
     "32 hex digits shared by all ranks when initialising from the environment"},
    {"STRATA_HOST_ID", "NCCL_HOSTID", T::kString, "",
     "override this process's host identity (ranks with equal ids share memory)"},
    // Transports
    {"STRATA_TRANSPORT", nullptr, T::kString, "auto",
     "force one transport for all peers: auto, loopback, shm or tcp"},
    {"STRATA_SHM_DISABLE", "NCCL_SHM_DISABLE", T::kBool, "0",
     "do not use shared memory between processes (use tcp)"},
    {"STRATA_SHM_SLOT_BYTES", nullptr, T::kInt, "524288", "bytes per slot of a shm/loopback FIFO"},
    {"STRATA_SHM_NSLOTS", nullptr, T::kInt, "8", "slots per shm/loopback FIFO"},
    {"STRATA_SOCKET_IFNAME", "NCCL_SOCKET_IFNAME", T::kString, "",
     "interfaces to use: prefix list, ^prefix to exclude, =name for exact match"},
    {"STRATA_SOCKET_FAMILY", "NCCL_SOCKET_FAMILY", T::kString, "",
     "AF_INET or AF_INET6 to restrict the address family"},
    {"STRATA_SOCKET_NTHREADS", "NCCL_SOCKET_NTHREADS", T::kInt, "1",
     "proxy threads per tcp connection set"},
    {"STRATA_NSOCKS_PERTHREAD", "NCCL_NSOCKS_PERTHREAD", T::kInt, "2",
     "sockets per proxy thread for each tcp peer connection"},
    {"STRATA_TCP_SLOT_BYTES", nullptr, T::kInt, "1048576", "bytes per slot of a tcp FIFO"},
    {"STRATA_TCP_NSLOTS", nullptr, T::kInt, "4", "slots per tcp FIFO"},
    {"STRATA_TLS", nullptr, T::kBool, "0",
     "TLS 1.3 on tcp data and bootstrap connections, keyed from the unique id's secret (needs "
     "OpenSSL; all ranks must agree)"},
    // Algorithms and tuning
    {"STRATA_ALGO", "NCCL_ALGO", T::kString, "",
     "force an algorithm where it applies (ring, direct, chain, p2p, single-copy, ll; any case); empty: automatic"},
    {"STRATA_NCHANNELS", nullptr, T::kInt, "2", "channels (parallel rings) per collective"},
    {"STRATA_DIRECT_MAX_BYTES", nullptr, T::kInt, "32768",
     "all-reduce whose size times (ranks - 1) is at most this many bytes uses the one-step "
     "direct algorithm (0: never)"},
    {"STRATA_LL_MAX_BYTES", nullptr, T::kInt, "4096",
     "all-reduce of at most this many bytes (at most 4096) between ranks that share memory uses "
     "the low-latency mailbox protocol (0: never)"},
    {"STRATA_SINGLE_COPY", nullptr, T::kString, "auto",
     "large all-reduce, reduce-scatter, all-gather and broadcast read peers' buffers directly: "
     "auto (ranks of one process at any size; ranks in several processes of one host with "
     "cross-memory attach below STRATA_SINGLE_COPY_CMA_MAX_BYTES, by default never), 1 (at any "
     "size on one host) or 0 (never)"},
    {"STRATA_SINGLE_COPY_CMA_MAX_BYTES", nullptr, T::kInt, "0",
     "with STRATA_SINGLE_COPY=auto, operations (total bytes) below this size read peers in other "
     "processes with cross-memory attach; larger ones use the FIFOs (0, the default: never across "
     "processes, where the FIFOs measured faster at every size)"},
    {"STRATA_SINGLE_COPY_MIN_BYTES", nullptr, T::kInt, "65536",
     "smallest operation (total bytes) that uses the single-copy path"},
    {"STRATA_SINGLE_COPY_SHARED_MIN_BYTES", nullptr, T::kInt, "16777216",
     "smallest out-of-place operation (total bytes) that ranks in several processes run single "
     "copy when all the buffers they read come from strataMemAllocHost (smaller ones, and in-place "
     "all-reduces, use the FIFOs, which measured faster there)"},
    {"STRATA_STREAM_MIN_BYTES", nullptr, T::kInt, "0",
     "operations whose output is at least this large write it with non-temporal stores "
     "(bypassing the caches); 0 (the default): never"},
    {"STRATA_CHUNK_BYTES", nullptr, T::kInt, "0",
     "bytes per pipelined step; 0 derives it from the FIFO size"},
    // CUDA (device buffers)
    {"STRATA_CUDA", nullptr, T::kBool, "1",
     "collectives on device (GPU) buffers run on the CUDA executor, and communicators set up device "
     "FIFOs at creation where every rank has a GPU; 0: device buffers are refused"},
    {"STRATA_CUDA_NCHANNELS", nullptr, T::kInt, "0",
     "channels (thread blocks) of collectives on device buffers, at most 63; 0 derives it from "
     "the GPU's multiprocessors shared by the ranks on it and a 512 MiB bound on device FIFOs"},
    {"STRATA_CUDA_NSLOTS", nullptr, T::kInt, "4", "slots per device FIFO (2..16)"},
    {"STRATA_CUDA_SLOT_BYTES", nullptr, T::kInt, "524288",
     "bytes per slot of a device FIFO (simple protocol)"},
    {"STRATA_CUDA_LL_SLOT_BYTES", nullptr, T::kInt, "65536",
     "bytes per slot of a device FIFO's LL (low-latency) area"},
    {"STRATA_CUDA_LL_MAX_BYTES", nullptr, T::kInt, "65536",
     "operations of at most this many bytes (and half the LL FIFO capacity) use the LL protocol on the GPU"},
    {"STRATA_CUDA_THREADS", nullptr, T::kInt, "512", "threads per block of the CUDA executor"},
};

const char* lookupRaw(const Setting& s) {
  const char* v = std::getenv(s.name);
  if (v == nullptr && s.ncclAlias != nullptr) v = std::getenv(s.ncclAlias);
  return v;
}

const Setting& find(const char* name) {
  for (const auto& s : kSettings) {
    if (std::strcmp(s.name, name) == 0) return s;
  }
  std::fprintf(stderr, "strata: internal error: undeclared setting %s\n", name);
  std::abort();
}

}  // namespace

const std::vector<Setting>& allSettings() { return kSettings; }

bool isSet(const char* name) { return lookupRaw(find(name)) != nullptr; }

std::string getString(const char* name) {
  const Setting& s = find(name);
  const char* v = lookupRaw(s);
  return v != nullptr ? std::string(v) : std::string(s.defaultValue);
}

int64_t getInt(const char* name) {
  const Setting& s = find(name);
  const char* v = lookupRaw(s);
  if (v != nullptr && *v != '\0') {
    char* end = nullptr;
    long long parsed = std::strtoll(v, &end, 0);
    if (end != v && *end == '\0') return parsed;
    std::fprintf(stderr, "strata: ignoring %s=%s (not an integer)\n", s.name, v);
  }
  return std::strtoll(s.defaultValue, nullptr, 0);
}

bool getBool(const char* name) {
  const Setting& s = find(name);
  const char* v = lookupRaw(s);
  if (v == nullptr || *v == '\0') v = s.defaultValue;
  return !(std::strcmp(v, "0") == 0 || strcasecmp(v, "false") == 0 || strcasecmp(v, "no") == 0 ||
           strcasecmp(v, "off") == 0);
}

}  // namespace strata::config
