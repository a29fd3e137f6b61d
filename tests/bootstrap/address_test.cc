// Address parsing and wire form; interface filters.
#include <gtest/gtest.h>

#include <cstring>

#include "bootstrap/test_util.h"
#include "net/socket.h"
#include "support/ranks.h"

namespace strata::net {
namespace {

using strata::testing::ScopedEnv;

TEST(Address, ParsesAndPrintsIpv4AndIpv6) {
  auto a = Address::parse("10.1.2.3:4567");
  ASSERT_OK(a.status());
  EXPECT_EQ(a->family(), AF_INET);
  EXPECT_EQ(a->port(), 4567);
  EXPECT_EQ(a->toString(), "10.1.2.3:4567");
  EXPECT_FALSE(a->isLoopback());

  auto b = Address::parse("[::1]:80");
  ASSERT_OK(b.status());
  EXPECT_EQ(b->family(), AF_INET6);
  EXPECT_EQ(b->toString(), "[::1]:80");
  EXPECT_TRUE(b->isLoopback());

  auto c = Address::parse("[fd00::2]:65535");
  ASSERT_OK(c.status());
  EXPECT_EQ(c->toString(), "[fd00::2]:65535");

  auto d = Address::parse("localhost:0");
  ASSERT_OK(d.status());
  EXPECT_TRUE(d->isLoopback());
  EXPECT_EQ(d->port(), 0);
}

TEST(Address, RejectsMalformedText) {
  for (const char* bad : {"", ":", "1.2.3.4", "1.2.3.4:", "1.2.3.4:65536", "1.2.3.4:-1",
                          "1.2.3.4:12x", "::1:80", "[::1]", "[::1]80", "[::1:80", "[]:80",
                          ":80", "1.2.3.4.5:80x"}) {
    auto a = Address::parse(bad);
    EXPECT_FALSE(a.ok()) << "'" << bad << "' parsed as " << (a.ok() ? a->toString() : "");
  }
}

TEST(Address, WireRoundTrip) {
  for (const char* text : {"127.0.0.1:1", "192.0.2.200:65535", "[::1]:5", "[2001:db8::17]:999"}) {
    auto a = Address::parse(text);
    ASSERT_OK(a.status());
    uint8_t wire[Address::kWireBytes];
    a->encode(wire);
    auto b = Address::decode(wire);
    ASSERT_OK(b.status());
    EXPECT_EQ(b->toString(), text);
    EXPECT_EQ(b->family(), a->family());
    EXPECT_EQ(b->len(), a->len());
  }
}

TEST(Address, DecodeRejectsGarbage) {
  auto a = Address::parse("10.0.0.1:77");
  ASSERT_OK(a.status());
  uint8_t wire[Address::kWireBytes];
  a->encode(wire);

  uint8_t bad[Address::kWireBytes];
  std::memcpy(bad, wire, sizeof bad);
  bad[1] = 5;  // unknown family
  EXPECT_FALSE(Address::decode(bad).ok());
  std::memcpy(bad, wire, sizeof bad);
  bad[2] = bad[3] = 0;  // port 0
  EXPECT_FALSE(Address::decode(bad).ok());
  std::memcpy(bad, wire, sizeof bad);
  bad[19] = 1;  // stray bytes after an IPv4 address
  EXPECT_FALSE(Address::decode(bad).ok());
  std::memset(bad, 0, sizeof bad);
  EXPECT_FALSE(Address::decode(bad).ok());

  // An empty address encodes to something decode refuses.
  Address empty;
  empty.encode(bad);
  EXPECT_FALSE(Address::decode(bad).ok());
  EXPECT_EQ(empty.family(), AF_UNSPEC);
}

TEST(InterfaceFilter, PrefixExcludeAndExact) {
  EXPECT_TRUE(interfaceMatches("", "eth0"));
  EXPECT_TRUE(interfaceMatches("eth", "eth0"));
  EXPECT_TRUE(interfaceMatches("ib,eth", "eth1"));
  EXPECT_FALSE(interfaceMatches("ib,eth", "lo"));
  EXPECT_FALSE(interfaceMatches("^docker,lo", "docker0"));
  EXPECT_FALSE(interfaceMatches("^docker,lo", "lo"));
  EXPECT_TRUE(interfaceMatches("^docker,lo", "eth0"));
  EXPECT_TRUE(interfaceMatches("=eth0", "eth0"));
  EXPECT_FALSE(interfaceMatches("=eth0", "eth01"));
  EXPECT_FALSE(interfaceMatches("^=eth0", "eth0"));
  EXPECT_TRUE(interfaceMatches("^=eth0", "eth01"));
  EXPECT_TRUE(interfaceMatches("eth,", "eth2"));
  EXPECT_TRUE(interfaceMatches("^", "anything"));
}

TEST(Interfaces, DefaultAvoidsLoopbackWhenSomethingElseExists) {
  auto all = findInterfaces();
  ASSERT_OK(all.status());
  ASSERT_FALSE(all->empty());
  bool firstIsLoopback = all->front().address.isLoopback();
  for (const auto& i : *all) {
    EXPECT_EQ(i.address.isLoopback(), firstIsLoopback) << "loopback mixed with " << i.name;
  }
}

TEST(Interfaces, FilterSelectsLoopback) {
  ScopedEnv ifname("STRATA_SOCKET_IFNAME", "=lo");
  ScopedEnv family("STRATA_SOCKET_FAMILY", "AF_INET");
  auto lo = findInterfaces();
  ASSERT_OK(lo.status());
  for (const auto& i : *lo) {
    EXPECT_EQ(i.name, "lo");
    EXPECT_EQ(i.address.family(), AF_INET);
    EXPECT_TRUE(i.address.isLoopback());
  }
}

TEST(Interfaces, NothingMatchesIsAnError) {
  ScopedEnv ifname("STRATA_SOCKET_IFNAME", "=no-such-interface");
  EXPECT_FALSE(findInterfaces().ok());
  ScopedEnv family("STRATA_SOCKET_FAMILY", "AF_BOGUS");
  EXPECT_EQ(findInterfaces().status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace strata::net
