#include "api/comm_config.h"

#include <cstddef>

#include "core/config.h"

namespace strata::api {
namespace {

constexpr unsigned kConfigMagic = 0xcafebeef;
// The smallest struct NCCL ever shipped: size, magic, version, blocking,
// cgaClusterSize, minCTAs, maxCTAs, netName (2.14).
constexpr size_t kMinConfigSize = offsetof(ncclConfig_t, netName) + sizeof(const char*);

// True when the caller's struct (of `size` bytes) contains `field`.
#define STRATA_HAS_FIELD(size, field) \
  ((size) >= offsetof(ncclConfig_t, field) + sizeof(((ncclConfig_t*)nullptr)->field))

}  // namespace

StatusOr<CommOptions> parseConfig(const ncclConfig_t* config, const CommOptions& base) {
  CommOptions o = base;
  if (o.nchannels == 0) o.nchannels = static_cast<int>(config::getInt("STRATA_NCHANNELS"));
  if (config == nullptr) return o;
  if (config->magic != kConfigMagic) {
    return InvalidArgument("ncclConfig_t was not initialised with NCCL_CONFIG_INITIALIZER (magic 0x",
                           std::hex, config->magic, ")");
  }
  size_t size = config->size;
  if (size < kMinConfigSize) {
    return InvalidArgument("ncclConfig_t size ", size, " is smaller than any NCCL version's");
  }
  if (config->version < 21400) {
    return InvalidArgument("ncclConfig_t version ", config->version, " is not a known NCCL version");
  }
  if (config->blocking != NCCL_CONFIG_UNDEF_INT) {
    if (config->blocking != 0 && config->blocking != 1) {
      return InvalidArgument("ncclConfig_t.blocking must be 0 or 1, not ", config->blocking);
    }
    o.blocking = config->blocking == 1;
  }
  int minCTAs = config->minCTAs;
  int maxCTAs = config->maxCTAs;
  if (minCTAs != NCCL_CONFIG_UNDEF_INT && minCTAs <= 0) {
    return InvalidArgument("ncclConfig_t.minCTAs must be positive, not ", minCTAs);
  }
  if (maxCTAs != NCCL_CONFIG_UNDEF_INT && maxCTAs <= 0) {
    return InvalidArgument("ncclConfig_t.maxCTAs must be positive, not ", maxCTAs);
  }
  if (minCTAs != NCCL_CONFIG_UNDEF_INT && maxCTAs != NCCL_CONFIG_UNDEF_INT && minCTAs > maxCTAs) {
    return InvalidArgument("ncclConfig_t.minCTAs (", minCTAs, ") exceeds maxCTAs (", maxCTAs, ")");
  }
  // Channels are Strata's CTAs: one pipelined ring each.
  if (maxCTAs != NCCL_CONFIG_UNDEF_INT && o.nchannels > maxCTAs) {
    o.nchannels = maxCTAs;
  }
  if (minCTAs != NCCL_CONFIG_UNDEF_INT && o.nchannels < minCTAs) {
    o.nchannels = minCTAs;
  }
  if (STRATA_HAS_FIELD(size, commName) && config->commName != nullptr) {
    o.name = config->commName;
  }
  return o;
}

}  // namespace strata::api
