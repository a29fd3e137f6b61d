// All-reduce on device buffers, several ranks sharing GPU 0 (one process,
// one communicator and stream per rank), next to the bound that the GPU's
// memory bandwidth sets for the ring with device FIFOs.
//
// Bound: for n = 2 the ring moves, per rank and S-byte buffer, 2S of reads
// and 2S of writes (send half: read S/2, write S/2 into the peer's FIFO;
// receive-reduce-copy-send: read S/2 + S/2, write S/2 + S/2; receive: read
// S/2, write S/2). Both ranks share the one HBM, so an all-reduce costs 8S
// bytes of memory traffic and takes at least 8S / B, where B is the
// read+write bandwidth of cudaMemcpy D2D measured in the same run.
//
//   build/bench/cuda_allreduce_bench [--ranks 2] [--channels 0]
//       [--min 8] [--max 256M] [--iters 20] [--latency-iters 1000] [--graph]
//
// The device executor runs one thread block per channel, so bandwidth
// needs many channels: --channels sets STRATA_CUDA_NCHANNELS for the
// communicators it creates (default 0: derived from the GPU's
// multiprocessors, see docs/CUDA.md).
//
// Prints SKIP and exits 77 where no GPU is usable.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "nccl.h"
#include "../common/byte_size.h"

namespace {

#define CHECK_CUDA(call)                                                        \
  do {                                                                          \
    cudaError_t e_ = (call);                                                    \
    if (e_ != cudaSuccess) {                                                    \
      std::fprintf(stderr, "%s: %s\n", #call, cudaGetErrorString(e_));          \
      std::exit(1);                                                             \
    }                                                                           \
  } while (0)
#define CHECK_NCCL(call)                                                        \
  do {                                                                          \
    ncclResult_t r_ = (call);                                                   \
    if (r_ != ncclSuccess) {                                                    \
      std::fprintf(stderr, "%s: %s (%s)\n", #call, ncclGetErrorString(r_),      \
                   ncclGetLastError(nullptr));                                  \
      std::exit(1);                                                             \
    }                                                                           \
  } while (0)

struct Ranks {
  int n;
  std::vector<ncclComm_t> comms;
  std::vector<cudaStream_t> streams;
  std::vector<void*> bufs;

  void allReduce(size_t bytes) {
    CHECK_NCCL(ncclGroupStart());
    for (int r = 0; r < n; ++r) {
      CHECK_NCCL(ncclAllReduce(bufs[r], bufs[r], bytes / 4, ncclFloat32, ncclSum, comms[r],
                               streams[r]));
    }
    CHECK_NCCL(ncclGroupEnd());
  }
  void sync() {
    for (auto s : streams) CHECK_CUDA(cudaStreamSynchronize(s));
  }
};

double seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  int nranks = 2, iters = 20, latencyIters = 1000, channels = 0;
  size_t minBytes = 8, maxBytes = 256u << 20;
  bool graph = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--ranks") && i + 1 < argc) nranks = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--channels") && i + 1 < argc) channels = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--min") && i + 1 < argc) minBytes = strata::bench::parseBytes(argv[++i]);
    else if (!std::strcmp(argv[i], "--max") && i + 1 < argc) maxBytes = strata::bench::parseBytes(argv[++i]);
    else if (!std::strcmp(argv[i], "--iters") && i + 1 < argc) iters = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--latency-iters") && i + 1 < argc) latencyIters = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--graph")) graph = true;
    else {
      std::fprintf(stderr, "usage: %s [--ranks N] [--channels N] [--min B] [--max B] [--iters N] "
                           "[--latency-iters N] [--graph]\n", argv[0]);
      return 2;
    }
  }
  int ndev = 0;
  cudaError_t e = cudaGetDeviceCount(&ndev);
  if (e != cudaSuccess || ndev == 0) {
    std::printf("SKIP: no usable GPU (%s)\n", e != cudaSuccess ? cudaGetErrorString(e) : "none");
    return 77;
  }
  setenv("STRATA_CUDA_NCHANNELS", std::to_string(channels).c_str(), 1);
  CHECK_CUDA(cudaSetDevice(0));
  Ranks R{nranks, std::vector<ncclComm_t>(nranks), std::vector<cudaStream_t>(nranks),
          std::vector<void*>(nranks)};
  std::vector<int> devs(nranks, 0);
  CHECK_NCCL(ncclCommInitAll(R.comms.data(), nranks, devs.data()));
  for (int r = 0; r < nranks; ++r) {
    CHECK_CUDA(cudaStreamCreateWithFlags(&R.streams[r], cudaStreamNonBlocking));
    CHECK_CUDA(cudaMalloc(&R.bufs[r], maxBytes));
    CHECK_CUDA(cudaMemset(R.bufs[r], 0x3c, maxBytes));  // floats of about 0.0115, not zeros
  }
  // Memory bandwidth in the same run, with copies large enough to reach it
  // (a sweep of small sizes alone would otherwise time launches, not memory).
  const size_t copyBytes = std::max<size_t>(maxBytes, size_t{256} << 20);
  void* copySrc;
  void* copyDst;
  CHECK_CUDA(cudaMalloc(&copySrc, copyBytes));
  CHECK_CUDA(cudaMalloc(&copyDst, copyBytes));
  CHECK_CUDA(cudaMemset(copySrc, 0x3c, copyBytes));
  cudaEvent_t a, b;
  CHECK_CUDA(cudaEventCreate(&a));
  CHECK_CUDA(cudaEventCreate(&b));
  CHECK_CUDA(cudaMemcpy(copyDst, copySrc, copyBytes, cudaMemcpyDeviceToDevice));
  CHECK_CUDA(cudaEventRecord(a));
  for (int i = 0; i < iters; ++i) {
    CHECK_CUDA(cudaMemcpyAsync(copyDst, copySrc, copyBytes, cudaMemcpyDeviceToDevice));
  }
  CHECK_CUDA(cudaEventRecord(b));
  CHECK_CUDA(cudaEventSynchronize(b));
  float ms = 0;
  CHECK_CUDA(cudaEventElapsedTime(&ms, a, b));
  const double copyBw = 2.0 * copyBytes * iters / (ms / 1e3);
  cudaFree(copySrc);
  cudaFree(copyDst);
  std::printf("# %d ranks on GPU 0, STRATA_CUDA_NCHANNELS=%d (0: derived), D2D copy %.1f GB/s "
              "(read+write)\n", nranks, channels, copyBw / 1e9);
  if (nranks == 2) {
    std::printf("# ring bound for 2 ranks on one GPU: 8 bytes of traffic per buffer byte -> "
                "algbw <= %.1f GB/s\n", copyBw / 8 / 1e9);
  }
  std::printf("%12s %12s %12s %10s %12s\n", "bytes", "time(us)", "algbw(GB/s)", "of bound",
              "enqueue(us)");
  for (size_t bytes = minBytes; bytes <= maxBytes; bytes *= 2) {
    int n = bytes <= (1u << 20) ? latencyIters : iters;
    R.allReduce(bytes);
    R.sync();
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) R.allReduce(bytes);
    double enqueue = seconds(t0) / n;  // host time per call (all ranks' calls)
    R.sync();
    double t = seconds(t0) / n;
    double algbw = bytes / t;
    std::printf("%12zu %12.2f %12.2f %9.1f%% %12.2f\n", bytes, t * 1e6, algbw / 1e9,
                nranks == 2 ? 100.0 * algbw / (copyBw / 8) : 0.0, enqueue * 1e6);
  }
  if (graph) {
    // 8-byte all-reduce: 100 calls captured per rank, replayed.
    const int perGraph = 100, replays = 10;
    std::vector<cudaGraph_t> graphs(nranks);
    std::vector<cudaGraphExec_t> execs(nranks);
    R.allReduce(8);
    R.sync();
    for (int r = 0; r < nranks; ++r) {
      CHECK_CUDA(cudaStreamBeginCapture(R.streams[r], cudaStreamCaptureModeGlobal));
    }
    for (int i = 0; i < perGraph; ++i) R.allReduce(8);
    // No instantiation while any stream still captures (global mode).
    for (int r = 0; r < nranks; ++r) CHECK_CUDA(cudaStreamEndCapture(R.streams[r], &graphs[r]));
    for (int r = 0; r < nranks; ++r) CHECK_CUDA(cudaGraphInstantiate(&execs[r], graphs[r], 0));
    auto t0 = std::chrono::steady_clock::now();
    for (int k = 0; k < replays; ++k) {
      for (int r = 0; r < nranks; ++r) CHECK_CUDA(cudaGraphLaunch(execs[r], R.streams[r]));
    }
    R.sync();
    std::printf("# 8-byte all-reduce in CUDA graphs: %.2f us per call\n",
                seconds(t0) / (perGraph * replays) * 1e6);
    // The floor: the same graphs of 8-byte memsets (one node per call).
    for (int r = 0; r < nranks; ++r) {
      CHECK_CUDA(cudaGraphExecDestroy(execs[r]));
      CHECK_CUDA(cudaGraphDestroy(graphs[r]));
      CHECK_CUDA(cudaStreamBeginCapture(R.streams[r], cudaStreamCaptureModeGlobal));
      for (int i = 0; i < perGraph; ++i) CHECK_CUDA(cudaMemsetAsync(R.bufs[r], 0, 8, R.streams[r]));
      CHECK_CUDA(cudaStreamEndCapture(R.streams[r], &graphs[r]));
    }
    for (int r = 0; r < nranks; ++r) CHECK_CUDA(cudaGraphInstantiate(&execs[r], graphs[r], 0));
    t0 = std::chrono::steady_clock::now();
    for (int k = 0; k < replays; ++k) {
      for (int r = 0; r < nranks; ++r) CHECK_CUDA(cudaGraphLaunch(execs[r], R.streams[r]));
    }
    R.sync();
    std::printf("# floor: an 8-byte cudaMemsetAsync in the same graphs: %.2f us per node\n",
                seconds(t0) / (perGraph * replays) * 1e6);
    for (int r = 0; r < nranks; ++r) {
      CHECK_CUDA(cudaGraphExecDestroy(execs[r]));
      CHECK_CUDA(cudaGraphDestroy(graphs[r]));
    }
  }
  for (int r = 0; r < nranks; ++r) {
    CHECK_NCCL(ncclCommDestroy(R.comms[r]));
    cudaFree(R.bufs[r]);
    cudaStreamDestroy(R.streams[r]);
  }
  return 0;
}
