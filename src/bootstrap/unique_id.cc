// The unique id (128 bytes, what ncclGetUniqueId hands out):
//   magic u32 "STID" | version u16 | reserved u16 (0) | root address (20) |
//   secret (16) | nonce u64 | check u64 | zeros to 128 bytes
// check is the first 8 bytes of SHA-256 over everything before it, so a
// corrupted or foreign id is rejected instead of sending ranks astray.
#include <cstring>

#include "bootstrap/bootstrap.h"
#include "bootstrap/root.h"
#include "core/config.h"
#include "core/log.h"
#include "net/bytes.h"

namespace strata::bootstrap {
namespace {

constexpr uint32_t kIdMagic = 0x53544944;  // "STID"
constexpr uint16_t kIdVersion = 1;
constexpr size_t kAddrAt = 8;
constexpr size_t kSecretAt = kAddrAt + net::Address::kWireBytes;
constexpr size_t kNonceAt = kSecretAt + sizeof(net::Secret::bytes);
constexpr size_t kCheckAt = kNonceAt + 8;
constexpr size_t kUsedBytes = kCheckAt + 8;
static_assert(kUsedBytes <= kUniqueIdBytes);

uint64_t checkOf(const uint8_t* id) {
  net::Digest d = net::sha256(id, kCheckAt);
  return net::wire::getU64(d.data());
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Listens on STRATA_COMM_ID if set, else on any port of the first interface.
StatusOr<net::Socket> listenForRoot() {
  net::Address where;
  std::string commId = config::getString("STRATA_COMM_ID");
  if (!commId.empty()) {
    auto parsed = net::Address::parse(commId);
    if (!parsed.ok()) {
      Status s = parsed.status();
      return s.withContext("STRATA_COMM_ID");
    }
    where = *parsed;
  } else {
    STRATA_ASSIGN_OR_RETURN(auto ifaces, net::findInterfaces());
    where = ifaces.front().address;
    where.setPort(0);
  }
  auto sock = net::Socket::listen(where);
  if (!sock.ok()) {
    Status s = sock.status();
    return s.withContext("starting the bootstrap root");
  }
  return sock;
}

}  // namespace

void UniqueId::encode(uint8_t out[kUniqueIdBytes]) const {
  std::memset(out, 0, kUniqueIdBytes);
  net::wire::putU32(out, kIdMagic);
  net::wire::putU16(out + 4, kIdVersion);
  root.encode(out + kAddrAt);
  std::memcpy(out + kSecretAt, secret.bytes.data(), secret.bytes.size());
  net::wire::putU64(out + kNonceAt, nonce);
  net::wire::putU64(out + kCheckAt, checkOf(out));
}

StatusOr<UniqueId> UniqueId::decode(const uint8_t in[kUniqueIdBytes]) {
  if (net::wire::getU32(in) != kIdMagic) {
    return InvalidArgument("unique id: not a Strata unique id (bad magic)");
  }
  if (net::wire::getU16(in + 4) != kIdVersion) {
    return InvalidArgument("unique id: version ", net::wire::getU16(in + 4), ", expected ",
                           kIdVersion);
  }
  if (net::wire::getU16(in + 6) != 0 || !net::wire::allZero(in + kUsedBytes,
                                                             kUniqueIdBytes - kUsedBytes)) {
    return InvalidArgument("unique id: reserved bytes are not zero");
  }
  if (net::wire::getU64(in + kCheckAt) != checkOf(in)) {
    return InvalidArgument("unique id: checksum mismatch (corrupted id)");
  }
  auto addr = net::Address::decode(in + kAddrAt);
  if (!addr.ok()) {
    Status s = addr.status();
    return s.withContext("unique id: root address");
  }
  UniqueId id;
  id.root = *addr;
  std::memcpy(id.secret.bytes.data(), in + kSecretAt, id.secret.bytes.size());
  id.nonce = net::wire::getU64(in + kNonceAt);
  return id;
}

std::string UniqueId::toHex() const {
  static constexpr char kDigits[] = "0123456789abcdef";
  uint8_t raw[kUniqueIdBytes];
  encode(raw);
  std::string out(2 * kUniqueIdBytes, '0');
  for (size_t i = 0; i < kUniqueIdBytes; ++i) {
    out[2 * i] = kDigits[raw[i] >> 4];
    out[2 * i + 1] = kDigits[raw[i] & 15];
  }
  return out;
}

StatusOr<UniqueId> UniqueId::fromHex(const std::string& hex) {
  if (hex.size() != 2 * kUniqueIdBytes) {
    return InvalidArgument("unique id: expected ", 2 * kUniqueIdBytes, " hex digits, got ",
                           hex.size());
  }
  uint8_t raw[kUniqueIdBytes];
  for (size_t i = 0; i < kUniqueIdBytes; ++i) {
    int hi = hexValue(hex[2 * i]);
    int lo = hexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return InvalidArgument("unique id: '", hex.substr(2 * i, 2),
                                                 "' is not hexadecimal");
    raw[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return decode(raw);
}

StatusOr<UniqueId> createUniqueId() {
  UniqueId id;
  STRATA_RETURN_IF_ERROR(net::randomBytes(id.secret.bytes.data(), id.secret.bytes.size()));
  STRATA_RETURN_IF_ERROR(net::randomBytes(&id.nonce, sizeof id.nonce));
  STRATA_ASSIGN_OR_RETURN(net::Socket listener, listenForRoot());
  STRATA_ASSIGN_OR_RETURN(id.root, listener.localAddress());
  STRATA_RETURN_IF_ERROR(launchRoot(std::move(listener), id.secret));
  return id;
}

Status startRoot(const UniqueId& id) {
  auto listener = net::Socket::listen(id.root);
  if (!listener.ok()) {
    Status s = listener.status();
    return s.withContext("starting the bootstrap root");
  }
  return launchRoot(std::move(*listener), id.secret);
}

}  // namespace strata::bootstrap
