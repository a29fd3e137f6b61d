// strata-run: launches N local ranks of a program. The launcher creates the
// unique id (its process hosts the bootstrap root) and hands every rank
// STRATA_UNIQUE_ID, STRATA_RANK, STRATA_WORLD_SIZE, STRATA_LOCAL_RANK and
// STRATA_LOCAL_SIZE; programs call strataCommInitFromEnv (or read the
// variables and call ncclCommInitRank themselves).
//
//   strata-run -n 4 [--timeout SECONDS] [--bind core|none] [--] program [args...]
//   strata-run --hosts 3x2 [--rate RATE] [--timeout SECONDS] [--] program [args...]
//   strata-run --hosts 2,1,3 ...
//
// If a rank fails, the others are stopped; the exit code is the first
// failing rank's (or 124 on timeout).
//
// With --bind core (the default while the local ranks do not outnumber the
// cores this process may use) rank i is pinned to the i-th of those cores,
// as mpirun does: a rank that polls keeps its core and its caches.
//
// --hosts places the ranks on emulated hosts (network namespaces, root
// only) by handing over to tools/strata-hosts: KxR is K hosts with R ranks
// each, a list gives the ranks of each host. Ranks then meet through
// STRATA_ROOT_ADDR/STRATA_SECRET instead of STRATA_UNIQUE_ID (the root must
// listen inside the first host's namespace). -n, if given, must match.
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "strata.h"

namespace {

void usage() {
  std::fprintf(stderr,
               "usage: strata-run -n NRANKS [--timeout SECONDS] [--bind core|none] [--] program [args...]\n"
               "       strata-run --hosts KxR|N0,N1,... [--rate RATE] [--timeout SECONDS] [--] "
               "program [args...]\n"
               "Starts NRANKS local processes of program with a shared Strata unique id, or\n"
               "places them on emulated hosts (network namespaces, needs root) through\n"
               "tools/strata-hosts.\n");
}

// "3x2" -> {2, 2, 2}; "2,1,3" -> {2, 1, 3}; empty on a malformed spec.
std::vector<int> parseHosts(const std::string& spec) {
  std::vector<int> counts;
  auto number = [](const std::string& t, int lo, int hi) {
    if (t.empty() || t.size() > 4 || t.find_first_not_of("0123456789") != std::string::npos) {
      return -1;
    }
    int v = std::stoi(t);
    return (v < lo || v > hi) ? -1 : v;
  };
  size_t x = spec.find('x');
  if (x != std::string::npos) {
    int k = number(spec.substr(0, x), 1, 250);
    int r = number(spec.substr(x + 1), 1, 64);
    if (k < 0 || r < 0) return {};
    counts.assign(static_cast<size_t>(k), r);
    return counts;
  }
  size_t start = 0;
  while (start <= spec.size()) {
    size_t comma = spec.find(',', start);
    if (comma == std::string::npos) comma = spec.size();
    int r = number(spec.substr(start, comma - start), 1, 64);
    if (r < 0) return {};
    counts.push_back(r);
    start = comma + 1;
  }
  if (counts.size() > 250) return {};
  return counts;
}

// tools/strata-hosts: next to this executable, else in the source tree.
std::string hostsTool() {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n > 0) {
    self[n] = '\0';
    std::string dir(self);
    dir.resize(dir.rfind('/') + 1);
    std::string beside = dir + "strata-hosts";
    if (access(beside.c_str(), R_OK) == 0) return beside;
  }
#ifdef STRATA_TOOLS_SOURCE_DIR
  std::string source = std::string(STRATA_TOOLS_SOURCE_DIR) + "/strata-hosts";
  if (access(source.c_str(), R_OK) == 0) return source;
#endif
  return {};
}

int runOnHosts(const std::vector<int>& counts, const std::string& rate, long timeoutSec,
               char** program) {
  std::string tool = hostsTool();
  if (tool.empty()) {
    std::fprintf(stderr, "strata-run: --hosts needs tools/strata-hosts, which was not found\n");
    return 2;
  }
  std::string layout;
  for (int c : counts) {
    if (!layout.empty()) layout += ',';
    layout += std::to_string(c);
  }
  std::vector<std::string> args = {"bash", tool, "--layout", layout};
  if (!rate.empty()) {
    args.push_back("--rate");
    args.push_back(rate);
  }
  if (timeoutSec > 0) {
    args.push_back("--timeout");
    args.push_back(std::to_string(timeoutSec));
  }
  args.push_back("--");
  for (char** a = program; *a != nullptr; ++a) args.push_back(*a);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  execvp("bash", argv.data());
  std::fprintf(stderr, "strata-run: cannot run bash %s: %s\n", tool.c_str(), std::strerror(errno));
  return 127;
}

void killAll(const std::vector<pid_t>& pids, int sig) {
  for (pid_t p : pids) {
    if (p > 0) kill(p, sig);
  }
}

}  // namespace

int main(int argc, char** argv) {
  int nranks = 0;
  long timeoutSec = 0;
  int bind = -1;  // -1: bind when the ranks fit the cores
  std::string hostsSpec, rate;
  int argi = 1;
  while (argi < argc) {
    std::string a = argv[argi];
    if ((a == "-n" || a == "-np") && argi + 1 < argc) {
      nranks = std::atoi(argv[argi + 1]);
      argi += 2;
    } else if (a == "--hosts" && argi + 1 < argc) {
      hostsSpec = argv[argi + 1];
      argi += 2;
    } else if (a == "--rate" && argi + 1 < argc) {
      rate = argv[argi + 1];
      argi += 2;
    } else if (a == "--timeout" && argi + 1 < argc) {
      timeoutSec = std::atol(argv[argi + 1]);
      argi += 2;
    } else if (a == "--bind" && argi + 1 < argc) {
      std::string b = argv[argi + 1];
      if (b != "core" && b != "none") {
        std::fprintf(stderr, "strata-run: --bind takes core or none, not %s\n", b.c_str());
        return 2;
      }
      bind = b == "core" ? 1 : 0;
      argi += 2;
    } else if (a == "-h" || a == "--help") {
      usage();
      return 0;
    } else if (a == "--") {
      ++argi;
      break;
    } else {
      break;
    }
  }
  if (!hostsSpec.empty()) {
    std::vector<int> counts = parseHosts(hostsSpec);
    if (counts.empty()) {
      std::fprintf(stderr, "strata-run: --hosts %s: expected KxR (e.g. 3x2) or a list of ranks "
                   "per host (e.g. 2,1,3)\n", hostsSpec.c_str());
      return 2;
    }
    int total = 0;
    for (int c : counts) total += c;
    if (nranks > 0 && nranks != total) {
      std::fprintf(stderr, "strata-run: -n %d does not match --hosts %s (%d ranks)\n", nranks,
                   hostsSpec.c_str(), total);
      return 2;
    }
    if (argi >= argc) {
      usage();
      return 2;
    }
    return runOnHosts(counts, rate, timeoutSec, argv + argi);
  }
  if (!rate.empty()) {
    std::fprintf(stderr, "strata-run: --rate applies to --hosts only\n");
    return 2;
  }
  if (nranks < 1 || argi >= argc) {
    usage();
    return 2;
  }
  ncclUniqueId id;
  if (ncclGetUniqueId(&id) != ncclSuccess) {
    std::fprintf(stderr, "strata-run: ncclGetUniqueId failed: %s\n", ncclGetLastError(nullptr));
    return 1;
  }
  char hex[STRATA_UNIQUE_ID_HEX_BYTES];
  strataUniqueIdToHex(&id, hex);

  // The cores this launcher may use, in order.
  std::vector<int> cores;
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof(allowed), &allowed) == 0) {
    for (int c = 0; c < CPU_SETSIZE; ++c) {
      if (CPU_ISSET(c, &allowed)) cores.push_back(c);
    }
  }
  if (bind < 0) bind = !cores.empty() && nranks <= static_cast<int>(cores.size()) ? 1 : 0;

  std::vector<pid_t> pids(nranks, -1);
  for (int r = 0; r < nranks; ++r) {
    pid_t pid = fork();
    if (pid < 0) {
      std::perror("strata-run: fork");
      killAll(pids, SIGTERM);
      return 1;
    }
    if (pid == 0) {
      setenv("STRATA_UNIQUE_ID", hex, 1);
      setenv("STRATA_RANK", std::to_string(r).c_str(), 1);
      setenv("STRATA_WORLD_SIZE", std::to_string(nranks).c_str(), 1);
      setenv("STRATA_LOCAL_RANK", std::to_string(r).c_str(), 1);
      setenv("STRATA_LOCAL_SIZE", std::to_string(nranks).c_str(), 1);
      if (bind == 1 && !cores.empty()) {
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cores[r % cores.size()], &one);
        if (sched_setaffinity(0, sizeof(one), &one) != 0) std::perror("strata-run: sched_setaffinity");
      }
      execvp(argv[argi], argv + argi);
      std::fprintf(stderr, "strata-run: cannot run %s: %s\n", argv[argi], std::strerror(errno));
      _exit(127);
    }
    pids[r] = pid;
  }

  auto start = std::chrono::steady_clock::now();
  int exitCode = 0;
  int remaining = nranks;
  bool stopping = false;
  while (remaining > 0) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      for (int r = 0; r < nranks; ++r) {
        if (pids[r] != pid) continue;
        pids[r] = -1;
        --remaining;
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (code != 0 && exitCode == 0) {
          exitCode = code;
          std::fprintf(stderr, "strata-run: rank %d exited with %d; stopping the others\n", r, code);
          killAll(pids, SIGTERM);
          stopping = true;
        }
      }
      continue;
    }
    if (timeoutSec > 0 && !stopping &&
        std::chrono::steady_clock::now() - start > std::chrono::seconds(timeoutSec)) {
      std::fprintf(stderr, "strata-run: timed out after %ld s; stopping all ranks\n", timeoutSec);
      killAll(pids, SIGKILL);
      exitCode = 124;
      stopping = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return exitCode;
}
