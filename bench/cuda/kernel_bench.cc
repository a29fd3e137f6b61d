// Bandwidth of the CUDA kernel library next to cudaMemcpy device-to-device
// measured in the same run. Bytes count what each operation reads plus
// what it writes (a copy of S bytes moves 2S), so the columns compare.
//
//   build/bench/cuda_kernel_bench [--bytes 256M] [--iters 20]
//
// Prints SKIP and exits 77 where no GPU is usable.
#include <cuda_runtime_api.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>

#include "kernels/cuda/library.h"
#include "../common/byte_size.h"

namespace {

using strata::DataType;
using strata::ReduceOp;
namespace ck = strata::cuda_kernels;

#define CHECK(call)                                                                   \
  do {                                                                                \
    cudaError_t e_ = (call);                                                          \
    if (e_ != cudaSuccess) {                                                          \
      std::fprintf(stderr, "%s: %s\n", #call, cudaGetErrorString(e_));                \
      std::exit(1);                                                                   \
    }                                                                                 \
  } while (0)

// Seconds per call of fn, averaged over iters after 3 warm-up calls.
double timeIt(int iters, const std::function<int()>& fn) {
  cudaEvent_t a, b;
  CHECK(cudaEventCreate(&a));
  CHECK(cudaEventCreate(&b));
  for (int i = 0; i < 3; ++i) CHECK(static_cast<cudaError_t>(fn()));
  CHECK(cudaEventRecord(a));
  for (int i = 0; i < iters; ++i) CHECK(static_cast<cudaError_t>(fn()));
  CHECK(cudaEventRecord(b));
  CHECK(cudaEventSynchronize(b));
  float ms = 0;
  CHECK(cudaEventElapsedTime(&ms, a, b));
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  return ms / 1e3 / iters;
}

}  // namespace

int main(int argc, char** argv) {
  size_t bytes = 256u << 20;
  int iters = 20;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--bytes") && i + 1 < argc) bytes = strata::bench::parseBytes(argv[++i]);
    else if (!std::strcmp(argv[i], "--iters") && i + 1 < argc) iters = std::atoi(argv[++i]);
    else {
      std::fprintf(stderr, "usage: %s [--bytes N[K|M|G]] [--iters N]\n", argv[0]);
      return 2;
    }
  }
  int ndev = 0;
  cudaError_t e = cudaGetDeviceCount(&ndev);
  if (e != cudaSuccess || ndev == 0) {
    std::printf("SKIP: no usable GPU (%s)\n", e != cudaSuccess ? cudaGetErrorString(e) : "none");
    return 77;
  }
  cudaDeviceProp prop{};
  CHECK(cudaGetDeviceProperties(&prop, 0));
  std::printf("# device %s, buffers of %zu bytes, %d iterations\n", prop.name, bytes, iters);
  void *a, *b, *c, *d, *scales;
  CHECK(cudaMalloc(&a, bytes));
  CHECK(cudaMalloc(&b, bytes));
  CHECK(cudaMalloc(&c, bytes));
  CHECK(cudaMalloc(&d, bytes));
  CHECK(cudaMalloc(&scales, bytes / 32 + 64));
  CHECK(cudaMemset(a, 0x11, bytes));
  CHECK(cudaMemset(b, 0x22, bytes));

  double tCopy = timeIt(iters, [&] {
    return static_cast<int>(cudaMemcpyAsync(c, a, bytes, cudaMemcpyDeviceToDevice, nullptr));
  });
  const double copyBw = 2.0 * bytes / tCopy;
  std::printf("%-34s %10.1f GB/s  %6.1f%% of copy\n", "cudaMemcpy D2D (read+write)", copyBw / 1e9,
              100.0);
  auto report = [&](const char* name, double moved, double t) {
    std::printf("%-34s %10.1f GB/s  %6.1f%% of copy\n", name, moved / t / 1e9,
                100.0 * (moved / t) / copyBw);
  };
  for (DataType t : {DataType::kFloat32, DataType::kBfloat16, DataType::kFloat16,
                     DataType::kFloat8e4m3}) {
    size_t es = t == DataType::kFloat32 ? 4 : (t == DataType::kFloat8e4m3 ? 1 : 2);
    size_t count = bytes / es;
    const void* srcs[2] = {a, b};
    void* dsts[2] = {c, d};
    std::string n = std::string("reduce 2->1 sum ") +
                    (t == DataType::kFloat32 ? "fp32" : t == DataType::kBfloat16 ? "bf16"
                                                      : t == DataType::kFloat16 ? "fp16" : "fp8e4m3");
    report(n.c_str(), 3.0 * bytes, timeIt(iters, [&] {
      return ck::reduce(t, ReduceOp::kSum, c, srcs, 2, count, nullptr);
    }));
    n = std::string("reduce-copy 2->2 ") + n.substr(12);
    report(n.c_str(), 4.0 * bytes, timeIt(iters, [&] {
      return ck::reduceCopy(t, ReduceOp::kSum, dsts, 2, srcs, 2, count, nullptr);
    }));
  }
  size_t nf = bytes / 4;
  report("convert fp32->bf16", 1.5 * bytes, timeIt(iters, [&] {
    return ck::convert(DataType::kBfloat16, c, DataType::kFloat32, a, nf, nullptr);
  }));
  report("quantize fp32->fp8e4m3 block 128", 1.25 * bytes + nf / 128 * 4, timeIt(iters, [&] {
    return ck::quantize(DataType::kFloat8e4m3, c, static_cast<float*>(scales),
                        static_cast<const float*>(a), nf, 128, nullptr);
  }));
  report("dequantize fp8e4m3->fp32 block 128", 1.25 * bytes, timeIt(iters, [&] {
    return ck::dequantize(DataType::kFloat8e4m3, static_cast<float*>(d), c,
                          static_cast<const float*>(scales), nf, 128, nullptr);
  }));
  for (void* p : {a, b, c, d, scales}) cudaFree(p);
  return 0;
}
