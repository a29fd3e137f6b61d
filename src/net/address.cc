// Address: an IPv4 or IPv6 endpoint, its text form and its fixed wire form.
#include <arpa/inet.h>
#include <netdb.h>

#include <cstring>

#include "net/bytes.h"
#include "net/socket.h"

namespace strata::net {
namespace {

// Family codes on the wire (independent of the platform's AF_* values).
constexpr uint16_t kWireInet = 4;
constexpr uint16_t kWireInet6 = 6;

bool parsePort(const std::string& text, uint16_t* port) {
  if (text.empty() || text.size() > 5) return false;
  unsigned value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value > 65535) return false;
  *port = static_cast<uint16_t>(value);
  return true;
}

}  // namespace

Address::Address() : len_(0) {
  std::memset(&ss_, 0, sizeof ss_);
  ss_.ss_family = AF_UNSPEC;
}

StatusOr<Address> Address::parse(const std::string& text) {
  std::string host;
  std::string portText;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return InvalidArgument("bad address '", text, "': expected [ipv6]:port");
    }
    host = text.substr(1, close - 1);
    portText = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos) {
      return InvalidArgument("bad address '", text, "': expected host:port");
    }
    host = text.substr(0, colon);
    portText = text.substr(colon + 1);
    if (host.find(':') != std::string::npos) {
      return InvalidArgument("bad address '", text, "': write IPv6 addresses as [addr]:port");
    }
  }
  uint16_t port = 0;
  if (host.empty() || !parsePort(portText, &port)) {
    return InvalidArgument("bad address '", text, "': expected host:port with port 0-65535");
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &found);
  if (rc != 0) {
    return InvalidArgument("cannot resolve '", host, "': ", gai_strerror(rc));
  }
  Address out;
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6) {
      out = fromSockaddr(ai->ai_addr, ai->ai_addrlen);
      break;
    }
  }
  freeaddrinfo(found);
  if (out.family() == AF_UNSPEC) {
    return InvalidArgument("'", host, "' has no IPv4 or IPv6 address");
  }
  out.setPort(port);
  return out;
}

Address Address::fromSockaddr(const sockaddr* sa, socklen_t len) {
  Address out;
  if (sa == nullptr) return out;
  if (sa->sa_family == AF_INET && len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    std::memcpy(&out.ss_, sa, sizeof(sockaddr_in));
    out.len_ = sizeof(sockaddr_in);
  } else if (sa->sa_family == AF_INET6 && len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    std::memcpy(&out.ss_, sa, sizeof(sockaddr_in6));
    out.len_ = sizeof(sockaddr_in6);
  }
  return out;
}

std::string Address::toString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (ss_.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&ss_);
    inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
    return strCat(buf, ":", port());
  }
  if (ss_.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss_);
    inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
    return strCat("[", buf, "]:", port());
  }
  return "<no address>";
}

int Address::family() const { return ss_.ss_family; }

uint16_t Address::port() const {
  if (ss_.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&ss_)->sin_port);
  if (ss_.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&ss_)->sin6_port);
  }
  return 0;
}

void Address::setPort(uint16_t port) {
  if (ss_.ss_family == AF_INET) reinterpret_cast<sockaddr_in*>(&ss_)->sin_port = htons(port);
  if (ss_.ss_family == AF_INET6) reinterpret_cast<sockaddr_in6*>(&ss_)->sin6_port = htons(port);
}

bool Address::isLoopback() const {
  if (ss_.ss_family == AF_INET) {
    uint32_t a = ntohl(reinterpret_cast<const sockaddr_in*>(&ss_)->sin_addr.s_addr);
    return (a >> 24) == 127;
  }
  if (ss_.ss_family == AF_INET6) {
    const in6_addr& a = reinterpret_cast<const sockaddr_in6*>(&ss_)->sin6_addr;
    if (IN6_IS_ADDR_LOOPBACK(&a)) return true;
    return IN6_IS_ADDR_V4MAPPED(&a) && a.s6_addr[12] == 127;
  }
  return false;
}

// Wire form: family code (2 bytes), port (2), address (16; IPv4 uses the
// first 4 and zeros the rest). All in network byte order.
void Address::encode(uint8_t out[kWireBytes]) const {
  std::memset(out, 0, kWireBytes);
  if (ss_.ss_family == AF_INET) {
    wire::putU16(out, kWireInet);
    wire::putU16(out + 2, port());
    std::memcpy(out + 4, &reinterpret_cast<const sockaddr_in*>(&ss_)->sin_addr, 4);
  } else if (ss_.ss_family == AF_INET6) {
    wire::putU16(out, kWireInet6);
    wire::putU16(out + 2, port());
    std::memcpy(out + 4, &reinterpret_cast<const sockaddr_in6*>(&ss_)->sin6_addr, 16);
  }
}

StatusOr<Address> Address::decode(const uint8_t in[kWireBytes]) {
  uint16_t family = wire::getU16(in);
  uint16_t port = wire::getU16(in + 2);
  if (port == 0) return InvalidArgument("encoded address has port 0");
  Address out;
  if (family == kWireInet) {
    if (!wire::allZero(in + 8, 12)) {
      return InvalidArgument("encoded IPv4 address has stray bytes");
    }
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    std::memcpy(&sin.sin_addr, in + 4, 4);
    return fromSockaddr(reinterpret_cast<const sockaddr*>(&sin), sizeof sin);
  }
  if (family == kWireInet6) {
    sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(port);
    std::memcpy(&sin6.sin6_addr, in + 4, 16);
    return fromSockaddr(reinterpret_cast<const sockaddr*>(&sin6), sizeof sin6);
  }
  return InvalidArgument("encoded address has unknown family ", family);
}

}  // namespace strata::net
