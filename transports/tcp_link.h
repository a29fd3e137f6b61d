// The tcp data path: one direction of one (peer, channel) link, carried by
// nsocks sockets. The executor side is an ordinary slot FIFO in process
// memory; a proxy thread (tcp_proxy.h) moves slots between that FIFO and
// the sockets with non-blocking I/O.
//
// Wire format of a data socket after its handshake, per part:
//   PartHeader (24 bytes, little endian): magic u32, part u32, seq u64, total u64
//   then the part's bytes.
// A posted slot of `total` bytes is cut into nparts = partsFor(total)
// contiguous parts; part p of slot seq goes on socket (seq + p) % nsocks, so
// small slots rotate over the sockets and large ones use all of them. Each
// socket carries its parts in increasing seq order.
//
// Zero copy (the wire format does not change): a posted send slot may refer
// to the executor's memory instead of holding the bytes (postReference); the
// proxy then writes the parts straight from there. A receiving link may be
// given targets, ranges of the stream with their place in the executor's
// memory (postTarget); a slot that falls wholly inside one, and whose first
// part header arrives once its stream position is known, is read straight
// into it. Both end on the executor's side: the executor waits for idle()
// before the referenced memory may change, and consumes the bytes of a
// target before it touches that memory again; on error paths it withdraws
// them, and the proxy moves whatever it still needs into its own slots.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "net/socket.h"
#include "net/tls.h"
#include "transports/connection.h"
#include "transports/fifo.h"
#include "transports/health.h"

namespace strata::transport {

class TcpProxy;

struct TcpParams {
  uint64_t slotBytes = 0;
  uint32_t nslots = 0;
  uint32_t nsocks = 0;
};

inline constexpr uint32_t kPartMagic = 0x54504453;  // "SDPT"
inline constexpr size_t kPartHeaderBytes = 24;
inline constexpr uint64_t kMinPartBytes = 32 * 1024;
inline constexpr uint32_t kMaxSockets = 64;

uint32_t partsFor(uint64_t total, uint32_t nsocks);
// Offset and length of part `part` of a slot of `total` bytes.
void partRange(uint64_t total, uint32_t nparts, uint32_t part, uint64_t* offset, uint64_t* len);

// An anonymous mapping holding one FIFO (zeroed, pages touched lazily).
class HeapFifo {
 public:
  static StatusOr<std::unique_ptr<HeapFifo>> create(const FifoLayout& layout);
  ~HeapFifo();
  FifoView view() const { return FifoView(base_, layout_); }

 private:
  HeapFifo() = default;
  char* base_ = nullptr;
  size_t bytes_ = 0;
  FifoLayout layout_;
};

class TcpLink;

struct TcpSocketState {
  TcpLink* owner = nullptr;
  uint32_t index = 0;
  net::Socket sock;
  std::unique_ptr<net::TlsSession> tls;  // STRATA_TLS=1: every byte goes through it
  bool registered = false;  // in the proxy's epoll set
  bool canRead = false;
  bool canWrite = false;
  uint64_t nextSeq = 0;  // send: next slot to consider; recv: lowest seq allowed next
  bool active = false;   // a part is in progress
  uint64_t seq = 0, offset = 0, len = 0, total = 0;
  uint32_t part = 0;
  uint64_t done = 0;  // bytes of the current part moved (header included when sending)
  uint8_t header[kPartHeaderBytes];
  size_t headerDone = 0;
  bool eof = false;  // recv: the peer closed this socket at a part boundary
};

// What the proxy thread drives. Every method except fail()/health parts runs
// on the proxy thread that owns the link.
class TcpLink {
 public:
  TcpLink(int peer, int channel, const TcpParams& params, const AbortState* abort,
          std::chrono::milliseconds timeout);
  virtual ~TcpLink() = default;

  // Moves bytes; true if anything moved. Sets notify_ when the executor can
  // make progress (a slot was freed or filled): the proxy then rings.
  virtual bool pump() = 0;
  // Answers the executor's requests (withdrawals of references or targets).
  // The proxy calls it on every turn, also once the link has failed or the
  // communicator was aborted, when pump() no longer runs.
  virtual void service() = 0;
  bool takeNotify() {
    bool n = notify_;
    notify_ = false;
    return n;
  }
  // Takes sockets handed over by other threads into the epoll set.
  void adoptSockets(int epollFd);
  void onEvent(TcpSocketState* sock, uint32_t events);
  // First failure wins; later health() calls return it. `expected` failures
  // (the peer closed at a message boundary, as it does when it shuts down)
  // are logged at INFO instead of WARN.
  void fail(Status status, bool expected = false);
  bool failed() const { return failed_.load(std::memory_order_acquire); }
  void setProxy(TcpProxy* proxy, Doorbell* bell) {
    proxy_ = proxy;
    bell_ = bell;
  }
  TcpProxy* proxy() const { return proxy_; }
  int peer() const { return peer_; }
  int channel() const { return channel_; }

  // Hands a connected, authenticated socket to the link (any thread).
  // False if that socket index was already taken.
  bool claimSocket(uint32_t index);
  void giveSocket(uint32_t index, net::Socket sock, std::unique_ptr<net::TlsSession> tls = nullptr);

 protected:
  Status linkHealth(const char* direction);
  // Executor thread: asks the proxy to serve a request (the caller bumped
  // `asked` to `ticket`) and waits until `done` reaches it.
  void awaitService(const std::atomic<uint64_t>& done, uint64_t ticket);
  // Proxy thread: the request up to `asked` was served.
  void served(std::atomic<uint64_t>& done, uint64_t asked);
  // One non-blocking read from socket j (through TLS when it has a session):
  // bytes read; 0 with *eof false when nothing is ready, 0 with *eof true
  // when the peer closed the connection.
  StatusOr<size_t> readSome(TcpSocketState& s, void* data, size_t bytes, bool* eof);
  std::string what(const char* direction) const;

  int peer_;
  int channel_;
  TcpParams params_;
  const AbortState* abort_;
  TcpProxy* proxy_ = nullptr;
  Doorbell* bell_ = nullptr;  // the rank's doorbell; rung on failure
  bool notify_ = false;       // proxy thread only
  std::vector<TcpSocketState> socks_;  // fixed size nsocks; proxy thread only
  std::atomic<uint32_t> attached_{0};  // sockets handed over so far
  std::chrono::steady_clock::time_point created_;
  std::chrono::milliseconds timeout_;

 private:
  std::mutex mu_;
  std::vector<net::Socket> incoming_;  // handed over, not yet adopted
  std::vector<std::unique_ptr<net::TlsSession>> incomingTls_;
  std::vector<bool> claimed_;
  std::vector<bool> incomingSet_;
  std::atomic<bool> failed_{false};
  Status error_;
};

class TcpSendLink final : public TcpLink, public SendConnection {
 public:
  TcpSendLink(int peer, int channel, const TcpParams& params, std::unique_ptr<HeapFifo> fifo,
              const AbortState* abort, std::chrono::milliseconds timeout);
  // SendConnection (executor thread)
  void* acquire(size_t* capacity) override { return exec_.acquire(capacity); }
  void post(size_t bytes) override;
  bool idle() override { return exec_.idle(); }
  Status health() override { return linkHealth("to"); }
  const char* transportName() const override { return "tcp"; }
  bool supportsReferences() const override { return true; }
  void postReference(const void* data, size_t bytes) override;
  void withdrawReferences() override;
  // TcpLink (proxy thread)
  bool pump() override;
  void service() override;

 private:
  bool pumpSocket(uint32_t j, uint64_t known);
  // Where the bytes of posted slot `seq` are (proxy thread).
  const char* slotData(uint64_t seq) const;
  bool publish(size_t bytes, const char* reference);

  std::unique_ptr<HeapFifo> fifo_;
  FifoSender exec_;
  uint64_t known_ = 0;  // slots whose part counts are set up
  uint64_t tail_ = 0;   // slots fully written to the sockets
  std::vector<uint32_t> partsLeft_;
  // Per slot index: the executor memory a posted slot refers to, or nullptr
  // when its bytes are in the slot. Written by the executor before it posts
  // the slot (the head's release orders it), cleared by the proxy when it
  // withdraws references (the executor is then waiting).
  std::vector<const char*> refs_;
  std::atomic<uint64_t> withdrawAsked_{0};
  std::atomic<uint64_t> withdrawDone_{0};
};

class TcpRecvLink final : public TcpLink, public RecvConnection {
 public:
  TcpRecvLink(int peer, int channel, const TcpParams& params, std::unique_ptr<HeapFifo> fifo,
              const AbortState* abort, std::chrono::milliseconds timeout);
  // RecvConnection (executor thread)
  const void* peek(size_t* bytes) override;
  void release() override;
  Status health() override;
  const char* transportName() const override { return "tcp"; }
  bool supportsTargets() const override { return true; }
  uint64_t position() const override { return position_; }
  void postTarget(uint64_t position, void* dst, size_t bytes) override;
  void withdrawTargets() override;
  // TcpLink (proxy thread)
  bool pump() override;
  void service() override;

 private:
  struct SlotState {
    bool open = false;
    uint64_t seq = 0;
    uint64_t total = 0;
    uint32_t nparts = 0;
    uint32_t partsDone = 0;
    uint64_t mask = 0;
    bool placed = false;    // its stream position is known
    uint64_t start = 0;     // that position
    char* home = nullptr;   // the target it is read into, or nullptr (its FIFO slot)
  };
  struct Target {
    uint64_t position = 0;
    char* dst = nullptr;
    uint64_t bytes = 0;
  };
  bool pumpSocket(uint32_t j, uint64_t tail);
  Status acceptHeader(uint32_t j);
  // Proxy thread: a slot opens (its first part header arrived): its stream
  // position, if the slots before it are known, and the target it goes to.
  void placeSlot(SlotState& slot);
  char* findTarget(uint64_t start, uint64_t bytes);
  // True when the next slot can never complete: a socket that must carry one
  // of its parts has been closed by the peer.
  bool nextSlotStarved() const;

  std::unique_ptr<HeapFifo> fifo_;
  FifoReceiver exec_;
  uint64_t head_ = 0;  // slots published to the executor
  std::vector<SlotState> slots_;
  // A sender that finished closes its sockets while parts of its last slots
  // may still be queued on other sockets, so a closed socket is not an
  // error by itself; it is one when the executor waits for a slot that
  // cannot arrive any more (set by the proxy, read by health()).
  std::atomic<bool> starved_{false};

  uint64_t published_ = 0;  // proxy: stream position of slot head_
  uint64_t position_ = 0;   // executor: stream position of the oldest unreleased slot
  uint64_t targetEnd_ = 0;  // executor: end of the last target posted
  bool targeted_ = false;   // executor: targets posted since the last withdrawal
  // Per slot index: where a published slot's bytes are (a target), or
  // nullptr for its FIFO slot. Written by the proxy before it publishes the
  // slot; cleared by the executor when it withdraws targets.
  std::vector<char*> homes_;
  std::mutex targetsMu_;
  std::deque<Target> targets_;           // guarded by targetsMu_
  std::atomic<bool> hasTargets_{false};  // targets_ is not empty
  std::atomic<uint64_t> withdrawAsked_{0};
  std::atomic<uint64_t> withdrawDone_{0};
};

}  // namespace strata::transport
