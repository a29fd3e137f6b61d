// Fuzzes the bootstrap decoders: the unique id (binary and hex), the rank's
// hello to the root, the root's reply header, the peer message header and
// the address wire form. The first input byte picks the decoder; the rest
// is its input. Besides not crashing, every accepted input must be in its
// canonical form (encoding what was decoded gives the same bytes back) and
// satisfy the limits the decoder promises.
#include <cstring>

#include "bootstrap/bootstrap.h"
#include "bootstrap/protocol.h"
#include "fuzz_util.h"
#include "net/socket.h"

namespace {

using namespace strata;
namespace proto = strata::bootstrap::proto;
using fuzz::Input;

constexpr const char* kName = "fuzz_bootstrap";

enum Mode : uint8_t { kUniqueId, kUniqueIdHex, kHello, kReply, kMessage, kAddress, kModes };

void uniqueId(Input& in) {
  uint8_t raw[bootstrap::kUniqueIdBytes];
  in.fill(raw, sizeof raw);
  auto id = bootstrap::UniqueId::decode(raw);
  if (!id.ok()) return;
  uint8_t again[bootstrap::kUniqueIdBytes];
  id->encode(again);
  FUZZ_CHECK(kName, std::memcmp(raw, again, sizeof raw) == 0);
  auto back = bootstrap::UniqueId::fromHex(id->toHex());
  FUZZ_CHECK(kName, back.ok());
  FUZZ_CHECK(kName, back->secret == id->secret && back->nonce == id->nonce);
}

void uniqueIdHex(Input& in) {
  std::string text = in.take(2 * bootstrap::kUniqueIdBytes + 2);
  auto id = bootstrap::UniqueId::fromHex(text);
  if (!id.ok()) return;
  std::string hex = id->toHex();
  FUZZ_CHECK(kName, hex.size() == text.size());
  for (size_t i = 0; i < hex.size(); ++i) {
    char c = text[i];
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    FUZZ_CHECK(kName, hex[i] == c);
  }
}

void hello(Input& in) {
  uint8_t raw[proto::kHelloBytes];
  in.fill(raw, sizeof raw);
  auto h = proto::decodeHello(raw);
  if (!h.ok()) return;
  FUZZ_CHECK(kName, h->nranks >= 1 && h->nranks <= static_cast<uint32_t>(proto::kMaxRanks));
  FUZZ_CHECK(kName, h->rank < h->nranks);
  FUZZ_CHECK(kName, h->listener.port() != 0);
  uint8_t again[proto::kHelloBytes];
  proto::encodeHello(*h, again);
  FUZZ_CHECK(kName, std::memcmp(raw, again, sizeof raw) == 0);
}

void reply(Input& in) {
  uint8_t raw[proto::kReplyHeaderBytes];
  in.fill(raw, sizeof raw);
  auto h = proto::decodeReplyHeader(raw);
  if (!h.ok()) return;
  if (h->kind == proto::kTable) {
    FUZZ_CHECK(kName, h->count >= 1 && h->count <= static_cast<uint32_t>(proto::kMaxRanks));
    FUZZ_CHECK(kName, h->bodyBytes == uint64_t{h->count} * net::Address::kWireBytes);
  } else {
    FUZZ_CHECK(kName, h->kind == proto::kReject);
    FUZZ_CHECK(kName, h->bodyBytes <= proto::kMaxReasonBytes);
  }
  uint8_t again[proto::kReplyHeaderBytes];
  proto::encodeReplyHeader(*h, again);
  FUZZ_CHECK(kName, std::memcmp(raw, again, sizeof raw) == 0);
  // The table body is a run of addresses; decode what the input still holds.
  if (h->kind == proto::kTable) {
    for (uint32_t r = 0; r < h->count && in.left() >= net::Address::kWireBytes; ++r) {
      uint8_t addr[net::Address::kWireBytes];
      in.fill(addr, sizeof addr);
      (void)net::Address::decode(addr);
    }
  }
}

void message(Input& in) {
  uint8_t raw[proto::kMessageHeaderBytes];
  in.fill(raw, sizeof raw);
  auto h = proto::decodeMessageHeader(raw);
  if (!h.ok()) return;
  FUZZ_CHECK(kName, h->length <= bootstrap::kMaxMessageBytes);
  FUZZ_CHECK(kName, h->kind == proto::kConnect || h->kind == proto::kUser ||
                        h->kind == proto::kInternal);
  if (h->kind == proto::kConnect) FUZZ_CHECK(kName, h->length == proto::kConnectBodyBytes);
  uint8_t again[proto::kMessageHeaderBytes];
  proto::encodeMessageHeader(*h, again);
  FUZZ_CHECK(kName, std::memcmp(raw, again, sizeof raw) == 0);
}

void address(Input& in) {
  uint8_t raw[net::Address::kWireBytes];
  in.fill(raw, sizeof raw);
  auto a = net::Address::decode(raw);
  if (!a.ok()) return;
  FUZZ_CHECK(kName, a->port() != 0);
  FUZZ_CHECK(kName, a->family() == AF_INET || a->family() == AF_INET6);
  FUZZ_CHECK(kName, !a->toString().empty());
  uint8_t again[net::Address::kWireBytes];
  a->encode(again);
  FUZZ_CHECK(kName, std::memcmp(raw, again, sizeof raw) == 0);
}

std::string withMode(Mode m, const uint8_t* p, size_t n) {
  return fuzz::SeedWriter().u8(m).bytes(p, n).str();
}

std::vector<std::string> seeds() {
  std::vector<std::string> out;
  net::Address v4 = net::Address::parse("10.77.0.1:29500").value();
  net::Address v6 = net::Address::parse("[fd00::7]:4242").value();

  bootstrap::UniqueId id;
  id.root = v4;
  for (size_t i = 0; i < id.secret.bytes.size(); ++i) {
    id.secret.bytes[i] = static_cast<uint8_t>(i * 17);
  }
  id.nonce = 0x0123456789abcdefull;
  uint8_t raw[bootstrap::kUniqueIdBytes];
  id.encode(raw);
  out.push_back(withMode(kUniqueId, raw, sizeof raw));
  std::string hex = id.toHex();
  out.push_back(fuzz::SeedWriter().u8(kUniqueIdHex).bytes(hex.data(), hex.size()).str());
  id.root = v6;
  id.encode(raw);
  out.push_back(withMode(kUniqueId, raw, sizeof raw));

  uint8_t h[proto::kHelloBytes];
  proto::encodeHello({3, 8, v4}, h);
  out.push_back(withMode(kHello, h, sizeof h));
  proto::encodeHello({0, 1, v6}, h);
  out.push_back(withMode(kHello, h, sizeof h));

  uint8_t r[proto::kReplyHeaderBytes];
  proto::encodeReplyHeader({proto::kTable, 2, 2 * net::Address::kWireBytes}, r);
  std::string table = withMode(kReply, r, sizeof r);
  uint8_t a[net::Address::kWireBytes];
  v4.encode(a);
  table.append(reinterpret_cast<const char*>(a), sizeof a);
  v6.encode(a);
  table.append(reinterpret_cast<const char*>(a), sizeof a);
  out.push_back(table);
  proto::encodeReplyHeader({proto::kReject, proto::kDuplicateRank, 12}, r);
  out.push_back(withMode(kReply, r, sizeof r) + "rank 3 twice");

  uint8_t m[proto::kMessageHeaderBytes];
  proto::encodeMessageHeader({proto::kConnect, 5, proto::kConnectBodyBytes}, m);
  out.push_back(withMode(kMessage, m, sizeof m));
  proto::encodeMessageHeader({proto::kUser, 77, 4096}, m);
  out.push_back(withMode(kMessage, m, sizeof m));
  proto::encodeMessageHeader({proto::kInternal, 1, 0}, m);
  out.push_back(withMode(kMessage, m, sizeof m));

  v4.encode(a);
  out.push_back(withMode(kAddress, a, sizeof a));
  v6.encode(a);
  out.push_back(withMode(kAddress, a, sizeof a));
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::initTarget(kName, seeds);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  Input in(data + 1, size - 1);
  switch (data[0] % kModes) {
    case kUniqueId: uniqueId(in); break;
    case kUniqueIdHex: uniqueIdHex(in); break;
    case kHello: hello(in); break;
    case kReply: reply(in); break;
    case kMessage: message(in); break;
    case kAddress: address(in); break;
  }
  return 0;
}
