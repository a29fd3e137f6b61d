// What the CUDA kernel will see for every algorithm, rank and a few world
// sizes: each plan step lowered to a DevStep with the right byte offsets,
// counts, operand roles, reduction flags and peer FIFO indices.
#include <gtest/gtest.h>

#include "algorithms/algorithms.h"
#include "cuda/lowering.h"

namespace strata::testing {
namespace {

using namespace cuda_kernels;
using plan::Buf;
using plan::CollType;
using plan::Op;

uint8_t expectedBase(Buf b, const cuda::LoweringContext& ctx) {
  switch (b) {
    case Buf::kInput: return ctx.inputBase;
    case Buf::kOutput: return ctx.outputBase;
    case Buf::kScratch: return kBufScratch;
    default: return kBufNone;
  }
}

// Checks one lowered step against its plan step.
void checkStep(const plan::Step& s, const DevStep& d, int channel, const cuda::LoweringContext& ctx) {
  SCOPED_TRACE(plan::toString(s));
  const size_t es = ctx.elemSize;
  EXPECT_EQ(d.planOp, static_cast<uint8_t>(s.op));
  EXPECT_EQ(d.bytes, s.count * es);
  const bool recvs = plan::opRecvs(s.op), sends = plan::opSends(s.op);
  EXPECT_EQ((d.flags & kRecvA) != 0, recvs);
  EXPECT_EQ((d.flags & kSend) != 0, sends);
  EXPECT_EQ((d.flags & kWriteDst) != 0, plan::opWritesDst(s.op));
  EXPECT_EQ(d.recvFifo, recvs ? channel * ctx.nranks + s.recvPeer : -1);
  EXPECT_EQ(d.sendFifo, sends ? channel * ctx.nranks + s.sendPeer : -1);
  if (recvs) {
    EXPECT_LT(d.recvFifo, ctx.nchannels * ctx.nranks);
  }
  if (sends) {
    EXPECT_LT(d.sendFifo, ctx.nchannels * ctx.nranks);
  }
  if (plan::opWritesDst(s.op)) {
    EXPECT_EQ(d.dstBuf, expectedBase(s.dst.buf, ctx));
    EXPECT_EQ(d.dstOff, s.dst.offset * es);
  }
  const bool srcIn = s.src.buf == Buf::kInput;
  switch (s.op) {
    case Op::kSend:
    case Op::kCopy:
      EXPECT_EQ(d.aBuf, expectedBase(s.src.buf, ctx));
      EXPECT_EQ(d.aOff, s.src.offset * es);
      EXPECT_FALSE(d.flags & kHasB);
      EXPECT_EQ((d.flags & kPreA) != 0, srcIn && ctx.preScale);
      break;
    case Op::kRecv:
    case Op::kRecvCopySend:
      EXPECT_FALSE(d.flags & (kHasB | kPreA | kPreB));
      break;
    case Op::kRecvReduceSend:
    case Op::kRecvReduceCopy:
    case Op::kRecvReduceCopySend:
      EXPECT_TRUE(d.flags & kHasB);
      EXPECT_EQ(d.bBuf, expectedBase(s.src.buf, ctx));
      EXPECT_EQ(d.bOff, s.src.offset * es);
      EXPECT_EQ((d.flags & kPreB) != 0, srcIn && ctx.preScale);
      EXPECT_FALSE(d.flags & kPreA);
      break;
    case Op::kLocalReduce: {
      EXPECT_TRUE(d.flags & kHasB);
      // The Input operand (if exactly one) is B, the pre-scaled right-hand side.
      const bool src2In = s.src2.buf == Buf::kInput;
      if (srcIn && !(src2In && ctx.preScale)) {
        EXPECT_EQ(d.bBuf, expectedBase(s.src.buf, ctx));
        EXPECT_EQ(d.aBuf, expectedBase(s.src2.buf, ctx));
      } else {
        EXPECT_EQ(d.aBuf, expectedBase(s.src.buf, ctx));
        EXPECT_EQ(d.bBuf, expectedBase(s.src2.buf, ctx));
      }
      break;
    }
  }
  EXPECT_EQ((d.flags & kPost) != 0, s.finalize && ctx.postDivide);
}

struct Algo {
  CollType type;
  const char* name;
  bool rooted;
};

TEST(DeviceLowering, EveryAlgorithmRankAndWorldSize) {
  const Algo algos[] = {
      {CollType::kAllReduce, "ring", false},    {CollType::kAllReduce, "direct", false},
      {CollType::kReduceScatter, "ring", false}, {CollType::kAllGather, "ring", false},
      {CollType::kBroadcast, "chain", true},    {CollType::kReduce, "chain", true},
      {CollType::kAllToAll, "p2p", false},      {CollType::kGather, "p2p", true},
      {CollType::kScatter, "p2p", true},        {CollType::kSend, "", false},
      {CollType::kRecv, "", false},
  };
  int checked = 0;
  for (const Algo& a : algos) {
    for (int n : {1, 2, 3, 4, 7, 8}) {
      for (size_t count : {size_t(0), size_t(1), size_t(1000), size_t(123457)}) {
        for (size_t es : {size_t(1), size_t(2), size_t(4), size_t(8)}) {
          for (int root = 0; root < (a.rooted ? n : 1); ++root) {
            for (int rank = 0; rank < n; ++rank) {
              plan::CollArgs args;
              args.type = a.type;
              args.count = count;
              args.root = root;
              args.rank = rank;
              args.nranks = n;
              args.peer = (rank + 1) % n;
              plan::PlanOptions po;
              po.nchannels = 2;
              po.p2pChannel = 2;
              po.maxStepElems = 4096;
              auto p = algorithms::buildPlan(args, po, a.name);
              ASSERT_TRUE(p.ok()) << p.status().toString();
              for (int mode = 0; mode < 4; ++mode) {
                cuda::LoweringContext ctx;
                ctx.nranks = n;
                ctx.nchannels = 3;
                ctx.elemSize = es;
                ctx.preScale = mode & 1;
                ctx.postDivide = mode & 2;
                ctx.inputBase = 6;  // as the third operation of a launch
                ctx.outputBase = 7;
                for (const auto& prog : p.value().programs) {
                  cuda::LoweredLane lane;
                  ASSERT_TRUE(cuda::lowerProgram(prog, ctx, &lane).ok());
                  size_t j = 0, bytes = 0;
                  for (const auto& s : prog.steps) {
                    if (s.count == 0) continue;  // dropped
                    ASSERT_LT(j, lane.steps.size());
                    checkStep(s, lane.steps[j++], prog.channel, ctx);
                    bytes += s.count * es;
                    ++checked;
                  }
                  EXPECT_EQ(j, lane.steps.size());
                  EXPECT_EQ(lane.bytes, bytes);
                }
              }
            }
          }
        }
      }
    }
  }
  EXPECT_GT(checked, 100000);
}

TEST(DeviceLowering, RejectsPeersAndChannelsOutsideTheCommunicator) {
  cuda::LoweringContext ctx;
  ctx.nranks = 2;
  ctx.nchannels = 1;
  ctx.elemSize = 4;
  plan::ChannelProgram prog;
  prog.channel = 0;
  plan::Step s;
  s.op = Op::kSend;
  s.sendPeer = 2;
  s.src.buf = Buf::kInput;
  s.count = 1;
  prog.steps.push_back(s);
  cuda::LoweredLane lane;
  EXPECT_FALSE(cuda::lowerProgram(prog, ctx, &lane).ok());
  prog.steps[0].sendPeer = 1;
  prog.channel = 1;
  EXPECT_FALSE(cuda::lowerProgram(prog, ctx, &lane).ok());
  prog.channel = 0;
  EXPECT_TRUE(cuda::lowerProgram(prog, ctx, &lane).ok());
  ASSERT_EQ(lane.steps.size(), 1u);
  EXPECT_EQ(lane.steps[0].sendFifo, 1);
  // A byte offset that overflows 64 bits.
  prog.steps[0].src.offset = SIZE_MAX / 2;
  EXPECT_FALSE(cuda::lowerProgram(prog, ctx, &lane).ok());
  ctx.elemSize = 16;
  prog.steps[0].src.offset = 0;
  EXPECT_FALSE(cuda::lowerProgram(prog, ctx, &lane).ok());
}

TEST(DeviceLowering, ProtocolBySizeAndLlCapacity) {
  EXPECT_EQ(cuda::chooseProtocol(0, 65536), kProtoLL);
  EXPECT_EQ(cuda::chooseProtocol(8, 65536), kProtoLL);
  EXPECT_EQ(cuda::chooseProtocol(65536, 65536), kProtoLL);
  EXPECT_EQ(cuda::chooseProtocol(65537, 65536), kProtoSimple);
  EXPECT_EQ(cuda::chooseProtocol(8, 0), kProtoSimple);
  // 4 LL slots of 64 KiB carry 4 x 32764 data bytes; half of that is the cap.
  EXPECT_EQ(llSlotDataBytes(65536), 32764u);
  EXPECT_EQ(cuda::effectiveLlMaxBytes(4, 65536, 65536), 65528u);
  EXPECT_EQ(cuda::effectiveLlMaxBytes(4, 65536, 1024), 1024u);
  EXPECT_EQ(cuda::effectiveLlMaxBytes(2, 1024, 1u << 20), 508u);
}

TEST(DeviceLowering, ReductionScalarsAsTheHostKernelsReadThem) {
  Reduction r;
  r.op = ReduceOp::kMax;
  auto d = toDevReduction(r);
  EXPECT_EQ(d.op, static_cast<int32_t>(ReduceOp::kMax));
  EXPECT_EQ(d.divisor, 1u);
  EXPECT_EQ(d.scaleF, 1.0);
  r.op = ReduceOp::kSum;
  r.postDivisor = 5;
  r.hasPreScale = true;
  r.preScale.type = DataType::kFloat32;
  r.preScale.f = 0.25;
  d = toDevReduction(r);
  EXPECT_EQ(d.divisor, 5u);
  EXPECT_EQ(d.scaleF, 0.25);
  EXPECT_EQ(d.scaleBits, 0u);  // a float scale truncates for integer use
  r.preScale.type = DataType::kInt32;
  r.preScale.i = -3;
  d = toDevReduction(r);
  EXPECT_EQ(d.scaleBits, uint64_t(int64_t(-3)));
  EXPECT_EQ(d.scaleF, -3.0);
}

}  // namespace
}  // namespace strata::testing
