// Bootstrap wire formats, private to src/bootstrap. All integers are in
// network byte order (net/bytes.h); every message starts with a magic and a
// version and has a bounded length.
//
// Rank -> root, after the kBootstrapRoot handshake (RootHello, 40 bytes):
//   magic u32 | version u16 | kind u16 (=kHello) | rank u32 | nranks u32 |
//   listener address (Address wire form, 20) | reserved u32 (0)
// Root -> rank (RootReply header, 16 bytes, then the body):
//   magic u32 | version u16 | kind u16 (kTable or kReject) | count u32 | body bytes u32
//   kTable:  count = nranks, body = nranks addresses of 20 bytes in rank order
//   kReject: count = reason code, body = reason text (at most kMaxReasonBytes)
// Rank -> rank, after the kBootstrapPeer handshake, a stream of messages,
// each a MessageHeader (24 bytes) and `length` payload bytes:
//   magic u32 | version u16 | kind u16 | tag u32 | reserved u32 (0) | length u64
//   The first message on a connection is kConnect (tag = sender's rank,
//   payload ConnectBody: receiver's rank u32 | nranks u32 | commHash u64);
//   then kUser (tags from Bootstrap::send) and kInternal (collectives).
#pragma once

#include <cstddef>
#include <cstdint>

#include "net/socket.h"

namespace strata::bootstrap::proto {

inline constexpr uint16_t kVersion = 1;
inline constexpr uint32_t kHelloMagic = 0x53544248;    // "STBH"
inline constexpr uint32_t kReplyMagic = 0x53544252;    // "STBR"
inline constexpr uint32_t kMessageMagic = 0x5354424d;  // "STBM"

inline constexpr int kMaxRanks = 1 << 20;
inline constexpr size_t kMaxReasonBytes = 256;

enum RootKind : uint16_t { kHello = 1, kTable = 2, kReject = 3 };
enum RejectReason : uint32_t {
  kBadHello = 1,
  kDuplicateRank = 2,
  kNranksMismatch = 3,
  kTimedOut = 4,  // not every rank arrived within STRATA_TIMEOUT
};

inline constexpr size_t kHelloBytes = 40;
inline constexpr size_t kReplyHeaderBytes = 16;
inline constexpr size_t kMessageHeaderBytes = 24;
inline constexpr size_t kConnectBodyBytes = 16;

enum MessageKind : uint16_t { kConnect = 1, kUser = 2, kInternal = 3 };

struct Hello {
  uint32_t rank = 0;
  uint32_t nranks = 0;
  net::Address listener;
};

struct MessageHeader {
  uint16_t kind = 0;
  uint32_t tag = 0;
  uint64_t length = 0;
};

void encodeHello(const Hello& h, uint8_t out[kHelloBytes]);
// Validates the fixed fields, the rank range and the address.
StatusOr<Hello> decodeHello(const uint8_t in[kHelloBytes]);

struct ReplyHeader {
  uint16_t kind = 0;
  uint32_t count = 0;
  uint32_t bodyBytes = 0;
};

void encodeReplyHeader(const ReplyHeader& h, uint8_t out[kReplyHeaderBytes]);
// Validates magic, version, kind and that the body size fits the kind.
StatusOr<ReplyHeader> decodeReplyHeader(const uint8_t in[kReplyHeaderBytes]);

void encodeMessageHeader(const MessageHeader& h, uint8_t out[kMessageHeaderBytes]);
// Validates magic, version, kind, reserved bits and length <= kMaxMessageBytes.
StatusOr<MessageHeader> decodeMessageHeader(const uint8_t in[kMessageHeaderBytes]);

}  // namespace strata::bootstrap::proto
