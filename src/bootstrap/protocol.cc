#include "bootstrap/protocol.h"

#include <cstring>

#include "bootstrap/bootstrap.h"
#include "net/bytes.h"

namespace strata::bootstrap::proto {

using namespace net::wire;

void encodeHello(const Hello& h, uint8_t out[kHelloBytes]) {
  std::memset(out, 0, kHelloBytes);
  putU32(out, kHelloMagic);
  putU16(out + 4, kVersion);
  putU16(out + 6, kHello);
  putU32(out + 8, h.rank);
  putU32(out + 12, h.nranks);
  h.listener.encode(out + 16);
}

StatusOr<Hello> decodeHello(const uint8_t in[kHelloBytes]) {
  if (getU32(in) != kHelloMagic) return InvalidArgument("hello: bad magic");
  if (getU16(in + 4) != kVersion) {
    return InvalidArgument("hello: version ", getU16(in + 4), ", expected ", kVersion);
  }
  if (getU16(in + 6) != kHello || getU32(in + 36) != 0) {
    return InvalidArgument("hello: bad kind or reserved bytes");
  }
  Hello h;
  h.rank = getU32(in + 8);
  h.nranks = getU32(in + 12);
  if (h.nranks == 0 || h.nranks > static_cast<uint32_t>(kMaxRanks) || h.rank >= h.nranks) {
    return InvalidArgument("hello: rank ", h.rank, " of ", h.nranks, " is out of range");
  }
  auto addr = net::Address::decode(in + 16);
  if (!addr.ok()) {
    Status s = addr.status();
    return s.withContext("hello: listener address");
  }
  h.listener = *addr;
  return h;
}

void encodeReplyHeader(const ReplyHeader& h, uint8_t out[kReplyHeaderBytes]) {
  putU32(out, kReplyMagic);
  putU16(out + 4, kVersion);
  putU16(out + 6, h.kind);
  putU32(out + 8, h.count);
  putU32(out + 12, h.bodyBytes);
}

StatusOr<ReplyHeader> decodeReplyHeader(const uint8_t in[kReplyHeaderBytes]) {
  if (getU32(in) != kReplyMagic) return InvalidArgument("root reply: bad magic");
  if (getU16(in + 4) != kVersion) {
    return InvalidArgument("root reply: version ", getU16(in + 4), ", expected ", kVersion);
  }
  ReplyHeader h;
  h.kind = getU16(in + 6);
  h.count = getU32(in + 8);
  h.bodyBytes = getU32(in + 12);
  if (h.kind == kTable) {
    if (h.count == 0 || h.count > static_cast<uint32_t>(kMaxRanks) ||
        h.bodyBytes != h.count * net::Address::kWireBytes) {
      return InvalidArgument("root reply: table of ", h.count, " ranks in ", h.bodyBytes,
                             " bytes");
    }
  } else if (h.kind == kReject) {
    if (h.bodyBytes > kMaxReasonBytes) return InvalidArgument("root reply: reason too long");
  } else {
    return InvalidArgument("root reply: unknown kind ", h.kind);
  }
  return h;
}

void encodeMessageHeader(const MessageHeader& h, uint8_t out[kMessageHeaderBytes]) {
  putU32(out, kMessageMagic);
  putU16(out + 4, kVersion);
  putU16(out + 6, h.kind);
  putU32(out + 8, h.tag);
  putU32(out + 12, 0);
  putU64(out + 16, h.length);
}

StatusOr<MessageHeader> decodeMessageHeader(const uint8_t in[kMessageHeaderBytes]) {
  if (getU32(in) != kMessageMagic) return InvalidArgument("message: bad magic");
  if (getU16(in + 4) != kVersion) {
    return InvalidArgument("message: version ", getU16(in + 4), ", expected ", kVersion);
  }
  MessageHeader h;
  h.kind = getU16(in + 6);
  h.tag = getU32(in + 8);
  h.length = getU64(in + 16);
  if (h.kind != kConnect && h.kind != kUser && h.kind != kInternal) {
    return InvalidArgument("message: unknown kind ", h.kind);
  }
  if (getU32(in + 12) != 0) return InvalidArgument("message: reserved bytes set");
  if (h.length > kMaxMessageBytes) {
    return InvalidArgument("message: ", h.length, " bytes exceeds the limit of ",
                           kMaxMessageBytes);
  }
  if (h.kind == kConnect && h.length != kConnectBodyBytes) {
    return InvalidArgument("message: connect body of ", h.length, " bytes");
  }
  return h;
}

}  // namespace strata::bootstrap::proto
