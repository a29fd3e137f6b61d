// Single-core memcpy bandwidth: the reference that all-reduce bandwidth on
// one host is held against ("at least half of what one core can memcpy").
// One thread copies -s bytes (default 64 MiB) between two buffers -n times
// after -w warm-up copies; GB/s = bytes copied / seconds / 1e9.
//
//   build/bench/peers/memcpy_bench [-s 64M] [-n 20] [-w 3] [-J memcpy.json]
#include <getopt.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include "../common/byte_size.h"

namespace {

void usage(const char* prog) {
  std::fprintf(stderr, "usage: %s [-s bytes] [-n iters] [-w warmup] [-J file.json]\n", prog);
}

}  // namespace

int main(int argc, char** argv) {
  size_t bytes = 64u << 20;
  int iters = 20;
  int warmup = 3;
  std::string json;
  int c;
  while ((c = getopt(argc, argv, "s:n:w:J:h")) != -1) {
    switch (c) {
      case 's': bytes = strata::bench::parseBytes(optarg); break;
      case 'n': iters = std::atoi(optarg); break;
      case 'w': warmup = std::atoi(optarg); break;
      case 'J': json = optarg; break;
      default: usage(argv[0]); return 2;
    }
  }
  if (bytes == 0 || iters < 1 || warmup < 0) {
    usage(argv[0]);
    return 2;
  }

  // Distinct, touched pages on both sides, so no copy hits the zero page.
  std::vector<char> src(bytes), dst(bytes);
  for (size_t i = 0; i < bytes; ++i) src[i] = static_cast<char>(i * 131);
  std::memset(dst.data(), 1, bytes);

  std::vector<double> gbps;
  for (int i = 0; i < warmup + iters; ++i) {
    auto start = std::chrono::steady_clock::now();
    std::memcpy(dst.data(), src.data(), bytes);
    asm volatile("" : : "r"(dst.data()) : "memory");  // the copy must happen
    std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    if (i >= warmup) gbps.push_back(static_cast<double>(bytes) / took.count() / 1e9);
  }
  if (std::memcmp(dst.data(), src.data(), bytes) != 0) {
    std::fprintf(stderr, "memcpy_bench: the copy is wrong\n");
    return 1;
  }
  std::vector<double> sorted = gbps;
  std::sort(sorted.begin(), sorted.end());
  double best = sorted.back();
  double median = sorted[sorted.size() / 2];
  if (sorted.size() % 2 == 0) median = (median + sorted[sorted.size() / 2 - 1]) / 2;
  double mean = 0;
  for (double v : gbps) mean += v;
  mean /= static_cast<double>(gbps.size());

  std::printf("# memcpy: one core, %zu bytes, %d iters (%d warm-up)\n", bytes, iters, warmup);
  std::printf("# best %.2f GB/s  median %.2f GB/s  mean %.2f GB/s\n", best, median, mean);
  if (!json.empty()) {
    nlohmann::json doc;
    doc["tool"] = "memcpy";
    doc["bytes"] = bytes;
    doc["iters"] = iters;
    doc["gbps_best"] = best;
    doc["gbps_median"] = median;
    doc["gbps_mean"] = mean;
    doc["gbps"] = gbps;
    std::ofstream(json) << doc.dump(2) << "\n";
  }
  return 0;
}
