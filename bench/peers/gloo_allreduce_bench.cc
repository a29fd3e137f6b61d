// Gloo's ring all-reduce over its TCP transport on loopback, through the
// all-reduce sweep of all_reduce_perf (float32 sum). The tool starts its own
// ranks: it forks -np processes that meet through a gloo FileStore in a
// fresh temporary directory, and removes the directory afterwards.
//
//   build/bench/peers/gloo_allreduce_bench -np 4 -b 8 -e 256M -f 4 -J gloo.json
//
// Across emulated hosts it runs as one rank per process instead: with
// --store DIR (a FileStore directory every rank can see) the rank and size
// come from STRATA_RANK/STRATA_WORLD_SIZE (tools/strata-hosts sets them) and
// --iface NAME picks the interface Gloo binds to:
//
//   strata-hosts --hosts 2 -- gloo_allreduce_bench --store /tmp/s --iface strata0 -b 256M -e 256M
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <gloo/allreduce.h>
#include <gloo/config.h>
#include <gloo/math.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/file_store.h>
#include <gloo/rendezvous/prefix_store.h>
#include <gloo/transport/tcp/device.h>

#include "peer_sweep.h"

namespace {

using ReduceFn = void (*)(void*, const void*, const void*, size_t);

constexpr auto kTimeout = std::chrono::seconds(300);

// One gloo::allreduce set up for a (send, recv, count) triple and kept while
// the sweep calls it with the same buffers, as a framework would keep it.
class RingAllreduce {
 public:
  explicit RingAllreduce(std::shared_ptr<gloo::Context> ctx) : ctx_(std::move(ctx)) {}

  template <typename T>
  void run(const T* send, T* recv, size_t count) {
    if (!opts_ || send != static_cast<const void*>(send_) || recv != recv_ || count != count_) {
      opts_ = std::make_unique<gloo::AllreduceOptions>(ctx_);
      opts_->setAlgorithm(gloo::AllreduceOptions::Algorithm::RING);
      if (send != recv) opts_->setInput(const_cast<T*>(send), count);
      opts_->setOutput(recv, count);
      opts_->setReduceFunction(static_cast<ReduceFn>(&gloo::sum<T>));
      opts_->setTimeout(kTimeout);
      send_ = send;
      recv_ = recv;
      count_ = count;
    }
    gloo::allreduce(*opts_);
  }

 private:
  std::shared_ptr<gloo::Context> ctx_;
  std::unique_ptr<gloo::AllreduceOptions> opts_;
  const void* send_ = nullptr;
  void* recv_ = nullptr;
  size_t count_ = 0;
};

int runRank(int rank, const std::string& storeDir, const strata::peers::SweepOptions& o,
            const std::string& iface = "") {
  gloo::transport::tcp::attr attr;
  if (iface.empty()) {
    attr.hostname = "127.0.0.1";  // loopback only
  } else {
    attr.iface = iface;
  }
  auto dev = gloo::transport::tcp::CreateDevice(attr);
  gloo::rendezvous::FileStore files(storeDir);
  gloo::rendezvous::PrefixStore store("allreduce", files);
  auto ctx = std::make_shared<gloo::rendezvous::Context>(rank, o.nranks);
  ctx->setTimeout(std::chrono::duration_cast<std::chrono::milliseconds>(kTimeout));
  ctx->connectFullMesh(store, dev);

  RingAllreduce data(ctx);
  RingAllreduce scalar(ctx);
  strata::peers::Backend b;
  b.library = "Gloo " + std::to_string(GLOO_VERSION_MAJOR) + "." +
              std::to_string(GLOO_VERSION_MINOR) + "." + std::to_string(GLOO_VERSION_PATCH) +
              " (ring, tcp)";
  b.rank = rank;
  b.nranks = o.nranks;
  b.allreduce = [&](const float* send, float* recv, size_t count) {
    data.run(send, recv, count);
  };
  double cell = 0;  // one fixed buffer, so the scalar options are reused
  b.sum = [&](double v) {
    cell = v;
    scalar.run(&cell, &cell, 1);
    return cell;
  };
  return strata::peers::runSweep(b, o);
}

int runRankCaught(int rank, const std::string& storeDir, const strata::peers::SweepOptions& o,
                  const std::string& iface = "") {
  try {
    return runRank(rank, storeDir, o, iface);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gloo rank %d: %s\n", rank, e.what());
    return 2;
  }
}

}  // namespace

int envInt(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::atoi(v) : -1;
}

int main(int argc, char** argv) {
  // --store DIR and --iface NAME are this tool's own; the rest is the sweep's.
  std::string store, iface;
  std::vector<char*> rest = {argv[0]};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if ((a == "--store" || a == "--iface") && i + 1 < argc) {
      (a == "--store" ? store : iface) = argv[++i];
    } else {
      rest.push_back(argv[i]);
    }
  }
  argc = static_cast<int>(rest.size());
  rest.push_back(nullptr);
  argv = rest.data();
  strata::peers::SweepOptions o;
  if (!strata::peers::parseSweepOptions(argc, argv, &o)) return 2;
  if (!store.empty()) {
    int rank = envInt("STRATA_RANK");
    o.nranks = envInt("STRATA_WORLD_SIZE");
    if (rank < 0 || o.nranks < 2 || rank >= o.nranks) {
      std::fprintf(stderr, "%s: --store needs STRATA_RANK and STRATA_WORLD_SIZE (>= 2)\n", argv[0]);
      return 2;
    }
    return runRankCaught(rank, store, o, iface);
  }
  if (o.nranks < 2) {
    std::fprintf(stderr, "%s: give the number of ranks to start with -np N (N >= 2)\n", argv[0]);
    return 2;
  }
  std::string pattern = (std::filesystem::temp_directory_path() / "strata-gloo-XXXXXX").string();
  std::vector<char> dirName(pattern.begin(), pattern.end());
  dirName.push_back('\0');
  if (!mkdtemp(dirName.data())) {
    std::perror("mkdtemp");
    return 2;
  }
  std::string storeDir(dirName.data());
  std::fflush(stdout);

  std::vector<pid_t> pids;
  for (int r = 0; r < o.nranks; ++r) {
    pid_t pid = fork();
    if (pid < 0) {
      std::perror("fork");
      for (pid_t p : pids) kill(p, SIGTERM);
      break;
    }
    if (pid == 0) {
      int code = runRankCaught(r, storeDir, o);
      std::fflush(nullptr);
      _exit(code);
    }
    pids.push_back(pid);
  }

  // Waits for every rank; the first failure stops the others.
  int result = static_cast<int>(pids.size()) == o.nranks ? 0 : 2;
  size_t left = pids.size();
  while (left > 0) {
    int status = 0;
    pid_t done = wait(&status);
    if (done < 0) break;
    for (pid_t& p : pids) {
      if (p == done) p = 0;
    }
    --left;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (code != 0 && result == 0) {
      result = code;
      for (pid_t p : pids) {
        if (p > 0) kill(p, SIGTERM);
      }
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(storeDir, ec);
  return result;
}
