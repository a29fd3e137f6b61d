#include "cuda/ipc.h"

#include <cstring>

#include "kernels/cuda/device_plan.h"
#include "transports/wire.h"

namespace strata::cuda {
namespace {

constexpr uint32_t kInfoMagic = 0x43445652;  // "RVDC"
constexpr uint32_t kInfoVersion = 1;
constexpr size_t kMaxInfoBytes = 4096;
constexpr size_t kMaxHostIdBytes = 1024;
constexpr uint64_t kAlign = 256;

uint64_t roundUp(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

}  // namespace

Status checkFifoGeometry(const FifoGeometry& g) {
  if (g.nslots < 2 || g.nslots > cuda_kernels::kMaxDevSlots) {
    return InvalidArgument("device FIFO: ", g.nslots, " slots is outside [2, ",
                           cuda_kernels::kMaxDevSlots, "]");
  }
  if (g.nchannels < 1 || g.nchannels > 64) {
    return InvalidArgument("device FIFO: ", g.nchannels, " channels is outside [1, 64]");
  }
  if (g.slotBytes < 4096 || g.slotBytes > (64u << 20) || g.slotBytes % 256 != 0) {
    return InvalidArgument("device FIFO: a slot of ", g.slotBytes,
                           " bytes is outside [4096, 64 MiB] or not a multiple of 256");
  }
  if (g.llSlotBytes < 256 || g.llSlotBytes > (1u << 20) || g.llSlotBytes % 256 != 0) {
    return InvalidArgument("device FIFO: an LL slot of ", g.llSlotBytes,
                           " bytes is outside [256, 1 MiB] or not a multiple of 256");
  }
  return Status::Ok();
}

uint64_t fifoStride(const FifoGeometry& g) {
  return roundUp(sizeof(cuda_kernels::DevFifoHeader), kAlign) +
         roundUp(uint64_t(g.nslots) * g.slotBytes, kAlign) +
         roundUp(uint64_t(g.nslots) * g.llSlotBytes, kAlign);
}

FifoPlacement fifoPlacement(const FifoGeometry& g, int nranks, int sender, int channel) {
  uint64_t base = (uint64_t(channel) * uint64_t(nranks) + uint64_t(sender)) * fifoStride(g);
  FifoPlacement p;
  p.header = base;
  p.simple = base + roundUp(sizeof(cuda_kernels::DevFifoHeader), kAlign);
  p.ll = p.simple + roundUp(uint64_t(g.nslots) * g.slotBytes, kAlign);
  return p;
}

uint64_t fifoAllocationBytes(const FifoGeometry& g, int nranks) {
  return uint64_t(g.nchannels) * uint64_t(nranks) * fifoStride(g);
}

void buildFifoTables(const FifoGeometry& g, int nranks, int rank,
                     const std::vector<uint8_t*>& peerBase,
                     std::vector<cuda_kernels::DevFifo>* send,
                     std::vector<cuda_kernels::DevFifo>* recv) {
  using cuda_kernels::DevFifo;
  const size_t n = size_t(g.nchannels) * size_t(nranks);
  send->assign(n, DevFifo{});
  recv->assign(n, DevFifo{});
  auto fill = [&](DevFifo& f, uint8_t* base, const FifoPlacement& pl) {
    f.nslots = g.nslots;
    f.slotBytes = g.slotBytes;
    f.llSlotBytes = g.llSlotBytes;
    if (base == nullptr) return;
    f.header = reinterpret_cast<cuda_kernels::DevFifoHeader*>(base + pl.header);
    f.simple = base + pl.simple;
    f.ll = reinterpret_cast<uint64_t*>(base + pl.ll);
  };
  for (int c = 0; c < static_cast<int>(g.nchannels); ++c) {
    for (int p = 0; p < nranks; ++p) {
      size_t i = size_t(c) * size_t(nranks) + size_t(p);
      // Sending to p: p's FIFO from `rank`. Receiving from p: ours from p.
      fill((*send)[i], peerBase[p], fifoPlacement(g, nranks, rank, c));
      fill((*recv)[i], peerBase[rank], fifoPlacement(g, nranks, p, c));
    }
  }
}

std::string DeviceRankInfo::encode() const {
  transport::wire::Writer w;
  w.u32(kInfoMagic);
  w.u32(kInfoVersion);
  w.u32(static_cast<uint32_t>(rank));
  w.u32(static_cast<uint32_t>(nranks));
  w.u64(processToken);
  w.u64(static_cast<uint64_t>(pid));
  w.str(hostId);
  w.u32(static_cast<uint32_t>(device));
  w.str(busId);
  w.u64(fifoBase);
  w.u64(fifoBytes);
  w.u32(hasIpcHandle ? 1 : 0);
  w.bytes(ipcHandle, kIpcHandleBytes);
  w.u32(geometry.nslots);
  w.u32(geometry.nchannels);
  w.u64(geometry.slotBytes);
  w.u64(geometry.llSlotBytes);
  return w.data();
}

StatusOr<DeviceRankInfo> DeviceRankInfo::decode(const std::string& bytes) {
  if (bytes.size() > kMaxInfoBytes) return RemoteError("device info too long");
  transport::wire::Reader r(bytes.data(), bytes.size());
  if (r.u32() != kInfoMagic || r.u32() != kInfoVersion) {
    return RemoteError("device info has a bad magic or version");
  }
  DeviceRankInfo d;
  d.rank = static_cast<int>(r.u32());
  d.nranks = static_cast<int>(r.u32());
  d.processToken = r.u64();
  d.pid = static_cast<int64_t>(r.u64());
  d.hostId = r.str(kMaxHostIdBytes);
  d.device = static_cast<int>(r.u32());
  d.busId = r.str(kMaxBusIdBytes);
  d.fifoBase = r.u64();
  d.fifoBytes = r.u64();
  uint32_t hasHandle = r.u32();
  r.bytes(d.ipcHandle, kIpcHandleBytes);
  d.geometry.nslots = r.u32();
  d.geometry.nchannels = r.u32();
  d.geometry.slotBytes = r.u64();
  d.geometry.llSlotBytes = r.u64();
  if (!r.atEnd()) return RemoteError("device info is truncated or has trailing bytes");
  if (d.rank < 0 || d.nranks < 1 || d.rank >= d.nranks || d.pid <= 0 || d.device < 0 ||
      d.device > 1023 || hasHandle > 1 || d.hostId.empty() || d.fifoBase == 0) {
    return RemoteError("device info has out-of-range fields");
  }
  for (char ch : d.busId) {
    bool ok = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F') ||
              ch == ':' || ch == '.';
    if (!ok) return RemoteError("device info has a malformed PCI bus id");
  }
  d.hasIpcHandle = hasHandle != 0;
  STRATA_RETURN_IF_ERROR(checkFifoGeometry(d.geometry).withContext("device info"));
  if (d.fifoBytes != fifoAllocationBytes(d.geometry, d.nranks)) {
    return RemoteError("device info: FIFO allocation of ", d.fifoBytes,
                       " bytes does not match its geometry");
  }
  return d;
}

const char* peerPathName(PeerPath p) {
  switch (p) {
    case PeerPath::kSameProcess: return "same-process";
    case PeerPath::kIpc: return "cuda-ipc";
    case PeerPath::kHostStaged: return "host-staged";
  }
  return "?";
}

PeerPath decidePath(const DeviceRankInfo& me, const DeviceRankInfo& peer, bool peerAccess) {
  const bool sameHost = me.hostId == peer.hostId;
  if (!sameHost) return PeerPath::kHostStaged;
  const bool sameProcess = me.processToken == peer.processToken && me.pid == peer.pid;
  const bool sameGpu = !me.busId.empty() && me.busId == peer.busId;
  if (!(sameGpu || peerAccess)) return PeerPath::kHostStaged;
  if (sameProcess) return PeerPath::kSameProcess;
  if (peer.hasIpcHandle) return PeerPath::kIpc;
  return PeerPath::kHostStaged;
}

Status validatePeerInfo(const DeviceRankInfo& me, const DeviceRankInfo& peer, int expectedRank) {
  if (peer.rank != expectedRank || peer.nranks != me.nranks) {
    return RemoteError("device info from rank ", expectedRank, " claims rank ", peer.rank, " of ",
                       peer.nranks, " (expected ", expectedRank, " of ", me.nranks, ")");
  }
  if (!(peer.geometry == me.geometry)) {
    return InvalidUsage("rank ", expectedRank, " uses a different device FIFO geometry (",
                        peer.geometry.nslots, " x ", peer.geometry.slotBytes, " bytes, LL ",
                        peer.geometry.llSlotBytes, ", ", peer.geometry.nchannels,
                        " channels) than rank ", me.rank,
                        ": set STRATA_CUDA_* the same on every rank");
  }
  return Status::Ok();
}

}  // namespace strata::cuda
