// Interface selection: which local addresses Strata listens on and
// advertises. Follows NCCL_SOCKET_IFNAME's syntax.
#include <ifaddrs.h>
#include <net/if.h>

#include <algorithm>
#include <cerrno>

#include "core/config.h"
#include "core/log.h"
#include "net/socket.h"

namespace strata::net {
namespace {

// Prefixes of bridges and virtual links that usually do not reach other
// hosts; used only when nothing better exists and no filter is given.
constexpr const char* kVirtualPrefixes[] = {"docker", "virbr", "veth", "br-", "vmnet", "lxc"};

bool isVirtual(const std::string& name) {
  for (const char* p : kVirtualPrefixes) {
    if (name.rfind(p, 0) == 0) return true;
  }
  return false;
}

StatusOr<int> familyFilter() {
  std::string f = config::getString("STRATA_SOCKET_FAMILY");
  if (f.empty()) return AF_UNSPEC;
  if (f == "AF_INET" || f == "4" || f == "ipv4" || f == "IPv4") return AF_INET;
  if (f == "AF_INET6" || f == "6" || f == "ipv6" || f == "IPv6") return AF_INET6;
  return InvalidArgument("STRATA_SOCKET_FAMILY=", f, ": expected AF_INET or AF_INET6");
}

struct Candidate {
  Interface iface;
  int rank;  // 0 regular, 1 virtual, 2 loopback
};

}  // namespace

bool interfaceMatches(const std::string& filter, const std::string& name) {
  size_t pos = 0;
  bool exclude = false;
  bool exact = false;
  if (pos < filter.size() && filter[pos] == '^') {
    exclude = true;
    ++pos;
  }
  if (pos < filter.size() && filter[pos] == '=') {
    exact = true;
    ++pos;
  }
  bool matched = false;
  bool anyEntry = false;
  while (pos <= filter.size()) {
    size_t comma = filter.find(',', pos);
    if (comma == std::string::npos) comma = filter.size();
    std::string entry = filter.substr(pos, comma - pos);
    pos = comma + 1;
    if (entry.empty()) continue;
    anyEntry = true;
    if (exact ? name == entry : name.rfind(entry, 0) == 0) matched = true;
  }
  if (!anyEntry) return true;  // an empty list selects everything
  return exclude ? !matched : matched;
}

StatusOr<std::vector<Interface>> findInterfaces() {
  STRATA_ASSIGN_OR_RETURN(int family, familyFilter());
  std::string filter = config::getString("STRATA_SOCKET_IFNAME");
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return ErrnoError("getifaddrs", errno);
  std::vector<Candidate> found;
  for (ifaddrs* ifa = list; ifa != nullptr; ifa = ifa->ifa_next) {
    if (ifa->ifa_addr == nullptr || ifa->ifa_name == nullptr) continue;
    int fam = ifa->ifa_addr->sa_family;
    if (fam != AF_INET && fam != AF_INET6) continue;
    if (family != AF_UNSPEC && fam != family) continue;
    if (!(ifa->ifa_flags & IFF_UP)) continue;
    if (fam == AF_INET6) {
      // Link-local addresses need a scope id, which the wire form omits.
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(ifa->ifa_addr);
      if (IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr)) continue;
    }
    std::string name = ifa->ifa_name;
    bool loopback = (ifa->ifa_flags & IFF_LOOPBACK) != 0;
    int rank = loopback ? 2 : (isVirtual(name) ? 1 : 0);
    if (!filter.empty()) {
      if (!interfaceMatches(filter, name)) continue;
      rank = 0;  // the user chose: take what matched in the order listed
    }
    Address addr = Address::fromSockaddr(
        ifa->ifa_addr, fam == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6));
    found.push_back({Interface{name, addr}, rank});
  }
  freeifaddrs(list);
  // Regular interfaces first, then virtual ones, then loopback; IPv4 before
  // IPv6 within a group, otherwise the system's order.
  std::stable_sort(found.begin(), found.end(), [](const Candidate& a, const Candidate& b) {
    if (a.rank != b.rank) return a.rank < b.rank;
    return a.iface.address.family() == AF_INET && b.iface.address.family() != AF_INET;
  });
  std::vector<Interface> out;
  if (!found.empty()) {
    int best = found.front().rank;
    for (auto& c : found) {
      // Virtual and loopback interfaces are fallbacks, never mixed in.
      if (c.rank == best) out.push_back(std::move(c.iface));
    }
  }
  if (out.empty()) {
    return SystemError("no usable network interface (STRATA_SOCKET_IFNAME='", filter,
                       "', STRATA_SOCKET_FAMILY='", config::getString("STRATA_SOCKET_FAMILY"),
                       "')");
  }
  STRATA_INFO(log::kNet, "using interface ", out.front().name, " ", out.front().address.toString());
  return out;
}

}  // namespace strata::net
