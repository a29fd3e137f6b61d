// Doorbell: a sequence word and a sleeper count. Ringing touches the
// sequence and enters the kernel only when somebody sleeps; waiting announces
// itself in `sleepers`, looks at its work once more, and then sleeps on the
// sequence word with a futex (the protocol is in connection.h).
// The futexes are not FUTEX_PRIVATE: a doorbell in a shm segment is rung by
// other processes, and the kernel keys such a futex by the shared page.
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <climits>

#include "transports/connection.h"

namespace strata::transport {
namespace {

uint32_t* word(std::atomic<uint32_t>* a) {
  static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));
  return reinterpret_cast<uint32_t*>(a);
}

}  // namespace

void ring(Doorbell* bell) {
  // Pairs with the fence in announceSleep: either the waiter, looking at
  // its work after announcing, sees what the caller published before this
  // ring, or this load sees the waiter (and wakes it).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (bell->sleepers.load(std::memory_order_relaxed) == 0) return;
  bell->seq.fetch_add(1, std::memory_order_seq_cst);
  syscall(SYS_futex, word(&bell->seq), FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

uint32_t announceSleep(Doorbell* bell) {
  bell->sleepers.fetch_add(1, std::memory_order_seq_cst);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  return bell->seq.load(std::memory_order_acquire);
}

void cancelSleep(Doorbell* bell) { bell->sleepers.fetch_sub(1, std::memory_order_seq_cst); }

void sleepOn(Doorbell* bell, uint32_t seen, std::chrono::microseconds maxWait) {
  if (maxWait.count() > 0 && bell->seq.load(std::memory_order_acquire) == seen) {
    timespec ts;
    ts.tv_sec = static_cast<time_t>(maxWait.count() / 1000000);
    ts.tv_nsec = static_cast<long>((maxWait.count() % 1000000) * 1000);
    // EAGAIN (the sequence moved), EINTR and ETIMEDOUT all mean "re-check".
    syscall(SYS_futex, word(&bell->seq), FUTEX_WAIT, seen, &ts, nullptr, 0);
  }
  cancelSleep(bell);
}

}  // namespace strata::transport
