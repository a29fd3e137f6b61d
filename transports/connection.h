// Connections: one direction of a link between two ranks on one channel, as
// a FIFO of fixed-size slots with head/tail counters. The executor only ever
// sees this interface, whatever carries the bytes (loopback, shm, tcp, ...).
//
// Waiting: every rank has one Doorbell. Whatever makes progress possible for
// a rank (a peer posted data, a peer released a slot, the tcp proxy moved
// bytes) rings that rank's doorbell; an executor with nothing to do spins
// briefly and then sleeps on it (futex), so ranks outnumbering cores never
// busy-wait.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

#include "core/status.h"

namespace strata::transport {

// Lives in memory every ringer can reach (process memory or a shm segment).
struct Doorbell {
  std::atomic<uint32_t> seq{0};
  std::atomic<uint32_t> sleepers{0};
};
static_assert(sizeof(Doorbell) == 8, "Doorbell must stay two words (shared memory layout)");

// Ringing costs a fence and a read of `sleepers` while nobody sleeps: the
// sequence word is only advanced (and the futex woken) when somebody does.
// A waiter therefore follows this protocol, so that a ring between its last
// look at the work and its sleep is never lost:
//
//   uint32_t seen = announceSleep(bell);   // sleepers++, then read seq
//   if (<work is possible now>) { cancelSleep(bell); ... }
//   else sleepOn(bell, seen, maxWait);      // futex wait, then sleepers--
//
// A ringer publishes its change, then (fence) reads sleepers; the waiter
// announces, then (fence) looks at the work. One of the two sees the other.
void ring(Doorbell* bell);
uint32_t announceSleep(Doorbell* bell);
void cancelSleep(Doorbell* bell);
// Returns when seq != seen, after maxWait, or spuriously; the caller re-checks.
void sleepOn(Doorbell* bell, uint32_t seen, std::chrono::microseconds maxWait);

// The protocol as a scope: announces on construction; sleep() sleeps; if
// it is never called the announcement is cancelled on destruction.
class DoorbellWait {
 public:
  explicit DoorbellWait(Doorbell* bell) : bell_(bell), seen_(announceSleep(bell)) {}
  ~DoorbellWait() {
    if (bell_ != nullptr) cancelSleep(bell_);
  }
  DoorbellWait(const DoorbellWait&) = delete;
  DoorbellWait& operator=(const DoorbellWait&) = delete;
  void sleep(std::chrono::microseconds maxWait) {
    if (bell_ == nullptr) return;
    sleepOn(bell_, seen_, maxWait);
    bell_ = nullptr;
  }

 private:
  Doorbell* bell_;
  uint32_t seen_;
};

class SendConnection {
 public:
  virtual ~SendConnection() = default;
  // A free slot to fill, or nullptr when all slots are in flight.
  virtual void* acquire(size_t* capacity) = 0;
  // Publishes the slot returned by the last acquire() with `bytes` of data.
  virtual void post(size_t bytes) = 0;
  // True when every posted slot has been taken by the other side.
  virtual bool idle() = 0;
  // Ok while the link works; the reason once it has failed (peer gone, timeout).
  virtual Status health() = 0;
  virtual const char* transportName() const = 0;

  // Sending from the caller's memory. Publishes the slot returned by the
  // last acquire() as `bytes` (at most its capacity) read from `data`.
  // Where supportsReferences(), the transport reads them later, straight
  // from `data`: they must stay readable and unchanged until idle() returns
  // true, or until withdrawReferences() returns. Elsewhere the bytes are
  // copied into the slot now.
  virtual bool supportsReferences() const { return false; }
  virtual void postReference(const void* data, size_t bytes) = 0;
  // Makes the connection stop reading caller memory: what it has not sent
  // yet from references is copied into its own slots (the stream goes on
  // unchanged). Blocks until the transport no longer reads caller memory.
  // For error paths: the executor returns without waiting for idle().
  virtual void withdrawReferences() {}
};

class RecvConnection {
 public:
  virtual ~RecvConnection() = default;
  // The oldest filled slot and its byte count, or nullptr when none is ready.
  virtual const void* peek(size_t* bytes) = 0;
  // Frees the slot returned by peek().
  virtual void release() = 0;
  virtual Status health() = 0;
  virtual const char* transportName() const = 0;

  // Receiving into the caller's memory. Stream positions count the bytes
  // that arrived on this connection since it was created. Where
  // supportsTargets(), postTarget() offers [dst, dst + bytes) as the home
  // of stream bytes [position, position + bytes): a slot that lies wholly in
  // that range and has not started to arrive yet is written there by the
  // transport, and peek() then returns its address inside dst. Everything
  // else arrives in the connection's own slots as usual, so targets are
  // hints and never change what peek() yields. The memory must stay
  // writable, and untouched by the caller, until the bytes of the range
  // have been released or withdrawTargets() returned. Targets are posted
  // in increasing, non-overlapping stream order.
  virtual bool supportsTargets() const { return false; }
  // Stream position of the first byte of the oldest slot not yet released.
  virtual uint64_t position() const { return 0; }
  virtual void postTarget(uint64_t position, void* dst, size_t bytes) {}
  // Forgets every target; slots already written into a target and not yet
  // released are moved into the connection's own slots. Blocks until the
  // transport no longer writes caller memory. For error paths.
  virtual void withdrawTargets() {}
};

}  // namespace strata::transport
