#include "transports/tcp_transport.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <unistd.h>

#include <cerrno>
#include <utility>

#include "bootstrap/thread.h"
#include "core/log.h"
#include "transports/wire.h"

namespace strata::transport {
namespace {

constexpr int kSocketBufferBytes = 4 << 20;
// Handshakes in flight at once; more connections wait in the listen backlog.
constexpr size_t kMaxHandshakes = 32;

const char* rejectText(uint32_t code) {
  switch (code) {
    case kBadMagic: return "not a strata data connection";
    case kBadVersion: return "protocol version mismatch";
    case kWrongCommunicator: return "hello for another communicator or rank";
    case kUnknownRank: return "sender rank is not a tcp peer of this rank";
    case kBadChannel: return "channel out of range";
    case kBadGeometry: return "socket count or FIFO geometry mismatch";
    case kDuplicate: return "socket index already connected";
    case kNoResources: return "receiver could not allocate the FIFO";
    default: return "rejected";
  }
}

std::string peerName(const net::Socket& sock) {
  auto addr = sock.peerAddress();
  return addr.ok() ? addr.value().toString() : std::string("an unknown address");
}

}  // namespace

StatusOr<std::unique_ptr<TcpTransport>> TcpTransport::listen(const net::Address& bindTo) {
  net::Address addr = bindTo;
  addr.setPort(0);
  std::unique_ptr<TcpTransport> t(new TcpTransport());
  STRATA_ASSIGN_OR_RETURN(t->listener_, net::Socket::listen(addr));
  STRATA_ASSIGN_OR_RETURN(t->address_, t->listener_.localAddress());
  STRATA_RETURN_IF_ERROR(t->listener_.setNonBlocking(true));
  // Accepted sockets inherit the buffer sizes (set before the handshake).
  (void)t->listener_.setBufferBytes(kSocketBufferBytes, kSocketBufferBytes);
  return t;
}

Status TcpTransport::start(const TcpConfig& config) {
  config_ = config;
  size_t n = static_cast<size_t>(config_.nranks) * static_cast<size_t>(config_.nchannels);
  sendLinks_.resize(n);
  recvLinks_.resize(n);
  for (int i = 0; i < config_.nthreads; ++i) {
    proxies_.push_back(std::make_unique<TcpProxy>(i, config_.bell, config_.abort));
    STRATA_RETURN_IF_ERROR_CTX(proxies_.back()->start(), "starting a tcp proxy thread");
  }
  wakeFd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wakeFd_ < 0) return ErrnoError("eventfd", errno);
  STRATA_RETURN_IF_ERROR_CTX(bootstrap::spawnThread([this] { acceptLoop(); }, &acceptThread_),
                             "starting the tcp accept thread");
  acceptRunning_ = true;
  started_ = true;
  return Status::Ok();
}

TcpTransport::~TcpTransport() {
  abort();
  if (acceptRunning_) pthread_join(acceptThread_, nullptr);
  {
    std::lock_guard<std::mutex> lock(workersMu_);
    for (Worker& w : workers_) pthread_join(w.thread, nullptr);
    workers_.clear();
  }
  proxies_.clear();  // joins the proxies before the links they pump go away
  if (wakeFd_ >= 0) close(wakeFd_);
}

void TcpTransport::drain(std::chrono::milliseconds limit) {
  if (!started_) return;
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!stopping_.load(std::memory_order_acquire) && !config_.abort->aborted()) {
    uint32_t seen = announceSleep(config_.bell);
    bool busy = false;
    {
      std::lock_guard<std::mutex> lock(linksMu_);
      for (auto& link : sendLinks_) busy |= link != nullptr && !link->failed() && !link->idle();
    }
    if (!busy || std::chrono::steady_clock::now() >= deadline) {
      cancelSleep(config_.bell);
      if (busy) STRATA_WARN(log::kNet, "rank ", config_.rank, ": closing tcp connections with data unsent");
      return;
    }
    sleepOn(config_.bell, seen, std::chrono::milliseconds(10));
  }
}

void TcpTransport::abort() {
  stopping_.store(true, std::memory_order_release);
  if (wakeFd_ >= 0) {
    uint64_t one = 1;
    ssize_t rc = write(wakeFd_, &one, sizeof(one));
    (void)rc;
  }
  for (auto& p : proxies_) p->signal();
}

TcpProxy* TcpTransport::proxyFor(int peer, int channel) const {
  size_t i = static_cast<size_t>(peer) * static_cast<size_t>(config_.nchannels) +
             static_cast<size_t>(channel);
  return proxies_[i % proxies_.size()].get();
}

Status TcpTransport::tune(net::Socket& sock) const {
  STRATA_RETURN_IF_ERROR(sock.setNoDelay(true));
  Status s = sock.setBufferBytes(kSocketBufferBytes, kSocketBufferBytes);
  if (!s.ok()) STRATA_INFO(log::kNet, "socket buffers left at their defaults: ", s.message());
  return Status::Ok();
}

void TcpTransport::acceptLoop() {
  while (!stopping_.load(std::memory_order_acquire)) {
    size_t active = 0;
    {
      std::lock_guard<std::mutex> lock(workersMu_);
      for (size_t i = 0; i < workers_.size();) {
        if (workers_[i].done->load(std::memory_order_acquire)) {
          pthread_join(workers_[i].thread, nullptr);
          workers_[i] = std::move(workers_.back());
          workers_.pop_back();
        } else {
          ++i;
        }
      }
      active = workers_.size();
    }
    pollfd p[2] = {{listener_.fd(), POLLIN, 0}, {wakeFd_, POLLIN, 0}};
    // With too many handshakes in flight, let the backlog hold new ones and
    // look again soon (finished handshakes are reaped above).
    bool saturated = active >= kMaxHandshakes;
    if (saturated) p[0].events = 0;
    int rc = poll(p, 2, saturated ? 20 : 1000);
    if (rc <= 0 || (p[0].revents & POLLIN) == 0) continue;
    int fd = accept4(listener_.fd(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        STRATA_WARN(log::kNet, "tcp listener: ", ErrnoError("accept", errno).message());
        poll(nullptr, 0, 50);
      }
      continue;
    }
    auto done = std::make_shared<std::atomic<bool>>(false);
    Worker w{pthread_t{}, done};
    Status spawned = bootstrap::spawnThread(
        [this, fd, done] {
          handshake(net::Socket(fd));
          done->store(true, std::memory_order_release);
        },
        &w.thread);
    if (!spawned.ok()) {
      STRATA_WARN(log::kNet, "tcp listener: dropping a connection: ", spawned.message());
      close(fd);
      continue;
    }
    std::lock_guard<std::mutex> lock(workersMu_);
    workers_.push_back(std::move(w));
  }
}

void encodeTcpHello(const TcpHello& h, uint8_t out[kHelloBytes]) {
  wire::putU32(out, kHelloMagic);
  wire::putU32(out + 4, kTcpVersion);
  wire::putU64(out + 8, h.commHash);
  wire::putU32(out + 16, h.src);
  wire::putU32(out + 20, h.dst);
  wire::putU32(out + 24, h.channel);
  wire::putU32(out + 28, h.socket);
  wire::putU32(out + 32, h.params.nsocks);
  wire::putU32(out + 36, h.params.nslots);
  wire::putU64(out + 40, h.params.slotBytes);
}

HelloReject checkTcpHello(const uint8_t in[kHelloBytes], const TcpConfig& config, TcpHello* h) {
  h->commHash = wire::getU64(in + 8);
  h->src = wire::getU32(in + 16);
  h->dst = wire::getU32(in + 20);
  h->channel = wire::getU32(in + 24);
  h->socket = wire::getU32(in + 28);
  h->params.nsocks = wire::getU32(in + 32);
  h->params.nslots = wire::getU32(in + 36);
  h->params.slotBytes = wire::getU64(in + 40);
  if (wire::getU32(in) != kHelloMagic) return kBadMagic;
  if (wire::getU32(in + 4) != kTcpVersion) return kBadVersion;
  if (h->commHash != config.commHash || h->dst != static_cast<uint32_t>(config.rank)) {
    return kWrongCommunicator;
  }
  if (h->src >= static_cast<uint32_t>(config.nranks) || h->src >= config.tcpPeers.size() ||
      !config.tcpPeers[h->src]) {
    return kUnknownRank;
  }
  if (h->channel >= static_cast<uint32_t>(config.nchannels)) return kBadChannel;
  if (h->params.nsocks != config.local.nsocks || h->socket >= h->params.nsocks ||
      h->params.nslots != config.local.nslots || h->params.slotBytes != config.local.slotBytes) {
    return kBadGeometry;
  }
  return kAccepted;
}

void TcpTransport::handshake(net::Socket sock) {
  Deadline deadline = Deadline::after(config_.handshakeTimeout);
  std::string from = peerName(sock);
  Status s = net::authenticateServer(sock, config_.secret, net::Purpose::kTcpData, deadline,
                                     &stopping_);
  uint8_t hello[kHelloBytes];
  if (s.ok()) s = sock.recvAll(hello, sizeof(hello), deadline, &stopping_);
  if (!s.ok()) {
    // The handshake code already logged why; this only ties it to the listener.
    STRATA_INFO(log::kNet, "rank ", config_.rank, ": closed a tcp connection from ", from, ": ",
                s.message());
    return;
  }
  TcpHello fields;
  uint32_t code = checkTcpHello(hello, config_, &fields);
  int peer = static_cast<int>(fields.src);
  int channel = static_cast<int>(fields.channel);
  uint32_t index = fields.socket;
  TcpRecvLink* link = nullptr;
  if (code == kAccepted) {
    Status err;
    link = recvLink(peer, channel, &err);
    if (link == nullptr) {
      STRATA_WARN(log::kNet, err.message());
      code = kNoResources;
    } else if (!link->claimSocket(index)) {
      code = kDuplicate;
    }
  }
  uint8_t ack[kAckBytes];
  wire::putU32(ack, kAckMagic);
  wire::putU32(ack + 4, code);
  Status sent = sock.sendAll(ack, sizeof(ack), deadline, &stopping_);
  if (code != kAccepted) {
    STRATA_WARN(log::kNet, "rank ", config_.rank, ": rejected a tcp data connection from ", from,
                ": ", rejectText(code));
    return;
  }
  std::unique_ptr<net::TlsSession> tls;
  if (sent.ok() && config_.tls) {
    auto session = net::TlsSession::handshake(sock.fd(), net::TlsSession::Role::kServer,
                                              config_.secret, net::Purpose::kTcpData, deadline,
                                              net::io::Stop{&stopping_});
    if (session.ok()) {
      tls = std::move(session).value();
    } else {
      sent = session.status();
    }
  }
  if (sent.ok()) sent = tune(sock);
  if (sent.ok()) sent = sock.setNonBlocking(true);
  if (!sent.ok()) {
    link->fail(sent.withContext(strCat("tcp connection from rank ", peer, " channel ", channel)));
    return;
  }
  STRATA_INFO(log::kNet, "rank ", config_.rank, ": tcp socket ", index, " from rank ", peer,
              " channel ", channel, " (", from, ") connected", tls ? " with TLS" : "");
  link->giveSocket(index, std::move(sock), std::move(tls));
  link->proxy()->adopt(link);
}

TcpRecvLink* TcpTransport::recvLink(int peer, int channel, Status* error) {
  std::lock_guard<std::mutex> lock(linksMu_);
  auto& slot = recvLinks_[static_cast<size_t>(peer) * config_.nchannels + channel];
  if (slot == nullptr) {
    FifoLayout layout{config_.local.nslots, static_cast<size_t>(config_.local.slotBytes)};
    auto fifo = HeapFifo::create(layout);
    if (!fifo.ok()) {
      *error = fifo.status();
      return nullptr;
    }
    slot = std::make_unique<TcpRecvLink>(peer, channel, config_.local, std::move(fifo).value(),
                                         config_.abort, config_.timeout);
    slot->setProxy(proxyFor(peer, channel), config_.bell);
    // Known to its proxy from the start (not only once sockets arrive), so
    // that requests to the link are served even if the peer never connects.
    slot->proxy()->adopt(slot.get());
  }
  return slot.get();
}

StatusOr<RecvConnection*> TcpTransport::receiver(int peer, int channel) {
  if (!started_) return InternalError("tcp transport not started");
  Status err;
  TcpRecvLink* link = recvLink(peer, channel, &err);
  if (link == nullptr) return err;
  return static_cast<RecvConnection*>(link);
}

StatusOr<SendConnection*> TcpTransport::connect(int peer, int channel,
                                                const net::Address& peerAddress,
                                                const TcpParams& peerParams) {
  if (!started_) return InternalError("tcp transport not started");
  size_t slotIndex = static_cast<size_t>(peer) * config_.nchannels + channel;
  {
    std::lock_guard<std::mutex> lock(linksMu_);
    if (sendLinks_[slotIndex] != nullptr) return static_cast<SendConnection*>(sendLinks_[slotIndex].get());
  }
  std::string what = strCat("tcp connection to rank ", peer, " channel ", channel, " at ",
                             peerAddress.toString());
  FifoLayout layout{peerParams.nslots, static_cast<size_t>(peerParams.slotBytes)};
  STRATA_ASSIGN_OR_RETURN(auto fifo, HeapFifo::create(layout));
  auto link = std::make_unique<TcpSendLink>(peer, channel, peerParams, std::move(fifo),
                                            config_.abort, config_.timeout);
  link->setProxy(proxyFor(peer, channel), config_.bell);
  Deadline deadline = Deadline::after(config_.timeout);
  for (uint32_t j = 0; j < peerParams.nsocks; ++j) {
    STRATA_ASSIGN_OR_RETURN(net::Socket sock,
                            net::Socket::connect(peerAddress, deadline, &stopping_));
    STRATA_RETURN_IF_ERROR_CTX(net::authenticateClient(sock, config_.secret,
                                                       net::Purpose::kTcpData, deadline,
                                                       &stopping_),
                               what);
    TcpHello fields;
    fields.commHash = config_.commHash;
    fields.src = static_cast<uint32_t>(config_.rank);
    fields.dst = static_cast<uint32_t>(peer);
    fields.channel = static_cast<uint32_t>(channel);
    fields.socket = j;
    fields.params = peerParams;
    uint8_t hello[kHelloBytes];
    encodeTcpHello(fields, hello);
    STRATA_RETURN_IF_ERROR_CTX(sock.sendAll(hello, sizeof(hello), deadline, &stopping_), what);
    uint8_t ack[kAckBytes];
    STRATA_RETURN_IF_ERROR_CTX(sock.recvAll(ack, sizeof(ack), deadline, &stopping_), what);
    if (wire::getU32(ack) != kAckMagic) return RemoteError(what, ": malformed handshake reply");
    uint32_t code = wire::getU32(ack + 4);
    if (code != kAccepted) return RemoteError(what, ": rejected by the receiver: ", rejectText(code));
    std::unique_ptr<net::TlsSession> tls;
    if (config_.tls) {
      auto session = net::TlsSession::handshake(sock.fd(), net::TlsSession::Role::kClient,
                                                config_.secret, net::Purpose::kTcpData, deadline,
                                                net::io::Stop{&stopping_});
      if (!session.ok()) {
        Status s = session.status();
        return s.withContext(what);
      }
      tls = std::move(session).value();
    }
    STRATA_RETURN_IF_ERROR_CTX(tune(sock), what);
    STRATA_RETURN_IF_ERROR_CTX(sock.setNonBlocking(true), what);
    link->claimSocket(j);
    link->giveSocket(j, std::move(sock), std::move(tls));
  }
  TcpSendLink* raw = link.get();
  {
    std::lock_guard<std::mutex> lock(linksMu_);
    if (sendLinks_[slotIndex] != nullptr) {
      return InternalError("concurrent connect to rank ", peer, " channel ", channel);
    }
    sendLinks_[slotIndex] = std::move(link);
  }
  raw->proxy()->adopt(raw);
  STRATA_INFO(log::kNet, "rank ", config_.rank, ": ", what, " established with ",
              peerParams.nsocks, " sockets", config_.tls ? " (TLS)" : "");
  return static_cast<SendConnection*>(raw);
}

}  // namespace strata::transport
