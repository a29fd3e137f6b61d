#include "bootstrap/peer_network.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "bootstrap/bootstrap.h"
#include "bootstrap/thread.h"
#include "core/log.h"
#include "net/bytes.h"
#include "net/handshake.h"

namespace strata::bootstrap {
namespace {

constexpr size_t kMaxPending = 1024;       // unauthenticated connections at once
constexpr size_t kCoalesceBytes = 64 << 10;  // small payloads go out with their header
constexpr int kReadRounds = 16;            // per connection per wakeup, for fairness

}  // namespace

// One accepted connection, owned by the service thread.
struct PeerNetwork::Incoming {
  enum class Phase { kAuth, kTls, kConnect, kReady };

  Incoming(net::Socket s, const net::Secret& secret, uint32_t flags)
      : sock(std::move(s)),
        hs(net::Handshake::Role::kServer, secret, net::Purpose::kBootstrapPeer, flags) {}

  net::Socket sock;
  std::string from;
  net::Handshake hs;
  std::unique_ptr<net::TlsSession> tls;
  Phase phase = Phase::kAuth;
  Deadline deadline = Deadline::never();
  int peer = -1;
  uint8_t header[proto::kMessageHeaderBytes] = {};
  size_t headerGot = 0;
  bool haveHeader = false;
  proto::MessageHeader current;
  std::vector<uint8_t> payload;
  size_t payloadGot = 0;
  bool dead = false;
};

PeerNetwork::PeerNetwork(const Params& params)
    : params_(params),
      flags_(net::Handshake::configuredFlags()),
      liveConns_(params.nranks, 0),
      everConnected_(params.nranks, false),
      lostWhy_(params.nranks) {
  out_.reserve(params.nranks);
  for (int i = 0; i < params.nranks; ++i) out_.push_back(std::make_unique<Outgoing>());
}

StatusOr<std::unique_ptr<PeerNetwork>> PeerNetwork::start(const net::Address& bind,
                                                          const Params& params) {
  std::unique_ptr<PeerNetwork> net(new PeerNetwork(params));
  STRATA_ASSIGN_OR_RETURN(net->listener_, net::Socket::listen(bind));
  STRATA_ASSIGN_OR_RETURN(net->address_, net->listener_.localAddress());
  net->wakeFd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (net->wakeFd_ < 0) return ErrnoError("eventfd", errno);
  PeerNetwork* self = net.get();
  STRATA_RETURN_IF_ERROR(spawnThread([self] { self->serve(); }, &net->thread_));
  net->threadStarted_ = true;
  return net;
}

PeerNetwork::~PeerNetwork() {
  if (threadStarted_) {
    stopping_.store(true);
    uint64_t one = 1;
    ssize_t rc = ::write(wakeFd_, &one, sizeof one);
    (void)rc;
    pthread_join(thread_, nullptr);
  }
  if (wakeFd_ >= 0) ::close(wakeFd_);
}

std::string PeerNetwork::peerName(int peer) const {
  std::string where = peer >= 0 && static_cast<size_t>(peer) < peers_.size()
                          ? peers_[peer].toString()
                          : std::string("<unknown address>");
  return strCat("rank ", peer, " (", where, ")");
}

void PeerNetwork::abort() {
  aborted_.store(true);
  std::lock_guard<std::mutex> lock(mu_);
  cv_.notify_all();
}

// --- Sending ---------------------------------------------------------------

Status PeerNetwork::connectTo(int peer, Outgoing& out, Deadline deadline) {
  STRATA_ASSIGN_OR_RETURN(net::Socket sock, net::io::connect(peers_[peer], deadline, stop()));
  net::Handshake hs(net::Handshake::Role::kClient, params_.secret, net::Purpose::kBootstrapPeer,
                    flags_);
  STRATA_RETURN_IF_ERROR(hs.start());
  STRATA_RETURN_IF_ERROR(
      net::runHandshake(hs, sock.fd(), deadline.capped(params_.handshake), stop()));
  std::unique_ptr<net::TlsSession> tls;
  if (hs.tls()) {
    STRATA_ASSIGN_OR_RETURN(
        tls, net::TlsSession::handshake(sock.fd(), net::TlsSession::Role::kClient, params_.secret,
                                        net::Purpose::kBootstrapPeer,
                                        deadline.capped(params_.handshake), stop()));
  }
  uint8_t msg[proto::kMessageHeaderBytes + proto::kConnectBodyBytes];
  proto::encodeMessageHeader({proto::kConnect, static_cast<uint32_t>(params_.rank),
                              proto::kConnectBodyBytes},
                             msg);
  uint8_t* body = msg + proto::kMessageHeaderBytes;
  net::wire::putU32(body, static_cast<uint32_t>(peer));
  net::wire::putU32(body + 4, static_cast<uint32_t>(params_.nranks));
  net::wire::putU64(body + 8, params_.commHash);
  STRATA_RETURN_IF_ERROR(net::sendAllOn(sock.fd(), tls.get(), msg, sizeof msg, deadline, stop()));
  out.sock = std::move(sock);
  out.tls = std::move(tls);
  return Status::Ok();
}

Status PeerNetwork::send(int peer, proto::MessageKind kind, uint32_t tag, const void* data,
                         size_t bytes) {
  if (peer < 0 || peer >= params_.nranks) {
    return InvalidArgument("bootstrap send: peer ", peer, " is not in [0, ", params_.nranks, ")");
  }
  if (bytes > kMaxMessageBytes) {
    return InvalidArgument("bootstrap send: ", bytes, " bytes exceeds the limit of ",
                           kMaxMessageBytes);
  }
  if (stop().requested()) return Aborted("bootstrap send to rank ", peer);
  if (peer == params_.rank) {
    const auto* p = static_cast<const uint8_t*>(data);
    deliver(peer, kind, tag, std::vector<uint8_t>(p, p + bytes));
    return Status::Ok();
  }
  Deadline deadline = Deadline::after(params_.timeout);
  Outgoing& out = *out_[peer];
  std::lock_guard<std::mutex> lock(out.mu);
  std::string ctx = strCat("bootstrap rank ", params_.rank, ": sending ", bytes, " bytes to ",
                           peerName(peer));
  if (!out.sock.valid()) STRATA_RETURN_IF_ERROR_CTX(connectTo(peer, out, deadline), ctx);
  uint8_t header[proto::kMessageHeaderBytes];
  proto::encodeMessageHeader({kind, tag, bytes}, header);
  Status s;
  if (bytes <= kCoalesceBytes) {
    std::vector<uint8_t> msg(sizeof header + bytes);
    std::memcpy(msg.data(), header, sizeof header);
    if (bytes > 0) std::memcpy(msg.data() + sizeof header, data, bytes);
    s = net::sendAllOn(out.sock.fd(), out.tls.get(), msg.data(), msg.size(), deadline, stop());
  } else {
    s = net::sendAllOn(out.sock.fd(), out.tls.get(), header, sizeof header, deadline, stop());
    if (s.ok()) s = net::sendAllOn(out.sock.fd(), out.tls.get(), data, bytes, deadline, stop());
  }
  if (!s.ok()) {
    out.tls.reset();
    out.sock.close();  // a partial message cannot be resumed
    return s.withContext(ctx);
  }
  return Status::Ok();
}

// --- Receiving -------------------------------------------------------------

void PeerNetwork::deliver(int peer, uint16_t kind, uint32_t tag, std::vector<uint8_t> payload) {
  std::lock_guard<std::mutex> lock(mu_);
  mailbox_[Key{peer, kind, tag}].push_back(std::move(payload));
  cv_.notify_all();
}

StatusOr<std::vector<uint8_t>> PeerNetwork::recv(int peer, proto::MessageKind kind,
                                                 uint32_t tag) {
  if (peer < 0 || peer >= params_.nranks) {
    return InvalidArgument("bootstrap recv: peer ", peer, " is not in [0, ", params_.nranks, ")");
  }
  Deadline deadline = Deadline::after(params_.timeout);
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    auto it = mailbox_.find(Key{peer, kind, tag});
    if (it != mailbox_.end() && !it->second.empty()) {
      std::vector<uint8_t> msg = std::move(it->second.front());
      it->second.pop_front();
      if (it->second.empty()) mailbox_.erase(it);
      return msg;
    }
    if (stop().requested()) {
      return Aborted("bootstrap rank ", params_.rank, ": waiting for a message from ",
                     peerName(peer), " (tag ", tag, ")");
    }
    if (everConnected_[peer] && liveConns_[peer] == 0) {
      if (!lostWhy_[peer].empty()) {
        return RemoteError("bootstrap rank ", params_.rank, ": the connection from ",
                           peerName(peer), " was closed: ", lostWhy_[peer]);
      }
      return RemoteError("bootstrap rank ", params_.rank, ": ", peerName(peer),
                         " closed its connection before sending a message with tag ", tag);
    }
    if (deadline.expired()) {
      return Timeout("bootstrap rank ", params_.rank, ": no message from ", peerName(peer),
                     " (tag ", tag, ") within ", params_.timeout.count(), " ms");
    }
    // Sliced so the caller's abort flag, which nobody signals, is seen promptly.
    auto slice = std::min<std::chrono::nanoseconds>(deadline.remaining(), net::io::kPollSlice);
    cv_.wait_for(lock, slice);
  }
}

void PeerNetwork::serve() {
  std::vector<std::unique_ptr<Incoming>> conns;
  std::vector<pollfd> fds;
  while (!stopping_.load()) {
    fds.clear();
    fds.push_back({wakeFd_, POLLIN, 0});
    fds.push_back({listener_.fd(), POLLIN, 0});
    Deadline next = Deadline::never();
    bool buffered = false;  // a TLS session holds bytes poll() cannot see
    for (auto& c : conns) {
      short events = c->phase == Incoming::Phase::kAuth  ? c->hs.events()
                     : c->phase == Incoming::Phase::kTls ? c->tls->events()
                                                         : POLLIN;
      fds.push_back({c->sock.fd(), events, 0});
      if (c->phase != Incoming::Phase::kReady && c->deadline.at() < next.at()) next = c->deadline;
      buffered |= c->tls != nullptr && c->phase != Incoming::Phase::kTls && c->tls->hasBuffered();
    }
    int timeout = next.at() == Deadline::never().at() ? -1 : next.remainingMs();
    if (buffered) timeout = 0;
    int rc = ::poll(fds.data(), fds.size(), timeout);
    if (rc < 0) {
      if (errno == EINTR) continue;
      STRATA_WARN(log::kBootstrap, "bootstrap rank ", params_.rank, ": poll: ", strerror(errno));
      break;
    }
    size_t polled = conns.size();
    for (size_t i = 0; i < polled; ++i) {
      Incoming& c = *conns[i];
      if (fds[2 + i].revents != 0 ||
          (c.tls != nullptr && c.phase != Incoming::Phase::kTls && c.tls->hasBuffered())) {
        Status s = readMore(c);
        if (!s.ok()) closeIncoming(c, s);
      }
      if (!c.dead && c.phase != Incoming::Phase::kReady && c.deadline.expired()) {
        closeIncoming(c, Timeout("no authenticated hello within ", params_.handshake.count(),
                                 " ms"));
      }
    }
    if (fds[1].revents & POLLIN) acceptNew(conns);
    conns.erase(std::remove_if(conns.begin(), conns.end(),
                               [](const std::unique_ptr<Incoming>& c) { return c->dead; }),
                conns.end());
  }
  for (auto& c : conns) {
    if (!c->dead) closeIncoming(*c, Status::Ok());
  }
}

void PeerNetwork::acceptNew(std::vector<std::unique_ptr<Incoming>>& conns) {
  for (;;) {
    int fd = ::accept4(listener_.fd(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        STRATA_WARN(log::kBootstrap, "bootstrap rank ", params_.rank, ": accept: ",
                    strerror(errno));
      }
      return;
    }
    auto c = std::make_unique<Incoming>(net::Socket(fd), params_.secret, flags_);
    auto from = c->sock.peerAddress();
    c->from = from.ok() ? from->toString() : "<unknown>";
    size_t pending = std::count_if(conns.begin(), conns.end(), [](const auto& p) {
      return p->phase != Incoming::Phase::kReady;
    });
    if (pending >= kMaxPending || !c->hs.start().ok()) {
      STRATA_WARN(log::kBootstrap, "bootstrap rank ", params_.rank, ": refusing connection from ",
                  c->from);
      continue;
    }
    c->deadline = Deadline::after(params_.handshake);
    conns.push_back(std::move(c));
  }
}

Status PeerNetwork::readMore(Incoming& c) {
  if (c.phase == Incoming::Phase::kAuth) {
    STRATA_RETURN_IF_ERROR(c.hs.progress(c.sock.fd()));
    if (!c.hs.done()) return Status::Ok();
    c.phase = Incoming::Phase::kConnect;
    if (c.hs.tls()) {
      STRATA_ASSIGN_OR_RETURN(c.tls, net::TlsSession::begin(c.sock.fd(),
                                                            net::TlsSession::Role::kServer,
                                                            params_.secret,
                                                            net::Purpose::kBootstrapPeer));
      c.phase = Incoming::Phase::kTls;
    }
  }
  if (c.phase == Incoming::Phase::kTls) {
    STRATA_ASSIGN_OR_RETURN(bool done, c.tls->step());
    if (!done) return Status::Ok();
    c.phase = Incoming::Phase::kConnect;
  }
  for (int round = 0; round < kReadRounds; ++round) {
    if (!c.haveHeader) {
      STRATA_ASSIGN_OR_RETURN(size_t n, net::recvSomeOn(c.sock.fd(), c.tls.get(),
                                                        c.header + c.headerGot,
                                                        sizeof c.header - c.headerGot));
      if (n == 0) return Status::Ok();
      c.headerGot += n;
      if (c.headerGot < sizeof c.header) continue;
      auto header = proto::decodeMessageHeader(c.header);
      if (!header.ok()) {
        Status bad = header.status();
        return bad.withContext("malformed bootstrap message header");
      }
      c.current = *header;
      bool connecting = c.phase == Incoming::Phase::kConnect;
      if (connecting != (c.current.kind == proto::kConnect)) {
        return InvalidArgument("message of kind ", c.current.kind, " out of place");
      }
      c.haveHeader = true;
      c.payload.assign(c.current.length, 0);
      c.payloadGot = 0;
    }
    if (c.payloadGot < c.payload.size()) {
      STRATA_ASSIGN_OR_RETURN(size_t n,
                              net::recvSomeOn(c.sock.fd(), c.tls.get(),
                                              c.payload.data() + c.payloadGot,
                                              c.payload.size() - c.payloadGot));
      if (n == 0) return Status::Ok();
      c.payloadGot += n;
      if (c.payloadGot < c.payload.size()) continue;
    }
    STRATA_RETURN_IF_ERROR(onMessage(c));
    c.haveHeader = false;
    c.headerGot = 0;
  }
  return Status::Ok();
}

Status PeerNetwork::onMessage(Incoming& c) {
  if (c.phase == Incoming::Phase::kConnect) {
    const uint8_t* body = c.payload.data();
    uint32_t src = c.current.tag;
    uint32_t dst = net::wire::getU32(body);
    uint32_t nranks = net::wire::getU32(body + 4);
    uint64_t hash = net::wire::getU64(body + 8);
    if (nranks != static_cast<uint32_t>(params_.nranks) || hash != params_.commHash ||
        dst != static_cast<uint32_t>(params_.rank) || src >= nranks ||
        src == static_cast<uint32_t>(params_.rank)) {
      return InvalidArgument("connect from rank ", src, " to rank ", dst, " of ", nranks,
                             " does not match this communicator");
    }
    c.peer = static_cast<int>(src);
    c.phase = Incoming::Phase::kReady;
    std::lock_guard<std::mutex> lock(mu_);
    ++liveConns_[c.peer];
    everConnected_[c.peer] = true;
    return Status::Ok();
  }
  deliver(c.peer, c.current.kind, c.current.tag, std::move(c.payload));
  c.payload.clear();
  return Status::Ok();
}

void PeerNetwork::closeIncoming(Incoming& c, const Status& why) {
  if (c.phase == Incoming::Phase::kReady) {
    if (!why.ok() && why.code() != Code::kRemoteError) {
      STRATA_WARN(log::kBootstrap, "bootstrap rank ", params_.rank, ": connection from rank ",
                  c.peer, " failed: ", why.message());
    }
    std::lock_guard<std::mutex> lock(mu_);
    --liveConns_[c.peer];
    if (!why.ok() && why.code() != Code::kRemoteError) lostWhy_[c.peer] = why.message();
    cv_.notify_all();
  } else if (!why.ok()) {
    STRATA_WARN(log::kBootstrap, "bootstrap rank ", params_.rank, ": dropping connection from ",
                c.from, ": ", why.message());
  }
  c.sock.close();
  c.dead = true;
}

}  // namespace strata::bootstrap
