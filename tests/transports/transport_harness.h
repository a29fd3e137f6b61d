// Helpers for transport tests: an in-memory bootstrap double that works for
// ranks as threads and as forked processes (its state lives in a MAP_SHARED
// mapping made before the fork), rank launchers that build a
// ConnectionManager per rank, blocking slot helpers that wait on the
// doorbell, and byte patterns that tell every stream and offset apart.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bootstrap/bootstrap.h"
#include "transports/manager.h"

namespace strata::transport::testing {

inline constexpr int kMaxTestRanks = 8;

// Shared state for up to kMaxTestRanks ranks. Create before threads/forks.
class FakeBootstrapGroup {
 public:
  explicit FakeBootstrapGroup(int nranks);
  ~FakeBootstrapGroup();
  FakeBootstrapGroup(const FakeBootstrapGroup&) = delete;
  FakeBootstrapGroup& operator=(const FakeBootstrapGroup&) = delete;

  std::unique_ptr<bootstrap::Bootstrap> join(int rank);
  uint64_t commHash() const;
  // Makes every rank's waits fail (a peer died).
  void abortAll();
  // The flag abortAll() sets, in shared memory; handed to the managers.
  AbortFlag* abortFlag();

  struct Shared;

 private:
  Shared* shared_;
};

enum class Launch { kThreads, kProcesses };

struct RankContext {
  int rank;
  int nranks;
  ConnectionManager& manager;
  bootstrap::Bootstrap& bootstrap;
};

struct RunOptions {
  int nchannels = 3;
  std::chrono::milliseconds timeout{20000};
  int watchdogSec = 60;
  bool finalBarrier = true;
  // Per-rank environment set inside the child (processes only).
  std::function<void(int rank)> beforeCreate;
};

// Launches n ranks, creates each rank's manager and runs fn. Failures inside
// ranks (gtest assertions) fail the calling test.
void runRanks(Launch launch, int n, const std::function<void(RankContext&)>& fn,
              const RunOptions& options = RunOptions());

// Forked ranks whose exit codes the test inspects itself (a rank that dies
// on purpose): child `rank` exits with fn's value, or 1 on a gtest failure.
std::vector<int> runRankProcesses(int n, const std::function<int(RankContext&)>& fn,
                                  const RunOptions& options = RunOptions());

// Waits for a free slot / a filled slot: spins on nothing, sleeps on the
// rank's doorbell. Returns nullptr (with a gtest failure unless `quiet`)
// on a health error or after `timeout`; *error receives the health status.
void* acquireWait(ConnectionManager& m, SendConnection* c, size_t* capacity,
                  std::chrono::milliseconds timeout = std::chrono::milliseconds(20000),
                  Status* error = nullptr, bool quiet = false);
const void* peekWait(ConnectionManager& m, RecvConnection* c, size_t* bytes,
                     std::chrono::milliseconds timeout = std::chrono::milliseconds(20000),
                     Status* error = nullptr, bool quiet = false);

// Deterministic bytes of stream `key` at stream offset `pos`.
void fillPattern(uint64_t key, uint64_t pos, void* dst, size_t len);
// Index of the first wrong byte, or -1.
int64_t checkPattern(uint64_t key, uint64_t pos, const void* src, size_t len);
uint64_t streamKey(int from, int to, int channel);

// The size of slot k of a test stream: mostly full slots, with empty, tiny,
// odd and nearly-full ones mixed in.
size_t scheduledBytes(uint64_t k, size_t capacity);

struct Stream {
  int peer;
  int channel;
  uint64_t slots;  // slots to move
};

// Moves all outgoing streams and checks all incoming ones, making progress
// on whatever can move (like the executor) and sleeping on the doorbell
// otherwise. Returns false after reporting a failure.
bool exchange(RankContext& ctx, const std::vector<Stream>& out, const std::vector<Stream>& in,
              std::chrono::milliseconds timeout = std::chrono::milliseconds(30000));

}  // namespace strata::transport::testing
