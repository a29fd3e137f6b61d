// Every collective's plans, lowered for the device and run by the kernel's
// interpreter on host threads (DeviceEmulator), for world sizes 1..8, both
// protocols, in and out of place, counts from 0 to several FIFOs' worth.
// Results are checked against values computed from the definitions.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>

#include "algorithms/algorithms.h"
#include "cuda_host/emulator.h"
#include "kernels/host/convert.h"
#include "support/ranks.h"

namespace strata::testing {
namespace {

using cuda_kernels::kProtoLL;
using cuda_kernels::kProtoSimple;
using plan::CollType;

double getValue(DataType t, const uint8_t* p, size_t i) {
  switch (t) {
    case DataType::kInt8: return reinterpret_cast<const int8_t*>(p)[i];
    case DataType::kUint8: return p[i];
    case DataType::kInt32: return reinterpret_cast<const int32_t*>(p)[i];
    case DataType::kUint32: return reinterpret_cast<const uint32_t*>(p)[i];
    case DataType::kInt64: return double(reinterpret_cast<const int64_t*>(p)[i]);
    case DataType::kUint64: return double(reinterpret_cast<const uint64_t*>(p)[i]);
    case DataType::kFloat16: return kernels::halfToFloat(reinterpret_cast<const uint16_t*>(p)[i]);
    case DataType::kBfloat16: return kernels::bf16ToFloat(reinterpret_cast<const uint16_t*>(p)[i]);
    case DataType::kFloat32: return reinterpret_cast<const float*>(p)[i];
    case DataType::kFloat64: return reinterpret_cast<const double*>(p)[i];
    case DataType::kFloat8e4m3: return kernels::fp8e4m3ToFloat(p[i]);
    case DataType::kFloat8e5m2: return kernels::fp8e5m2ToFloat(p[i]);
  }
  return NAN;
}

void putValue(DataType t, uint8_t* p, size_t i, double v) {
  switch (t) {
    case DataType::kInt8: reinterpret_cast<int8_t*>(p)[i] = int8_t(v); break;
    case DataType::kUint8: p[i] = uint8_t(v); break;
    case DataType::kInt32: reinterpret_cast<int32_t*>(p)[i] = int32_t(v); break;
    case DataType::kUint32: reinterpret_cast<uint32_t*>(p)[i] = uint32_t(v); break;
    case DataType::kInt64: reinterpret_cast<int64_t*>(p)[i] = int64_t(v); break;
    case DataType::kUint64: reinterpret_cast<uint64_t*>(p)[i] = uint64_t(v); break;
    case DataType::kFloat16: reinterpret_cast<uint16_t*>(p)[i] = kernels::floatToHalf(float(v)); break;
    case DataType::kBfloat16: reinterpret_cast<uint16_t*>(p)[i] = kernels::floatToBf16(float(v)); break;
    case DataType::kFloat32: reinterpret_cast<float*>(p)[i] = float(v); break;
    case DataType::kFloat64: reinterpret_cast<double*>(p)[i] = v; break;
    case DataType::kFloat8e4m3: p[i] = kernels::floatToFp8e4m3(float(v)); break;
    case DataType::kFloat8e5m2: p[i] = kernels::floatToFp8e5m2(float(v)); break;
  }
}

// Small integers, so that any reduction order gives exact results.
double inputValue(DataType t, ReduceOp op, int rank, size_t i) {
  if (op == ReduceOp::kProd) return double((rank + i) % 3 + 1);
  if (dataTypeSize(t) == 1) return double((rank * 31 + i * 7) % 10 + 1);
  return double((rank * 31 + i * 7) % 23 + 1);
}

struct Case {
  CollType type = CollType::kAllReduce;
  std::string algo;
  int nranks = 2;
  size_t count = 0;
  int root = 0;
  bool inPlace = false;
  DataType dt = DataType::kInt32;
  ReduceOp op = ReduceOp::kSum;
  bool preScale = false;  // PreMulSum by 2
  bool average = false;   // Avg
  uint32_t protocol = kProtoSimple;
  int nchannels = 2;
};

std::string describe(const Case& c) {
  return strCat(plan::collName(c.type), "/", c.algo.empty() ? "default" : c.algo, " n=", c.nranks,
                " count=", c.count, " root=", c.root, c.inPlace ? " in-place" : "", " ",
                dataTypeName(c.dt), " ", reduceOpName(c.op), c.preScale ? " premul" : "",
                c.average ? " avg" : "", c.protocol == kProtoLL ? " LL" : " simple");
}

cuda::FifoGeometry smallGeometry(int nchannels) {
  cuda::FifoGeometry g;
  g.nslots = 4;
  g.slotBytes = 4096;
  g.llSlotBytes = 1024;
  g.nchannels = static_cast<uint32_t>(nchannels + 1);
  return g;
}

// Input/output sizes in elements, per plan.h's table.
void bufferElems(const Case& c, size_t* in, size_t* out) {
  size_t n = c.count, all = c.count * size_t(c.nranks);
  switch (c.type) {
    case CollType::kReduceScatter: *in = all; *out = n; break;
    case CollType::kAllGather: *in = n; *out = all; break;
    case CollType::kAllToAll: *in = all; *out = all; break;
    case CollType::kGather: *in = n; *out = all; break;
    case CollType::kScatter: *in = all; *out = n; break;
    default: *in = n; *out = n; break;
  }
}

void runCase(const Case& c, DeviceEmulator& emu, const cuda::FifoGeometry& g) {
  SCOPED_TRACE(describe(c));
  const size_t es = dataTypeSize(c.dt);
  const int n = c.nranks;
  const bool reduces = plan::collReduces(c.type);
  plan::PlanOptions po;
  po.nchannels = c.nchannels;
  po.p2pChannel = c.nchannels;
  // Steps of half a FIFO of the chosen protocol, as the communicator agrees.
  const uint64_t cap = c.protocol == kProtoLL
                           ? uint64_t(g.nslots) * cuda_kernels::llSlotDataBytes(g.llSlotBytes)
                           : uint64_t(g.nslots) * g.slotBytes;
  po.maxStepElems = std::max<size_t>(1, cap / 2 / es);

  size_t inElems = 0, outElems = 0;
  bufferElems(c, &inElems, &outElems);
  std::vector<std::vector<uint8_t>> out(n, std::vector<uint8_t>(outElems * es + 16, 0xEE));
  std::vector<std::vector<uint8_t>> inStore(n, std::vector<uint8_t>(inElems * es + 16));
  std::vector<std::vector<uint8_t>> scratch(n);
  std::vector<std::vector<double>> inputs(n, std::vector<double>(inElems));
  std::vector<DeviceEmulator::RankLaunch> launches(n);
  for (int r = 0; r < n; ++r) {
    uint8_t* in = inStore[r].data();
    // In place: Input aliases Output at NCCL's offsets.
    if (c.inPlace) {
      switch (c.type) {
        case CollType::kAllGather: in = out[r].data() + size_t(r) * c.count * es; break;
        case CollType::kAllReduce: case CollType::kBroadcast: in = out[r].data(); break;
        case CollType::kReduceScatter:
          // Output = Input + rank*count.
          out[r].assign(inElems * es + 16, 0xEE);
          in = out[r].data();
          break;
        default: break;
      }
    }
    for (size_t i = 0; i < inElems; ++i) {
      inputs[r][i] = inputValue(c.dt, c.op, r, i);
      putValue(c.dt, in, i, inputs[r][i]);
      inputs[r][i] = getValue(c.dt, in, i);  // as representable
    }
    plan::CollArgs args;
    args.type = c.type;
    args.count = c.count;
    args.root = c.root;
    args.rank = r;
    args.nranks = n;
    auto built = algorithms::buildPlan(args, po, c.algo);
    ASSERT_TRUE(built.ok()) << built.status().toString();
    const plan::RankPlan& p = built.value();
    scratch[r].assign(p.scratchElems * es + 16, 0);
    cuda::LoweringContext ctx;
    ctx.nranks = n;
    ctx.nchannels = c.nchannels + 1;
    ctx.elemSize = es;
    ctx.preScale = reduces && c.preScale;
    ctx.postDivide = reduces && c.average;
    for (const auto& prog : p.programs) {
      cuda::LoweredLane lane;
      ASSERT_TRUE(cuda::lowerProgram(prog, ctx, &lane).ok());
      lane.protocol = static_cast<cuda_kernels::DevProtocol>(c.protocol);
      launches[r].lanes.push_back(std::move(lane));
    }
    launches[r].bases[cuda_kernels::kBufScratch] = scratch[r].data();
    launches[r].bases[cuda_kernels::kBufFirstOp] = in;
    launches[r].bases[cuda_kernels::kBufFirstOp + 1] =
        (c.inPlace && c.type == CollType::kReduceScatter) ? out[r].data() + size_t(r) * c.count * es
                                                          : out[r].data();
  }
  Reduction red;
  red.op = c.op;
  if (c.preScale) {
    red.hasPreScale = true;
    red.preScale.type = c.dt;
    red.preScale.f = 2.0;
    red.preScale.i = 2;
    red.preScale.u = 2;
  }
  if (c.average) red.postDivisor = static_cast<uint64_t>(n);
  // Operations without a reduction move bytes, as the communicator runs them.
  DataType kernelType = reduces ? c.dt : DataType::kUint8;
  size_t kernelElem = reduces ? es : 1;
  auto errors = emu.run(kernelType, reduces ? c.op : ReduceOp::kSum,
                        cuda_kernels::toDevReduction(reduces ? red : Reduction{}), kernelElem,
                        launches);
  for (int r = 0; r < n; ++r) ASSERT_EQ(errors[r], cuda_kernels::kDevOk) << "rank " << r;

  // Expected values.
  auto reduceAt = [&](size_t idx) {
    double acc = 0;
    for (int s = 0; s < n; ++s) {
      double v = inputs[s][idx] * (c.preScale ? 2.0 : 1.0);
      if (s == 0) acc = v;
      else if (c.op == ReduceOp::kSum) acc += v;
      else if (c.op == ReduceOp::kProd) acc *= v;
      else if (c.op == ReduceOp::kMax) acc = std::max(acc, v);
      else acc = std::min(acc, v);
    }
    if (c.average) {
      if (c.dt == DataType::kFloat64) acc = acc / n;
      else if (isFloatingPoint(c.dt)) acc = double(float(acc) / float(n));
      else acc = std::trunc(acc / n);
    }
    uint8_t tmp[8];
    putValue(c.dt, tmp, 0, acc);
    return getValue(c.dt, tmp, 0);
  };
  const size_t cnt = c.count;
  for (int r = 0; r < n; ++r) {
    const uint8_t* o = (c.inPlace && c.type == CollType::kReduceScatter)
                           ? out[r].data() + size_t(r) * cnt * es
                           : out[r].data();
    for (size_t i = 0; i < cnt; ++i) {
      switch (c.type) {
        case CollType::kAllReduce:
          ASSERT_EQ(getValue(c.dt, o, i), reduceAt(i)) << "rank " << r << " element " << i;
          break;
        case CollType::kReduce:
          if (r == c.root) {
            ASSERT_EQ(getValue(c.dt, o, i), reduceAt(i)) << "element " << i;
          }
          break;
        case CollType::kReduceScatter:
          ASSERT_EQ(getValue(c.dt, o, i), reduceAt(size_t(r) * cnt + i)) << "rank " << r << " element " << i;
          break;
        case CollType::kBroadcast:
          ASSERT_EQ(getValue(c.dt, o, i), inputs[c.root][i]) << "rank " << r << " element " << i;
          break;
        case CollType::kAllGather:
          for (int s = 0; s < n; ++s) {
            ASSERT_EQ(getValue(c.dt, o, size_t(s) * cnt + i), inputs[s][i]) << "rank " << r;
          }
          break;
        case CollType::kAllToAll:
          for (int s = 0; s < n; ++s) {
            ASSERT_EQ(getValue(c.dt, o, size_t(s) * cnt + i), inputs[s][size_t(r) * cnt + i]);
          }
          break;
        case CollType::kGather:
          if (r == c.root) {
            for (int s = 0; s < n; ++s) ASSERT_EQ(getValue(c.dt, o, size_t(s) * cnt + i), inputs[s][i]);
          }
          break;
        case CollType::kScatter:
          ASSERT_EQ(getValue(c.dt, o, i), inputs[c.root][size_t(r) * cnt + i]) << "rank " << r;
          break;
        default: break;
      }
    }
    // Nothing written past the end of the output.
    if (!(c.inPlace && c.type == CollType::kReduceScatter)) {
      size_t oe = 0, ie = 0;
      bufferElems(c, &ie, &oe);
      for (size_t b = oe * es; b < out[r].size(); ++b) ASSERT_EQ(out[r][b], 0xEE) << "overrun at byte " << b;
    }
  }
}

const std::vector<int> kWorlds = {1, 2, 3, 4, 5, 8};
const std::vector<size_t> kCounts = {0, 1, 3, 257, 3001};

void sweep(CollType type, const std::string& algo, DataType dt, ReduceOp op, bool rooted,
           bool inPlaceToo) {
  Watchdog dog(600, strCat("emulated ", plan::collName(type)));
  for (int n : kWorlds) {
    auto g = smallGeometry(2);
    for (uint32_t proto : {kProtoSimple, kProtoLL}) {
      DeviceEmulator emu(n, g);  // one emulator per world: FIFO counters carry over
      for (size_t count : kCounts) {
        for (int root = 0; root < (rooted ? n : 1); ++root) {
          for (bool inPlace : {false, true}) {
            if (inPlace && !inPlaceToo) continue;
            Case c;
            c.type = type;
            c.algo = algo;
            c.nranks = n;
            c.count = count;
            c.root = root;
            c.inPlace = inPlace;
            c.dt = dt;
            c.op = op;
            c.protocol = proto;
            runCase(c, emu, g);
            if (::testing::Test::HasFatalFailure()) return;
          }
        }
      }
    }
  }
}

TEST(DeviceEmulation, RingAllReduceInt32Sum) {
  sweep(CollType::kAllReduce, "ring", DataType::kInt32, ReduceOp::kSum, false, true);
}
TEST(DeviceEmulation, DirectAllReduceFloatMax) {
  sweep(CollType::kAllReduce, "direct", DataType::kFloat32, ReduceOp::kMax, false, true);
}
TEST(DeviceEmulation, RingReduceScatterInt64Min) {
  sweep(CollType::kReduceScatter, "ring", DataType::kInt64, ReduceOp::kMin, false, true);
}
TEST(DeviceEmulation, RingAllGatherFp16) {
  sweep(CollType::kAllGather, "ring", DataType::kFloat16, ReduceOp::kSum, false, true);
}
TEST(DeviceEmulation, ChainBroadcastEveryRoot) {
  sweep(CollType::kBroadcast, "", DataType::kUint8, ReduceOp::kSum, true, true);
}
TEST(DeviceEmulation, ChainReduceProdEveryRoot) {
  sweep(CollType::kReduce, "", DataType::kInt32, ReduceOp::kProd, true, false);
}
TEST(DeviceEmulation, AllToAllFloat64) {
  sweep(CollType::kAllToAll, "", DataType::kFloat64, ReduceOp::kSum, false, false);
}
TEST(DeviceEmulation, GatherAndScatterEveryRoot) {
  sweep(CollType::kGather, "", DataType::kBfloat16, ReduceOp::kSum, true, false);
  sweep(CollType::kScatter, "", DataType::kInt8, ReduceOp::kSum, true, false);
}

// Every datatype with the reductions the kernel applies on the way:
// PreMulSum (x2) and Avg, in a ring and in the direct algorithm.
TEST(DeviceEmulation, EveryDatatypeWithPreScaleAndAverage) {
  Watchdog dog(600, "emulated datatypes");
  for (int t = 0; t < kNumDataTypes; ++t) {
    DataType dt = static_cast<DataType>(t);
    for (int n : {2, 3}) {
      auto g = smallGeometry(2);
      DeviceEmulator emu(n, g);
      for (const char* algo : {"ring", "direct"}) {
        for (uint32_t proto : {kProtoSimple, kProtoLL}) {
          for (int mode = 0; mode < 3; ++mode) {
            Case c;
            c.type = CollType::kAllReduce;
            c.algo = algo;
            c.nranks = n;
            c.count = 301;
            c.dt = dt;
            c.op = ReduceOp::kSum;
            c.preScale = mode == 1;
            c.average = mode == 2;
            c.protocol = proto;
            // fp8 e4m3 holds integers exactly only up to 16: keep sums small.
            if (dt == DataType::kFloat8e4m3 || dt == DataType::kFloat8e5m2) c.op = ReduceOp::kMax;
            runCase(c, emu, g);
            if (HasFatalFailure()) return;
          }
        }
      }
    }
  }
}

// Streams are matched by element count, not by step boundaries: one send
// step received as three steps (partial slots, kept across steps in the
// FIFO's read offset), and three send steps received as one.
TEST(DeviceEmulation, StreamsMatchByCountNotStepBoundaries) {
  Watchdog dog(120, "stream matching");
  auto g = smallGeometry(1);
  for (uint32_t proto : {kProtoSimple, kProtoLL}) {
    DeviceEmulator emu(2, g);
    for (int round = 0; round < 3; ++round) {
      SCOPED_TRACE(strCat(proto == kProtoLL ? "LL" : "simple", " round ", round));
      const size_t n = 1000;  // int32: 4000 bytes, several LL slots
      std::vector<int32_t> src(n), dst(n, -1);
      for (size_t i = 0; i < n; ++i) src[i] = int32_t(i * 3 + round);
      auto step = [](uint16_t flags, uint8_t buf, uint64_t off, uint64_t bytes, int32_t send,
                     int32_t recv) {
        cuda_kernels::DevStep d;
        d.flags = flags;
        d.aBuf = (flags & cuda_kernels::kRecvA) ? uint8_t(cuda_kernels::kBufNone) : buf;
        d.dstBuf = (flags & cuda_kernels::kWriteDst) ? buf : uint8_t(cuda_kernels::kBufNone);
        d.aOff = d.dstOff = off;
        d.bytes = bytes;
        d.sendFifo = send;
        d.recvFifo = recv;
        return d;
      };
      const int32_t to1 = cuda::fifoIndex(1, 0, 2), from0 = cuda::fifoIndex(0, 0, 2);
      const uint16_t kS = cuda_kernels::kSend, kR = cuda_kernels::kRecvA | cuda_kernels::kWriteDst;
      std::vector<DeviceEmulator::RankLaunch> ranks(2);
      cuda::LoweredLane sender, receiver;
      sender.protocol = receiver.protocol = static_cast<cuda_kernels::DevProtocol>(proto);
      if (round == 1) {
        // Three sends, one receive.
        sender.steps = {step(kS, 2, 0, 1204, to1, -1), step(kS, 2, 1204, 1600, to1, -1),
                        step(kS, 2, 2804, 1196, to1, -1)};
        receiver.steps = {step(kR, 3, 0, 4000, -1, from0)};
      } else {
        // One send, three receives ending inside slots.
        sender.steps = {step(kS, 2, 0, 4000, to1, -1)};
        receiver.steps = {step(kR, 3, 0, 84, -1, from0), step(kR, 3, 84, 1316, -1, from0),
                          step(kR, 3, 1400, 2600, -1, from0)};
      }
      ranks[0].lanes.push_back(sender);
      ranks[1].lanes.push_back(receiver);
      ranks[0].bases[2] = reinterpret_cast<uint8_t*>(src.data());
      ranks[1].bases[3] = reinterpret_cast<uint8_t*>(dst.data());
      auto errors = emu.run(DataType::kInt32, ReduceOp::kSum, {}, 4, ranks, 10'000'000'000ull);
      ASSERT_EQ(errors[0], cuda_kernels::kDevOk);
      ASSERT_EQ(errors[1], cuda_kernels::kDevOk);
      for (size_t i = 0; i < n; ++i) ASSERT_EQ(dst[i], src[i]) << i;
    }
  }
}

// A receive step that asks for 4-byte elements when the sender posted a
// byte count that is not a multiple of 4 stops with kDevBadStream instead
// of reading a torn element.
TEST(DeviceEmulation, MismatchedStreamIsReported) {
  Watchdog dog(120, "mismatched stream");
  auto g = smallGeometry(1);
  DeviceEmulator emu(2, g);
  std::vector<uint8_t> src(64, 1), dst(64, 0);
  std::vector<DeviceEmulator::RankLaunch> ranks(2);
  cuda_kernels::DevStep send;
  send.flags = cuda_kernels::kSend;
  send.aBuf = cuda_kernels::kBufFirstOp;
  send.sendFifo = cuda::fifoIndex(1, 0, 2);
  send.bytes = 6;
  cuda_kernels::DevStep recv;
  recv.flags = cuda_kernels::kRecvA | cuda_kernels::kWriteDst;
  recv.dstBuf = cuda_kernels::kBufFirstOp + 1;
  recv.recvFifo = cuda::fifoIndex(0, 0, 2);
  recv.bytes = 8;
  ranks[0].lanes.push_back({{send}, 6, kProtoSimple});
  ranks[1].lanes.push_back({{recv}, 8, kProtoSimple});
  ranks[0].bases[cuda_kernels::kBufFirstOp] = src.data();
  ranks[1].bases[cuda_kernels::kBufFirstOp + 1] = dst.data();
  auto errors = emu.run(DataType::kInt32, ReduceOp::kSum, cuda_kernels::DevReduction{}, 4, ranks,
                        5'000'000'000ull);
  EXPECT_EQ(errors[0], cuda_kernels::kDevOk);
  EXPECT_EQ(errors[1], cuda_kernels::kDevBadStream);
}

// A receiver whose sender never comes stops at the deadline, and with the
// abort flag set it stops at once.
TEST(DeviceEmulation, WaitsEndOnTimeoutAndAbort) {
  Watchdog dog(120, "timeout and abort");
  auto g = smallGeometry(1);
  std::vector<uint8_t> dst(64, 0);
  cuda_kernels::DevStep recv;
  recv.flags = cuda_kernels::kRecvA | cuda_kernels::kWriteDst;
  recv.dstBuf = cuda_kernels::kBufFirstOp + 1;
  recv.recvFifo = cuda::fifoIndex(0, 0, 2);
  recv.bytes = 8;
  for (uint32_t proto : {kProtoSimple, kProtoLL}) {
    DeviceEmulator emu(2, g);
    std::vector<DeviceEmulator::RankLaunch> ranks(2);
    ranks[1].lanes.push_back({{recv}, 8, static_cast<cuda_kernels::DevProtocol>(proto)});
    ranks[1].bases[cuda_kernels::kBufFirstOp + 1] = dst.data();
    auto t0 = std::chrono::steady_clock::now();
    auto errors = emu.run(DataType::kUint8, ReduceOp::kSum, {}, 1, ranks, 200'000'000ull);
    EXPECT_EQ(errors[1], cuda_kernels::kDevTimeout);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(20));
    *emu.abortFlag() = 1;
    errors = emu.run(DataType::kUint8, ReduceOp::kSum, {}, 1, ranks, 0);
    EXPECT_EQ(errors[1], cuda_kernels::kDevAborted);
  }
}

}  // namespace
}  // namespace strata::testing
