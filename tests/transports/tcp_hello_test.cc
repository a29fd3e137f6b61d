// The hello a tcp data connection opens with: encoding and the receiver's
// checks, one rejection reason at a time.
#include <gtest/gtest.h>

#include <cstring>

#include "transports/tcp_transport.h"
#include "transports/wire.h"

namespace strata::transport {
namespace {

TcpConfig receiverConfig() {
  TcpConfig c;
  c.rank = 2;
  c.nranks = 4;
  c.nchannels = 2;
  c.commHash = 0x0123456789abcdefull;
  c.local = TcpParams{4096, 8, 3};
  c.tcpPeers = {true, true, false, true};
  return c;
}

TcpHello goodHello() {
  TcpHello h;
  h.commHash = 0x0123456789abcdefull;
  h.src = 1;
  h.dst = 2;
  h.channel = 1;
  h.socket = 2;
  h.params = TcpParams{4096, 8, 3};
  return h;
}

HelloReject check(const TcpHello& h, const TcpConfig& c = receiverConfig()) {
  uint8_t raw[kHelloBytes];
  encodeTcpHello(h, raw);
  TcpHello out;
  return checkTcpHello(raw, c, &out);
}

TEST(TcpHello, EncodesAndAcceptsItsOwnFields) {
  uint8_t raw[kHelloBytes];
  encodeTcpHello(goodHello(), raw);
  EXPECT_EQ(wire::getU32(raw), kHelloMagic);
  EXPECT_EQ(wire::getU32(raw + 4), kTcpVersion);
  TcpHello out;
  ASSERT_EQ(checkTcpHello(raw, receiverConfig(), &out), kAccepted);
  EXPECT_EQ(out.commHash, 0x0123456789abcdefull);
  EXPECT_EQ(out.src, 1u);
  EXPECT_EQ(out.dst, 2u);
  EXPECT_EQ(out.channel, 1u);
  EXPECT_EQ(out.socket, 2u);
  EXPECT_EQ(out.params.nsocks, 3u);
  EXPECT_EQ(out.params.nslots, 8u);
  EXPECT_EQ(out.params.slotBytes, 4096u);
  uint8_t again[kHelloBytes];
  encodeTcpHello(out, again);
  EXPECT_EQ(std::memcmp(raw, again, kHelloBytes), 0);
}

TEST(TcpHello, RejectsEachMismatch) {
  uint8_t raw[kHelloBytes];
  TcpHello out;
  encodeTcpHello(goodHello(), raw);
  raw[0] ^= 1;
  EXPECT_EQ(checkTcpHello(raw, receiverConfig(), &out), kBadMagic);
  encodeTcpHello(goodHello(), raw);
  wire::putU32(raw + 4, kTcpVersion + 1);
  EXPECT_EQ(checkTcpHello(raw, receiverConfig(), &out), kBadVersion);

  TcpHello h = goodHello();
  h.commHash ^= 1;
  EXPECT_EQ(check(h), kWrongCommunicator);
  h = goodHello();
  h.dst = 3;
  EXPECT_EQ(check(h), kWrongCommunicator);
  h = goodHello();
  h.src = 4;  // not a rank
  EXPECT_EQ(check(h), kUnknownRank);
  h.src = 2;  // a rank that does not use tcp toward this one
  EXPECT_EQ(check(h), kUnknownRank);
  h = goodHello();
  h.channel = 2;
  EXPECT_EQ(check(h), kBadChannel);
  h = goodHello();
  h.socket = 3;
  EXPECT_EQ(check(h), kBadGeometry);
  h = goodHello();
  h.params.nsocks = 4;
  EXPECT_EQ(check(h), kBadGeometry);
  h = goodHello();
  h.params.nslots = 7;
  EXPECT_EQ(check(h), kBadGeometry);
  h = goodHello();
  h.params.slotBytes = 8192;
  EXPECT_EQ(check(h), kBadGeometry);
}

TEST(TcpHello, SenderOutsideAShortPeerTableIsUnknown) {
  TcpConfig c = receiverConfig();
  c.tcpPeers.resize(1);  // fewer entries than ranks: never read past them
  EXPECT_EQ(check(goodHello(), c), kUnknownRank);
  TcpHello h = goodHello();
  h.src = 0;
  EXPECT_EQ(check(h, c), kAccepted);
}

}  // namespace
}  // namespace strata::transport
