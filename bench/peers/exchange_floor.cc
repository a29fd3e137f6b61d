// The floor under a small all-reduce between two processes on one host:
// each process stores 8 bytes and a sequence word into a cache line the
// other polls, then polls its own line for the other's. Nothing else runs:
// no API, no reduction, no doorbells, no checks. What a library spends
// above this per call is its own overhead.
//
//   exchange_floor [-n ITERATIONS] [-w WARMUP] [-J FILE]
//
// Both processes are pinned, one per core (cores 0 and 1 of the affinity
// mask), as strata-run and mpirun pin their ranks. Prints the microseconds
// per exchange; -J writes them as JSON ({"time_us": ...}).

#include <sched.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

namespace {

struct alignas(64) Line {
  std::atomic<uint64_t> seq;
  double value;
};

void relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// The n-th CPU of this process's affinity mask, or -1.
int nthAllowedCpu(int n) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return -1;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &set) && n-- == 0) return cpu;
  }
  return -1;
}

void pinTo(int cpu) {
  if (cpu < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  sched_setaffinity(0, sizeof set, &set);
}

}  // namespace

int main(int argc, char** argv) {
  long iters = 200000, warmup = 2000;
  const char* json = nullptr;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-n" && i + 1 < argc) {
      iters = std::atol(argv[++i]);
    } else if (a == "-w" && i + 1 < argc) {
      warmup = std::atol(argv[++i]);
    } else if (a == "-J" && i + 1 < argc) {
      json = argv[++i];
    } else {
      std::fprintf(stderr, "usage: exchange_floor [-n ITERATIONS] [-w WARMUP] [-J FILE]\n");
      return 2;
    }
  }
  if (iters <= 0 || warmup < 0) {
    std::fprintf(stderr, "exchange_floor: -n must be positive and -w not negative\n");
    return 2;
  }
  void* mem = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    std::perror("exchange_floor: mmap");
    return 1;
  }
  Line* lines = new (mem) Line[2]();
  int cpu0 = nthAllowedCpu(0), cpu1 = nthAllowedCpu(1);
  pid_t child = fork();
  if (child < 0) {
    std::perror("exchange_floor: fork");
    return 1;
  }
  const int me = child == 0 ? 1 : 0;
  pinTo(me == 0 ? cpu0 : cpu1);
  Line* inbox = &lines[me];
  Line* outbox = &lines[1 - me];
  double acc = 1.0;
  auto start = std::chrono::steady_clock::now();
  const long total = warmup + iters;
  for (long i = 1; i <= total; ++i) {
    if (i == warmup + 1) start = std::chrono::steady_clock::now();
    outbox->value = acc;
    outbox->seq.store(static_cast<uint64_t>(i), std::memory_order_release);
    // The peer may already be one exchange ahead: wait for "at least i".
    while (inbox->seq.load(std::memory_order_acquire) < static_cast<uint64_t>(i)) relax();
    acc += inbox->value * 0.0;
  }
  double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
                  .count() /
              static_cast<double>(iters);
  if (me == 1) _exit(acc == 1.0 ? 0 : 1);
  int status = 0;
  waitpid(child, &status, 0);
  std::printf("exchange floor: %.3f us per exchange (%ld exchanges, 2 processes on cpus %d and %d)\n",
              us, iters, cpu0, cpu1);
  if (json != nullptr) {
    FILE* f = std::fopen(json, "w");
    if (f == nullptr) {
      std::perror("exchange_floor: -J");
      return 1;
    }
    std::fprintf(f, "{\"time_us\": %.6f, \"iterations\": %ld}\n", us, iters);
    std::fclose(f);
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
