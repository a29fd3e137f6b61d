#include "perf.h"

#include <getopt.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "mpi_launch.h"
#include "strata.h"
#include "support/nccl_types.h"
#include "../../common/byte_size.h"

namespace strata::perf {
namespace {

constexpr int kPremul = 5;  // -o premulsum: a PreMulSum operator with scalar 2

struct Options {
  size_t minBytes = 32u << 20;
  size_t maxBytes = 32u << 20;
  double factor = 0;   // -f
  size_t step = 1u << 20;  // -i
  int iters = 20;
  int warmup = 5;
  int check = 1;
  int blocking = 1;
  int average = 1;  // 0 rank 0, 1 mean, 2 min, 3 max
  int root = 0;
  int threads = 0;
  // -R: 0 plain host memory; 1 or 2 (nccl-tests: local or symmetric
  // registration) shared host buffers from strataMemAllocHost, which ranks
  // in other processes read in place.
  int registerBuffers = 0;
  std::vector<ncclDataType_t> types{ncclFloat32};
  std::vector<int> ops{ncclSum};
  std::string json;
};

struct Result {
  size_t bytes, count;
  std::string type, op;
  int root;
  double time[2], algbw[2], busbw[2];
  long wrong[2];
};

const char* kTypeNames[] = {"int8", "uint8", "int32", "uint32", "int64", "uint64",
                            "half", "float", "double", "bfloat16", "f8e4m3", "f8e5m2"};
const char* kOpNames[] = {"sum", "prod", "max", "min", "avg", "premulsum"};

int parseType(const std::string& s) {
  for (int i = 0; i < ncclNumTypes; ++i) {
    if (s == kTypeNames[i]) return i;
  }
  if (s == "fp16") return ncclFloat16;
  if (s == "bf16") return ncclBfloat16;
  if (s == "fp32") return ncclFloat32;
  if (s == "fp64") return ncclFloat64;
  return -1;
}

void usage(const char* prog) {
  std::fprintf(stderr,
      "usage: %s [-b minbytes] [-e maxbytes] [-f factor | -i increment] [-n iters] [-w warmup]\n"
      "       [-c 0|1] [-d type|all] [-o op|all] [-r root] [-z 0|1] [-a 0-3] [-t threads]\n"
      "       [-R 0|1|2] [-J file.json]\n"
      "-R 1|2: send/receive buffers from strataMemAllocHost (read in place across processes)\n"
      "types: int8 uint8 int32 uint32 int64 uint64 half float double bfloat16 f8e4m3 f8e5m2\n"
      "ops:   sum prod max min avg premulsum\n", prog);
}

bool parseOptions(int argc, char** argv, const Collective& coll, Options* o) {
  int c;
  optind = 1;
  while ((c = getopt(argc, argv, "b:e:f:i:n:w:c:d:o:r:z:a:t:g:J:m:p:R:h")) != -1) {
    switch (c) {
      case 'b': o->minBytes = bench::parseBytes(optarg); break;
      case 'e': o->maxBytes = bench::parseBytes(optarg); break;
      case 'f': o->factor = std::atof(optarg); break;
      case 'i': o->step = bench::parseBytes(optarg); o->factor = 0; break;
      case 'n': o->iters = std::atoi(optarg); break;
      case 'w': o->warmup = std::atoi(optarg); break;
      case 'c': o->check = std::atoi(optarg); break;
      case 'z': o->blocking = std::atoi(optarg); break;
      case 'a': o->average = std::atoi(optarg); break;
      case 'r': o->root = std::atoi(optarg); break;
      case 't': o->threads = std::atoi(optarg); break;
      case 'g': case 'm': case 'p': break;  // GPU-only options of nccl-tests
      case 'J': o->json = optarg; break;
      case 'R': o->registerBuffers = std::atoi(optarg); break;
      case 'd': {
        o->types.clear();
        if (std::strcmp(optarg, "all") == 0) {
          for (int t = 0; t < ncclNumTypes; ++t) o->types.push_back(static_cast<ncclDataType_t>(t));
        } else {
          int t = parseType(optarg);
          if (t < 0) { std::fprintf(stderr, "unknown datatype %s\n", optarg); return false; }
          o->types.push_back(static_cast<ncclDataType_t>(t));
        }
        break;
      }
      case 'o': {
        o->ops.clear();
        if (std::strcmp(optarg, "all") == 0) {
          for (int op = 0; op <= kPremul; ++op) o->ops.push_back(op);
        } else {
          int found = -1;
          for (int op = 0; op <= kPremul; ++op) if (std::strcmp(optarg, kOpNames[op]) == 0) found = op;
          if (found < 0) { std::fprintf(stderr, "unknown op %s\n", optarg); return false; }
          o->ops.push_back(found);
        }
        break;
      }
      default: usage(argv[0]); return false;
    }
  }
  if (!coll.reduces) o->ops = {ncclSum};
  if (o->minBytes > o->maxBytes || o->iters < 1 || o->warmup < 0 || o->registerBuffers < 0 ||
      o->registerBuffers > 2) {
    usage(argv[0]);
    return false;
  }
  return true;
}

// A zero-filled buffer: plain host memory, or a shared host buffer (-R).
class Buffer {
 public:
  Buffer() = default;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() { release(); }
  bool allocate(size_t bytes, bool shared) {
    release();
    if (!shared) {
      plain_.assign(bytes, 0);
      data_ = plain_.data();
      return true;
    }
    void* p = nullptr;
    if (strataMemAllocHost(&p, bytes) != ncclSuccess) {
      std::fprintf(stderr, "strataMemAllocHost(%zu): %s\n", bytes, ncclGetLastError(nullptr));
      return false;
    }
    shared_ = static_cast<char*>(p);
    data_ = shared_;
    return true;
  }
  char* data() { return data_; }

 private:
  void release() {
    if (shared_ != nullptr) strataMemFreeHost(shared_);
    shared_ = nullptr;
    plain_.clear();
    data_ = nullptr;
  }
  std::vector<char> plain_;
  char* shared_ = nullptr;
  char* data_ = nullptr;
};

// One rank's state.
struct Rank {
  ncclComm_t comm = nullptr;
  int rank = 0, nranks = 1;
  Buffer send, recv;
};

// Synchronises ranks and combines a time across them with the -a rule.
double combineTime(Rank& r, double seconds, int average) {
  double v = seconds;
  ncclRedOp_t op = average == 2 ? ncclMin : (average == 3 ? ncclMax : ncclSum);
  if (average == 0) {
    ncclBroadcast(&v, &v, 1, ncclFloat64, 0, r.comm, nullptr);
    return v;
  }
  ncclAllReduce(&v, &v, 1, ncclFloat64, op, r.comm, nullptr);
  return average == 1 ? v / r.nranks : v;
}

ncclRedOp_t makeOp(Rank& r, int op, ncclDataType_t t) {
  if (op != kPremul) return static_cast<ncclRedOp_t>(op);
  char scalar[8];
  writeValue(t, scalar, 0, 2);
  ncclRedOp_t made = ncclSum;
  ncclRedOpCreatePreMulSum(&made, scalar, t, ncclScalarHostImmediate, r.comm);
  return made;
}

long checkOutput(const Collective& coll, const Shape& s, ncclDataType_t t, int op, int root,
                 Rank& r, const void* out) {
  long wrong = 0;
  double eps = type_eps(t);
  for (size_t i = 0; i < s.recvElems; ++i) {
    double want = coll.expect(s, t, op, root, r.rank, r.nranks, i);
    if (std::isnan(want)) continue;
    double got = read_elem(t, out, i);
    double tol = op == ncclAvg ? eps * std::fabs(want) : 0;
    if (!(std::fabs(got - want) <= tol)) ++wrong;
  }
  return wrong;
}

// Runs one (size, type, op) point in one mode; returns seconds per iteration.
double timePoint(const Collective& coll, const Options& o, Rank& r, const Call& base,
                 bool inPlace) {
  for (int i = 0; i < o.warmup; ++i) coll.run(base, inPlace);
  combineTime(r, 0, 1);  // barrier
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < o.iters; ++i) {
    ncclResult_t rc = coll.run(base, inPlace);
    if (rc != ncclSuccess) {
      std::fprintf(stderr, "rank %d: %s failed: %s\n", r.rank, coll.name, ncclGetLastError(nullptr));
      std::exit(2);
    }
  }
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  return took.count() / o.iters;
}

void printHeader(const Collective& coll, const Options& o, int nranks) {
  std::printf("# %s_perf: Strata %s, %d ranks\n", coll.name, strataGetVersionString(), nranks);
  std::printf("# nThread %d nGpus 0 minBytes %zu maxBytes %zu step: %g(%s) warmup iters: %d "
              "iters: %d agg iters: 1 validation: %d graph: 0\n#\n",
              o.threads > 0 ? o.threads : 1, o.minBytes, o.maxBytes,
              o.factor > 0 ? o.factor : static_cast<double>(o.step),
              o.factor > 0 ? "factor" : "bytes", o.warmup, o.iters, o.check);
  if (o.registerBuffers > 0) std::printf("# Buffers from strataMemAllocHost (-R %d)\n#\n", o.registerBuffers);
  std::printf("#%74s%34s\n", "out-of-place", "in-place");
  std::printf("#%11s %13s %9s %7s %7s %9s %7s %7s %6s %9s %7s %7s %6s\n", "size", "count", "type",
              "redop", "root", "time", "algbw", "busbw", "#wrong", "time", "algbw", "busbw",
              "#wrong");
  std::printf("#%11s %13s %9s %7s %7s %9s %7s %7s %6s %9s %7s %7s %6s\n", "(B)", "(elements)", "",
              "", "", "(us)", "(GB/s)", "(GB/s)", "", "(us)", "(GB/s)", "(GB/s)", "");
}

std::string wrongText(long w, bool checked) { return checked ? std::to_string(w) : "N/A"; }

int runRank(const Collective& coll, const Options& o, Rank& r, std::vector<Result>* results) {
  size_t maxElems = o.maxBytes + 64;
  const size_t bufferBytes = maxElems * static_cast<size_t>(r.nranks) + 256;
  if (!r.send.allocate(bufferBytes, o.registerBuffers > 0) ||
      !r.recv.allocate(bufferBytes, o.registerBuffers > 0)) {
    return 1;
  }
  if (r.rank == 0) printHeader(coll, o, r.nranks);
  // As nccl-tests does: warm up at the largest size and then the smallest
  // before the sweep, so that the first size measured does not pay for
  // connections made and memory first touched.
  if (!o.types.empty() && !o.ops.empty()) {
    ncclDataType_t t = o.types.front();
    size_t es = type_size(t);
    ncclRedOp_t redop = makeOp(r, o.ops.front(), t);
    for (size_t bytes : {o.maxBytes, o.minBytes}) {
      Shape s = coll.shape(bytes, es, r.nranks);
      Call call{r.send.data(), r.recv.data(), s.count, t, redop, o.root, r.rank, r.nranks, r.comm};
      for (int i = 0; i < o.warmup; ++i) coll.run(call, false);
    }
    if (o.ops.front() == kPremul) ncclRedOpDestroy(redop, r.comm);
  }
  long totalWrong = 0;
  double busSum = 0;
  int points = 0;
  for (ncclDataType_t t : o.types) {
    size_t es = type_size(t);
    for (int op : o.ops) {
      for (size_t bytes = o.minBytes; bytes <= o.maxBytes;) {
        Shape s = coll.shape(bytes, es, r.nranks);
        ncclRedOp_t redop = makeOp(r, op, t);
        Result res{};
        res.bytes = std::max(s.sendElems, s.recvElems) * es;
        res.count = s.printedCount;
        res.type = kTypeNames[t];
        res.op = coll.reduces ? kOpNames[op] : "none";
        res.root = coll.rooted ? o.root : -1;
        for (int mode = 0; mode < 2; ++mode) {
          bool inPlace = mode == 1;
          if (inPlace && !coll.hasInPlace) {
            res.time[1] = -1;
            continue;
          }
          Call call{r.send.data(), r.recv.data(), s.count, t, redop, o.root, r.rank, r.nranks, r.comm};
          if (inPlace) coll.inPlaceBuffers(s, r.rank, r.nranks, o.root, es, r.recv.data(), &call.send, &call.recv);
          double sec = combineTime(r, timePoint(coll, o, r, call, inPlace), o.average);
          res.time[mode] = sec * 1e6;
          res.algbw[mode] = sec > 0 ? static_cast<double>(res.bytes) / sec / 1e9 : 0;
          res.busbw[mode] = res.algbw[mode] * coll.busFactor(r.nranks);
          res.wrong[mode] = 0;
          if (o.check) {
            coll.fill(s, t, op, o.root, r.rank, r.nranks, const_cast<void*>(call.send));
            if (coll.run(call, inPlace) != ncclSuccess) std::exit(2);
            long w = checkOutput(coll, s, t, op, o.root, r, call.recv);
            double wd = static_cast<double>(w);
            ncclAllReduce(&wd, &wd, 1, ncclFloat64, ncclSum, r.comm, nullptr);
            res.wrong[mode] = static_cast<long>(wd);
            totalWrong += res.wrong[mode];
          }
        }
        if (op == kPremul) ncclRedOpDestroy(redop, r.comm);
        if (r.rank == 0) {
          std::printf("%12zu %13zu %9s %7s %7d %9.2f %7.2f %7.2f %6s", res.bytes, res.count,
                      res.type.c_str(), res.op.c_str(), res.root, res.time[0], res.algbw[0],
                      res.busbw[0], wrongText(res.wrong[0], o.check).c_str());
          if (res.time[1] >= 0) {
            std::printf(" %9.2f %7.2f %7.2f %6s\n", res.time[1], res.algbw[1], res.busbw[1],
                        wrongText(res.wrong[1], o.check).c_str());
          } else {
            std::printf(" %9s %7s %7s %6s\n", "N/A", "N/A", "N/A", "N/A");
          }
          std::fflush(stdout);
          if (results) results->push_back(res);
        }
        busSum += res.busbw[0];
        ++points;
        size_t next = o.factor > 0 ? static_cast<size_t>(static_cast<double>(bytes) * o.factor)
                                   : bytes + o.step;
        if (next <= bytes) break;
        bytes = next;
      }
    }
  }
  if (r.rank == 0) {
    std::printf("# Out of bounds values : %ld %s\n", totalWrong, totalWrong ? "FAILED" : "OK");
    std::printf("# Avg bus bandwidth    : %g \n#\n", points ? busSum / points : 0.0);
  }
  return totalWrong ? 1 : 0;
}

void writeJson(const std::string& path, const Collective& coll, int nranks,
               const std::vector<Result>& results) {
  nlohmann::json doc;
  doc["collective"] = coll.name;
  doc["nranks"] = nranks;
  doc["library"] = std::string("Strata ") + strataGetVersionString();
  for (const auto& r : results) {
    nlohmann::json row;
    row["size"] = r.bytes;
    row["count"] = r.count;
    row["type"] = r.type;
    row["redop"] = r.op;
    row["root"] = r.root;
    const char* modes[2] = {"out_of_place", "in_place"};
    for (int m = 0; m < 2; ++m) {
      if (r.time[m] < 0) continue;
      row[modes[m]] = {{"time_us", r.time[m]}, {"algbw", r.algbw[m]}, {"busbw", r.busbw[m]},
                       {"wrong", r.wrong[m]}};
    }
    doc["results"].push_back(row);
  }
  std::ofstream(path) << doc.dump(2) << "\n";
}

}  // namespace

int inputValue(int op, ncclDataType_t t, int rank, size_t i) {
  switch (op) {
    case ncclSum: case ncclAvg: case kPremul:
      return static_cast<int>((rank + i) % (t == ncclFloat8e5m2 ? 2 : 3));
    case ncclProd: return ((rank + i) % 8 == 0) ? 2 : 1;
    default: return static_cast<int>((rank * 7 + i) % 9);
  }
}

double reducedValue(int op, ncclDataType_t t, int nranks, size_t i) {
  double acc = op == ncclProd ? 1 : (op == ncclMin ? 1e300 : (op == ncclMax ? -1e300 : 0));
  for (int r = 0; r < nranks; ++r) {
    double v = inputValue(op, t, r, i);
    if (op == ncclProd) acc *= v;
    else if (op == ncclMax) acc = std::max(acc, v);
    else if (op == ncclMin) acc = std::min(acc, v);
    else acc += op == kPremul ? 2 * v : v;
  }
  if (op == ncclAvg) acc = type_is_float(t) ? acc / nranks : std::floor(acc / nranks);
  return type_is_float(t) ? acc : wrap_int(t, acc);
}

int moveValue(int rank, size_t i) { return static_cast<int>((rank * 5 + i * 7) % 9); }

void writeValue(ncclDataType_t t, void* buf, size_t i, int v) { write_small(t, buf, i, v); }

int perfMain(int argc, char** argv, const Collective& coll) {
  Options o;
  if (!parseOptions(argc, argv, coll, &o)) return 2;
  std::vector<Result> results;
  if (o.threads > 0) {
    ncclUniqueId id;
    if (ncclGetUniqueId(&id) != ncclSuccess) return 2;
    std::vector<int> codes(o.threads, 0);
    std::vector<std::thread> threads;
    for (int t = 0; t < o.threads; ++t) {
      threads.emplace_back([&, t] {
        Rank r;
        r.rank = t;
        r.nranks = o.threads;
        if (ncclCommInitRank(&r.comm, o.threads, id, t) != ncclSuccess) {
          std::fprintf(stderr, "rank %d: init failed: %s\n", t, ncclGetLastError(nullptr));
          codes[t] = 2;
          return;
        }
        codes[t] = runRank(coll, o, r, t == 0 ? &results : nullptr);
        ncclCommDestroy(r.comm);
      });
    }
    for (auto& th : threads) th.join();
    if (!o.json.empty()) writeJson(o.json, coll, o.threads, results);
    for (int c : codes) if (c) return c;
    return 0;
  }
  Rank r;
  if (startedByMpi()) {
    int code = mpiInitComm(&argc, &argv, &r.comm);
    if (code != 0) {
      mpiFinish();
      return code;
    }
  } else if (strataCommInitFromEnv(&r.comm) != ncclSuccess) {
    std::fprintf(stderr, "%s: cannot create a communicator: %s\n"
                 "run it under tools/strata-run (strata-run -n 4 %s ...) or pass -t NTHREADS\n",
                 argv[0], ncclGetLastError(nullptr), argv[0]);
    return 2;
  }
  ncclCommUserRank(r.comm, &r.rank);
  ncclCommCount(r.comm, &r.nranks);
  int code = runRank(coll, o, r, r.rank == 0 ? &results : nullptr);
  if (r.rank == 0 && !o.json.empty()) writeJson(o.json, coll, r.nranks, results);
  ncclCommDestroy(r.comm);
  mpiFinish();
  return code;
}

}  // namespace strata::perf
