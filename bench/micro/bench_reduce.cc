// Host reduce throughput: reduce(type, sum) over buffers of 256 KiB (in
// cache) and 64 MiB (memory bound), next to memcpy of the same size, and the
// generic (compiler-vectorised) implementation for comparison with the one
// chosen at run time.
// Bytes processed count the traffic: reduce reads two buffers and writes
// one (3x the buffer size); memcpy reads one and writes one (2x), so the
// GB/s columns compare like with like. Buffers are page aligned, as
// collective buffers usually are (and because glibc's rep-movsb memcpy is
// pathologically slow on some AMD parts when dst sits a few bytes past src
// modulo 4 KiB, which malloc'd vectors can happen to do).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "core/types.h"
#include "kernels/host/reduce.h"
#include "kernels/host/reduce_loops.h"

namespace {

using strata::DataType;

constexpr int64_t kSmall = 256 << 10;
constexpr int64_t kLarge = 64 << 20;

struct FreeDeleter {
  void operator()(uint8_t* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<uint8_t, FreeDeleter>;

// A page-aligned buffer filled with finite, non-trivial bytes for every type
// (for the float types the bytes 0x3c..0x3f decode to moderate values).
Buffer makeBuffer(size_t bytes, uint8_t seed) {
  Buffer b(static_cast<uint8_t*>(std::aligned_alloc(4096, bytes)));
  if (b) {
    for (size_t i = 0; i < bytes; ++i) b.get()[i] = uint8_t(0x3c + ((i * 7 + seed) & 3));
  }
  return b;
}

using strata::kernels::detail::HostReduceImpl;

// impl == nullptr: the public reduce(); otherwise that implementation.
void BM_Reduce(benchmark::State& state, DataType type, const HostReduceImpl* impl) {
  const size_t bytes = size_t(state.range(0));
  const size_t count = bytes / strata::dataTypeSize(type);
  const Buffer a = makeBuffer(bytes, 1), b = makeBuffer(bytes, 2), dst = makeBuffer(bytes, 3);
  if (!a || !b || !dst) {
    state.SkipWithError("out of memory");
    return;
  }
  strata::Reduction r;
  r.op = strata::ReduceOp::kSum;
  for (auto _ : state) {
    if (impl == nullptr) {
      strata::kernels::reduce(type, r, dst.get(), a.get(), b.get(), count);
    } else {
      impl->apply(type, r, true, false, false, dst.get(), a.get(), b.get(), count);
    }
    benchmark::DoNotOptimize(dst.get());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * 3 * int64_t(bytes));
  state.SetLabel(impl == nullptr ? strata::kernels::reduceImplName() : impl->name);
}

void BM_Memcpy(benchmark::State& state) {
  const size_t bytes = size_t(state.range(0));
  const Buffer src = makeBuffer(bytes, 1), dst = makeBuffer(bytes, 2);
  if (!src || !dst) {
    state.SkipWithError("out of memory");
    return;
  }
  for (auto _ : state) {
    std::memcpy(dst.get(), src.get(), bytes);
    benchmark::DoNotOptimize(dst.get());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * 2 * int64_t(bytes));
}

void registerAll() {
  benchmark::RegisterBenchmark("memcpy", BM_Memcpy)->Arg(kSmall)->Arg(kLarge);
  for (int t = 0; t < strata::kNumDataTypes; ++t) {
    const auto type = DataType(t);
    const std::string name = std::string("reduce_sum/") + strata::dataTypeName(type);
    benchmark::RegisterBenchmark(name.c_str(), BM_Reduce, type, nullptr)
        ->Arg(kSmall)
        ->Arg(kLarge);
  }
  const HostReduceImpl* generic = &strata::kernels::detail::genericReduceImpl();
  for (int t = 0; t < strata::kNumDataTypes; ++t) {
    const auto type = DataType(t);
    const std::string name = std::string("reduce_sum_generic/") + strata::dataTypeName(type);
    benchmark::RegisterBenchmark(name.c_str(), BM_Reduce, type, generic)
        ->Arg(kSmall)
        ->Arg(kLarge);
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("reduce_impl", strata::kernels::reduceImplName());
  registerAll();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
