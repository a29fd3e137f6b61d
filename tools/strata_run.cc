// strata-run: launches N local ranks of a program. The launcher creates the
// unique id (its process hosts the bootstrap root) and hands every rank
// STRATA_UNIQUE_ID, STRATA_RANK, STRATA_WORLD_SIZE, STRATA_LOCAL_RANK and
// STRATA_LOCAL_SIZE; programs call strataCommInitFromEnv (or read the
// variables and call ncclCommInitRank themselves).
//
//   strata-run -n 4 [--timeout SECONDS] [--bind core|none] [--] program [args...]
//
// With --bind core (the default while the ranks do not outnumber the cores
// this process may use) rank i is pinned to the i-th of those cores, as
// mpirun does: a rank that polls keeps its core and its caches.
//
// If a rank fails, the others are stopped; the exit code is the first
// failing rank's (or 124 on timeout).
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

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
               "Starts NRANKS local processes of program with a shared Strata unique id.\n");
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
  int argi = 1;
  while (argi < argc) {
    std::string a = argv[argi];
    if ((a == "-n" || a == "-np") && argi + 1 < argc) {
      nranks = std::atoi(argv[argi + 1]);
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
