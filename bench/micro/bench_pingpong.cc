// Ping-pong between two ranks through the whole stack (ncclSend/ncclRecv,
// executor, transport), one benchmark per transport: loopback (threads),
// shm and tcp (forced with STRATA_TRANSPORT between two threads of this
// process). Reports round-trip time and bytes moved per second.
//
//   build/bench/bench_pingpong --benchmark_min_time=0.2
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "nccl.h"

namespace {

struct Pair {
  ncclComm_t comm[2] = {nullptr, nullptr};
};

// Creates two ranks (threads) with the given transport forced.
bool makePair(const char* transport, Pair* p) {
  setenv("STRATA_TRANSPORT", transport, 1);
  ncclUniqueId id;
  if (ncclGetUniqueId(&id) != ncclSuccess) return false;
  ncclResult_t rc[2];
  std::thread t([&] { rc[1] = ncclCommInitRank(&p->comm[1], 2, id, 1); });
  rc[0] = ncclCommInitRank(&p->comm[0], 2, id, 0);
  t.join();
  unsetenv("STRATA_TRANSPORT");
  return rc[0] == ncclSuccess && rc[1] == ncclSuccess;
}

void pingPong(benchmark::State& state, const char* transport) {
  const size_t bytes = static_cast<size_t>(state.range(0));
  Pair p;
  if (!makePair(transport, &p)) {
    state.SkipWithError((std::string("cannot create ranks: ") + ncclGetLastError(nullptr)).c_str());
    return;
  }
  std::vector<char> a(bytes + 1, 1), b(bytes + 1, 0);
  // Rank 1 learns how many rounds this run has, then echoes each one.
  std::thread echo([&] {
    std::vector<char> buf(bytes + 1);
    long rounds = 0;
    if (ncclRecv(&rounds, 1, ncclInt64, 0, p.comm[1], nullptr) != ncclSuccess) return;
    for (long i = 0; i < rounds; ++i) {
      ncclRecv(buf.data(), bytes, ncclInt8, 0, p.comm[1], nullptr);
      ncclSend(buf.data(), bytes, ncclInt8, 0, p.comm[1], nullptr);
    }
  });
  long rounds = static_cast<long>(state.max_iterations);
  ncclSend(&rounds, 1, ncclInt64, 1, p.comm[0], nullptr);
  for (auto _ : state) {
    ncclSend(a.data(), bytes, ncclInt8, 1, p.comm[0], nullptr);
    ncclRecv(b.data(), bytes, ncclInt8, 1, p.comm[0], nullptr);
  }
  echo.join();
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 2 * static_cast<int64_t>(bytes));
  state.counters["rtt_us"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * 1e-6,
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  ncclCommDestroy(p.comm[0]);
  ncclCommDestroy(p.comm[1]);
}

void BM_PingPongLoopback(benchmark::State& s) { pingPong(s, "loopback"); }
void BM_PingPongShm(benchmark::State& s) { pingPong(s, "shm"); }
void BM_PingPongTcp(benchmark::State& s) { pingPong(s, "tcp"); }

BENCHMARK(BM_PingPongLoopback)->RangeMultiplier(64)->Range(8, 8 << 20)->UseRealTime();
BENCHMARK(BM_PingPongShm)->RangeMultiplier(64)->Range(8, 8 << 20)->UseRealTime();
BENCHMARK(BM_PingPongTcp)->RangeMultiplier(64)->Range(8, 8 << 20)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
