// The device FIFO exchange: the record each rank publishes (encoding,
// validation of untrusted bytes), the FIFO layout every rank computes for
// its peers, and the choice between direct pointers, CUDA IPC and host
// staging. The driver calls themselves need a GPU; these decisions do not.
#include <gtest/gtest.h>

#include <set>

#include "cuda/ipc.h"
#include "cuda/lowering.h"
#include "kernels/cuda/device_plan.h"

namespace strata::testing {
namespace {

using cuda::DeviceRankInfo;
using cuda::PeerPath;

DeviceRankInfo sample(int rank = 1, int nranks = 4) {
  DeviceRankInfo d;
  d.rank = rank;
  d.nranks = nranks;
  d.processToken = 0x1234567890abcdefull;
  d.pid = 4242;
  d.hostId = "host-a/boot/ns";
  d.device = 0;
  d.busId = "0000:3b:00.0";
  d.fifoBase = 0x7f0000000000ull;
  d.geometry.nslots = 4;
  d.geometry.nchannels = 3;
  d.geometry.slotBytes = 262144;
  d.geometry.llSlotBytes = 65536;
  d.fifoBytes = cuda::fifoAllocationBytes(d.geometry, nranks);
  d.hasIpcHandle = true;
  for (size_t i = 0; i < cuda::kIpcHandleBytes; ++i) d.ipcHandle[i] = uint8_t(i * 7 + 1);
  return d;
}

TEST(DeviceIpc, RecordRoundTrips) {
  DeviceRankInfo d = sample();
  auto back = DeviceRankInfo::decode(d.encode());
  ASSERT_TRUE(back.ok()) << back.status().toString();
  const DeviceRankInfo& e = back.value();
  EXPECT_EQ(e.rank, d.rank);
  EXPECT_EQ(e.nranks, d.nranks);
  EXPECT_EQ(e.processToken, d.processToken);
  EXPECT_EQ(e.pid, d.pid);
  EXPECT_EQ(e.hostId, d.hostId);
  EXPECT_EQ(e.device, d.device);
  EXPECT_EQ(e.busId, d.busId);
  EXPECT_EQ(e.fifoBase, d.fifoBase);
  EXPECT_EQ(e.fifoBytes, d.fifoBytes);
  EXPECT_TRUE(e.hasIpcHandle);
  EXPECT_EQ(0, std::memcmp(e.ipcHandle, d.ipcHandle, cuda::kIpcHandleBytes));
  EXPECT_TRUE(e.geometry == d.geometry);
}

TEST(DeviceIpc, DecodeRejectsDamagedRecords) {
  const std::string good = sample().encode();
  // Every truncation and one trailing byte.
  for (size_t n = 0; n < good.size(); ++n) {
    EXPECT_FALSE(DeviceRankInfo::decode(good.substr(0, n)).ok()) << "truncated to " << n;
  }
  EXPECT_FALSE(DeviceRankInfo::decode(good + "x").ok());
  EXPECT_FALSE(DeviceRankInfo::decode(std::string(5000, 'a')).ok());
  // Bad magic.
  std::string bad = good;
  bad[0] ^= 1;
  EXPECT_FALSE(DeviceRankInfo::decode(bad).ok());
  auto rejects = [](DeviceRankInfo d, const char* what) {
    EXPECT_FALSE(DeviceRankInfo::decode(d.encode()).ok()) << what;
  };
  DeviceRankInfo d = sample();
  d.rank = 4;
  rejects(d, "rank == nranks");
  d = sample();
  d.pid = 0;
  rejects(d, "pid 0");
  d = sample();
  d.hostId.clear();
  rejects(d, "empty host id");
  d = sample();
  d.busId = "0000:3b:00.0; rm -rf";
  rejects(d, "bus id with other characters");
  d = sample();
  d.fifoBase = 0;
  rejects(d, "null FIFO base");
  d = sample();
  d.fifoBytes += 1;
  rejects(d, "allocation size not matching the geometry");
  d = sample();
  d.geometry.nslots = 1000;
  d.fifoBytes = cuda::fifoAllocationBytes(d.geometry, d.nranks);
  rejects(d, "too many slots");
  d = sample();
  d.geometry.slotBytes = 4097;
  d.fifoBytes = cuda::fifoAllocationBytes(d.geometry, d.nranks);
  rejects(d, "slot size not a multiple of 256");
  d = sample();
  d.device = -1;
  rejects(d, "negative device");
  // Flipping any single byte either fails to decode or yields a record
  // that still passes every bound (never a crash or an unchecked value).
  for (size_t i = 0; i < good.size(); ++i) {
    std::string flipped = good;
    flipped[i] = static_cast<char>(flipped[i] ^ 0x80);
    auto r = DeviceRankInfo::decode(flipped);
    if (r.ok()) {
      EXPECT_TRUE(cuda::checkFifoGeometry(r.value().geometry).ok());
      EXPECT_LT(r.value().rank, r.value().nranks);
    }
  }
}

TEST(DeviceIpc, PeerValidation) {
  DeviceRankInfo me = sample(0), peer = sample(2);
  EXPECT_TRUE(cuda::validatePeerInfo(me, peer, 2).ok());
  EXPECT_FALSE(cuda::validatePeerInfo(me, peer, 3).ok()) << "claims another rank";
  DeviceRankInfo other = sample(2, 5);
  other.fifoBytes = cuda::fifoAllocationBytes(other.geometry, 5);
  EXPECT_FALSE(cuda::validatePeerInfo(me, other, 2).ok()) << "another communicator size";
  peer.geometry.slotBytes *= 2;
  Status s = cuda::validatePeerInfo(me, peer, 2);
  EXPECT_EQ(s.code(), Code::kInvalidUsage);
  EXPECT_NE(s.message().find("STRATA_CUDA_"), std::string::npos);
}

TEST(DeviceIpc, PathDecision) {
  DeviceRankInfo me = sample(0);
  DeviceRankInfo peer = sample(1);
  // Same process (token and pid), same GPU: the pointer is used directly.
  EXPECT_EQ(cuda::decidePath(me, peer, false), PeerPath::kSameProcess);
  // Same process, another GPU: direct with peer access, else host-staged.
  peer.busId = "0000:5e:00.0";
  EXPECT_EQ(cuda::decidePath(me, peer, true), PeerPath::kSameProcess);
  EXPECT_EQ(cuda::decidePath(me, peer, false), PeerPath::kHostStaged);
  // Another process on this host: IPC when the GPU is shared or reachable.
  peer = sample(1);
  peer.pid = 4343;
  peer.processToken = 99;
  EXPECT_EQ(cuda::decidePath(me, peer, false), PeerPath::kIpc);
  peer.busId = "0000:5e:00.0";
  EXPECT_EQ(cuda::decidePath(me, peer, true), PeerPath::kIpc);
  EXPECT_EQ(cuda::decidePath(me, peer, false), PeerPath::kHostStaged);
  // No IPC handle from the peer (the driver refused one): host-staged.
  peer.hasIpcHandle = false;
  EXPECT_EQ(cuda::decidePath(me, peer, true), PeerPath::kHostStaged);
  // Another host is never reached through device pointers, whatever the
  // bus ids or the access flag say.
  peer = sample(1);
  peer.hostId = "host-b/boot/ns";
  EXPECT_EQ(cuda::decidePath(me, peer, true), PeerPath::kHostStaged);
  peer.processToken = me.processToken;  // even a colliding token
  EXPECT_EQ(cuda::decidePath(me, peer, true), PeerPath::kHostStaged);
  // Equal token but another pid (a forked child): not the same process.
  peer = sample(1);
  peer.pid = 9999;
  EXPECT_EQ(cuda::decidePath(me, peer, false), PeerPath::kIpc);
  EXPECT_STREQ(cuda::peerPathName(PeerPath::kIpc), "cuda-ipc");
}

TEST(DeviceIpc, FifoLayoutIsDisjointAlignedAndInside) {
  for (int nranks : {1, 2, 3, 8}) {
    cuda::FifoGeometry g;
    g.nslots = 3;
    g.nchannels = 3;
    g.slotBytes = 4096 + 256;
    g.llSlotBytes = 768;
    ASSERT_TRUE(cuda::checkFifoGeometry(g).ok());
    const uint64_t total = cuda::fifoAllocationBytes(g, nranks);
    std::vector<std::pair<uint64_t, uint64_t>> ranges;
    for (int c = 0; c < 3; ++c) {
      for (int s = 0; s < nranks; ++s) {
        auto p = cuda::fifoPlacement(g, nranks, s, c);
        EXPECT_EQ(p.header % 128, 0u);
        EXPECT_EQ(p.simple % 256, 0u);
        EXPECT_EQ(p.ll % 256, 0u);
        ranges.push_back({p.header, sizeof(cuda_kernels::DevFifoHeader)});
        ranges.push_back({p.simple, uint64_t(g.nslots) * g.slotBytes});
        ranges.push_back({p.ll, uint64_t(g.nslots) * g.llSlotBytes});
      }
    }
    std::sort(ranges.begin(), ranges.end());
    for (size_t i = 0; i < ranges.size(); ++i) {
      EXPECT_LE(ranges[i].first + ranges[i].second, total);
      if (i + 1 < ranges.size()) {
        EXPECT_LE(ranges[i].first + ranges[i].second, ranges[i + 1].first) << "overlap";
      }
    }
  }
}

TEST(DeviceIpc, TablesPointSendersAtTheReceiversFifo) {
  const int n = 3;
  cuda::FifoGeometry g;
  g.nchannels = 2;
  g.nslots = 4;
  g.slotBytes = 4096;
  g.llSlotBytes = 1024;
  std::vector<std::vector<uint8_t>> memory(n, std::vector<uint8_t>(cuda::fifoAllocationBytes(g, n)));
  std::vector<uint8_t*> bases;
  for (auto& m : memory) bases.push_back(m.data());
  std::vector<std::vector<cuda_kernels::DevFifo>> send(n), recv(n);
  for (int r = 0; r < n; ++r) cuda::buildFifoTables(g, n, r, bases, &send[r], &recv[r]);
  for (int c = 0; c < 2; ++c) {
    for (int a = 0; a < n; ++a) {
      for (int b = 0; b < n; ++b) {
        // a's send entry towards b is exactly b's receive entry from a.
        const auto& s = send[a][cuda::fifoIndex(b, c, n)];
        const auto& r = recv[b][cuda::fifoIndex(a, c, n)];
        EXPECT_EQ(s.header, r.header);
        EXPECT_EQ(s.simple, r.simple);
        EXPECT_EQ(s.ll, r.ll);
        EXPECT_EQ(s.nslots, 4u);
        EXPECT_GE(reinterpret_cast<uint8_t*>(r.header), bases[b]);
        EXPECT_LT(reinterpret_cast<uint8_t*>(r.header), bases[b] + memory[b].size());
      }
    }
  }
  // An unreachable peer (no base) leaves the send entries without memory.
  bases[2] = nullptr;
  std::vector<cuda_kernels::DevFifo> s0, r0;
  cuda::buildFifoTables(g, n, 0, bases, &s0, &r0);
  EXPECT_EQ(s0[cuda::fifoIndex(2, 0, n)].header, nullptr);
  EXPECT_NE(s0[cuda::fifoIndex(1, 0, n)].header, nullptr);
}

}  // namespace
}  // namespace strata::testing
