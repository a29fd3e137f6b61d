// The authentication handshake as a non-blocking state machine, so a service
// thread can run many handshakes at once from one poll() loop. The blocking
// authenticateClient/authenticateServer in auth.h drive the same machine.
//
// Four fixed-size messages (kMessageBytes each):
//   client -> server  nonce_c, flags
//   server -> client  nonce_s, flags
//   client -> server  HMAC(secret, label | version | purpose | flags | 'C' | nonce_c | nonce_s)
//   server -> client  HMAC(secret, label | version | purpose | flags | 'S' | nonce_c | nonce_s)
// Flags (kFlagTls: a TLS session follows, STRATA_TLS=1) must be equal on
// both sides; a difference fails the handshake with a message saying so.
// The server checks the client's proof before it sends anything derived from
// the secret, and reads nothing beyond these messages until then.
#pragma once

#include <poll.h>

#include <cstddef>
#include <cstdint>

#include "core/deadline.h"
#include "core/status.h"
#include "net/auth.h"
#include "net/io.h"

namespace strata::net {

class Handshake {
 public:
  enum class Role { kClient, kServer };
  static constexpr size_t kMessageBytes = 48;
  static constexpr size_t kNonceBytes = 32;

  static constexpr uint32_t kFlagTls = 1;
  // This process's flags (STRATA_TLS).
  static uint32_t configuredFlags();

  Handshake(Role role, const Secret& secret, Purpose purpose,
            uint32_t flags = configuredFlags());

  // Draws this side's nonce; call once before progress().
  Status start();
  // Moves as far as the socket allows without blocking. Ok while pending or
  // done; an error means the peer is not to be trusted (close the socket).
  Status progress(int fd);
  bool done() const { return step_ == kSteps; }
  // Both sides agreed to run TLS on this connection next.
  bool tls() const { return (flags_ & kFlagTls) != 0; }
  // What to poll for before calling progress() again.
  short events() const { return sending() ? POLLOUT : POLLIN; }

 private:
  static constexpr int kSteps = 4;
  bool sending() const;
  void prepare();                   // fills buf_ for the current send step
  Status verify();                  // checks the message in buf_
  Status flagsMismatch() const;
  Digest proof(char role) const;

  Role role_;
  Secret secret_;
  Purpose purpose_;
  uint32_t flags_ = 0;
  uint32_t peerFlags_ = 0;  // as announced in the peer's nonce message
  int step_ = 0;
  size_t pos_ = 0;
  uint8_t buf_[kMessageBytes] = {};
  uint8_t clientNonce_[kNonceBytes] = {};
  uint8_t serverNonce_[kNonceBytes] = {};
};

// Runs a handshake to completion, waiting with poll().
Status runHandshake(Handshake& hs, int fd, Deadline deadline, io::Stop stop);

}  // namespace strata::net
