#include "transport_harness.h"

#include <sys/mman.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <new>
#include <thread>

#include "support/ranks.h"

namespace strata::transport::testing {
namespace {

constexpr size_t kSlotBytes = 16 * 1024;

uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

void nap() {
  timespec ts{0, 100 * 1000};
  nanosleep(&ts, nullptr);
}

}  // namespace

struct FakeBootstrapGroup::Shared {
  int nranks = 0;
  uint64_t commHash = 0;
  std::atomic<uint32_t> arrived{0};
  std::atomic<uint32_t> generation{0};
  AbortFlag abort{false};
  uint32_t len[kMaxTestRanks] = {};
  char data[kMaxTestRanks][kSlotBytes];
};

namespace {

class FakeBootstrap final : public bootstrap::Bootstrap {
 public:
  FakeBootstrap(FakeBootstrapGroup::Shared* s, int rank) : s_(s), rank_(rank) {
    auto a = net::Address::parse("127.0.0.1:0");
    if (a.ok()) address_ = a.value();
    for (size_t i = 0; i < secret_.bytes.size(); ++i) {
      secret_.bytes[i] = static_cast<uint8_t>(s->commHash >> (8 * (i % 8))) ^ static_cast<uint8_t>(i);
    }
  }
  int rank() const override { return rank_; }
  int nranks() const override { return s_->nranks; }
  const net::Secret& secret() const override { return secret_; }
  uint64_t commHash() const override { return s_->commHash; }
  const net::Address& localAddress() const override { return address_; }
  Status send(int, uint32_t, const void*, size_t) override {
    return InvalidUsage("the test bootstrap has no point-to-point messages");
  }
  Status recv(int, uint32_t, void*, size_t) override {
    return InvalidUsage("the test bootstrap has no point-to-point messages");
  }
  Status allGather(void* data, size_t bytesPerRank) override {
    if (bytesPerRank > kSlotBytes) return InvalidArgument("too large for the test bootstrap");
    auto* bytes = static_cast<char*>(data);
    std::memcpy(s_->data[rank_], bytes + rank_ * bytesPerRank, bytesPerRank);
    STRATA_RETURN_IF_ERROR(barrier());
    for (int r = 0; r < s_->nranks; ++r) {
      std::memcpy(bytes + r * bytesPerRank, s_->data[r], bytesPerRank);
    }
    return barrier();
  }
  StatusOr<std::vector<std::string>> allGatherStrings(const std::string& mine) override {
    if (mine.size() > kSlotBytes) return InvalidArgument("too large for the test bootstrap");
    s_->len[rank_] = static_cast<uint32_t>(mine.size());
    std::memcpy(s_->data[rank_], mine.data(), mine.size());
    STRATA_RETURN_IF_ERROR(barrier());
    std::vector<std::string> all;
    for (int r = 0; r < s_->nranks; ++r) all.emplace_back(s_->data[r], s_->len[r]);
    STRATA_RETURN_IF_ERROR(barrier());
    return all;
  }
  Status barrier() override {
    uint32_t gen = s_->generation.load(std::memory_order_acquire);
    if (s_->arrived.fetch_add(1, std::memory_order_acq_rel) + 1 ==
        static_cast<uint32_t>(s_->nranks)) {
      s_->arrived.store(0, std::memory_order_relaxed);
      s_->generation.fetch_add(1, std::memory_order_acq_rel);
      return Status::Ok();
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (s_->generation.load(std::memory_order_acquire) == gen) {
      if (s_->abort.load()) return Aborted("test bootstrap");
      if (std::chrono::steady_clock::now() > deadline) return Timeout("test bootstrap barrier");
      nap();
    }
    return Status::Ok();
  }
  void abort() override { s_->abort.store(true); }

 private:
  FakeBootstrapGroup::Shared* s_;
  int rank_;
  net::Address address_;
  net::Secret secret_;
};

}  // namespace

FakeBootstrapGroup::FakeBootstrapGroup(int nranks) {
  void* p = mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) std::abort();
  shared_ = new (p) Shared();
  shared_->nranks = nranks;
  static std::atomic<uint64_t> counter{0};
  shared_->commHash = mix(static_cast<uint64_t>(getpid()) * 1000003 + counter.fetch_add(1) +
                          static_cast<uint64_t>(
                              std::chrono::steady_clock::now().time_since_epoch().count()));
}

FakeBootstrapGroup::~FakeBootstrapGroup() {
  shared_->~Shared();
  munmap(shared_, sizeof(Shared));
}

std::unique_ptr<bootstrap::Bootstrap> FakeBootstrapGroup::join(int rank) {
  return std::make_unique<FakeBootstrap>(shared_, rank);
}

uint64_t FakeBootstrapGroup::commHash() const { return shared_->commHash; }

void FakeBootstrapGroup::abortAll() { shared_->abort.store(true); }

AbortFlag* FakeBootstrapGroup::abortFlag() { return &shared_->abort; }

namespace {

// Creates rank `rank`'s manager and runs fn; returns fn's value, or 1.
int rankBody(FakeBootstrapGroup& group, int rank, int n, const RunOptions& options,
             const std::function<int(RankContext&)>& fn) {
  if (options.beforeCreate) options.beforeCreate(rank);
  auto bs = group.join(rank);
  ManagerOptions mo;
  mo.nchannels = options.nchannels;
  mo.timeout = options.timeout;
  mo.abort = group.abortFlag();
  auto m = ConnectionManager::create(*bs, mo);
  if (!m.ok()) {
    group.abortAll();
    ADD_FAILURE() << "rank " << rank << ": " << m.status().toString();
    return 1;
  }
  RankContext ctx{rank, n, *m.value(), *bs};
  int rc = fn(ctx);
  if (::testing::Test::HasFailure()) group.abortAll();
  if (options.finalBarrier) {
    Status s = bs->barrier();
    if (!s.ok() && !::testing::Test::HasFailure()) ADD_FAILURE() << s.toString();
  }
  return ::testing::Test::HasFailure() && rc == 0 ? 1 : rc;
}

}  // namespace

void runRanks(Launch launch, int n, const std::function<void(RankContext&)>& fn,
              const RunOptions& options) {
  FakeBootstrapGroup group(n);
  auto wrapped = [&](RankContext& ctx) {
    fn(ctx);
    return 0;
  };
  if (launch == Launch::kThreads) {
    strata::testing::runThreads(
        n, [&](int rank) { rankBody(group, rank, n, options, wrapped); }, options.watchdogSec);
    return;
  }
  std::vector<int> codes = strata::testing::runProcesses(
      n, [&](int rank) { return rankBody(group, rank, n, options, wrapped); },
      options.watchdogSec);
  for (int r = 0; r < n; ++r) EXPECT_EQ(codes[r], 0) << "rank " << r << " (process) failed";
}

std::vector<int> runRankProcesses(int n, const std::function<int(RankContext&)>& fn,
                                  const RunOptions& options) {
  FakeBootstrapGroup group(n);
  return strata::testing::runProcesses(
      n, [&](int rank) { return rankBody(group, rank, n, options, fn); }, options.watchdogSec);
}

}  // namespace strata::transport::testing

namespace strata::transport::testing {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kNap = std::chrono::microseconds(5000);

template <typename Try, typename Health>
auto waitFor(ConnectionManager& m, Try attempt, Health health, std::chrono::milliseconds timeout,
             Status* error, bool quiet, const char* what) -> decltype(attempt()) {
  auto deadline = Clock::now() + timeout;
  Doorbell* bell = m.doorbell();
  while (true) {
    DoorbellWait wait(bell);
    if (auto p = attempt()) return p;
    Status h = health();
    if (h.ok() && Clock::now() > deadline) h = Timeout(what);
    if (!h.ok()) {
      if (error != nullptr) *error = h;
      if (!quiet) ADD_FAILURE() << what << ": " << h.toString();
      return nullptr;
    }
    wait.sleep(kNap);
  }
}

}  // namespace

void* acquireWait(ConnectionManager& m, SendConnection* c, size_t* capacity,
                  std::chrono::milliseconds timeout, Status* error, bool quiet) {
  return waitFor(
      m, [&] { return c->acquire(capacity); }, [&] { return c->health(); }, timeout, error, quiet,
      "waiting for a free slot");
}

const void* peekWait(ConnectionManager& m, RecvConnection* c, size_t* bytes,
                     std::chrono::milliseconds timeout, Status* error, bool quiet) {
  return waitFor(
      m, [&] { return c->peek(bytes); }, [&] { return c->health(); }, timeout, error, quiet,
      "waiting for a filled slot");
}

void fillPattern(uint64_t key, uint64_t pos, void* dst, size_t len) {
  auto* d = static_cast<uint8_t*>(dst);
  size_t i = 0;
  while (i < len) {
    uint64_t w = mix(key + (pos >> 3));
    unsigned off = static_cast<unsigned>(pos & 7);
    if (off == 0 && len - i >= 8) {
      std::memcpy(d + i, &w, 8);
      i += 8;
      pos += 8;
      continue;
    }
    d[i++] = static_cast<uint8_t>(w >> (off * 8));
    ++pos;
  }
}

int64_t checkPattern(uint64_t key, uint64_t pos, const void* src, size_t len) {
  const auto* s = static_cast<const uint8_t*>(src);
  size_t i = 0;
  while (i < len) {
    uint64_t w = mix(key + (pos >> 3));
    unsigned off = static_cast<unsigned>(pos & 7);
    if (off == 0 && len - i >= 8) {
      if (std::memcmp(s + i, &w, 8) != 0) {
        for (int b = 0; b < 8; ++b) {
          if (s[i + b] != static_cast<uint8_t>(w >> (8 * b))) return static_cast<int64_t>(i + b);
        }
      }
      i += 8;
      pos += 8;
      continue;
    }
    if (s[i] != static_cast<uint8_t>(w >> (off * 8))) return static_cast<int64_t>(i);
    ++i;
    ++pos;
  }
  return -1;
}

uint64_t streamKey(int from, int to, int channel) {
  return mix(static_cast<uint64_t>(from) * 1000003ull + static_cast<uint64_t>(to) * 1009ull +
             static_cast<uint64_t>(channel) + 1) << 8;
}

size_t scheduledBytes(uint64_t k, size_t capacity) {
  static const size_t kSpecial[] = {0, 1, 7, 64, 65, 4095};
  switch (k % 8) {
    case 1: return std::min(capacity, kSpecial[(k / 8) % 6]);
    case 3: return capacity - 1;
    case 5: return capacity / 2 + 3;
    default: return capacity;
  }
}

bool exchange(RankContext& ctx, const std::vector<Stream>& out, const std::vector<Stream>& in,
              std::chrono::milliseconds timeout) {
  struct State {
    Stream s;
    SendConnection* send = nullptr;
    RecvConnection* recv = nullptr;
    uint64_t k = 0;
    uint64_t pos = 0;
    uint64_t key = 0;
  };
  ConnectionManager& m = ctx.manager;
  std::vector<State> outs, ins;
  for (const Stream& s : out) {
    auto c = m.send(s.peer, s.channel);
    if (!c.ok()) {
      ADD_FAILURE() << "rank " << ctx.rank << " send(" << s.peer << "): " << c.status().toString();
      return false;
    }
    outs.push_back(State{s, c.value(), nullptr, 0, 0, streamKey(ctx.rank, s.peer, s.channel)});
  }
  for (const Stream& s : in) {
    auto c = m.recv(s.peer, s.channel);
    if (!c.ok()) {
      ADD_FAILURE() << "rank " << ctx.rank << " recv(" << s.peer << "): " << c.status().toString();
      return false;
    }
    ins.push_back(State{s, nullptr, c.value(), 0, 0, streamKey(s.peer, ctx.rank, s.channel)});
  }
  const size_t cap = m.minSlotCapacityBytes();
  auto deadline = Clock::now() + timeout;
  Doorbell* bell = m.doorbell();
  while (true) {
    DoorbellWait wait(bell);
    bool progressed = false, done = true;
    for (State& o : outs) {
      while (o.k < o.s.slots) {
        size_t capacity = 0;
        void* p = o.send->acquire(&capacity);
        if (p == nullptr) break;
        size_t n = scheduledBytes(o.k, cap);
        if (capacity < n) {
          ADD_FAILURE() << "slot of " << capacity << " bytes, expected at least " << cap;
          return false;
        }
        fillPattern(o.key, o.pos, p, n);
        o.send->post(n);
        o.pos += n;
        ++o.k;
        progressed = true;
      }
      done &= o.k == o.s.slots;
    }
    for (State& i : ins) {
      while (i.k < i.s.slots) {
        size_t bytes = 0;
        const void* p = i.recv->peek(&bytes);
        if (p == nullptr) break;
        size_t want = scheduledBytes(i.k, cap);
        if (bytes != want) {
          ADD_FAILURE() << "rank " << ctx.rank << " from " << i.s.peer << " ch " << i.s.channel
                        << ": slot " << i.k << " has " << bytes << " bytes, expected " << want;
          return false;
        }
        int64_t bad = checkPattern(i.key, i.pos, p, bytes);
        if (bad >= 0) {
          ADD_FAILURE() << "rank " << ctx.rank << " from " << i.s.peer << " ch " << i.s.channel
                        << ": wrong byte at stream offset " << i.pos + bad << " (slot " << i.k
                        << ")";
          return false;
        }
        i.recv->release();
        i.pos += bytes;
        ++i.k;
        progressed = true;
      }
      done &= i.k == i.s.slots;
    }
    if (done) return true;
    if (progressed) continue;
    for (State& o : outs) {
      Status h = o.send->health();
      if (!h.ok()) {
        ADD_FAILURE() << "rank " << ctx.rank << ": " << h.toString();
        return false;
      }
    }
    for (State& i : ins) {
      Status h = i.recv->health();
      if (!h.ok()) {
        ADD_FAILURE() << "rank " << ctx.rank << ": " << h.toString();
        return false;
      }
    }
    if (Clock::now() > deadline) {
      ADD_FAILURE() << "rank " << ctx.rank << ": exchange timed out";
      return false;
    }
    wait.sleep(kNap);
  }
}

}  // namespace strata::transport::testing
