#include "transports/descriptor.h"

#include <unistd.h>

#include <mutex>

#include "net/auth.h"
#include "transports/segment.h"
#include "transports/wire.h"

namespace strata::transport {
namespace {

constexpr uint32_t kDescriptorMagic = 0x43534454;  // "TDSC"
constexpr uint32_t kDescriptorVersion = 2;  // 2: the TLS flag

}  // namespace

Status checkGeometry(const char* what, uint32_t nslots, uint64_t slotBytes) {
  if (nslots < 1 || nslots > kMaxSlots) {
    return InvalidArgument(what, ": ", nslots, " slots is outside [1, ", kMaxSlots, "]");
  }
  if (slotBytes < kMinSlotBytes || slotBytes > kMaxSlotBytes || slotBytes % kCacheLine != 0) {
    return InvalidArgument(what, ": a slot of ", slotBytes, " bytes is outside [", kMinSlotBytes,
                           ", ", kMaxSlotBytes, "] or not a multiple of ", kCacheLine);
  }
  return Status::Ok();
}

uint64_t processToken() {
  static std::mutex mu;
  static pid_t owner = -1;
  static uint64_t token = 0;
  std::lock_guard<std::mutex> lock(mu);
  if (owner != getpid()) {
    uint64_t fresh = 0;
    if (!net::randomBytes(&fresh, sizeof(fresh)).ok() || fresh == 0) {
      // No kernel randomness: the pid and the address of a local still
      // tell processes apart well enough (the pid is compared as well).
      fresh = (static_cast<uint64_t>(getpid()) << 32) ^ reinterpret_cast<uintptr_t>(&fresh);
    }
    token = fresh;
    owner = getpid();
  }
  return token;
}

std::string RankDescriptor::encode() const {
  wire::Writer w;
  w.u32(kDescriptorMagic);
  w.u32(kDescriptorVersion);
  w.u32(static_cast<uint32_t>(rank));
  w.u32(static_cast<uint32_t>(nranks));
  w.u32(static_cast<uint32_t>(nchannels));
  w.u32(static_cast<uint32_t>(mode));
  w.u32(shmDisable ? 1 : 0);
  w.str(hostId);
  w.u64(static_cast<uint64_t>(process.pid));
  w.u64(process.startTime);
  w.u64(process.pidNamespace);
  w.u64(processToken);
  w.u64(localKey);
  w.str(shmName);
  w.u32(memory.nslots);
  w.u64(memory.slotBytes);
  w.u32(hasListener ? 1 : 0);
  uint8_t addr[net::Address::kWireBytes] = {};
  if (hasListener) listener.encode(addr);
  w.bytes(addr, sizeof(addr));
  w.u32(tcp.nslots);
  w.u64(tcp.slotBytes);
  w.u32(tcp.nsocks);
  w.u32(tls ? 1 : 0);
  return w.data();
}

StatusOr<RankDescriptor> RankDescriptor::decode(const std::string& bytes) {
  if (bytes.size() > kMaxDescriptorBytes) return RemoteError("descriptor too long");
  wire::Reader r(bytes.data(), bytes.size());
  if (r.u32() != kDescriptorMagic || r.u32() != kDescriptorVersion) {
    return RemoteError("descriptor has a bad magic or version");
  }
  RankDescriptor d;
  d.rank = static_cast<int>(r.u32());
  d.nranks = static_cast<int>(r.u32());
  d.nchannels = static_cast<int>(r.u32());
  uint32_t mode = r.u32();
  uint32_t shmDisable = r.u32();
  d.hostId = r.str(kMaxHostIdBytes);
  d.process.pid = static_cast<int64_t>(r.u64());
  d.process.startTime = r.u64();
  d.process.pidNamespace = r.u64();
  d.processToken = r.u64();
  d.localKey = r.u64();
  d.shmName = r.str(128);
  d.memory.nslots = r.u32();
  d.memory.slotBytes = static_cast<size_t>(r.u64());
  uint32_t hasListener = r.u32();
  uint8_t addr[net::Address::kWireBytes];
  r.bytes(addr, sizeof(addr));
  d.tcp.nslots = r.u32();
  d.tcp.slotBytes = r.u64();
  d.tcp.nsocks = r.u32();
  uint32_t tls = r.u32();
  if (!r.atEnd()) return RemoteError("descriptor is truncated or has trailing bytes");
  if (d.rank < 0 || d.nranks < 1 || d.rank >= d.nranks || d.nchannels < 1 ||
      d.nchannels > 1024 || mode > 3 || shmDisable > 1 || hasListener > 1 || tls > 1 ||
      d.hostId.empty() || d.process.pid <= 0) {
    return RemoteError("descriptor has out-of-range fields");
  }
  if (!isValidSegmentName(d.shmName)) return RemoteError("descriptor has a bad shm name");
  d.mode = static_cast<TransportMode>(mode);
  d.shmDisable = shmDisable != 0;
  d.tls = tls != 0;
  STRATA_RETURN_IF_ERROR(checkGeometry("memory FIFO", d.memory.nslots, d.memory.slotBytes));
  STRATA_RETURN_IF_ERROR(checkGeometry("tcp FIFO", d.tcp.nslots, d.tcp.slotBytes));
  if (d.tcp.nsocks < 1 || d.tcp.nsocks > kMaxSockets) {
    return RemoteError("descriptor has a bad socket count ", d.tcp.nsocks);
  }
  d.hasListener = hasListener != 0;
  if (d.hasListener) {
    STRATA_ASSIGN_OR_RETURN(d.listener, net::Address::decode(addr));
  }
  return d;
}

}  // namespace strata::transport
