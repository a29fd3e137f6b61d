// hosts_check: checks a communicator spread over several (emulated) hosts.
// Run one process per rank with strataCommInitFromEnv's environment, for
// example under tools/strata-hosts:
//
//   strata-hosts --hosts 3 --ranks-per-host 2 -- hosts_check --expect-hosts 3
//
// It runs all-reduce (sum and max, in and out of place), all-gather,
// broadcast (two roots), reduce-scatter, all-to-all and send/recv between
// every pair of ranks, on counts from 1 element to several MiB, and checks
// every received value against what the senders put in.
//
// It also checks the transport chosen for each peer: ranks in the same
// network namespace must use shm, ranks in different ones tcp. Each rank
// all-gathers the inode of its network namespace to learn who shares its
// host, and reads the connection manager's INFO line ("transports 0:shm
// 1:tcp ...") from a log file it sets up itself. When NCCL_DEBUG or
// STRATA_DEBUG is already set the log is left alone and that part is
// skipped.
//
// Exit status: 0 when everything matches, 1 on a wrong value or transport,
// 2 when a call fails.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "nccl.h"
#include "strata.h"

namespace {

#define CHECK_NCCL(call)                                                                  \
  do {                                                                                    \
    ncclResult_t rc_ = (call);                                                            \
    if (rc_ != ncclSuccess) {                                                             \
      std::fprintf(stderr, "hosts_check: %s failed: %s (%s)\n", #call,                    \
                   ncclGetErrorString(rc_), ncclGetLastError(nullptr));                   \
      std::exit(2);                                                                       \
    }                                                                                     \
  } while (0)

// Element counts: tiny, odd, and two above 1 MiB of int32.
constexpr size_t kCounts[] = {1, 1000, 65537, 300007, 1u << 20};

struct Ctx {
  ncclComm_t comm = nullptr;
  int rank = 0;
  int nranks = 1;
  long checked = 0;
  long wrong = 0;
};

// Values every rank can compute for any other rank; small enough that sums
// over 1024 ranks stay exact in int32 and float.
int32_t valueOf(int rank, size_t i, int salt) {
  return static_cast<int32_t>((static_cast<uint64_t>(rank) * 131 + i * 7 + salt * 977) % 1000) -
         500;
}
// A value unique to (source, destination, index) for the personalized exchanges.
int32_t pairValue(int src, int dst, size_t i) {
  return static_cast<int32_t>((static_cast<uint64_t>(src) * 1009 + dst * 37 + i * 3) % 100003);
}

template <typename T>
void expectEq(Ctx& c, const char* what, size_t count, size_t i, T got, T want) {
  ++c.checked;
  if (got == want) return;
  if (++c.wrong <= 10) {
    std::fprintf(stderr, "hosts_check: rank %d: %s count %zu: element %zu is %g, expected %g\n",
                 c.rank, what, count, i, static_cast<double>(got), static_cast<double>(want));
  }
}

void allReduce(Ctx& c, size_t n) {
  std::vector<int32_t> in(n), out(n, -1);
  for (size_t i = 0; i < n; ++i) in[i] = valueOf(c.rank, i, 1);
  CHECK_NCCL(ncclAllReduce(in.data(), out.data(), n, ncclInt32, ncclSum, c.comm, nullptr));
  std::vector<int32_t> want(n, 0);
  for (int r = 0; r < c.nranks; ++r) {
    for (size_t i = 0; i < n; ++i) want[i] += valueOf(r, i, 1);
  }
  for (size_t i = 0; i < n; ++i) expectEq(c, "all-reduce sum", n, i, out[i], want[i]);
  // In place.
  CHECK_NCCL(ncclAllReduce(in.data(), in.data(), n, ncclInt32, ncclSum, c.comm, nullptr));
  for (size_t i = 0; i < n; ++i) expectEq(c, "all-reduce sum in place", n, i, in[i], want[i]);

  std::vector<float> fin(n), fout(n, 0.0f);
  for (size_t i = 0; i < n; ++i) fin[i] = static_cast<float>(valueOf(c.rank, i, 2));
  CHECK_NCCL(ncclAllReduce(fin.data(), fout.data(), n, ncclFloat32, ncclMax, c.comm, nullptr));
  for (size_t i = 0; i < n; ++i) {
    int32_t best = valueOf(0, i, 2);
    for (int r = 1; r < c.nranks; ++r) best = std::max(best, valueOf(r, i, 2));
    expectEq(c, "all-reduce max", n, i, fout[i], static_cast<float>(best));
  }
}

void allGather(Ctx& c, size_t n) {
  std::vector<int32_t> in(n), out(n * c.nranks, -1);
  for (size_t i = 0; i < n; ++i) in[i] = valueOf(c.rank, i, 3);
  CHECK_NCCL(ncclAllGather(in.data(), out.data(), n, ncclInt32, c.comm, nullptr));
  for (int r = 0; r < c.nranks; ++r) {
    for (size_t i = 0; i < n; ++i) {
      expectEq(c, "all-gather", n, r * n + i, out[r * n + i], valueOf(r, i, 3));
    }
  }
}

void broadcast(Ctx& c, size_t n) {
  for (int root : {0, c.nranks - 1}) {
    std::vector<int32_t> buf(n, -7);
    if (c.rank == root) {
      for (size_t i = 0; i < n; ++i) buf[i] = valueOf(root, i, 4);
    }
    CHECK_NCCL(ncclBroadcast(buf.data(), buf.data(), n, ncclInt32, root, c.comm, nullptr));
    for (size_t i = 0; i < n; ++i) expectEq(c, "broadcast", n, i, buf[i], valueOf(root, i, 4));
    if (c.nranks == 1) break;
  }
}

void reduceScatter(Ctx& c, size_t n) {
  std::vector<int32_t> in(n * c.nranks), out(n, -1);
  for (size_t j = 0; j < in.size(); ++j) in[j] = valueOf(c.rank, j, 5);
  CHECK_NCCL(ncclReduceScatter(in.data(), out.data(), n, ncclInt32, ncclSum, c.comm, nullptr));
  for (size_t i = 0; i < n; ++i) {
    int32_t want = 0;
    for (int r = 0; r < c.nranks; ++r) want += valueOf(r, c.rank * n + i, 5);
    expectEq(c, "reduce-scatter", n, i, out[i], want);
  }
}

void allToAll(Ctx& c, size_t n) {
  std::vector<int32_t> in(n * c.nranks), out(n * c.nranks, -1);
  for (int p = 0; p < c.nranks; ++p) {
    for (size_t i = 0; i < n; ++i) in[p * n + i] = pairValue(c.rank, p, i);
  }
  CHECK_NCCL(ncclAlltoAll(in.data(), out.data(), n, ncclInt32, c.comm, nullptr));
  for (int p = 0; p < c.nranks; ++p) {
    for (size_t i = 0; i < n; ++i) {
      expectEq(c, "all-to-all", n, p * n + i, out[p * n + i], pairValue(p, c.rank, i));
    }
  }
}

// Every rank sends a distinct block to every other rank in one group.
void sendRecv(Ctx& c, size_t n) {
  std::vector<int32_t> in(n * c.nranks), out(n * c.nranks, -1);
  for (int p = 0; p < c.nranks; ++p) {
    for (size_t i = 0; i < n; ++i) in[p * n + i] = pairValue(c.rank, p, i) + 1;
  }
  CHECK_NCCL(ncclGroupStart());
  for (int p = 0; p < c.nranks; ++p) {
    if (p == c.rank) continue;
    CHECK_NCCL(ncclSend(in.data() + p * n, n, ncclInt32, p, c.comm, nullptr));
    CHECK_NCCL(ncclRecv(out.data() + p * n, n, ncclInt32, p, c.comm, nullptr));
  }
  CHECK_NCCL(ncclGroupEnd());
  for (int p = 0; p < c.nranks; ++p) {
    if (p == c.rank) continue;
    for (size_t i = 0; i < n; ++i) {
      expectEq(c, "send/recv", n, p * n + i, out[p * n + i], pairValue(p, c.rank, i) + 1);
    }
  }
}

uint64_t netnsInode() {
  struct stat st;
  if (stat("/proc/self/ns/net", &st) != 0) return 0;
  return static_cast<uint64_t>(st.st_ino);
}

// Sends the connection manager's INFO lines to a private file, unless the
// user asked for logs of their own. Returns the file's name, or "".
std::string captureInitLog() {
  if (std::getenv("STRATA_DEBUG") != nullptr || std::getenv("NCCL_DEBUG") != nullptr) return "";
  const char* dir = std::getenv("TMPDIR");
  std::string path = std::string(dir != nullptr && *dir != '\0' ? dir : "/tmp") +
                     "/strata-hosts-check.XXXXXX";
  std::vector<char> name(path.begin(), path.end());
  name.push_back('\0');
  int fd = mkstemp(name.data());
  if (fd < 0) return "";
  close(fd);
  setenv("STRATA_DEBUG", "INFO", 1);
  setenv("STRATA_DEBUG_SUBSYS", "INIT", 1);
  setenv("STRATA_DEBUG_FILE", name.data(), 1);
  return std::string(name.data());
}

// The "p:kind" list of this rank's "transports" line; empty if absent.
std::vector<std::string> readTransports(const std::string& path, int rank, int nranks) {
  std::vector<std::string> kinds;
  std::ifstream in(path);
  std::string line;
  std::string key = "rank " + std::to_string(rank) + "/" + std::to_string(nranks) + " ";
  while (std::getline(in, line)) {
    size_t at = line.find(key);
    size_t list = line.find(" transports ");
    if (at == std::string::npos || list == std::string::npos) continue;
    kinds.assign(nranks, "");
    std::istringstream words(line.substr(list + 12));
    std::string word;
    while (words >> word) {
      size_t colon = word.find(':');
      if (colon == std::string::npos) continue;
      int peer = std::atoi(word.substr(0, colon).c_str());
      if (peer >= 0 && peer < nranks) kinds[peer] = word.substr(colon + 1);
    }
  }
  return kinds;
}

// Compares the transports the library chose with what the namespaces imply.
bool checkTransports(Ctx& c, const std::vector<uint64_t>& ns, const std::string& logPath,
                     int expectHosts) {
  std::vector<uint64_t> distinct;
  std::vector<int> hostOf(c.nranks);
  for (int r = 0; r < c.nranks; ++r) {
    size_t h = 0;
    while (h < distinct.size() && distinct[h] != ns[r]) ++h;
    if (h == distinct.size()) distinct.push_back(ns[r]);
    hostOf[r] = static_cast<int>(h);
  }
  bool ok = true;
  if (expectHosts > 0 && static_cast<int>(distinct.size()) != expectHosts) {
    std::fprintf(stderr, "hosts_check: rank %d: ranks are in %zu network namespaces, expected %d\n",
                 c.rank, distinct.size(), expectHosts);
    ok = false;
  }
  std::string summary;
  if (logPath.empty()) {
    std::printf("hosts_check: rank %d on host %d of %zu; transports not checked (logging is "
                "configured by the user)\n",
                c.rank, hostOf[c.rank], distinct.size());
    return ok;
  }
  std::vector<std::string> kinds = readTransports(logPath, c.rank, c.nranks);
  if (kinds.empty()) {
    std::fprintf(stderr, "hosts_check: rank %d: no 'transports' line in %s\n", c.rank,
                 logPath.c_str());
    return false;
  }
  for (int p = 0; p < c.nranks; ++p) {
    if (p == c.rank) continue;
    const char* want = hostOf[p] == hostOf[c.rank] ? "shm" : "tcp";
    summary.append(" ").append(std::to_string(p)).append(":").append(kinds[p]);
    if (kinds[p] != want) {
      std::fprintf(stderr, "hosts_check: rank %d: peer %d uses '%s', expected %s\n", c.rank, p,
                   kinds[p].c_str(), want);
      ok = false;
    }
  }
  std::printf("hosts_check: rank %d on host %d of %zu; transports:%s\n", c.rank, hostOf[c.rank],
              distinct.size(), summary.empty() ? " (none)" : summary.c_str());
  return ok;
}

void usage() {
  std::fprintf(stderr,
               "usage: hosts_check [--expect-hosts K]\n"
               "Run one process per rank with strataCommInitFromEnv's environment\n"
               "(for example under tools/strata-hosts).\n");
}

}  // namespace

int main(int argc, char** argv) {
  int expectHosts = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--expect-hosts" && i + 1 < argc) {
      expectHosts = std::atoi(argv[++i]);
    } else {
      usage();
      return 2;
    }
  }
  std::string logPath = captureInitLog();

  Ctx c;
  auto start = std::chrono::steady_clock::now();
  CHECK_NCCL(strataCommInitFromEnv(&c.comm));
  CHECK_NCCL(ncclCommUserRank(c.comm, &c.rank));
  CHECK_NCCL(ncclCommCount(c.comm, &c.nranks));

  std::vector<uint64_t> ns(c.nranks, 0);
  ns[c.rank] = netnsInode();
  CHECK_NCCL(ncclAllGather(ns.data() + c.rank, ns.data(), 1, ncclUint64, c.comm, nullptr));
  bool transportsOk = checkTransports(c, ns, logPath, expectHosts);
  if (!logPath.empty()) unlink(logPath.c_str());

  for (size_t n : kCounts) {
    allReduce(c, n);
    allGather(c, n);
    broadcast(c, n);
    reduceScatter(c, n);
    allToAll(c, n);
    sendRecv(c, n);
  }
  CHECK_NCCL(ncclCommDestroy(c.comm));
  double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  bool ok = transportsOk && c.wrong == 0;
  std::printf("hosts_check: rank %d/%d %s: %ld values checked, %ld wrong, %.2f s\n", c.rank,
              c.nranks, ok ? "OK" : "FAILED", c.checked, c.wrong, secs);
  return ok ? 0 : 1;
}
