// The all-reduce sweep shared by the peer benchmarks (mpi_allreduce_bench,
// gloo_allreduce_bench): the options, timing rule, table and JSON of
// bench/perf (all_reduce_perf), so compare.py reads all three the same way.
//
// Timing follows all_reduce_perf: -w warm-up calls, a barrier, -n timed
// calls; each rank's time per call is averaged across ranks (sum / nranks).
// algbw = bytes / time, busbw = algbw * 2(n-1)/n, float32 sum, out of place
// then in place. With -c 1 the result of one extra call is checked.
#pragma once

#include <getopt.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include "../common/byte_size.h"

namespace strata::peers {

struct SweepOptions {
  size_t minBytes = 8;
  size_t maxBytes = 32u << 20;
  double factor = 2;
  int iters = 20;
  int warmup = 5;
  int check = 1;
  int nranks = 0;  // -np: ranks to launch, for tools that start their own
  std::string json;
};

// What a library provides to the sweep. `allreduce` sums `count` floats
// from send into recv (send == recv: in place); `sum` adds a double across
// ranks and doubles as a barrier.
struct Backend {
  std::string library;  // "Open MPI v4.1.4"
  int rank = 0;
  int nranks = 1;
  std::function<void(const float* send, float* recv, size_t count)> allreduce;
  std::function<double(double)> sum;
};

struct Point {
  size_t bytes = 0;
  size_t count = 0;
  double timeUs[2] = {0, 0};
  double algbw[2] = {0, 0};
  double busbw[2] = {0, 0};
  long wrong[2] = {0, 0};
};

inline void sweepUsage(const char* prog) {
  std::fprintf(stderr,
               "usage: %s [-np NRANKS] [-b minbytes] [-e maxbytes] [-f factor] [-n iters]\n"
               "       [-w warmup] [-c 0|1] [-J file.json]\n"
               "float32 sum all-reduce from -b to -e bytes, growing by -f\n",
               prog);
}

// Parses the nccl-tests options; `-np N` (or `-N N`) sets nranks.
inline bool parseSweepOptions(int argc, char** argv, SweepOptions* o) {
  std::vector<char*> args(argv, argv + argc);
  for (size_t i = 1; i + 1 < args.size(); ++i) {
    if (std::string(args[i]) == "-np") args[i] = const_cast<char*>("-N");
  }
  int c;
  optind = 1;
  while ((c = getopt(static_cast<int>(args.size()), args.data(), "b:e:f:n:w:c:J:N:h")) != -1) {
    switch (c) {
      case 'b': o->minBytes = bench::parseBytes(optarg); break;
      case 'e': o->maxBytes = bench::parseBytes(optarg); break;
      case 'f': o->factor = std::atof(optarg); break;
      case 'n': o->iters = std::atoi(optarg); break;
      case 'w': o->warmup = std::atoi(optarg); break;
      case 'c': o->check = std::atoi(optarg); break;
      case 'J': o->json = optarg; break;
      case 'N': o->nranks = std::atoi(optarg); break;
      default: sweepUsage(argv[0]); return false;
    }
  }
  if (o->minBytes < sizeof(float) || o->minBytes > o->maxBytes || o->factor <= 1 ||
      o->iters < 1 || o->warmup < 0) {
    sweepUsage(argv[0]);
    return false;
  }
  return true;
}

inline float inputAt(int rank, size_t i) { return static_cast<float>((rank + i) % 3); }

inline float expectedAt(int nranks, size_t i) {
  float v = 0;
  for (int r = 0; r < nranks; ++r) v += inputAt(r, i);
  return v;
}

inline void printSweepHeader(const Backend& b, const SweepOptions& o) {
  std::printf("# all_reduce: %s, %d ranks\n", b.library.c_str(), b.nranks);
  std::printf("# minBytes %zu maxBytes %zu step: %g(factor) warmup iters: %d iters: %d "
              "validation: %d\n#\n",
              o.minBytes, o.maxBytes, o.factor, o.warmup, o.iters, o.check);
  std::printf("#%74s%34s\n", "out-of-place", "in-place");
  std::printf("#%11s %13s %9s %7s %7s %9s %7s %7s %6s %9s %7s %7s %6s\n", "size", "count", "type",
              "redop", "root", "time", "algbw", "busbw", "#wrong", "time", "algbw", "busbw",
              "#wrong");
  std::printf("#%11s %13s %9s %7s %7s %9s %7s %7s %6s %9s %7s %7s %6s\n", "(B)", "(elements)", "",
              "", "", "(us)", "(GB/s)", "(GB/s)", "", "(us)", "(GB/s)", "(GB/s)", "");
}

inline std::string wrongText(long w, bool checked) { return checked ? std::to_string(w) : "N/A"; }

inline void printPoint(const Point& p, bool checked) {
  std::printf("%12zu %13zu %9s %7s %7d", p.bytes, p.count, "float", "sum", -1);
  for (int m = 0; m < 2; ++m) {
    std::printf(" %9.2f %7.2f %7.2f %6s", p.timeUs[m], p.algbw[m], p.busbw[m],
                wrongText(p.wrong[m], checked).c_str());
  }
  std::printf("\n");
  std::fflush(stdout);
}

// Same document as bench/perf's -J output.
inline void writeSweepJson(const std::string& path, const Backend& b,
                           const std::vector<Point>& points) {
  nlohmann::json doc;
  doc["collective"] = "all_reduce";
  doc["nranks"] = b.nranks;
  doc["library"] = b.library;
  doc["results"] = nlohmann::json::array();
  for (const Point& p : points) {
    nlohmann::json row;
    row["size"] = p.bytes;
    row["count"] = p.count;
    row["type"] = "float";
    row["redop"] = "sum";
    row["root"] = -1;
    const char* modes[2] = {"out_of_place", "in_place"};
    for (int m = 0; m < 2; ++m) {
      row[modes[m]] = {{"time_us", p.timeUs[m]}, {"algbw", p.algbw[m]},
                       {"busbw", p.busbw[m]}, {"wrong", p.wrong[m]}};
    }
    doc["results"].push_back(row);
  }
  std::ofstream(path) << doc.dump(2) << "\n";
}

// Runs the sweep on this rank; rank 0 prints the table and writes the JSON.
// Returns the exit status: 1 if any value was wrong.
inline int runSweep(const Backend& b, const SweepOptions& o) {
  size_t maxCount = o.maxBytes / sizeof(float);
  std::vector<float> send(maxCount, 0.0f), recv(maxCount, 0.0f);
  double busFactor = 2.0 * (b.nranks - 1) / b.nranks;
  std::vector<Point> points;
  long totalWrong = 0;
  if (b.rank == 0) printSweepHeader(b, o);
  // Warm-up at the largest and then the smallest size before the sweep, as
  // nccl-tests and Strata's all_reduce_perf do.
  for (size_t bytes : {o.maxBytes, o.minBytes}) {
    for (int i = 0; i < o.warmup; ++i) b.allreduce(send.data(), recv.data(), bytes / sizeof(float));
  }
  for (size_t bytes = o.minBytes; bytes <= o.maxBytes;) {
    Point p;
    p.count = bytes / sizeof(float);
    p.bytes = p.count * sizeof(float);
    for (int mode = 0; mode < 2; ++mode) {
      float* out = recv.data();
      const float* in = mode == 1 ? out : send.data();
      for (int i = 0; i < o.warmup; ++i) b.allreduce(in, out, p.count);
      b.sum(0);  // barrier
      auto start = std::chrono::steady_clock::now();
      for (int i = 0; i < o.iters; ++i) b.allreduce(in, out, p.count);
      std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
      double sec = b.sum(took.count() / o.iters) / b.nranks;
      p.timeUs[mode] = sec * 1e6;
      p.algbw[mode] = sec > 0 ? static_cast<double>(p.bytes) / sec / 1e9 : 0;
      p.busbw[mode] = p.algbw[mode] * busFactor;
      if (o.check) {
        float* fillTo = mode == 1 ? out : send.data();
        for (size_t i = 0; i < p.count; ++i) fillTo[i] = inputAt(b.rank, i);
        b.allreduce(in, out, p.count);
        long wrong = 0;
        for (size_t i = 0; i < p.count; ++i) wrong += out[i] != expectedAt(b.nranks, i);
        p.wrong[mode] = std::lround(b.sum(static_cast<double>(wrong)));
        totalWrong += p.wrong[mode];
        // Back to zeros, so repeated in-place sums stay finite.
        std::fill(send.begin(), send.begin() + p.count, 0.0f);
        std::fill(recv.begin(), recv.begin() + p.count, 0.0f);
      }
    }
    if (b.rank == 0) {
      printPoint(p, o.check != 0);
      points.push_back(p);
    }
    size_t next = static_cast<size_t>(static_cast<double>(bytes) * o.factor);
    if (next <= bytes) break;
    bytes = next;
  }
  if (b.rank == 0) {
    std::printf("# Out of bounds values : %ld %s\n#\n", totalWrong, totalWrong ? "FAILED" : "OK");
    if (!o.json.empty()) writeSweepJson(o.json, b, points);
  }
  return totalWrong ? 1 : 0;
}

}  // namespace strata::peers
