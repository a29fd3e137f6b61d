// Mutual proof of a shared 128-bit secret on a fresh connection, before any
// other byte is read: HMAC-SHA-256 challenge/response with nonces from both
// sides, so the secret never crosses the wire and a recorded exchange cannot
// be replayed. Also the SHA-256/HMAC primitives and the secret type.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/deadline.h"
#include "core/status.h"
#include "net/socket.h"

namespace strata::net {

struct Secret {
  std::array<uint8_t, 16> bytes{};
  bool operator==(const Secret& o) const { return bytes == o.bytes; }
};

// Fills `out` from the kernel's random source (getrandom).
Status randomBytes(void* out, size_t n);

using Digest = std::array<uint8_t, 32>;
Digest sha256(const void* data, size_t n);
Digest hmacSha256(const void* key, size_t keyLen, const void* data, size_t n);
// Constant-time comparison.
bool digestEqual(const Digest& a, const Digest& b);

// What a connection is for; bound into the proof so a bootstrap handshake
// cannot be replayed as a data-connection handshake.
enum class Purpose : uint32_t { kBootstrapRoot = 1, kBootstrapPeer = 2, kTcpData = 3 };

// Client side: the connecting party. Fails (and the caller closes the socket)
// if the server cannot prove it holds the secret.
Status authenticateClient(Socket& sock, const Secret& secret, Purpose purpose, Deadline deadline,
                          const AbortFlag* abort = nullptr);
// Server side: the accepting party. Fails on any malformed or wrong proof.
Status authenticateServer(Socket& sock, const Secret& secret, Purpose purpose, Deadline deadline,
                          const AbortFlag* abort = nullptr);

}  // namespace strata::net
