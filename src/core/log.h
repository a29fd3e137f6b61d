// Logging: NCCL_DEBUG=VERSION|WARN|INFO|TRACE (STRATA_DEBUG is the same),
// NCCL_DEBUG_SUBSYS filters (INIT,COLL,P2P,SHM,NET,BOOTSTRAP,ENV,ALLOC,ALL,
// ^X to exclude) and NCCL_DEBUG_FILE (%h host, %p pid in the name).
// Each message is written with a single write(2) so it is safe after fork.
#pragma once

#include <string>

#include "core/status.h"

namespace strata::log {

enum class Level : int { kNone = 0, kVersion = 1, kWarn = 2, kInfo = 3, kTrace = 4 };

enum Subsys : unsigned {
  kInit = 1u << 0,
  kColl = 1u << 1,
  kP2p = 1u << 2,
  kShm = 1u << 3,
  kNet = 1u << 4,
  kBootstrap = 1u << 5,
  kEnv = 1u << 6,
  kAlloc = 1u << 7,
  kAll = ~0u,
};

bool enabled(Level level, unsigned subsys);
void write(Level level, unsigned subsys, const char* file, int line, const std::string& msg);
// Re-reads the environment (ncclResetDebugInit).
void reset();

}  // namespace strata::log

#define STRATA_LOG_AT(level, subsys, ...)                                          \
  do {                                                                             \
    if (::strata::log::enabled(level, subsys))                                     \
      ::strata::log::write(level, subsys, __FILE__, __LINE__,                      \
                           ::strata::strCat(__VA_ARGS__));                         \
  } while (0)

#define STRATA_WARN(subsys, ...) STRATA_LOG_AT(::strata::log::Level::kWarn, subsys, __VA_ARGS__)
#define STRATA_INFO(subsys, ...) STRATA_LOG_AT(::strata::log::Level::kInfo, subsys, __VA_ARGS__)
#define STRATA_TRACE(subsys, ...) STRATA_LOG_AT(::strata::log::Level::kTrace, subsys, __VA_ARGS__)
