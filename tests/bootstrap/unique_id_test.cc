// Unique id encoding: round trips and rejection of anything malformed.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "bootstrap/bootstrap.h"
#include "bootstrap/test_util.h"

namespace strata::bootstrap {
namespace {

UniqueId sampleId(const char* addr) {
  UniqueId id;
  id.root = *net::Address::parse(addr);
  for (size_t i = 0; i < id.secret.bytes.size(); ++i) {
    id.secret.bytes[i] = static_cast<uint8_t>(i * 13 + 1);
  }
  id.nonce = 0x0123456789abcdefull;
  return id;
}

TEST(UniqueId, BinaryAndHexRoundTrip) {
  for (const char* addr : {"192.0.2.7:29500", "[2001:db8::1]:443"}) {
    UniqueId id = sampleId(addr);
    uint8_t raw[kUniqueIdBytes];
    id.encode(raw);
    auto back = UniqueId::decode(raw);
    ASSERT_OK(back.status());
    EXPECT_EQ(back->root.toString(), addr);
    EXPECT_EQ(back->secret, id.secret);
    EXPECT_EQ(back->nonce, id.nonce);

    std::string hex = id.toHex();
    EXPECT_EQ(hex.size(), 2 * kUniqueIdBytes);
    auto fromHex = UniqueId::fromHex(hex);
    ASSERT_OK(fromHex.status());
    EXPECT_EQ(fromHex->toHex(), hex);
    for (char& c : hex) c = static_cast<char>(std::toupper(c));
    EXPECT_OK(UniqueId::fromHex(hex).status());
  }
}

TEST(UniqueId, EveryBitFlipIsRejected) {
  uint8_t raw[kUniqueIdBytes];
  sampleId("10.0.0.1:1234").encode(raw);
  for (size_t byte = 0; byte < kUniqueIdBytes; ++byte) {
    for (int bit = 0; bit < 8; bit += 3) {
      uint8_t bad[kUniqueIdBytes];
      std::memcpy(bad, raw, sizeof bad);
      bad[byte] ^= static_cast<uint8_t>(1 << bit);
      auto id = UniqueId::decode(bad);
      EXPECT_EQ(id.status().code(), Code::kInvalidArgument) << "byte " << byte << " bit " << bit;
    }
  }
}

TEST(UniqueId, RandomGarbageIsRejected) {
  std::mt19937_64 rng(12345);
  uint8_t raw[kUniqueIdBytes];
  for (int trial = 0; trial < 2000; ++trial) {
    for (auto& b : raw) b = static_cast<uint8_t>(rng());
    EXPECT_EQ(UniqueId::decode(raw).status().code(), Code::kInvalidArgument) << trial;
  }
  // A valid id with one used byte changed to a different value.
  uint8_t good[kUniqueIdBytes];
  sampleId("10.0.0.1:1").encode(good);
  for (int trial = 0; trial < 2000; ++trial) {
    std::memcpy(raw, good, sizeof raw);
    size_t at = rng() % 60;
    raw[at] = static_cast<uint8_t>(raw[at] + 1 + rng() % 255);
    EXPECT_EQ(UniqueId::decode(raw).status().code(), Code::kInvalidArgument) << trial;
  }
  std::memset(raw, 0, sizeof raw);
  EXPECT_FALSE(UniqueId::decode(raw).ok());
}

TEST(UniqueId, BadHexIsRejected) {
  std::string hex = sampleId("10.0.0.1:1").toHex();
  EXPECT_FALSE(UniqueId::fromHex("").ok());
  EXPECT_FALSE(UniqueId::fromHex(hex.substr(1)).ok());
  EXPECT_FALSE(UniqueId::fromHex(hex + "00").ok());
  std::string bad = hex;
  bad[17] = 'g';
  EXPECT_EQ(UniqueId::fromHex(bad).status().code(), Code::kInvalidArgument);
  bad = hex;
  bad[0] = bad[0] == '0' ? '1' : '0';
  EXPECT_EQ(UniqueId::fromHex(bad).status().code(), Code::kInvalidArgument);
}

TEST(UniqueId, CreateGivesFreshSecretsAndAReachableRoot) {
  auto a = createUniqueId();
  auto b = createUniqueId();
  ASSERT_OK(a.status());
  ASSERT_OK(b.status());
  EXPECT_FALSE(a->secret == b->secret);
  EXPECT_NE(a->nonce, b->nonce);
  EXPECT_NE(a->root.port(), 0);
  auto sock = net::Socket::connect(a->root, Deadline::after(std::chrono::seconds(5)));
  EXPECT_OK(sock.status());
}

}  // namespace
}  // namespace strata::bootstrap
