// From a group's device operations to what the kernels run: the launches
// (exec::buildDeviceLaunches), their lowering (cuda::lowerLaunch, base
// slots per operation, protocol per lane) and an emulated run of every
// rank's launch, as the CUDA executor would enqueue them.
#include <gtest/gtest.h>

#include <cstring>

#include "algorithms/algorithms.h"
#include "cuda_host/emulator.h"
#include "exec/device_executor.h"
#include "kernels/host/convert.h"
#include "support/ranks.h"

namespace strata::testing {
namespace {

using plan::CollType;

cuda::FifoGeometry geometry() {
  cuda::FifoGeometry g;
  g.nslots = 4;
  g.slotBytes = 4096;
  g.llSlotBytes = 1024;
  g.nchannels = 3;
  return g;
}

// Plans as a communicator with 2 channels and steps of half a FIFO builds them.
exec::PlanSource planSource(const cuda::FifoGeometry& g) {
  return [g](const plan::CollArgs& a, DataType t) -> StatusOr<std::shared_ptr<const plan::RankPlan>> {
    plan::PlanOptions po;
    po.nchannels = 2;
    po.p2pChannel = 2;
    po.maxStepElems = std::max<size_t>(1, g.nslots * g.slotBytes / 2 / dataTypeSize(t));
    STRATA_ASSIGN_OR_RETURN(plan::RankPlan p, algorithms::buildPlan(a, po));
    return std::make_shared<const plan::RankPlan>(std::move(p));
  };
}

exec::DeviceOp p2pOp(CollType type, int rank, int n, int peer, size_t count, DataType t,
                     const void* in, void* out) {
  exec::DeviceOp op;
  op.args.type = type;
  op.args.count = count;
  op.args.rank = rank;
  op.args.nranks = n;
  op.args.peer = peer;
  op.type = t;
  op.buffers.input = in;
  op.buffers.output = out;
  return op;
}

// Every rank sends a different amount to every other rank (int32 to some,
// fp16 to others, some small enough for LL, some not) in one group.
TEST(DeviceLaunches, GroupOfSendsAndReceivesIsOneLaunch) {
  Watchdog dog(120, "send/recv launch");
  const int n = 4;
  const auto g = geometry();
  const uint64_t llMax = cuda::effectiveLlMaxBytes(g.nslots, g.llSlotBytes, 65536);
  auto countOf = [](int from, int to) { return size_t((from * 5 + to * 3) % 7) * 211 + 1; };
  auto typeOf = [](int from, int to) { return (from + to) % 2 ? DataType::kFloat16 : DataType::kInt32; };
  std::vector<std::vector<std::vector<uint8_t>>> sendBuf(n, std::vector<std::vector<uint8_t>>(n)),
      recvBuf(n, std::vector<std::vector<uint8_t>>(n));
  DeviceEmulator emu(n, g);
  std::vector<DeviceEmulator::RankLaunch> ranks(n);
  std::vector<std::vector<uint8_t>> scratch(n, std::vector<uint8_t>(64));
  bool sawLL = false, sawSimple = false;
  for (int r = 0; r < n; ++r) {
    std::vector<exec::DeviceOp> ops;
    for (int p = 0; p < n; ++p) {
      if (p == r) continue;
      const size_t es = dataTypeSize(typeOf(r, p));
      sendBuf[r][p].resize(countOf(r, p) * es);
      for (size_t i = 0; i < sendBuf[r][p].size(); ++i) sendBuf[r][p][i] = uint8_t(r * 31 + p * 7 + i);
      recvBuf[r][p].assign(countOf(p, r) * dataTypeSize(typeOf(p, r)), 0xEE);
      // Interleave receives and sends, as callers do.
      ops.push_back(p2pOp(CollType::kRecv, r, n, p, countOf(p, r), typeOf(p, r), nullptr,
                          recvBuf[r][p].data()));
      ops.push_back(p2pOp(CollType::kSend, r, n, p, countOf(r, p), typeOf(r, p),
                          sendBuf[r][p].data(), nullptr));
    }
    auto launches = exec::buildDeviceLaunches(ops, planSource(g));
    ASSERT_TRUE(launches.ok()) << launches.status().toString();
    ASSERT_EQ(launches.value().size(), 1u);
    const cuda::DeviceLaunchSpec& spec = launches.value()[0];
    EXPECT_TRUE(spec.perLaneProtocol);
    EXPECT_EQ(spec.type, DataType::kUint8);
    EXPECT_EQ(spec.ops.size(), ops.size());
    EXPECT_EQ(spec.lanes.size(), size_t(2 * (n - 1)));  // one per (direction, peer)
    auto lanes = cuda::lowerLaunch(spec, n, g.nchannels, llMax);
    ASSERT_TRUE(lanes.ok()) << lanes.status().toString();
    for (const auto& lane : lanes.value()) {
      (lane.protocol == cuda_kernels::kProtoLL ? sawLL : sawSimple) = true;
      EXPECT_EQ(lane.protocol, cuda::chooseProtocol(lane.bytes, llMax));
      for (const auto& s : lane.steps) {
        // Operation k reads base 2 + 2k and writes base 3 + 2k.
        if (s.flags & cuda_kernels::kSend) {
          EXPECT_EQ(s.aBuf % 2, 0);
        }
        if (s.flags & cuda_kernels::kWriteDst) {
          EXPECT_EQ(s.dstBuf % 2, 1);
        }
      }
    }
    ranks[r].lanes = std::move(lanes).value();
    ranks[r].bases[cuda_kernels::kBufScratch] = scratch[r].data();
    for (size_t k = 0; k < spec.ops.size(); ++k) {
      ranks[r].bases[cuda_kernels::kBufFirstOp + 2 * k] =
          static_cast<uint8_t*>(const_cast<void*>(spec.ops[k].input));
      ranks[r].bases[cuda_kernels::kBufFirstOp + 2 * k + 1] = static_cast<uint8_t*>(spec.ops[k].output);
    }
  }
  EXPECT_TRUE(sawLL);
  EXPECT_TRUE(sawSimple);
  auto errors = emu.run(DataType::kUint8, ReduceOp::kSum, {}, 1, ranks);
  for (int r = 0; r < n; ++r) ASSERT_EQ(errors[r], cuda_kernels::kDevOk) << "rank " << r;
  for (int r = 0; r < n; ++r) {
    for (int p = 0; p < n; ++p) {
      if (p != r) {
        EXPECT_EQ(recvBuf[r][p], sendBuf[p][r]) << "rank " << r << " from " << p;
      }
    }
  }
}

// Collectives: one launch each in issue order, typed when they reduce and
// bytes otherwise; then an emulated all-reduce (Avg, fp16) and all-gather
// through the same FIFOs.
TEST(DeviceLaunches, CollectivesLaunchInOrderTypedOrAsBytes) {
  Watchdog dog(120, "collective launches");
  const int n = 3;
  const size_t count = 2000;
  const auto g = geometry();
  const uint64_t llMax = cuda::effectiveLlMaxBytes(g.nslots, g.llSlotBytes, 65536);
  DeviceEmulator emu(n, g);
  std::vector<std::vector<uint16_t>> arIn(n, std::vector<uint16_t>(count)), arOut(n, std::vector<uint16_t>(count));
  std::vector<std::vector<int32_t>> agIn(n, std::vector<int32_t>(count)),
      agOut(n, std::vector<int32_t>(count * n, -1));
  std::vector<std::vector<cuda::DeviceLaunchSpec>> specs(n);
  for (int r = 0; r < n; ++r) {
    for (size_t i = 0; i < count; ++i) {
      arIn[r][i] = kernels::floatToHalf(float((r + 1) * (i % 10)));
      agIn[r][i] = int32_t(r * 100000 + i);
    }
    exec::DeviceOp ar;
    ar.args.type = CollType::kAllReduce;
    ar.args.count = count;
    ar.args.rank = r;
    ar.args.nranks = n;
    ar.type = DataType::kFloat16;
    ar.reduction.op = ReduceOp::kSum;
    ar.reduction.postDivisor = n;  // Avg
    ar.buffers = {arIn[r].data(), arOut[r].data()};
    exec::DeviceOp ag;
    ag.args.type = CollType::kAllGather;
    ag.args.count = count;
    ag.args.rank = r;
    ag.args.nranks = n;
    ag.type = DataType::kInt32;
    ag.reduction.postDivisor = 7;  // ignored: an all-gather does not reduce
    ag.buffers = {agIn[r].data(), agOut[r].data()};
    auto launches = exec::buildDeviceLaunches({ar, ag}, planSource(g));
    ASSERT_TRUE(launches.ok()) << launches.status().toString();
    ASSERT_EQ(launches.value().size(), 2u);
    specs[r] = std::move(launches).value();
    EXPECT_EQ(specs[r][0].type, DataType::kFloat16);
    EXPECT_EQ(specs[r][0].reduction.postDivisor, uint64_t(n));
    EXPECT_EQ(specs[r][0].operationBytes, count * 2);
    EXPECT_EQ(specs[r][0].lanes.size(), specs[r][0].ops[0].plan->programs.size());
    EXPECT_EQ(specs[r][1].type, DataType::kUint8);
    EXPECT_EQ(specs[r][1].reduction.postDivisor, 1u);
    EXPECT_FALSE(specs[r][1].perLaneProtocol);
  }
  for (size_t launch = 0; launch < 2; ++launch) {
    std::vector<DeviceEmulator::RankLaunch> ranks(n);
    std::vector<std::vector<uint8_t>> scratch(n);
    for (int r = 0; r < n; ++r) {
      const auto& spec = specs[r][launch];
      auto lanes = cuda::lowerLaunch(spec, n, g.nchannels, llMax);
      ASSERT_TRUE(lanes.ok()) << lanes.status().toString();
      ranks[r].lanes = std::move(lanes).value();
      scratch[r].resize(spec.scratchBytes + 16);
      ranks[r].bases[cuda_kernels::kBufScratch] = scratch[r].data();
      ranks[r].bases[cuda_kernels::kBufFirstOp] = static_cast<uint8_t*>(const_cast<void*>(spec.ops[0].input));
      ranks[r].bases[cuda_kernels::kBufFirstOp + 1] = static_cast<uint8_t*>(spec.ops[0].output);
    }
    const auto& s0 = specs[0][launch];
    auto errors = emu.run(s0.type, s0.reduction.op, cuda_kernels::toDevReduction(s0.reduction),
                          s0.type == DataType::kUint8 ? 1 : dataTypeSize(s0.type), ranks);
    for (int r = 0; r < n; ++r) ASSERT_EQ(errors[r], cuda_kernels::kDevOk);
  }
  for (int r = 0; r < n; ++r) {
    for (size_t i = 0; i < count; ++i) {
      float sum = 0;
      for (int q = 0; q < n; ++q) sum += float((q + 1) * (i % 10));
      ASSERT_EQ(arOut[r][i], kernels::floatToHalf(sum / float(n))) << "rank " << r << " element " << i;
      for (int q = 0; q < n; ++q) ASSERT_EQ(agOut[r][q * count + i], int32_t(q * 100000 + i));
    }
  }
}

TEST(DeviceLaunches, TooManyOperationsInOneLaunchIsAnError) {
  const auto g = geometry();
  std::vector<exec::DeviceOp> ops;
  std::vector<int32_t> buf(1);
  for (int k = 0; k < cuda_kernels::kMaxOpsPerLaunch + 1; ++k) {
    ops.push_back(p2pOp(CollType::kSend, 0, 2, 1, 1, DataType::kInt32, buf.data(), nullptr));
  }
  auto launches = exec::buildDeviceLaunches(ops, planSource(g));
  ASSERT_TRUE(launches.ok());
  auto lanes = cuda::lowerLaunch(launches.value()[0], 2, g.nchannels, 0);
  ASSERT_FALSE(lanes.ok());
  EXPECT_EQ(lanes.status().code(), Code::kInvalidUsage);
  ops.pop_back();
  launches = exec::buildDeviceLaunches(ops, planSource(g));
  ASSERT_TRUE(launches.ok());
  EXPECT_TRUE(cuda::lowerLaunch(launches.value()[0], 2, g.nchannels, 0).ok());
}

}  // namespace
}  // namespace strata::testing
