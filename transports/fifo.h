// The slot FIFO shared by every memory-backed transport (loopback, shm) and
// used locally by the tcp transport between the executor and its proxy.
//
// Layout of one FIFO (all offsets from its base, which is page aligned):
//   [0]            head: slots posted by the sender        (own cache line)
//   [64]           tail: slots released by the receiver    (own cache line)
//   [128]          bytes[nslots]: byte count of each slot  (own cache lines)
//   [ctrlBytes]    nslots x slotBytes of data, page aligned
// head and tail only grow; slot i of the sequence lives at index i % nslots.
// Exactly one sender and one receiver use a FIFO at a time. The memory must
// start zeroed (fresh mmap or ftruncate pages are).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace strata::transport {

inline constexpr size_t kCacheLine = 64;
inline constexpr size_t kPageBytes = 4096;

inline constexpr size_t roundUp(size_t v, size_t to) { return (v + to - 1) / to * to; }

struct FifoLayout {
  uint32_t nslots = 0;
  size_t slotBytes = 0;  // a multiple of kCacheLine

  size_t ctrlBytes() const { return roundUp(2 * kCacheLine + nslots * sizeof(uint64_t), kPageBytes); }
  size_t strideBytes() const { return ctrlBytes() + roundUp(nslots * slotBytes, kPageBytes); }
};

// A view of one FIFO's memory; cheap to copy.
class FifoView {
 public:
  FifoView() = default;
  FifoView(char* base, const FifoLayout& layout) : base_(base), layout_(layout) {}

  std::atomic<uint64_t>& head() const { return *reinterpret_cast<std::atomic<uint64_t>*>(base_); }
  std::atomic<uint64_t>& tail() const {
    return *reinterpret_cast<std::atomic<uint64_t>*>(base_ + kCacheLine);
  }
  std::atomic<uint64_t>& bytes(uint64_t seq) const {
    auto* arr = reinterpret_cast<std::atomic<uint64_t>*>(base_ + 2 * kCacheLine);
    return arr[seq % layout_.nslots];
  }
  char* slot(uint64_t seq) const {
    return base_ + layout_.ctrlBytes() + (seq % layout_.nslots) * layout_.slotBytes;
  }
  const FifoLayout& layout() const { return layout_; }
  bool valid() const { return base_ != nullptr; }

 private:
  char* base_ = nullptr;
  FifoLayout layout_;
};

static_assert(sizeof(std::atomic<uint64_t>) == sizeof(uint64_t) &&
                  std::atomic<uint64_t>::is_always_lock_free,
              "FIFO counters must be plain lock-free words (shared across processes)");

// The sending end: fills slots and publishes them in order.
class FifoSender {
 public:
  FifoSender() = default;
  explicit FifoSender(FifoView view) : view_(view) {
    head_ = view_.head().load(std::memory_order_relaxed);
    tailSeen_ = view_.tail().load(std::memory_order_acquire);
  }

  void* acquire(size_t* capacity) {
    if (head_ - tailSeen_ >= view_.layout().nslots) {
      tailSeen_ = view_.tail().load(std::memory_order_acquire);
      if (head_ - tailSeen_ >= view_.layout().nslots) return nullptr;
    }
    if (capacity != nullptr) *capacity = view_.layout().slotBytes;
    return view_.slot(head_);
  }
  // Publishes the slot at the head with `bytes` of data (<= slotBytes).
  void post(size_t bytes) {
    view_.bytes(head_).store(bytes, std::memory_order_relaxed);
    ++head_;
    view_.head().store(head_, std::memory_order_release);
  }
  bool idle() {
    tailSeen_ = view_.tail().load(std::memory_order_acquire);
    return tailSeen_ == head_;
  }
  uint64_t posted() const { return head_; }
  const FifoView& view() const { return view_; }

 private:
  FifoView view_;
  uint64_t head_ = 0;
  uint64_t tailSeen_ = 0;
};

// The receiving end: reads filled slots in order and frees them.
class FifoReceiver {
 public:
  FifoReceiver() = default;
  explicit FifoReceiver(FifoView view) : view_(view) {
    tail_ = view_.tail().load(std::memory_order_relaxed);
    headSeen_ = view_.head().load(std::memory_order_acquire);
  }

  // The oldest posted slot, or nullptr. A byte count larger than a slot (a
  // corrupted peer) is reported through *corrupt and the slot is withheld.
  const char* peek(size_t* bytes, bool* corrupt) {
    if (tail_ == headSeen_) {
      headSeen_ = view_.head().load(std::memory_order_acquire);
      if (tail_ == headSeen_) return nullptr;
    }
    uint64_t n = view_.bytes(tail_).load(std::memory_order_relaxed);
    if (n > view_.layout().slotBytes || headSeen_ - tail_ > view_.layout().nslots) {
      if (corrupt != nullptr) *corrupt = true;
      return nullptr;
    }
    if (bytes != nullptr) *bytes = static_cast<size_t>(n);
    return view_.slot(tail_);
  }
  void release() {
    ++tail_;
    view_.tail().store(tail_, std::memory_order_release);
  }
  uint64_t released() const { return tail_; }
  const FifoView& view() const { return view_; }

 private:
  FifoView view_;
  uint64_t tail_ = 0;
  uint64_t headSeen_ = 0;
};

}  // namespace strata::transport
