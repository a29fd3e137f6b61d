// The root service: one thread, one poll() loop over the listener and every
// connection, each connection a small state machine (authenticate, read the
// hello, wait, send the table). A slow or hostile connection costs at most
// its own handshake timeout and never delays the others.
#include "bootstrap/root.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "bootstrap/protocol.h"
#include "bootstrap/thread.h"
#include "core/config.h"
#include "core/log.h"
#include "net/handshake.h"
#include "net/io.h"
#include "net/tls.h"

namespace strata::bootstrap {
namespace {

using std::chrono::milliseconds;

// Connections that have not yet proved themselves; more are refused.
constexpr size_t kMaxPending = 1024;

struct RootConn {
  enum class Phase { kAuth, kTls, kHello, kWaiting, kSending };

  RootConn(net::Socket s, const net::Secret& secret, uint32_t flags)
      : sock(std::move(s)),
        hs(net::Handshake::Role::kServer, secret, net::Purpose::kBootstrapRoot, flags) {}

  net::Socket sock;
  std::string peer;
  net::Handshake hs;
  std::unique_ptr<net::TlsSession> tls;  // when both ends run STRATA_TLS=1
  Phase phase = Phase::kAuth;
  Deadline deadline = Deadline::never();
  uint8_t hello[proto::kHelloBytes] = {};
  size_t got = 0;
  uint8_t listener[net::Address::kWireBytes] = {};
  int rank = -1;
  size_t sent = 0;
  bool dead = false;

  bool pending() const {
    return phase == Phase::kAuth || phase == Phase::kTls || phase == Phase::kHello;
  }
  short events() const {
    if (phase == Phase::kAuth) return hs.events();
    if (phase == Phase::kTls) return tls->events();
    return phase == Phase::kSending ? POLLOUT : POLLIN;
  }
};

class RootService {
 public:
  RootService(net::Socket listener, const net::Secret& secret, milliseconds timeout,
              milliseconds handshake, uint32_t flags)
      : listener_(std::move(listener)),
        secret_(secret),
        flags_(flags),
        deadline_(Deadline::after(timeout)),
        timeout_(timeout),
        handshake_(handshake) {
    auto addr = listener_.localAddress();
    where_ = addr.ok() ? addr->toString() : "<unknown>";
  }

  void run();

 private:
  void acceptNew();
  void step(RootConn& c, short revents);
  void onHello(RootConn& c);
  void reject(RootConn& c, proto::RejectReason code, const std::string& why);
  void drop(RootConn& c, const Status& why);
  void complete();
  void giveUp();
  int pollTimeoutMs() const;

  net::Socket listener_;
  net::Secret secret_;
  uint32_t flags_;  // handshake flags (STRATA_TLS), read once by the caller: this
                    // thread may outlive main(), so it reads no settings itself
  Deadline deadline_;
  milliseconds timeout_;
  milliseconds handshake_;
  std::string where_;
  std::vector<std::unique_ptr<RootConn>> conns_;
  std::vector<RootConn*> byRank_;
  uint32_t nranks_ = 0;
  uint32_t arrived_ = 0;
  bool complete_ = false;
  std::vector<uint8_t> reply_;
};

void RootService::run() {
  STRATA_INFO(log::kBootstrap, "bootstrap root listening on ", where_);
  std::vector<pollfd> fds;
  for (;;) {
    if (complete_ && conns_.empty()) {
      STRATA_INFO(log::kBootstrap, "bootstrap root ", where_, ": all ", nranks_,
                  " ranks have the table");
      return;
    }
    if (deadline_.expired()) {
      giveUp();
      return;
    }
    fds.clear();
    bool listening = listener_.valid();
    if (listening) fds.push_back({listener_.fd(), POLLIN, 0});
    for (auto& c : conns_) fds.push_back({c->sock.fd(), c->events(), 0});
    int rc = ::poll(fds.data(), fds.size(), pollTimeoutMs());
    if (rc < 0 && errno != EINTR) {
      STRATA_WARN(log::kBootstrap, "bootstrap root ", where_, ": poll failed: ", strerror(errno));
      return;
    }
    size_t first = listening ? 1 : 0;
    // Connections accepted below are polled from the next round on.
    size_t polled = conns_.size();
    for (size_t i = 0; i < polled; ++i) {
      RootConn& c = *conns_[i];
      short revents = rc > 0 ? fds[first + i].revents : 0;
      if (revents != 0) step(c, revents);
      if (!c.dead && c.pending() && c.deadline.expired()) {
        drop(c, Timeout("connection did not authenticate and say hello within ",
                        handshake_.count(), " ms"));
      }
    }
    if (listening && rc > 0 && (fds[0].revents & POLLIN)) acceptNew();
    conns_.erase(std::remove_if(conns_.begin(), conns_.end(),
                                [](const std::unique_ptr<RootConn>& c) { return c->dead; }),
                 conns_.end());
  }
}

int RootService::pollTimeoutMs() const {
  Deadline next = deadline_;
  for (const auto& c : conns_) {
    if (c->pending() && c->deadline.at() < next.at()) next = c->deadline;
  }
  return next.remainingMs();
}

void RootService::acceptNew() {
  for (;;) {
    int fd = ::accept4(listener_.fd(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        STRATA_WARN(log::kBootstrap, "bootstrap root ", where_, ": accept: ", strerror(errno));
      }
      return;
    }
    auto c = std::make_unique<RootConn>(net::Socket(fd), secret_, flags_);
    auto peer = c->sock.peerAddress();
    c->peer = peer.ok() ? peer->toString() : "<unknown>";
    size_t pending = std::count_if(conns_.begin(), conns_.end(),
                                   [](const std::unique_ptr<RootConn>& p) { return p->pending(); });
    if (pending >= kMaxPending) {
      STRATA_WARN(log::kBootstrap, "bootstrap root ", where_, ": refusing ", c->peer,
                  ": too many unauthenticated connections");
      continue;
    }
    Status s = c->hs.start();
    if (!s.ok()) {
      STRATA_WARN(log::kBootstrap, "bootstrap root ", where_, ": ", s.message());
      continue;
    }
    c->deadline = Deadline::after(handshake_);
    conns_.push_back(std::move(c));
  }
}

void RootService::step(RootConn& c, short revents) {
  switch (c.phase) {
    case RootConn::Phase::kAuth: {
      Status s = c.hs.progress(c.sock.fd());
      if (!s.ok()) return drop(c, s);
      if (!c.hs.done()) return;
      c.deadline = Deadline::after(handshake_);
      if (c.hs.tls()) {
        auto tls = net::TlsSession::begin(c.sock.fd(), net::TlsSession::Role::kServer, secret_,
                                          net::Purpose::kBootstrapRoot);
        if (!tls.ok()) return drop(c, tls.status());
        c.tls = std::move(tls).value();
        c.phase = RootConn::Phase::kTls;
      } else {
        c.phase = RootConn::Phase::kHello;
      }
      [[fallthrough]];
    }
    case RootConn::Phase::kTls: {
      if (c.phase == RootConn::Phase::kTls) {
        auto done = c.tls->step();
        if (!done.ok()) return drop(c, done.status());
        if (!*done) return;
        c.phase = RootConn::Phase::kHello;
      }
      [[fallthrough]];  // the hello may already be here
    }
    case RootConn::Phase::kHello: {
      auto n = net::recvSomeOn(c.sock.fd(), c.tls.get(), c.hello + c.got, sizeof c.hello - c.got);
      if (!n.ok()) return drop(c, n.status());
      c.got += *n;
      if (c.got == sizeof c.hello) onHello(c);
      return;
    }
    case RootConn::Phase::kWaiting: {
      // A rank says nothing while it waits: data or a close means it left.
      uint8_t byte;
      auto n = net::recvSomeOn(c.sock.fd(), c.tls.get(), &byte, 1);
      if (n.ok() && *n == 0) return;
      Status why = n.ok() ? RemoteError("rank ", c.rank, " sent data while waiting for the table")
                          : n.status();
      return drop(c, why);
    }
    case RootConn::Phase::kSending: {
      auto n = net::sendSomeOn(c.sock.fd(), c.tls.get(), reply_.data() + c.sent,
                               reply_.size() - c.sent);
      if (!n.ok()) return drop(c, n.status());
      c.sent += *n;
      if (c.sent == reply_.size()) {
        c.sock.close();
        c.dead = true;
      }
      return;
    }
  }
}

void RootService::onHello(RootConn& c) {
  auto hello = proto::decodeHello(c.hello);
  if (!hello.ok()) return reject(c, proto::kBadHello, hello.status().message());
  if (nranks_ == 0) {
    nranks_ = hello->nranks;
    byRank_.assign(nranks_, nullptr);
  } else if (hello->nranks != nranks_) {
    return reject(c, proto::kNranksMismatch,
                  strCat("rank ", hello->rank, " says there are ", hello->nranks,
                         " ranks, but earlier ranks said ", nranks_));
  }
  if (byRank_[hello->rank] != nullptr) {
    return reject(c, proto::kDuplicateRank,
                  strCat("rank ", hello->rank, " is already connected (from ",
                         byRank_[hello->rank]->peer, ")"));
  }
  c.rank = static_cast<int>(hello->rank);
  c.phase = RootConn::Phase::kWaiting;
  c.deadline = Deadline::never();
  byRank_[c.rank] = &c;
  ++arrived_;
  STRATA_INFO(log::kBootstrap, "bootstrap root ", where_, ": rank ", c.rank, "/", nranks_,
              " at ", hello->listener.toString(), " (", arrived_, " arrived)");
  hello->listener.encode(c.listener);
  if (arrived_ == nranks_) complete();
}

void RootService::complete() {
  size_t body = nranks_ * net::Address::kWireBytes;
  reply_.assign(proto::kReplyHeaderBytes + body, 0);
  proto::encodeReplyHeader({proto::kTable, nranks_, static_cast<uint32_t>(body)}, reply_.data());
  for (uint32_t r = 0; r < nranks_; ++r) {
    std::memcpy(reply_.data() + proto::kReplyHeaderBytes + r * net::Address::kWireBytes,
                byRank_[r]->listener, net::Address::kWireBytes);
  }
  complete_ = true;
  listener_.close();
  for (auto& c : conns_) {
    if (c->phase == RootConn::Phase::kWaiting) {
      c->phase = RootConn::Phase::kSending;
      c->sent = 0;
      c->deadline = Deadline::never();
    } else if (!c->dead) {
      c->sock.close();  // a latecomer or stranger: the communicator is complete
      c->dead = true;
    }
  }
}

// STRATA_TIMEOUT passed before every rank arrived: the ranks that did are
// told which are missing (instead of seeing their connection close).
void RootService::giveUp() {
  std::string missing;
  int listed = 0;
  for (uint32_t r = 0; r < nranks_ && listed < 8; ++r) {
    if (byRank_[r] != nullptr) continue;
    missing += strCat(listed == 0 ? "" : ", ", r);
    ++listed;
  }
  if (nranks_ > 0 && nranks_ - arrived_ > static_cast<uint32_t>(listed)) missing += ", ...";
  std::string why = strCat("only ", arrived_, " of ", nranks_, " ranks joined within ",
                           timeout_.count() / 1000, " s (STRATA_TIMEOUT); missing rank(s) ",
                           missing);
  STRATA_WARN(log::kBootstrap, "bootstrap root ", where_, ": giving up: ", why);
  for (auto& c : conns_) {
    if (c->dead) continue;
    if (c->phase == RootConn::Phase::kWaiting) {
      reject(*c, proto::kTimedOut, why);
    } else {
      c->sock.close();
      c->dead = true;
    }
  }
}

void RootService::reject(RootConn& c, proto::RejectReason code, const std::string& why) {
  std::string text = why.substr(0, proto::kMaxReasonBytes);
  std::vector<uint8_t> msg(proto::kReplyHeaderBytes + text.size());
  proto::encodeReplyHeader({proto::kReject, code, static_cast<uint32_t>(text.size())},
                           msg.data());
  std::memcpy(msg.data() + proto::kReplyHeaderBytes, text.data(), text.size());
  // Best effort: a short message into an empty socket buffer.
  (void)net::sendSomeOn(c.sock.fd(), c.tls.get(), msg.data(), msg.size());
  drop(c, InvalidArgument(why));
}

void RootService::drop(RootConn& c, const Status& why) {
  STRATA_WARN(log::kBootstrap, "bootstrap root ", where_, ": closing connection from ", c.peer,
              ": ", why.message());
  if (c.phase == RootConn::Phase::kWaiting && c.rank >= 0 && !complete_) {
    byRank_[c.rank] = nullptr;
    --arrived_;
  }
  c.sock.close();
  c.dead = true;
}

}  // namespace

Status launchRoot(net::Socket listener, const net::Secret& secret) {
  int64_t timeoutSec = config::getInt("STRATA_TIMEOUT");
  if (timeoutSec <= 0) timeoutSec = 300;
  int64_t handshakeMs = config::getInt("STRATA_HANDSHAKE_TIMEOUT_MS");
  if (handshakeMs <= 0) handshakeMs = 20000;
  auto service = std::make_shared<RootService>(std::move(listener), secret,
                                               milliseconds(timeoutSec * 1000),
                                               milliseconds(handshakeMs),
                                               net::Handshake::configuredFlags());
  return spawnThread([service] { service->run(); }, nullptr);
}

}  // namespace strata::bootstrap
