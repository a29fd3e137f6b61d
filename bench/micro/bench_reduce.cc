// Host reduce throughput: reduce(type, sum) over buffers of 256 KiB (in
// cache) and 64 MiB (memory bound), next to memcpy of the same size.
// Bytes processed count the traffic: reduce reads two buffers and writes
// one (3x the buffer size); memcpy reads one and writes one (2x), so the
// GB/s columns compare like with like.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "core/types.h"
#include "kernels/host/reduce.h"

namespace {

using strata::DataType;

constexpr int64_t kSmall = 256 << 10;
constexpr int64_t kLarge = 64 << 20;

// Distinct, finite, non-trivial bytes for every type (for the float types
// the bytes 0x3c..0x3f decode to moderate values).
void fillBytes(std::vector<uint8_t>& v, uint8_t seed) {
  for (size_t i = 0; i < v.size(); ++i) v[i] = uint8_t(0x3c + ((i * 7 + seed) & 3));
}

void BM_Reduce(benchmark::State& state, DataType type) {
  const size_t bytes = size_t(state.range(0));
  const size_t count = bytes / strata::dataTypeSize(type);
  std::vector<uint8_t> a(bytes), b(bytes), dst(bytes);
  fillBytes(a, 1);
  fillBytes(b, 2);
  fillBytes(dst, 3);
  strata::Reduction r;
  r.op = strata::ReduceOp::kSum;
  for (auto _ : state) {
    strata::kernels::reduce(type, r, dst.data(), a.data(), b.data(), count);
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * 3 * int64_t(bytes));
  state.SetLabel(strata::kernels::reduceImplName());
}

void BM_Memcpy(benchmark::State& state) {
  const size_t bytes = size_t(state.range(0));
  std::vector<uint8_t> src(bytes), dst(bytes);
  fillBytes(src, 1);
  fillBytes(dst, 2);
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), bytes);
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * 2 * int64_t(bytes));
}

void registerAll() {
  benchmark::RegisterBenchmark("memcpy", BM_Memcpy)->Arg(kSmall)->Arg(kLarge);
  for (int t = 0; t < strata::kNumDataTypes; ++t) {
    const auto type = DataType(t);
    const std::string name = std::string("reduce_sum/") + strata::dataTypeName(type);
    benchmark::RegisterBenchmark(name.c_str(), BM_Reduce, type)->Arg(kSmall)->Arg(kLarge);
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
