#include "net/tls.h"

#include <fcntl.h>
#include <poll.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>

#include "net/io.h"

#ifdef STRATA_HAVE_OPENSSL
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#endif

namespace strata::net {

#ifdef STRATA_HAVE_OPENSSL

namespace {

constexpr char kIdentity[] = "strata-psk-v1";
constexpr char kPskLabel[] = "strata-tls-psk-v1";
// TLS_AES_128_GCM_SHA256's two-byte TLS identifier.
constexpr unsigned char kCipherId[2] = {0x13, 0x01};
constexpr size_t kReadBufferBytes = 256 * 1024;

// The PSK of one connection, reached from OpenSSL's callbacks.
struct PskKey {
  Digest key;
};

int gPskIndex = -1;

std::string sslErrors() {
  std::string text;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!text.empty()) text += "; ";
    text += buf;
  }
  return text.empty() ? std::string("no detail from OpenSSL") : text;
}

SSL_SESSION* makeSession(SSL* ssl) {
  auto* psk = static_cast<PskKey*>(SSL_get_ex_data(ssl, gPskIndex));
  const SSL_CIPHER* cipher = SSL_CIPHER_find(ssl, kCipherId);
  if (psk == nullptr || cipher == nullptr) return nullptr;
  SSL_SESSION* s = SSL_SESSION_new();
  if (s == nullptr) return nullptr;
  if (SSL_SESSION_set1_master_key(s, psk->key.data(), psk->key.size()) != 1 ||
      SSL_SESSION_set_cipher(s, cipher) != 1 ||
      SSL_SESSION_set_protocol_version(s, TLS1_3_VERSION) != 1) {
    SSL_SESSION_free(s);
    return nullptr;
  }
  return s;
}

int useSession(SSL* ssl, const EVP_MD* md, const unsigned char** id, size_t* idlen,
               SSL_SESSION** sess) {
  *sess = nullptr;
  // After a HelloRetryRequest OpenSSL asks again with the digest in use.
  if (md != nullptr && EVP_MD_get_type(md) != NID_sha256) return 1;
  *sess = makeSession(ssl);
  if (*sess == nullptr) return 0;
  *id = reinterpret_cast<const unsigned char*>(kIdentity);
  *idlen = sizeof(kIdentity) - 1;
  return 1;
}

int findSession(SSL* ssl, const unsigned char* identity, size_t len, SSL_SESSION** sess) {
  *sess = nullptr;
  if (len != sizeof(kIdentity) - 1 || std::memcmp(identity, kIdentity, len) != 0) {
    return 1;  // unknown identity: no PSK, and the handshake fails
  }
  *sess = makeSession(ssl);
  return *sess != nullptr ? 1 : 0;
}

// One context per role, made once; sessions differ only in their PSK.
SSL_CTX* context(TlsSession::Role role, Status* error) {
  static SSL_CTX* contexts[2] = {nullptr, nullptr};
  static std::once_flag once;
  static std::string initError;
  std::call_once(once, [] {
    gPskIndex = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    for (int r = 0; r < 2; ++r) {
      SSL_CTX* ctx = SSL_CTX_new(r == 0 ? TLS_client_method() : TLS_server_method());
      if (ctx == nullptr) {
        initError = sslErrors();
        return;
      }
      SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
      SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
      SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256");
      SSL_CTX_set_num_tickets(ctx, 0);
      // Read many records per recv() instead of a header and a body each.
      SSL_CTX_set_read_ahead(ctx, 1);
      SSL_CTX_set_default_read_buffer_len(ctx, kReadBufferBytes);
      SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
      // A peer process that exits (or is killed) closes without close_notify;
      // the tcp framing above (part headers, whole slots) tells a clean end
      // from a truncated one, so such a close reads as an ordinary EOF.
      SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_IGNORE_UNEXPECTED_EOF);
      if (r == 0) {
        SSL_CTX_set_psk_use_session_callback(ctx, useSession);
      } else {
        SSL_CTX_set_psk_find_session_callback(ctx, findSession);
      }
      contexts[r] = ctx;
    }
  });
  SSL_CTX* ctx = contexts[role == TlsSession::Role::kClient ? 0 : 1];
  if (ctx == nullptr) *error = InternalError("TLS context: ", initError);
  return ctx;
}

Status setNonBlocking(int fd) {
  int flags = fcntl(fd, F_GETFL, 0);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    return ErrnoError("fcntl(O_NONBLOCK)", errno);
  }
  return Status::Ok();
}

}  // namespace

struct TlsSession::Impl {
  SSL* ssl = nullptr;
  PskKey psk;
  bool usable = false;  // handshake done, no fatal error since
  short wants = POLLIN;   // what the handshake waits for
  // No close_notify on the way out: the socket may already be closed (and
  // its number reused); peers read a close without one as an ordinary EOF.
  ~Impl() {
    if (ssl != nullptr) SSL_free(ssl);
  }
};

bool tlsAvailable() { return true; }

TlsSession::TlsSession(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TlsSession::~TlsSession() = default;

StatusOr<std::unique_ptr<TlsSession>> TlsSession::begin(int fd, Role role, const Secret& secret,
                                                        Purpose purpose) {
  Status error;
  SSL_CTX* ctx = context(role, &error);
  if (ctx == nullptr) return error;
  auto impl = std::make_unique<Impl>();
  // The key: HMAC(secret, label | purpose); both ends hold the secret.
  uint8_t info[sizeof(kPskLabel) + 4];
  std::memcpy(info, kPskLabel, sizeof(kPskLabel));
  uint32_t p = static_cast<uint32_t>(purpose);
  std::memcpy(info + sizeof(kPskLabel), &p, 4);
  impl->psk.key = hmacSha256(secret.bytes.data(), secret.bytes.size(), info, sizeof info);
  impl->ssl = SSL_new(ctx);
  if (impl->ssl == nullptr) return InternalError("SSL_new: ", sslErrors());
  SSL_set_ex_data(impl->ssl, gPskIndex, &impl->psk);
  STRATA_RETURN_IF_ERROR(setNonBlocking(fd));
  if (SSL_set_fd(impl->ssl, fd) != 1) return InternalError("SSL_set_fd: ", sslErrors());
  if (role == Role::kClient) {
    SSL_set_connect_state(impl->ssl);
  } else {
    SSL_set_accept_state(impl->ssl);
  }
  return std::unique_ptr<TlsSession>(new TlsSession(std::move(impl)));
}

StatusOr<bool> TlsSession::step() {
  if (impl_->usable) return true;
  ERR_clear_error();
  errno = 0;
  int rc = SSL_do_handshake(impl_->ssl);
  if (rc == 1) {
    impl_->usable = true;
    return true;
  }
  int err = SSL_get_error(impl_->ssl, rc);
  if (err == SSL_ERROR_WANT_READ) {
    impl_->wants = POLLIN;
    return false;
  }
  if (err == SSL_ERROR_WANT_WRITE) {
    impl_->wants = POLLOUT;
    return false;
  }
  if (err == SSL_ERROR_SYSCALL || err == SSL_ERROR_ZERO_RETURN) {
    int saved = errno;
    std::string detail = ERR_peek_error() != 0 ? sslErrors()
                         : saved != 0          ? std::string(std::strerror(saved))
                                               : std::string("connection closed by peer");
    return RemoteError("TLS handshake failed: ", detail);
  }
  return RemoteError("TLS handshake failed (a different secret?): ", sslErrors());
}

short TlsSession::events() const { return impl_->wants; }

bool TlsSession::hasBuffered() const { return SSL_has_pending(impl_->ssl) == 1; }

StatusOr<std::unique_ptr<TlsSession>> TlsSession::handshake(int fd, Role role,
                                                            const Secret& secret, Purpose purpose,
                                                            Deadline deadline, io::Stop stop) {
  STRATA_ASSIGN_OR_RETURN(auto session, begin(fd, role, secret, purpose));
  for (;;) {
    STRATA_ASSIGN_OR_RETURN(bool done, session->step());
    if (done) return session;
    auto ready = io::waitFd(fd, session->events(), deadline, stop, "TLS handshake");
    if (!ready.ok()) return ready.status();
  }
}

StatusOr<size_t> TlsSession::send(const void* data, size_t bytes) {
  if (bytes == 0) return size_t{0};
  ERR_clear_error();
  size_t done = 0;
  errno = 0;
  int rc = SSL_write_ex(impl_->ssl, data, bytes, &done);
  if (rc == 1) return done;
  int err = SSL_get_error(impl_->ssl, rc);
  if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) return size_t{0};
  impl_->usable = false;
  if (err == SSL_ERROR_SYSCALL && errno != 0) return ErrnoError("TLS send", errno);
  return RemoteError("TLS send failed: ", sslErrors());
}

StatusOr<size_t> TlsSession::recv(void* data, size_t bytes, bool* eof) {
  *eof = false;
  if (bytes == 0) return size_t{0};
  ERR_clear_error();
  size_t done = 0;
  errno = 0;
  int rc = SSL_read_ex(impl_->ssl, data, bytes, &done);
  if (rc == 1) return done;
  int err = SSL_get_error(impl_->ssl, rc);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return size_t{0};
  if (err == SSL_ERROR_ZERO_RETURN) {
    *eof = true;
    return size_t{0};
  }
  impl_->usable = false;
  if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
    // The peer closed the socket without a TLS close_notify (a process that
    // exits does so): a close, as for a plain socket.
    if (errno == 0) {
      *eof = true;
      return size_t{0};
    }
    return ErrnoError("TLS receive", errno);
  }
  return RemoteError("TLS receive failed (a damaged or forged record): ", sslErrors());
}

#else  // !STRATA_HAVE_OPENSSL

struct TlsSession::Impl {};

bool tlsAvailable() { return false; }

TlsSession::TlsSession(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TlsSession::~TlsSession() = default;

StatusOr<std::unique_ptr<TlsSession>> TlsSession::begin(int, Role, const Secret&, Purpose) {
  return InvalidUsage("STRATA_TLS=1, but this build of Strata has no TLS (OpenSSL was not found "
                      "when it was configured; install libssl-dev and rebuild)");
}

StatusOr<std::unique_ptr<TlsSession>> TlsSession::handshake(int fd, Role role,
                                                            const Secret& secret, Purpose purpose,
                                                            Deadline, io::Stop) {
  return begin(fd, role, secret, purpose);
}

StatusOr<bool> TlsSession::step() { return InvalidUsage("TLS is not available in this build"); }
short TlsSession::events() const { return POLLIN; }
bool TlsSession::hasBuffered() const { return false; }

StatusOr<size_t> TlsSession::send(const void*, size_t) {
  return InvalidUsage("TLS is not available in this build");
}

StatusOr<size_t> TlsSession::recv(void*, size_t, bool*) {
  return InvalidUsage("TLS is not available in this build");
}

#endif

StatusOr<size_t> sendSomeOn(int fd, TlsSession* tls, const void* data, size_t bytes) {
  if (tls == nullptr) return io::sendSome(fd, data, bytes);
  return tls->send(data, bytes);
}

StatusOr<size_t> recvSomeOn(int fd, TlsSession* tls, void* data, size_t bytes) {
  if (tls == nullptr) return io::recvSome(fd, data, bytes);
  bool eof = false;
  STRATA_ASSIGN_OR_RETURN(size_t n, tls->recv(data, bytes, &eof));
  if (eof) return RemoteError("connection closed by peer");
  return n;
}

Status sendAllOn(int fd, TlsSession* tls, const void* data, size_t bytes, Deadline deadline,
                 io::Stop stop) {
  if (tls == nullptr) return io::sendAll(fd, data, bytes, deadline, stop);
  const auto* p = static_cast<const uint8_t*>(data);
  size_t done = 0;
  while (done < bytes) {
    STRATA_ASSIGN_OR_RETURN(size_t n, tls->send(p + done, bytes - done));
    done += n;
    if (n == 0) {
      auto ready = io::waitFd(fd, POLLOUT, deadline, stop, "sending");
      if (!ready.ok()) {
        Status s = ready.status();
        return s.withContext(strCat("sent ", done, " of ", bytes, " bytes"));
      }
    }
  }
  return Status::Ok();
}

Status recvAllOn(int fd, TlsSession* tls, void* data, size_t bytes, Deadline deadline,
                 io::Stop stop) {
  if (tls == nullptr) return io::recvAll(fd, data, bytes, deadline, stop);
  auto* p = static_cast<uint8_t*>(data);
  size_t done = 0;
  while (done < bytes) {
    STRATA_ASSIGN_OR_RETURN(size_t n, recvSomeOn(fd, tls, p + done, bytes - done));
    done += n;
    if (n == 0) {
      auto ready = io::waitFd(fd, POLLIN, deadline, stop, "receiving");
      if (!ready.ok()) {
        Status s = ready.status();
        return s.withContext(strCat("received ", done, " of ", bytes, " bytes"));
      }
    }
  }
  return Status::Ok();
}

}  // namespace strata::net
