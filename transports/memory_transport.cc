#include "transports/memory_transport.h"

#include <cstring>
#include <utility>

#include "core/log.h"

namespace strata::transport {
namespace {

Status commonHealth(const MemoryLinkInfo& info, const char* direction) {
  if (info.abort != nullptr && info.abort->aborted()) {
    return Aborted(info.transportName, " connection ", direction, " rank ", info.peer,
                   " channel ", info.channel);
  }
  if (info.peerProcess != nullptr) {
    Status s = info.peerProcess->check();
    if (!s.ok()) {
      return s.withContext(strCat(info.transportName, " connection ", direction, " rank ",
                                  info.peer, " channel ", info.channel));
    }
  }
  return Status::Ok();
}

}  // namespace

MemorySendConnection::MemorySendConnection(MemoryLinkInfo info)
    : info_(std::move(info)), fifo_(info_.fifo) {}

void* MemorySendConnection::acquire(size_t* capacity) { return fifo_.acquire(capacity); }

void MemorySendConnection::post(size_t bytes) {
  if (bytes > info_.fifo.layout().slotBytes) {
    // An executor bug; refuse rather than let the receiver read past the slot.
    STRATA_WARN(log::kShm, "post of ", bytes, " bytes into a ", info_.fifo.layout().slotBytes,
                "-byte slot toward rank ", info_.peer);
    misuse_ = true;
    return;
  }
  fifo_.post(bytes);
  ring(info_.peerBell);
}

void MemorySendConnection::postReference(const void* data, size_t bytes) {
  if (bytes <= info_.fifo.layout().slotBytes && bytes > 0) {
    std::memcpy(fifo_.view().slot(fifo_.posted()), data, bytes);
  }
  post(bytes);
}

bool MemorySendConnection::idle() { return fifo_.idle(); }

Status MemorySendConnection::health() {
  if (misuse_) return InternalError("a slot larger than its capacity was posted to rank ", info_.peer);
  return commonHealth(info_, "to");
}

MemoryRecvConnection::MemoryRecvConnection(MemoryLinkInfo info)
    : info_(std::move(info)), fifo_(info_.fifo) {}

const void* MemoryRecvConnection::peek(size_t* bytes) { return fifo_.peek(bytes, &corrupt_); }

void MemoryRecvConnection::release() {
  fifo_.release();
  ring(info_.peerBell);
}

Status MemoryRecvConnection::health() {
  if (corrupt_) {
    return RemoteError(info_.transportName, " connection from rank ", info_.peer, " channel ",
                       info_.channel, ": the sender published an invalid slot");
  }
  return commonHealth(info_, "from");
}

}  // namespace strata::transport
