#include "transports/tcp_link.h"

#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstring>
#include <thread>
#include <utility>

#include "core/log.h"
#include "transports/tcp_proxy.h"
#include "transports/wire.h"

namespace strata::transport {

uint32_t partsFor(uint64_t total, uint32_t nsocks) {
  uint64_t n = (total + kMinPartBytes - 1) / kMinPartBytes;
  if (n < 1) n = 1;
  if (n > nsocks) n = nsocks;
  return static_cast<uint32_t>(n);
}

void partRange(uint64_t total, uint32_t nparts, uint32_t part, uint64_t* offset, uint64_t* len) {
  uint64_t each = roundUp((total + nparts - 1) / nparts, kCacheLine);
  uint64_t off = each * part;
  if (off > total) off = total;
  *offset = off;
  *len = (total - off < each) ? total - off : each;
}

StatusOr<std::unique_ptr<HeapFifo>> HeapFifo::create(const FifoLayout& layout) {
  size_t bytes = layout.strideBytes();
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  if (p == MAP_FAILED) return ErrnoError(strCat("mmap of a ", bytes, "-byte tcp FIFO"), errno);
  std::unique_ptr<HeapFifo> f(new HeapFifo());
  f->base_ = static_cast<char*>(p);
  f->bytes_ = bytes;
  f->layout_ = layout;
  return f;
}

HeapFifo::~HeapFifo() {
  if (base_ != nullptr) munmap(base_, bytes_);
}

// ---------------------------------------------------------------- TcpLink

TcpLink::TcpLink(int peer, int channel, const TcpParams& params, const AbortState* abort,
                 std::chrono::milliseconds timeout)
    : peer_(peer),
      channel_(channel),
      params_(params),
      abort_(abort),
      socks_(params.nsocks),
      created_(std::chrono::steady_clock::now()),
      timeout_(timeout),
      incoming_(params.nsocks),
      incomingTls_(params.nsocks),
      claimed_(params.nsocks, false),
      incomingSet_(params.nsocks, false) {
  for (uint32_t j = 0; j < params.nsocks; ++j) {
    socks_[j].owner = this;
    socks_[j].index = j;
  }
}

bool TcpLink::claimSocket(uint32_t index) {
  std::lock_guard<std::mutex> lock(mu_);
  if (index >= claimed_.size() || claimed_[index]) return false;
  claimed_[index] = true;
  return true;
}

void TcpLink::giveSocket(uint32_t index, net::Socket sock, std::unique_ptr<net::TlsSession> tls) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    incoming_[index] = std::move(sock);
    incomingTls_[index] = std::move(tls);
    incomingSet_[index] = true;
  }
  attached_.fetch_add(1, std::memory_order_release);
}

void TcpLink::adoptSockets(int epollFd) {
  Status error;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (uint32_t j = 0; j < socks_.size(); ++j) {
      if (!incomingSet_[j]) continue;
      incomingSet_[j] = false;
      socks_[j].sock = std::move(incoming_[j]);
      socks_[j].tls = std::move(incomingTls_[j]);
    }
  }
  for (TcpSocketState& s : socks_) {
    if (s.registered || !s.sock.valid()) continue;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = &s;
    if (epoll_ctl(epollFd, EPOLL_CTL_ADD, s.sock.fd(), &ev) != 0) {
      if (error.ok()) error = ErrnoError("epoll_ctl", errno).withContext(what("with"));
      s.sock.close();
      continue;
    }
    s.registered = true;
    s.canRead = true;  // edge-triggered: try once, the next edge says when again
    s.canWrite = true;
  }
  if (!error.ok()) fail(std::move(error));
}

void TcpLink::onEvent(TcpSocketState* sock, uint32_t events) {
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) sock->canRead = true;
  if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) sock->canWrite = true;
}

void TcpLink::fail(Status status, bool expected) {
  std::string text = status.message();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (failed_.load(std::memory_order_relaxed)) return;
    error_ = std::move(status);
    failed_.store(true, std::memory_order_release);
  }
  if (expected) {
    STRATA_INFO(log::kNet, text);
  } else {
    STRATA_WARN(log::kNet, text);
  }
  if (bell_ != nullptr) ring(bell_);  // a waiting executor should see health() now
}

std::string TcpLink::what(const char* direction) const {
  return strCat("tcp connection ", direction, " rank ", peer_, " channel ", channel_);
}

StatusOr<size_t> TcpLink::readSome(TcpSocketState& s, void* data, size_t bytes, bool* eof) {
  *eof = false;
  if (s.tls != nullptr) return s.tls->recv(data, bytes, eof);
  for (;;) {
    ssize_t r = recv(s.sock.fd(), data, bytes, MSG_DONTWAIT);
    if (r > 0) return static_cast<size_t>(r);
    if (r == 0) {
      *eof = bytes > 0;
      return size_t{0};
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return size_t{0};
    return ErrnoError("recv", errno);
  }
}

void TcpLink::awaitService(const std::atomic<uint64_t>& done, uint64_t ticket) {
  proxy_->signal();  // it may sleep in epoll_wait without having announced it
  const auto start = std::chrono::steady_clock::now();
  bool warned = false;
  while (done.load(std::memory_order_acquire) < ticket) {
    if (bell_ == nullptr) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      continue;
    }
    DoorbellWait wait(bell_);
    if (done.load(std::memory_order_acquire) >= ticket) break;
    wait.sleep(std::chrono::milliseconds(10));
    // The proxy serves requests on every turn, at most 100 ms apart; this
    // only shows up if that thread is stuck somewhere it should not be.
    if (!warned && std::chrono::steady_clock::now() - start > std::chrono::seconds(5)) {
      STRATA_WARN(log::kNet, what("with"), ": still waiting for the tcp proxy to release user memory");
      warned = true;
    }
  }
}

void TcpLink::served(std::atomic<uint64_t>& done, uint64_t asked) {
  done.store(asked, std::memory_order_release);
  if (bell_ != nullptr) ring(bell_);
}

Status TcpLink::linkHealth(const char* direction) {
  if (failed()) {
    std::lock_guard<std::mutex> lock(mu_);
    return error_;
  }
  if (abort_ != nullptr && abort_->aborted()) return Aborted(what(direction));
  return Status::Ok();
}

// ------------------------------------------------------------ TcpSendLink

TcpSendLink::TcpSendLink(int peer, int channel, const TcpParams& params,
                         std::unique_ptr<HeapFifo> fifo, const AbortState* abort,
                         std::chrono::milliseconds timeout)
    : TcpLink(peer, channel, params, abort, timeout),
      fifo_(std::move(fifo)),
      exec_(fifo_->view()),
      partsLeft_(params.nslots, 0),
      refs_(params.nslots, nullptr) {}

bool TcpSendLink::publish(size_t bytes, const char* reference) {
  if (bytes > params_.slotBytes) {
    STRATA_WARN(log::kNet, "post of ", bytes, " bytes into a ", params_.slotBytes,
                "-byte tcp slot toward rank ", peer_);
    fail(InternalError("a slot larger than its capacity was posted to rank ", peer_));
    return false;
  }
  refs_[exec_.posted() % params_.nslots] = reference;
  exec_.post(bytes);
  proxy_->wake();
  return true;
}

void TcpSendLink::post(size_t bytes) { publish(bytes, nullptr); }

void TcpSendLink::postReference(const void* data, size_t bytes) {
  publish(bytes, bytes > 0 ? static_cast<const char*>(data) : nullptr);
}

void TcpSendLink::withdrawReferences() {
  // Every posted slot written out: the proxy reads no executor memory.
  if (exec_.idle()) return;
  uint64_t ticket = withdrawAsked_.fetch_add(1, std::memory_order_acq_rel) + 1;
  awaitService(withdrawDone_, ticket);
}

void TcpSendLink::service() {
  uint64_t asked = withdrawAsked_.load(std::memory_order_acquire);
  if (asked == withdrawDone_.load(std::memory_order_relaxed)) return;
  // The executor waits in withdrawReferences(): copy what the sockets still
  // need into the slots. Parts in progress go on from the same offsets.
  const FifoView& v = fifo_->view();
  uint64_t head = v.head().load(std::memory_order_acquire);
  for (uint64_t seq = tail_; seq < head; ++seq) {
    const char*& ref = refs_[seq % params_.nslots];
    if (ref == nullptr) continue;
    std::memcpy(v.slot(seq), ref, v.bytes(seq).load(std::memory_order_relaxed));
    ref = nullptr;
  }
  served(withdrawDone_, asked);
}

const char* TcpSendLink::slotData(uint64_t seq) const {
  const char* ref = refs_[seq % params_.nslots];
  return ref != nullptr ? ref : fifo_->view().slot(seq);
}

bool TcpSendLink::pumpSocket(uint32_t j, uint64_t known) {
  TcpSocketState& s = socks_[j];
  const FifoView& v = fifo_->view();
  const uint32_t nsocks = params_.nsocks;
  bool moved = false;
  while (s.registered && s.canWrite) {
    if (!s.active) {
      while (s.nextSeq < known) {
        uint64_t total = v.bytes(s.nextSeq).load(std::memory_order_relaxed);
        uint32_t nparts = partsFor(total, nsocks);
        uint32_t part = static_cast<uint32_t>((j + nsocks - s.nextSeq % nsocks) % nsocks);
        if (part < nparts) {
          s.active = true;
          s.seq = s.nextSeq;
          s.part = part;
          s.total = total;
          s.done = 0;
          partRange(total, nparts, part, &s.offset, &s.len);
          wire::putU32(s.header, kPartMagic);
          wire::putU32(s.header + 4, part);
          wire::putU64(s.header + 8, s.seq);
          wire::putU64(s.header + 16, total);
          break;
        }
        ++s.nextSeq;
      }
      if (!s.active) break;
    }
    iovec iov[2];
    int n = 0;
    if (s.done < kPartHeaderBytes) {
      iov[n].iov_base = s.header + s.done;
      iov[n].iov_len = kPartHeaderBytes - s.done;
      ++n;
    }
    uint64_t dataDone = s.done > kPartHeaderBytes ? s.done - kPartHeaderBytes : 0;
    if (s.len > dataDone) {
      iov[n].iov_base = const_cast<char*>(slotData(s.seq) + s.offset + dataDone);
      iov[n].iov_len = s.len - dataDone;
      ++n;
    }
    if (s.tls != nullptr) {
      // TLS takes one buffer at a time (the header, then the data).
      auto sent = s.tls->send(iov[0].iov_base, iov[0].iov_len);
      if (!sent.ok()) {
        Status err = sent.status();
        fail(err.withContext(what("to")));
        return moved;
      }
      if (*sent == 0) {
        s.canWrite = false;
        break;
      }
      moved = true;
      s.done += *sent;
      if (s.done == kPartHeaderBytes + s.len) {
        s.active = false;
        --partsLeft_[s.seq % params_.nslots];
        ++s.nextSeq;
      }
      continue;
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = n;
    ssize_t r = sendmsg(s.sock.fd(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        s.canWrite = false;
        break;
      }
      fail(ErrnoError("send", errno).withContext(what("to")));
      return moved;
    }
    moved = true;
    s.done += static_cast<uint64_t>(r);
    if (s.done == kPartHeaderBytes + s.len) {
      s.active = false;
      --partsLeft_[s.seq % params_.nslots];
      ++s.nextSeq;
    }
  }
  return moved;
}

bool TcpSendLink::pump() {
  if (failed() || (abort_ != nullptr && abort_->aborted())) return false;
  const FifoView& v = fifo_->view();
  uint64_t head = v.head().load(std::memory_order_acquire);
  while (known_ < head) {
    uint64_t total = v.bytes(known_).load(std::memory_order_relaxed);
    partsLeft_[known_ % params_.nslots] = partsFor(total, params_.nsocks);
    ++known_;
  }
  bool moved = false;
  for (uint32_t j = 0; j < params_.nsocks && !failed(); ++j) moved |= pumpSocket(j, known_);
  bool released = false;
  while (tail_ < known_ && partsLeft_[tail_ % params_.nslots] == 0) {
    ++tail_;
    released = true;
  }
  if (released) {
    v.tail().store(tail_, std::memory_order_release);
    notify_ = true;
  }
  return moved || released;
}

// ------------------------------------------------------------ TcpRecvLink

TcpRecvLink::TcpRecvLink(int peer, int channel, const TcpParams& params,
                         std::unique_ptr<HeapFifo> fifo, const AbortState* abort,
                         std::chrono::milliseconds timeout)
    : TcpLink(peer, channel, params, abort, timeout),
      fifo_(std::move(fifo)),
      exec_(fifo_->view()),
      slots_(params.nslots),
      homes_(params.nslots, nullptr) {}

const void* TcpRecvLink::peek(size_t* bytes) {
  const char* slot = exec_.peek(bytes, nullptr);
  if (slot == nullptr) return nullptr;
  char* home = homes_[exec_.released() % params_.nslots];
  return home != nullptr ? home : slot;
}

void TcpRecvLink::release() {
  position_ += exec_.view().bytes(exec_.released()).load(std::memory_order_relaxed);
  exec_.release();
  if (proxy_ != nullptr) proxy_->wake();
}

void TcpRecvLink::postTarget(uint64_t position, void* dst, size_t bytes) {
  // Out of order or overlapping: not the contract; the bytes arrive in slots.
  if (bytes == 0 || dst == nullptr || position < targetEnd_) return;
  targetEnd_ = position + bytes;
  targeted_ = true;
  std::lock_guard<std::mutex> lock(targetsMu_);
  targets_.push_back(Target{position, static_cast<char*>(dst), bytes});
  hasTargets_.store(true, std::memory_order_release);
}

void TcpRecvLink::withdrawTargets() {
  if (!targeted_) return;
  uint64_t ticket = withdrawAsked_.fetch_add(1, std::memory_order_acq_rel) + 1;
  awaitService(withdrawDone_, ticket);
  // The proxy writes no target any more. Slots it already published into
  // one are the executor's: move them into their FIFO slots.
  const FifoView& v = exec_.view();
  uint64_t head = v.head().load(std::memory_order_acquire);
  for (uint64_t seq = exec_.released(); seq < head; ++seq) {
    char*& home = homes_[seq % params_.nslots];
    if (home == nullptr) continue;
    std::memcpy(v.slot(seq), home, v.bytes(seq).load(std::memory_order_relaxed));
    home = nullptr;
  }
  targeted_ = false;
}

void TcpRecvLink::service() {
  uint64_t asked = withdrawAsked_.load(std::memory_order_acquire);
  if (asked == withdrawDone_.load(std::memory_order_relaxed)) return;
  {
    std::lock_guard<std::mutex> lock(targetsMu_);
    targets_.clear();
    hasTargets_.store(false, std::memory_order_relaxed);
  }
  // Slots being read into a target continue in their FIFO slot: move the
  // parts that arrived, and what arrived of parts in progress.
  const FifoView& v = fifo_->view();
  for (SlotState& slot : slots_) {
    if (!slot.open || slot.home == nullptr) continue;
    char* fifoSlot = v.slot(slot.seq);
    for (uint32_t p = 0; p < slot.nparts; ++p) {
      if ((slot.mask & (1ull << p)) == 0) continue;
      uint64_t off = 0, len = 0;
      partRange(slot.total, slot.nparts, p, &off, &len);
      std::memcpy(fifoSlot + off, slot.home + off, len);
    }
    for (const TcpSocketState& sock : socks_) {
      if (sock.active && sock.seq == slot.seq && sock.done > 0) {
        std::memcpy(fifoSlot + sock.offset, slot.home + sock.offset, sock.done);
      }
    }
    slot.home = nullptr;
  }
  served(withdrawDone_, asked);
}

void TcpRecvLink::placeSlot(SlotState& slot) {
  if (slot.seq == head_) {
    slot.placed = true;
    slot.start = published_;
  } else {
    const SlotState& prev = slots_[(slot.seq - 1) % params_.nslots];
    if (prev.open && prev.seq == slot.seq - 1 && prev.placed) {
      slot.placed = true;
      slot.start = prev.start + prev.total;
    }
  }
  if (slot.placed && slot.total > 0) slot.home = findTarget(slot.start, slot.total);
}

char* TcpRecvLink::findTarget(uint64_t start, uint64_t bytes) {
  if (!hasTargets_.load(std::memory_order_acquire)) return nullptr;
  std::lock_guard<std::mutex> lock(targetsMu_);
  // Slots are placed in stream order: targets that end before this one
  // starts can never be used again.
  while (!targets_.empty() && targets_.front().position + targets_.front().bytes <= start) {
    targets_.pop_front();
  }
  if (targets_.empty()) {
    hasTargets_.store(false, std::memory_order_relaxed);
    return nullptr;
  }
  const Target& t = targets_.front();
  if (t.position > start || start + bytes > t.position + t.bytes) return nullptr;
  return t.dst + (start - t.position);
}

Status TcpRecvLink::health() {
  Status s = linkHealth("from");
  if (!s.ok()) return s;
  size_t bytes = 0;
  if (starved_.load(std::memory_order_acquire) && exec_.peek(&bytes, nullptr) == nullptr) {
    return RemoteError(what("from"), ": closed by rank ", peer_, " before sending what is awaited");
  }
  if (attached_.load(std::memory_order_acquire) < params_.nsocks &&
      std::chrono::steady_clock::now() - created_ > timeout_) {
    return Timeout(what("from"), ": rank ", peer_, " did not connect within ",
                   std::chrono::duration_cast<std::chrono::seconds>(timeout_).count(), " s");
  }
  return Status::Ok();
}

Status TcpRecvLink::acceptHeader(uint32_t j) {
  TcpSocketState& s = socks_[j];
  uint32_t magic = wire::getU32(s.header);
  uint32_t part = wire::getU32(s.header + 4);
  uint64_t seq = wire::getU64(s.header + 8);
  uint64_t total = wire::getU64(s.header + 16);
  if (magic != kPartMagic) return RemoteError("bad part header magic");
  if (total > params_.slotBytes) {
    return RemoteError("part header announces ", total, " bytes for a ", params_.slotBytes,
                       "-byte slot");
  }
  uint32_t nparts = partsFor(total, params_.nsocks);
  if (part >= nparts || (seq + part) % params_.nsocks != j) {
    return RemoteError("part ", part, " of slot ", seq, " arrived on the wrong socket ", j);
  }
  if (seq < s.nextSeq || seq < head_) {
    return RemoteError("slot sequence ", seq, " went backwards on socket ", j);
  }
  s.seq = seq;
  s.part = part;
  s.total = total;
  s.done = 0;
  s.active = true;
  partRange(total, nparts, part, &s.offset, &s.len);
  return Status::Ok();
}

bool TcpRecvLink::pumpSocket(uint32_t j, uint64_t tail) {
  TcpSocketState& s = socks_[j];
  const FifoView& v = fifo_->view();
  bool moved = false;
  while (s.registered && s.canRead) {
    if (!s.active) {
      bool eof = false;
      auto got = readSome(s, s.header + s.headerDone, kPartHeaderBytes - s.headerDone, &eof);
      if (!got.ok()) {
        Status err = got.status();
        fail(err.withContext(what("from")));
        return moved;
      }
      if (eof) {
        if (s.headerDone != 0) {
          fail(RemoteError(what("from"), ": closed by rank ", peer_, " inside a part header"));
          return moved;
        }
        s.eof = true;
        s.canRead = false;
        break;
      }
      if (*got == 0) {
        s.canRead = false;
        break;
      }
      moved = true;
      s.headerDone += *got;
      if (s.headerDone < kPartHeaderBytes) continue;
      s.headerDone = 0;
      Status st = acceptHeader(j);
      if (!st.ok()) {
        fail(st.withContext(what("from")));
        return moved;
      }
    }
    // The part's slot must have been released by the executor (back-pressure).
    if (s.seq >= tail + params_.nslots) break;
    SlotState& slot = slots_[s.seq % params_.nslots];
    if (!slot.open || slot.seq != s.seq) {
      if (slot.open) {
        fail(InternalError(what("from"), ": slot ", s.seq % params_.nslots, " still in use"));
        return moved;
      }
      slot = SlotState{true, s.seq, s.total, partsFor(s.total, params_.nsocks), 0, 0};
      placeSlot(slot);
    } else if (slot.total != s.total || (slot.mask & (1ull << s.part)) != 0) {
      fail(RemoteError(what("from"), ": inconsistent parts for slot sequence ", s.seq));
      return moved;
    }
    if (s.done < s.len) {
      bool eof = false;
      char* base = slot.home != nullptr ? slot.home : v.slot(s.seq);
      auto got = readSome(s, base + s.offset + s.done, s.len - s.done, &eof);
      if (!got.ok()) {
        Status err = got.status();
        fail(err.withContext(what("from")));
        return moved;
      }
      if (eof) {
        fail(RemoteError(what("from"), ": closed by rank ", peer_, " in the middle of a slot"));
        return moved;
      }
      if (*got == 0) {
        s.canRead = false;
        break;
      }
      moved = true;
      s.done += *got;
      if (s.done < s.len) continue;
    }
    slot.mask |= 1ull << s.part;
    ++slot.partsDone;
    s.active = false;
    s.nextSeq = s.seq + 1;
  }
  return moved;
}

bool TcpRecvLink::pump() {
  if (failed() || (abort_ != nullptr && abort_->aborted())) return false;
  const FifoView& v = fifo_->view();
  uint64_t tail = v.tail().load(std::memory_order_acquire);
  bool moved = false;
  for (uint32_t j = 0; j < params_.nsocks && !failed(); ++j) moved |= pumpSocket(j, tail);
  bool published = false;
  while (head_ < tail + params_.nslots) {
    SlotState& slot = slots_[head_ % params_.nslots];
    if (!slot.open || slot.seq != head_ || slot.partsDone != slot.nparts) break;
    homes_[head_ % params_.nslots] = slot.home;
    v.bytes(head_).store(slot.total, std::memory_order_relaxed);
    published_ += slot.total;
    slot.open = false;
    slot.home = nullptr;
    ++head_;
    published = true;
  }
  if (published) {
    v.head().store(head_, std::memory_order_release);
    notify_ = true;
  }
  bool starved = nextSlotStarved();
  if (starved != starved_.load(std::memory_order_relaxed)) {
    starved_.store(starved, std::memory_order_release);
    if (starved) notify_ = true;  // a waiting executor should look at health()
  }
  return moved || published;
}

bool TcpRecvLink::nextSlotStarved() const {
  auto closed = [&](uint32_t j) {
    const TcpSocketState& s = socks_[j];
    return s.eof && !s.active && s.headerDone == 0;
  };
  const SlotState& next = slots_[head_ % params_.nslots];
  if (next.open && next.seq == head_) {
    for (uint32_t p = 0; p < next.nparts; ++p) {
      if ((next.mask & (1ull << p)) == 0 && closed((head_ + p) % params_.nsocks)) return true;
    }
    return false;
  }
  // Part 0 of the next slot travels on socket head_ % nsocks.
  return closed(static_cast<uint32_t>(head_ % params_.nsocks));
}

}  // namespace strata::transport
