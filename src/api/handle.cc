#include "api/handle.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace strata::api {
namespace {

// The live handles: an open-addressing table of pointers. Every entry point
// looks its handle up here, so lookups take no lock: they probe the
// current table with acquire loads. Insertions and removals take the
// mutex; a removed entry becomes a tombstone, and when live entries plus
// tombstones pass half the table, a new table with the live entries is
// published. Old tables stay allocated until exit (a lookup may still be
// probing one). A lookup racing with ncclCommDestroy of its own handle may
// see it live, as it could with any registry checked before use; that race
// is the caller's error in NCCL's API too.
const ncclComm* const kTombstone = reinterpret_cast<const ncclComm*>(uintptr_t{1});

struct Table {
  explicit Table(size_t capacity)
      : mask(capacity - 1), slots(new std::atomic<const ncclComm*>[capacity]) {
    for (size_t i = 0; i < capacity; ++i) slots[i].store(nullptr, std::memory_order_relaxed);
  }
  size_t mask;
  std::unique_ptr<std::atomic<const ncclComm*>[]> slots;
};

size_t slotOf(const ncclComm* h, size_t mask) {
  uint64_t x = reinterpret_cast<uintptr_t>(h);
  x ^= x >> 29;
  x *= 0x9e3779b97f4a7c15ull;
  return static_cast<size_t>(x >> 32) & mask;
}

struct Registry {
  std::mutex mu;
  std::atomic<Table*> current{nullptr};
  std::vector<std::unique_ptr<Table>> tables;  // every table published; guarded by mu
  size_t live = 0;                             // guarded by mu
  size_t used = 0;                             // live + tombstones in *current; guarded by mu

  // Under mu.
  void publish(size_t capacity) {
    auto t = std::make_unique<Table>(capacity);
    if (Table* old = current.load(std::memory_order_relaxed); old != nullptr) {
      for (size_t i = 0; i <= old->mask; ++i) {
        const ncclComm* h = old->slots[i].load(std::memory_order_relaxed);
        if (h == nullptr || h == kTombstone) continue;
        size_t j = slotOf(h, t->mask);
        while (t->slots[j].load(std::memory_order_relaxed) != nullptr) j = (j + 1) & t->mask;
        t->slots[j].store(h, std::memory_order_relaxed);
      }
    }
    used = live;
    current.store(t.get(), std::memory_order_release);
    tables.push_back(std::move(t));
  }
  void insert(const ncclComm* h) {
    std::lock_guard<std::mutex> lock(mu);
    Table* t = current.load(std::memory_order_relaxed);
    if (t == nullptr || 2 * (used + 1) > t->mask + 1) {
      size_t capacity = 64;
      while (capacity < 4 * (live + 1)) capacity *= 2;
      publish(capacity);
      t = current.load(std::memory_order_relaxed);
    }
    size_t i = slotOf(h, t->mask);
    // Tombstones are not reused: a lookup probing past one must still find
    // entries placed after it.
    while (t->slots[i].load(std::memory_order_relaxed) != nullptr) i = (i + 1) & t->mask;
    t->slots[i].store(h, std::memory_order_release);
    ++live;
    ++used;
  }
  void erase(const ncclComm* h) {
    std::lock_guard<std::mutex> lock(mu);
    Table* t = current.load(std::memory_order_relaxed);
    if (t == nullptr) return;
    for (size_t i = slotOf(h, t->mask);; i = (i + 1) & t->mask) {
      const ncclComm* v = t->slots[i].load(std::memory_order_relaxed);
      if (v == nullptr) return;
      if (v == h) {
        t->slots[i].store(kTombstone, std::memory_order_release);
        --live;
        return;
      }
    }
  }
  bool contains(const ncclComm* h) const {
    const Table* t = current.load(std::memory_order_acquire);
    if (t == nullptr || h == nullptr || h == kTombstone) return false;
    for (size_t i = slotOf(h, t->mask);; i = (i + 1) & t->mask) {
      const ncclComm* v = t->slots[i].load(std::memory_order_acquire);
      if (v == h) return true;
      if (v == nullptr) return false;
    }
  }
};

Registry& registry() {
  static auto* r = new Registry();  // never destroyed: handles may outlive static destructors
  return *r;
}

}  // namespace

ncclComm* newHandle() {
  auto* h = new ncclComm();
  registry().insert(h);
  return h;
}

void destroyHandle(ncclComm* handle) {
  registry().erase(handle);
  delete handle;
}

bool isLive(const ncclComm* handle) { return registry().contains(handle); }

StatusOr<Communicator*> lookup(const ncclComm* handle, const char* function) {
  if (handle == nullptr) return InvalidArgument(function, ": comm is NULL");
  if (!registry().contains(handle)) {
    return InvalidArgument(function, ": comm ", static_cast<const void*>(handle),
                           " is not a live communicator (destroyed, aborted or never created)");
  }
  if (!handle->initStatus.ok()) {
    return Status(handle->initStatus.code(),
                  strCat(function, ": communicator failed to initialise: ",
                         handle->initStatus.message()));
  }
  if (!handle->impl) {
    return InvalidUsage(function, ": communicator is still initialising (inside a group?)");
  }
  return handle->impl.get();
}

}  // namespace strata::api
