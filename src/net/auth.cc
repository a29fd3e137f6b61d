// Secret-based mutual authentication (see handshake.h for the exchange).
#include <cstring>

#include "core/config.h"
#include "core/log.h"
#include "net/auth.h"
#include "net/bytes.h"
#include "net/handshake.h"

namespace strata::net {
namespace {

constexpr uint32_t kMagic = 0x53544841;  // "STHA"
constexpr uint16_t kVersion = 1;
constexpr char kLabel[] = "strata-auth";

// Message kinds, in the order they are exchanged.
enum Kind : uint16_t { kClientNonce = 1, kServerNonce = 2, kClientProof = 3, kServerProof = 4 };

const char* purposeName(Purpose p) {
  switch (p) {
    case Purpose::kBootstrapRoot: return "bootstrap root";
    case Purpose::kBootstrapPeer: return "bootstrap peer";
    case Purpose::kTcpData: return "tcp data";
  }
  return "unknown";
}

Deadline handshakeDeadline(Deadline deadline) {
  int64_t ms = config::getInt("STRATA_HANDSHAKE_TIMEOUT_MS");
  if (ms <= 0) ms = 20000;
  return deadline.capped(std::chrono::milliseconds(ms));
}

}  // namespace

uint32_t Handshake::configuredFlags() { return config::getBool("STRATA_TLS") ? kFlagTls : 0; }

Handshake::Handshake(Role role, const Secret& secret, Purpose purpose, uint32_t flags)
    : role_(role), secret_(secret), purpose_(purpose), flags_(flags) {}

bool Handshake::sending() const {
  // The client speaks first; the two sides alternate.
  bool even = (step_ % 2) == 0;
  return role_ == Role::kClient ? even : !even;
}

Status Handshake::start() {
  uint8_t* mine = role_ == Role::kClient ? clientNonce_ : serverNonce_;
  STRATA_RETURN_IF_ERROR(randomBytes(mine, kNonceBytes));
  step_ = 0;
  pos_ = 0;
  if (sending()) prepare();
  return Status::Ok();
}

Digest Handshake::proof(char role) const {
  uint8_t msg[sizeof kLabel + 2 + 4 + 4 + 1 + 2 * kNonceBytes];
  uint8_t* p = msg;
  std::memcpy(p, kLabel, sizeof kLabel);
  p += sizeof kLabel;
  wire::putU16(p, kVersion);
  p += 2;
  wire::putU32(p, static_cast<uint32_t>(purpose_));
  p += 4;
  // Bound into the proofs: nobody in between can switch TLS off.
  wire::putU32(p, flags_);
  p += 4;
  *p++ = static_cast<uint8_t>(role);
  std::memcpy(p, clientNonce_, kNonceBytes);
  p += kNonceBytes;
  std::memcpy(p, serverNonce_, kNonceBytes);
  return hmacSha256(secret_.bytes.data(), secret_.bytes.size(), msg, sizeof msg);
}

void Handshake::prepare() {
  std::memset(buf_, 0, sizeof buf_);
  wire::putU32(buf_, kMagic);
  wire::putU16(buf_ + 4, kVersion);
  uint16_t kind = static_cast<uint16_t>(step_ + 1);
  wire::putU16(buf_ + 6, kind);
  wire::putU32(buf_ + 8, static_cast<uint32_t>(purpose_));
  uint8_t* payload = buf_ + 16;
  if (kind == kClientNonce || kind == kServerNonce) wire::putU32(buf_ + 12, flags_);
  switch (kind) {
    case kClientNonce: std::memcpy(payload, clientNonce_, kNonceBytes); break;
    case kServerNonce: std::memcpy(payload, serverNonce_, kNonceBytes); break;
    case kClientProof: {
      Digest d = proof('C');
      std::memcpy(payload, d.data(), d.size());
      break;
    }
    case kServerProof: {
      Digest d = proof('S');
      std::memcpy(payload, d.data(), d.size());
      break;
    }
  }
  pos_ = 0;
}

Status Handshake::flagsMismatch() const {
  return RemoteError("handshake: the peer runs with STRATA_TLS=", (peerFlags_ & kFlagTls) ? 1 : 0,
                     " and this process with STRATA_TLS=", (flags_ & kFlagTls) ? 1 : 0,
                     ": all ranks must agree on TLS");
}

Status Handshake::verify() {
  uint32_t magic = wire::getU32(buf_);
  uint16_t version = wire::getU16(buf_ + 4);
  uint16_t kind = wire::getU16(buf_ + 6);
  uint32_t purpose = wire::getU32(buf_ + 8);
  if (magic != kMagic) return RemoteError("handshake: peer is not a Strata endpoint (bad magic)");
  if (version != kVersion) {
    return RemoteError("handshake: peer speaks version ", version, ", this side ", kVersion);
  }
  uint32_t flags = wire::getU32(buf_ + 12);
  bool nonce = kind == kClientNonce || kind == kServerNonce;
  if (kind != step_ + 1 || (!nonce && flags != 0) || (flags & ~kFlagTls) != 0) {
    return RemoteError("handshake: unexpected message kind ", kind);
  }
  if (nonce) peerFlags_ = flags;
  // A server answers with its own nonce before it refuses (see progress()),
  // so the client learns about the mismatch from that nonce.
  if (kind == kServerNonce && flags != flags_) return flagsMismatch();
  if (purpose != static_cast<uint32_t>(purpose_)) {
    return RemoteError("handshake: peer wants purpose ", purpose, ", this side expects ",
                       purposeName(purpose_));
  }
  const uint8_t* payload = buf_ + 16;
  switch (kind) {
    case kClientNonce: std::memcpy(clientNonce_, payload, kNonceBytes); break;
    case kServerNonce: std::memcpy(serverNonce_, payload, kNonceBytes); break;
    case kClientProof:
    case kServerProof: {
      Digest got;
      std::memcpy(got.data(), payload, got.size());
      if (!digestEqual(got, proof(kind == kClientProof ? 'C' : 'S'))) {
        return RemoteError("authentication failed: the peer does not hold this secret");
      }
      break;
    }
  }
  return Status::Ok();
}

Status Handshake::progress(int fd) {
  while (!done()) {
    if (sending()) {
      STRATA_ASSIGN_OR_RETURN(size_t n, io::sendSome(fd, buf_ + pos_, kMessageBytes - pos_));
      if (n == 0) return Status::Ok();
      pos_ += n;
    } else {
      // Exactly one message at a time: nothing past it is read.
      auto got = io::recvSome(fd, buf_ + pos_, kMessageBytes - pos_);
      if (!got.ok() && role_ == Role::kClient && step_ + 1 == kServerProof) {
        // A server closes here only when our proof did not match its secret.
        return RemoteError("authentication failed: the peer closed the connection instead of "
                           "answering our proof, so it does not accept this secret (a unique id "
                           "or STRATA_SECRET from another job?): ", got.status().message());
      }
      STRATA_ASSIGN_OR_RETURN(size_t n, std::move(got));
      if (n == 0) return Status::Ok();
      pos_ += n;
      if (pos_ == kMessageBytes) STRATA_RETURN_IF_ERROR(verify());
    }
    if (pos_ == kMessageBytes) {
      ++step_;
      pos_ = 0;
      // The server has sent its nonce (with its flags): now it may refuse.
      if (role_ == Role::kServer && step_ == 2 && peerFlags_ != flags_) return flagsMismatch();
      if (!done() && sending()) prepare();
    }
  }
  return Status::Ok();
}

Status runHandshake(Handshake& hs, int fd, Deadline deadline, io::Stop stop) {
  for (;;) {
    STRATA_RETURN_IF_ERROR(hs.progress(fd));
    if (hs.done()) return Status::Ok();
    auto ready = io::waitFd(fd, hs.events(), deadline, stop, "authentication handshake");
    if (!ready.ok()) return ready.status();
  }
}

Status authenticateClient(Socket& sock, const Secret& secret, Purpose purpose, Deadline deadline,
                          const AbortFlag* abort) {
  Handshake hs(Handshake::Role::kClient, secret, purpose);
  STRATA_RETURN_IF_ERROR(hs.start());
  Status s = runHandshake(hs, sock.fd(), handshakeDeadline(deadline), io::Stop{abort});
  if (!s.ok()) {
    auto peer = sock.peerAddress();
    s.withContext(strCat(purposeName(purpose), " handshake with ",
                         peer.ok() ? peer->toString() : "<unknown peer>"));
    STRATA_WARN(log::kNet, s.message());
  }
  return s;
}

Status authenticateServer(Socket& sock, const Secret& secret, Purpose purpose, Deadline deadline,
                          const AbortFlag* abort) {
  Handshake hs(Handshake::Role::kServer, secret, purpose);
  STRATA_RETURN_IF_ERROR(hs.start());
  Status s = runHandshake(hs, sock.fd(), handshakeDeadline(deadline), io::Stop{abort});
  if (!s.ok()) {
    auto peer = sock.peerAddress();
    s.withContext(strCat(purposeName(purpose), " handshake from ",
                         peer.ok() ? peer->toString() : "<unknown peer>"));
    STRATA_WARN(log::kNet, s.message());
  }
  return s;
}

}  // namespace strata::net
