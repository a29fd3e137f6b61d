// fault_check: one rank of a communicator spread over emulated hosts
// misbehaves; every other rank must fail with a clear error (never crash or
// hang). Run one process per rank under tools/strata-hosts with a small
// STRATA_TIMEOUT, through tests/hosts/fault_check.sh, which checks the
// reports:
//
//   fault_check --fault MODE --reports DIR [--faulty RANK]
//
// Modes (the faulty rank is the last one unless --faulty says otherwise):
//   wrong-secret       it joins with a forged unique id (another secret)
//   garbage-data       after a good all-reduce it writes garbage into its
//                      outgoing tcp data sockets, then all ranks all-reduce
//   garbage-bootstrap  it writes garbage into its bootstrap sockets, then all
//                      ranks call ncclCommSplit (which talks over them)
//   stall              it stops (SIGSTOP) before an all-reduce
//   kill               it dies (SIGKILL) before an all-reduce
//
// The faulty rank's work runs in a child process; the parent waits until
// every healthy rank has written its report (or 3 x STRATA_TIMEOUT + 30 s
// passed), kills the child and exits 0, so the launcher sees no failure of
// its own and never waits on a stopped process.
//
// Each rank writes DIR/rank<r>.txt: "result ok|error", "seconds S" (from the
// fault to the error) and "error <ncclGetLastError text>". Exit status 0
// when the rank behaved as planned (a healthy rank that saw no error still
// exits 0: the script judges), 2 on a usage error.
#include <arpa/inet.h>
#include <dirent.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "nccl.h"
#include "strata.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string fault;
  std::string reports;
  int faulty = -1;
};

int envInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return (v != nullptr && *v != '\0') ? std::atoi(v) : fallback;
}

void writeReport(const Options& o, int rank, bool ok, double seconds, const std::string& error) {
  std::string path = o.reports + "/rank" + std::to_string(rank) + ".txt";
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp);
    f << "result " << (ok ? "ok" : "error") << "\n";
    f << "seconds " << seconds << "\n";
    f << "error " << error << "\n";
  }
  std::rename(tmp.c_str(), path.c_str());  // the report appears whole
  std::fprintf(stderr, "fault_check: rank %d: %s after %.1f s%s%s\n", rank,
               ok ? "no error" : "error", seconds, error.empty() ? "" : ": ", error.c_str());
}

// "ip:port" of the other end of every connected TCP socket of this process.
struct OpenSocket {
  int fd;
  std::string peer;
};
std::vector<OpenSocket> connectedSockets() {
  std::vector<OpenSocket> out;
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    int fd = std::atoi(e->d_name);
    if (e->d_name[0] < '0' || e->d_name[0] > '9' || fd == dirfd(d)) continue;
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) continue;
    if (ss.ss_family != AF_INET) continue;
    auto* in = reinterpret_cast<sockaddr_in*>(&ss);
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
    out.push_back({fd, std::string(ip) + ":" + std::to_string(ntohs(in->sin_port))});
  }
  closedir(d);
  return out;
}

// Peers' tcp data listeners this rank connected to, from its INFO log
// ("tcp connection to rank R channel C at ADDR established ...").
std::set<std::string> dataListeners(const std::string& logPath) {
  std::set<std::string> addrs;
  std::ifstream f(logPath);
  std::string line;
  const std::string marker = "tcp connection to rank ";
  while (std::getline(f, line)) {
    if (line.find(marker) == std::string::npos || line.find(" established") == std::string::npos) {
      continue;
    }
    size_t at = line.find(" at ", line.find(marker));
    if (at == std::string::npos) continue;
    std::istringstream rest(line.substr(at + 4));
    std::string addr;
    rest >> addr;
    addrs.insert(addr);
  }
  return addrs;
}

// Writes bytes that are no valid header of any Strata message.
int sprayGarbage(const std::vector<OpenSocket>& socks) {
  std::vector<unsigned char> junk(4096);
  unsigned x = 12345;
  for (auto& b : junk) {
    x = x * 1103515245u + 12345u;
    b = static_cast<unsigned char>(x >> 16);
  }
  int n = 0;
  for (const OpenSocket& s : socks) {
    if (send(s.fd, junk.data(), junk.size(), MSG_NOSIGNAL | MSG_DONTWAIT) > 0) ++n;
  }
  return n;
}

// A healthy rank: init, one good all-reduce, then the operation the fault
// hits; reports what it saw.
int healthyRank(const Options& o, int rank) {
  ncclComm_t comm = nullptr;
  Clock::time_point start = Clock::now();
  auto seconds = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
  if (strataCommInitFromEnv(&comm) != ncclSuccess) {
    writeReport(o, rank, false, seconds(), ncclGetLastError(nullptr));
    return 0;
  }
  std::vector<float> buf(1 << 18, 1.0f);
  if (ncclAllReduce(buf.data(), buf.data(), buf.size(), ncclFloat32, ncclSum, comm, nullptr) !=
      ncclSuccess) {
    writeReport(o, rank, false, seconds(), ncclGetLastError(nullptr));
    ncclCommAbort(comm);
    return 0;
  }
  start = Clock::now();
  ncclResult_t rc = ncclSuccess;
  if (o.fault == "garbage-bootstrap") {
    ncclComm_t child = nullptr;
    rc = ncclCommSplit(comm, 0, rank, &child, nullptr);
    if (rc == ncclSuccess) ncclCommDestroy(child);
  } else {
    // A few rounds: the garbage (or the missing peer) is met on the first.
    for (int i = 0; i < 20 && rc == ncclSuccess; ++i) {
      rc = ncclAllReduce(buf.data(), buf.data(), buf.size(), ncclFloat32, ncclSum, comm, nullptr);
    }
  }
  if (rc == ncclSuccess) {
    writeReport(o, rank, true, seconds(), "");
    ncclCommDestroy(comm);
  } else {
    writeReport(o, rank, false, seconds(), ncclGetLastError(nullptr));
    ncclCommAbort(comm);
  }
  return 0;
}

// The faulty rank's work (in a child process).
void faultyWork(const Options& o, int rank, const std::string& logPath) {
  if (o.fault == "wrong-secret") {
    // A forged id: the right root address, another secret.
    setenv("STRATA_SECRET", "0123456789abcdef0123456789abcdef", 1);
    ncclComm_t comm = nullptr;
    auto start = Clock::now();
    ncclResult_t rc = strataCommInitFromEnv(&comm);
    double s = std::chrono::duration<double>(Clock::now() - start).count();
    writeReport(o, rank, rc == ncclSuccess, s, rc == ncclSuccess ? "" : ncclGetLastError(nullptr));
    if (rc == ncclSuccess) ncclCommDestroy(comm);
    return;
  }
  ncclComm_t comm = nullptr;
  if (strataCommInitFromEnv(&comm) != ncclSuccess) {
    writeReport(o, rank, false, 0, ncclGetLastError(nullptr));
    return;
  }
  std::vector<float> buf(1 << 18, 1.0f);
  if (ncclAllReduce(buf.data(), buf.data(), buf.size(), ncclFloat32, ncclSum, comm, nullptr) !=
      ncclSuccess) {
    writeReport(o, rank, false, 0, ncclGetLastError(nullptr));
    return;
  }
  if (o.fault == "stall") raise(SIGSTOP);
  if (o.fault == "kill") raise(SIGKILL);
  if (o.fault == "garbage-data" || o.fault == "garbage-bootstrap") {
    std::set<std::string> data = dataListeners(logPath);
    std::vector<OpenSocket> chosen;
    for (const OpenSocket& s : connectedSockets()) {
      bool isData = data.count(s.peer) != 0;
      if (isData == (o.fault == "garbage-data")) chosen.push_back(s);
    }
    int n = sprayGarbage(chosen);
    std::fprintf(stderr, "fault_check: rank %d wrote garbage into %d %s socket(s)\n", rank, n,
                 o.fault == "garbage-data" ? "data" : "bootstrap/other");
    if (n == 0) {
      writeReport(o, rank, false, 0, "found no socket to write garbage into");
      return;
    }
    if (o.fault == "garbage-bootstrap") {
      ncclComm_t child = nullptr;
      if (ncclCommSplit(comm, 0, rank, &child, nullptr) == ncclSuccess) ncclCommDestroy(child);
    } else {
      ncclAllReduce(buf.data(), buf.data(), buf.size(), ncclFloat32, ncclSum, comm, nullptr);
    }
    writeReport(o, rank, true, 0, "faulty rank");
  }
  ncclCommAbort(comm);
}

bool allHealthyReported(const Options& o, int nranks) {
  for (int r = 0; r < nranks; ++r) {
    if (r == o.faulty) continue;
    struct stat st;
    std::string path = o.reports + "/rank" + std::to_string(r) + ".txt";
    if (stat(path.c_str(), &st) != 0) return false;
  }
  return true;
}

int faultyRank(const Options& o, int rank, int nranks) {
  // The child's INFO log tells it which sockets carry data.
  std::string logPath = o.reports + "/faulty-rank" + std::to_string(rank) + ".log";
  if (o.fault == "garbage-data" || o.fault == "garbage-bootstrap") {
    setenv("NCCL_DEBUG", "INFO", 1);
    setenv("NCCL_DEBUG_SUBSYS", "NET", 1);
    setenv("NCCL_DEBUG_FILE", logPath.c_str(), 1);
  }
  pid_t child = fork();
  if (child < 0) {
    std::perror("fault_check: fork");
    return 2;
  }
  if (child == 0) {
    faultyWork(o, rank, logPath);
    _exit(0);
  }
  int timeoutSec = envInt("STRATA_TIMEOUT", 300);
  auto limit = Clock::now() + std::chrono::seconds(3 * timeoutSec + 30);
  int status = 0;
  bool reaped = false;
  while (Clock::now() < limit && !allHealthyReported(o, nranks)) {
    if (!reaped && waitpid(child, &status, WNOHANG) == child) reaped = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (!reaped) {
    kill(child, SIGKILL);
    waitpid(child, &status, 0);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--fault" && i + 1 < argc) {
      o.fault = argv[++i];
    } else if (a == "--reports" && i + 1 < argc) {
      o.reports = argv[++i];
    } else if (a == "--faulty" && i + 1 < argc) {
      o.faulty = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "fault_check: unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  const std::set<std::string> modes = {"wrong-secret", "garbage-data", "garbage-bootstrap", "stall",
                                       "kill"};
  if (modes.count(o.fault) == 0 || o.reports.empty()) {
    std::fprintf(stderr, "usage: fault_check --fault wrong-secret|garbage-data|garbage-bootstrap|"
                         "stall|kill --reports DIR [--faulty RANK]\n");
    return 2;
  }
  int rank = envInt("STRATA_RANK", -1);
  int nranks = envInt("STRATA_WORLD_SIZE", -1);
  if (rank < 0 || nranks < 2) {
    std::fprintf(stderr, "fault_check: needs STRATA_RANK and STRATA_WORLD_SIZE >= 2 "
                         "(run it under tools/strata-hosts)\n");
    return 2;
  }
  if (o.faulty < 0) o.faulty = nranks - 1;
  if (o.faulty == 0 || o.faulty >= nranks) {
    std::fprintf(stderr, "fault_check: --faulty must be 1..%d (rank 0 hosts the root)\n",
                 nranks - 1);
    return 2;
  }
  mkdir(o.reports.c_str(), 0755);
  return rank == o.faulty ? faultyRank(o, rank, nranks) : healthyRank(o, rank);
}
