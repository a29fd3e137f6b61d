#include "core/log.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>
#include <string>

#include "core/config.h"

namespace strata::log {
namespace {

struct LogState {
  std::atomic<int> level{-1};  // -1: not read yet
  std::atomic<unsigned> subsys{kAll};
  std::atomic<int> fd{2};
  std::once_flag versionOnce;
};

LogState& state() {
  static LogState s;
  return s;
}

Level parseLevel(const std::string& v) {
  if (v == "NONE") return Level::kNone;
  if (v == "VERSION") return Level::kVersion;
  if (v == "INFO") return Level::kInfo;
  if (v == "TRACE") return Level::kTrace;
  return Level::kWarn;
}

unsigned subsysBit(const std::string& name) {
  if (name == "INIT") return kInit;
  if (name == "COLL") return kColl;
  if (name == "P2P") return kP2p;
  if (name == "SHM") return kShm;
  if (name == "NET") return kNet;
  if (name == "BOOTSTRAP") return kBootstrap;
  if (name == "ENV") return kEnv;
  if (name == "ALLOC") return kAlloc;
  if (name == "ALL") return kAll;
  return 0;
}

unsigned parseSubsys(const std::string& v) {
  bool exclude = !v.empty() && v[0] == '^';
  unsigned mask = 0;
  size_t pos = exclude ? 1 : 0;
  while (pos <= v.size()) {
    size_t comma = v.find(',', pos);
    if (comma == std::string::npos) comma = v.size();
    mask |= subsysBit(v.substr(pos, comma - pos));
    pos = comma + 1;
  }
  return exclude ? ~mask : (mask == 0 ? kAll : mask);
}

std::string expandFileName(const std::string& pattern) {
  std::string out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '%' && i + 1 < pattern.size()) {
      char c = pattern[++i];
      if (c == 'h') {
        char host[256] = {};
        gethostname(host, sizeof host - 1);
        out += host;
      } else if (c == 'p') {
        out += std::to_string(getpid());
      } else {
        out += c;
      }
    } else {
      out += pattern[i];
    }
  }
  return out;
}

void init() {
  LogState& s = state();
  Level level = parseLevel(config::getString("STRATA_DEBUG"));
  s.subsys.store(parseSubsys(config::getString("STRATA_DEBUG_SUBSYS")));
  std::string file = config::getString("STRATA_DEBUG_FILE");
  if (!file.empty()) {
    int fd = ::open(expandFileName(file).c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) s.fd.store(fd);
  }
  s.level.store(static_cast<int>(level));
}

const char* levelName(Level l) {
  switch (l) {
    case Level::kVersion: return "VERSION";
    case Level::kWarn: return "WARN";
    case Level::kInfo: return "INFO";
    case Level::kTrace: return "TRACE";
    default: return "";
  }
}

}  // namespace

bool enabled(Level level, unsigned subsys) {
  LogState& s = state();
  int current = s.level.load(std::memory_order_relaxed);
  if (current < 0) {
    init();
    current = s.level.load();
  }
  return static_cast<int>(level) <= current && (subsys & s.subsys.load(std::memory_order_relaxed));
}

void write(Level level, unsigned subsys, const char* file, int line, const std::string& msg) {
  char host[64] = {};
  gethostname(host, sizeof host - 1);
  const char* base = std::strrchr(file, '/');
  base = base ? base + 1 : file;
  std::string text = strCat(host, ":", getpid(), ":", static_cast<long>(syscall(SYS_gettid)),
                            " [strata] ", levelName(level), " ", base, ":", line, " ", msg, "\n");
  // One write per message: lines from many ranks do not interleave, and no
  // lock is held (safe in a child after fork).
  ssize_t rc = ::write(state().fd.load(), text.data(), text.size());
  (void)rc;
}

void reset() { state().level.store(-1); }

}  // namespace strata::log
