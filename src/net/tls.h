// Optional TLS 1.3 on tcp data and bootstrap connections (STRATA_TLS=1), keyed from the
// unique id's secret: both ends derive the same external pre-shared key
// (HMAC-SHA-256 of the secret with a label and the connection's purpose), so
// no certificates are involved. The session runs psk_dhe_ke (ephemeral
// X25519/ECDHE on top of the PSK) with TLS_AES_128_GCM_SHA256 and no session
// tickets. A session starts right after the connection's secret proof (whose
// flags say that both ends want TLS, see handshake.h), on the same socket;
// from then on every byte goes through it.
//
// Built only when CMake finds OpenSSL (STRATA_HAVE_OPENSSL); otherwise
// tlsAvailable() is false and TlsSession::handshake says why.
#pragma once

#include <cstddef>
#include <memory>

#include "core/deadline.h"
#include "core/status.h"
#include "net/auth.h"
#include "net/io.h"
#include "net/socket.h"

namespace strata::net {

bool tlsAvailable();

class TlsSession {
 public:
  enum class Role { kClient, kServer };

  // Runs the TLS handshake on a connected socket (blocking or not; it is
  // left non-blocking) until done, the deadline, or abort.
  static StatusOr<std::unique_ptr<TlsSession>> handshake(int fd, Role role, const Secret& secret,
                                                         Purpose purpose, Deadline deadline,
                                                         io::Stop stop = io::Stop{});
  // The same in steps, for poll() loops: begin() makes the session (and
  // leaves fd non-blocking); step() moves the handshake as far as the socket
  // allows: true when done, false while it waits for events().
  static StatusOr<std::unique_ptr<TlsSession>> begin(int fd, Role role, const Secret& secret,
                                                     Purpose purpose);
  StatusOr<bool> step();
  short events() const;
  // Decrypted bytes or records wait inside the session (a poll() on the
  // socket would not see them).
  bool hasBuffered() const;
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // Non-blocking transfers. send: bytes taken (0 when the socket is full).
  // recv: bytes delivered (0 when nothing is ready); a clean close by the
  // peer sets *eof. Errors (a forged or damaged record, a reset) are
  // returned as statuses; the session is unusable afterwards.
  StatusOr<size_t> send(const void* data, size_t bytes);
  StatusOr<size_t> recv(void* data, size_t bytes, bool* eof);

 private:
  struct Impl;
  explicit TlsSession(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A connection's bytes, through `tls` when it is not null, with io.h's
// semantics: the *Some forms move what they can without blocking (recvSome
// reports a closed connection as RemoteError), the *All forms wait.
StatusOr<size_t> sendSomeOn(int fd, TlsSession* tls, const void* data, size_t bytes);
StatusOr<size_t> recvSomeOn(int fd, TlsSession* tls, void* data, size_t bytes);
Status sendAllOn(int fd, TlsSession* tls, const void* data, size_t bytes, Deadline deadline,
                 io::Stop stop);
Status recvAllOn(int fd, TlsSession* tls, void* data, size_t bytes, Deadline deadline,
                 io::Stop stop);

}  // namespace strata::net
