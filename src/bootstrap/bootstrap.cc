// Bootstrap::create (the exchange with the root) and the collectives built on
// the peer network.
#include "bootstrap/bootstrap.h"

#include <cstring>

#include "bootstrap/peer_network.h"
#include "bootstrap/protocol.h"
#include "core/config.h"
#include "core/log.h"
#include "net/bytes.h"
#include "net/handshake.h"
#include "net/io.h"
#include "net/tls.h"

namespace strata::bootstrap {
namespace {

// How much longer than its own deadline a rank waits for the root's table
// or its verdict on the ranks that did not come.
constexpr std::chrono::milliseconds kRootVerdictGrace{2000};

// Tags of the internal (collective) channel.
enum InternalTag : uint32_t { kAllGather = 1, kAllGatherStrings = 2, kBarrier = 3 };

uint64_t deriveCommHash(const UniqueId& id) {
  static constexpr char kLabel[] = "strata-comm";
  uint8_t msg[sizeof kLabel + sizeof id.secret.bytes + 8];
  std::memcpy(msg, kLabel, sizeof kLabel);
  std::memcpy(msg + sizeof kLabel, id.secret.bytes.data(), id.secret.bytes.size());
  net::wire::putU64(msg + sizeof kLabel + id.secret.bytes.size(), id.nonce);
  net::Digest d = net::sha256(msg, sizeof msg);
  return net::wire::getU64(d.data());
}

class BootstrapImpl final : public Bootstrap {
 public:
  BootstrapImpl(int rank, int nranks, const UniqueId& id, std::unique_ptr<PeerNetwork> net)
      : rank_(rank), nranks_(nranks), secret_(id.secret), commHash_(deriveCommHash(id)),
        net_(std::move(net)) {}
  ~BootstrapImpl() override = default;

  int rank() const override { return rank_; }
  int nranks() const override { return nranks_; }
  const net::Secret& secret() const override { return secret_; }
  uint64_t commHash() const override { return commHash_; }
  const net::Address& localAddress() const override { return net_->address(); }

  Status send(int peer, uint32_t tag, const void* data, size_t bytes) override {
    return net_->send(peer, proto::kUser, tag, data, bytes);
  }

  Status recv(int peer, uint32_t tag, void* data, size_t bytes) override {
    STRATA_ASSIGN_OR_RETURN(std::vector<uint8_t> msg, net_->recv(peer, proto::kUser, tag));
    if (msg.size() != bytes) {
      return InvalidUsage("bootstrap rank ", rank_, ": message from rank ", peer, " with tag ",
                          tag, " has ", msg.size(), " bytes, expected ", bytes);
    }
    if (bytes > 0) std::memcpy(data, msg.data(), bytes);
    return Status::Ok();
  }

  Status allGather(void* data, size_t bytesPerRank) override;
  StatusOr<std::vector<std::string>> allGatherStrings(const std::string& mine) override;
  Status barrier() override;
  void abort() override { net_->abort(); }

 private:
  int next(int k = 1) const { return (rank_ + k) % nranks_; }
  int prev(int k = 1) const { return ((rank_ - k) % nranks_ + nranks_) % nranks_; }

  int rank_;
  int nranks_;
  net::Secret secret_;
  uint64_t commHash_;
  std::unique_ptr<PeerNetwork> net_;
};

// Ring: at step s a rank forwards the slot it received at step s-1 (its own
// at s=0) to the next rank and receives the previous rank's from it.
Status BootstrapImpl::allGather(void* data, size_t bytesPerRank) {
  auto* slots = static_cast<uint8_t*>(data);
  for (int step = 0; step < nranks_ - 1; ++step) {
    int sendSlot = prev(step);
    int recvSlot = prev(step + 1);
    std::string ctx = strCat("allGather step ", step);
    STRATA_RETURN_IF_ERROR_CTX(net_->send(next(), proto::kInternal, kAllGather,
                                          slots + sendSlot * bytesPerRank, bytesPerRank),
                               ctx);
    auto msg = net_->recv(prev(), proto::kInternal, kAllGather);
    if (!msg.ok()) {
      Status s = msg.status();
      return s.withContext(ctx);
    }
    if (msg->size() != bytesPerRank) {
      return InvalidUsage("bootstrap rank ", rank_, ": allGather of ", bytesPerRank,
                          " bytes per rank, but rank ", prev(), " sent ", msg->size());
    }
    if (bytesPerRank > 0) std::memcpy(slots + recvSlot * bytesPerRank, msg->data(), bytesPerRank);
  }
  return Status::Ok();
}

StatusOr<std::vector<std::string>> BootstrapImpl::allGatherStrings(const std::string& mine) {
  if (mine.size() > kMaxMessageBytes) {
    return InvalidArgument("allGatherStrings: ", mine.size(), " bytes exceeds the limit");
  }
  std::vector<std::string> out(nranks_);
  out[rank_] = mine;
  for (int step = 0; step < nranks_ - 1; ++step) {
    const std::string& fwd = out[prev(step)];
    std::string ctx = strCat("allGatherStrings step ", step);
    STRATA_RETURN_IF_ERROR_CTX(
        net_->send(next(), proto::kInternal, kAllGatherStrings, fwd.data(), fwd.size()), ctx);
    auto msg = net_->recv(prev(), proto::kInternal, kAllGatherStrings);
    if (!msg.ok()) {
      Status s = msg.status();
      return s.withContext(ctx);
    }
    out[prev(step + 1)].assign(msg->begin(), msg->end());
  }
  return out;
}

// Dissemination barrier: in round k every rank signals rank+2^k and waits for
// rank-2^k; after ceil(log2 n) rounds everyone has heard from everyone.
Status BootstrapImpl::barrier() {
  for (int k = 1; k < nranks_; k *= 2) {
    std::string ctx = strCat("barrier round ", k);
    STRATA_RETURN_IF_ERROR_CTX(net_->send(next(k), proto::kInternal, kBarrier, nullptr, 0), ctx);
    auto msg = net_->recv(prev(k), proto::kInternal, kBarrier);
    if (!msg.ok()) {
      Status s = msg.status();
      return s.withContext(ctx);
    }
  }
  return Status::Ok();
}

// Connects to the root, authenticates, says hello and reads the table.
StatusOr<std::vector<net::Address>> exchangeWithRoot(const UniqueId& id, int rank, int nranks,
                                                     const net::Address& mine, Deadline deadline,
                                                     net::io::Stop stop,
                                                     std::chrono::milliseconds handshake) {
  STRATA_ASSIGN_OR_RETURN(net::Socket sock, net::io::connect(id.root, deadline, stop));
  net::Handshake hs(net::Handshake::Role::kClient, id.secret, net::Purpose::kBootstrapRoot);
  STRATA_RETURN_IF_ERROR(hs.start());
  STRATA_RETURN_IF_ERROR(net::runHandshake(hs, sock.fd(), deadline.capped(handshake), stop));
  std::unique_ptr<net::TlsSession> tls;
  if (hs.tls()) {
    STRATA_ASSIGN_OR_RETURN(tls, net::TlsSession::handshake(sock.fd(), net::TlsSession::Role::kClient,
                                                            id.secret, net::Purpose::kBootstrapRoot,
                                                            deadline.capped(handshake), stop));
  }
  uint8_t hello[proto::kHelloBytes];
  proto::encodeHello({static_cast<uint32_t>(rank), static_cast<uint32_t>(nranks), mine}, hello);
  STRATA_RETURN_IF_ERROR(net::sendAllOn(sock.fd(), tls.get(), hello, sizeof hello, deadline, stop));
  uint8_t head[proto::kReplyHeaderBytes];
  // The root gives up at its own deadline, which is no later than ours, and
  // then says which ranks are missing: wait a little longer for that verdict.
  Deadline verdict = deadline.at() == Deadline::never().at()
                         ? deadline
                         : Deadline::after(std::chrono::duration_cast<std::chrono::milliseconds>(
                               deadline.remaining()) +
                           kRootVerdictGrace);
  STRATA_RETURN_IF_ERROR_CTX(net::recvAllOn(sock.fd(), tls.get(), head, sizeof head, verdict, stop),
                             "waiting for the other ranks");
  STRATA_ASSIGN_OR_RETURN(proto::ReplyHeader reply, proto::decodeReplyHeader(head));
  std::vector<uint8_t> body(reply.bodyBytes);
  STRATA_RETURN_IF_ERROR(
      net::recvAllOn(sock.fd(), tls.get(), body.data(), body.size(), verdict, stop));
  if (reply.kind == proto::kReject) {
    std::string why(body.begin(), body.end());
    if (reply.count == proto::kTimedOut) return Timeout("the bootstrap root gave up: ", why);
    return InvalidUsage("the root refused this rank: ", why);
  }
  if (reply.count != static_cast<uint32_t>(nranks)) {
    return InternalError("the root sent a table of ", reply.count, " ranks, expected ", nranks);
  }
  std::vector<net::Address> table;
  table.reserve(nranks);
  for (int r = 0; r < nranks; ++r) {
    auto addr = net::Address::decode(body.data() + r * net::Address::kWireBytes);
    if (!addr.ok()) {
      Status s = addr.status();
      return s.withContext(strCat("the root's table entry for rank ", r));
    }
    table.push_back(*addr);
  }
  if (table[rank].toString() != mine.toString()) {
    return InternalError("the root's table lists this rank at ", table[rank].toString(),
                         ", not ", mine.toString());
  }
  return table;
}

}  // namespace

StatusOr<std::unique_ptr<Bootstrap>> Bootstrap::create(const UniqueId& id, int rank, int nranks,
                                                       const Options& options) {
  if (nranks < 1 || nranks > proto::kMaxRanks || rank < 0 || rank >= nranks) {
    return InvalidArgument("bootstrap: rank ", rank, " of ", nranks, " is out of range");
  }
  if (options.timeout.count() <= 0) return InvalidArgument("bootstrap: timeout must be positive");
  std::string ctx = strCat("bootstrap rank ", rank, "/", nranks);
  Deadline deadline = Deadline::after(options.timeout);

  auto ifaces = net::findInterfaces();
  if (!ifaces.ok()) {
    Status s = ifaces.status();
    return s.withContext(ctx);
  }
  net::Address bind = ifaces->front().address;
  bind.setPort(0);

  int64_t handshakeMs = config::getInt("STRATA_HANDSHAKE_TIMEOUT_MS");
  PeerNetwork::Params params;
  params.rank = rank;
  params.nranks = nranks;
  params.secret = id.secret;
  params.commHash = deriveCommHash(id);
  params.timeout = options.timeout;
  params.handshake = std::chrono::milliseconds(handshakeMs > 0 ? handshakeMs : 20000);
  params.abort = options.abort;
  auto net = PeerNetwork::start(bind, params);
  if (!net.ok()) {
    Status s = net.status();
    return s.withContext(strCat(ctx, ": starting the listener on ", bind.toString()));
  }
  std::unique_ptr<PeerNetwork> network = std::move(*net);

  auto table = exchangeWithRoot(id, rank, nranks, network->address(), deadline, network->stop(),
                                params.handshake);
  if (!table.ok()) {
    Status s = table.status();
    return s.withContext(strCat(ctx, ": with the root at ", id.root.toString()));
  }
  network->setPeers(std::move(*table));
  STRATA_INFO(log::kBootstrap, ctx, ": listening on ", network->address().toString(),
              ", all ranks known");
  return std::unique_ptr<Bootstrap>(new BootstrapImpl(rank, nranks, id, std::move(network)));
}

}  // namespace strata::bootstrap
