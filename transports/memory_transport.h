// Connections over memory both ranks can reach: loopback (ranks in one
// process, the receiver's segment in process memory) and shm (ranks in
// different processes of one host, the receiver's segment in a shm object).
// The sender writes straight into the receiver's FIFO and rings the
// receiver's doorbell; the receiver frees slots and rings the sender's.
#pragma once

#include <memory>

#include "transports/connection.h"
#include "transports/fifo.h"
#include "transports/health.h"
#include "transports/segment.h"

namespace strata::transport {

struct MemoryLinkInfo {
  const char* transportName = "loopback";  // "loopback" or "shm"
  int peer = -1;
  int channel = 0;
  FifoView fifo;                       // the FIFO in the receiver's segment
  Doorbell* peerBell = nullptr;        // the other rank's doorbell
  std::shared_ptr<Segment> keepAlive;  // the segment holding `fifo` / `peerBell`
  PeerProcess* peerProcess = nullptr;  // shm only
  const AbortState* abort = nullptr;
};

class MemorySendConnection final : public SendConnection {
 public:
  explicit MemorySendConnection(MemoryLinkInfo info);
  void* acquire(size_t* capacity) override;
  void post(size_t bytes) override;
  // Copies: the receiver reads the slot itself, possibly after the caller's
  // memory is gone.
  void postReference(const void* data, size_t bytes) override;
  bool idle() override;
  Status health() override;
  const char* transportName() const override { return info_.transportName; }

 private:
  MemoryLinkInfo info_;
  FifoSender fifo_;
  bool misuse_ = false;
};

class MemoryRecvConnection final : public RecvConnection {
 public:
  explicit MemoryRecvConnection(MemoryLinkInfo info);
  const void* peek(size_t* bytes) override;
  void release() override;
  Status health() override;
  const char* transportName() const override { return info_.transportName; }

 private:
  MemoryLinkInfo info_;
  FifoReceiver fifo_;
  bool corrupt_ = false;
};

}  // namespace strata::transport
