// hostIdentity(): ranks with equal identities share memory. The kernel boot
// id alone would merge containers that share a kernel but not /dev/shm or a
// network; the network namespace splits those (emulated hosts are usually
// namespaces), and the host name keeps hosts apart on a boot id collision.
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <string>

#include "core/config.h"
#include "transports/manager.h"

namespace strata::transport {
namespace {

std::string readFirstLine(const char* path) {
  FILE* f = std::fopen(path, "re");
  if (f == nullptr) return std::string();
  char buf[256];
  std::string line;
  if (std::fgets(buf, sizeof(buf), f) != nullptr) line = buf;
  std::fclose(f);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r' || line.back() == ' ')) {
    line.pop_back();
  }
  return line;
}

}  // namespace

std::string hostIdentity() {
  std::string forced = config::getString("STRATA_HOST_ID");
  if (!forced.empty()) return "id:" + forced;
  char host[HOST_NAME_MAX + 1] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  std::string id = host;
  id += '|';
  id += readFirstLine("/proc/sys/kernel/random/boot_id");
  id += "|net:";
  struct stat st;
  if (stat("/proc/self/ns/net", &st) == 0) id += std::to_string(static_cast<uint64_t>(st.st_ino));
  return id;
}

}  // namespace strata::transport
