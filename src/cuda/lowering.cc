#include "cuda/lowering.h"

#include <limits>

#include "kernels/host/reduce_loops.h"

namespace strata::cuda_kernels {

DevReduction toDevReduction(const Reduction& r) {
  DevReduction d;
  d.op = static_cast<int32_t>(r.op);
  if (r.hasPreScale) {
    d.scaleF = kernels::detail::scalarAsDouble(r.preScale);
    d.scaleBits = kernels::detail::scalarAsBits(r.preScale);
  }
  d.divisor = r.postDivisor > 1 ? r.postDivisor : 1;
  return d;
}

}  // namespace strata::cuda_kernels

namespace strata::cuda {
namespace {

using namespace cuda_kernels;
using plan::Buf;
using plan::Op;

uint8_t devBuf(Buf b, const LoweringContext& ctx) {
  switch (b) {
    case Buf::kInput: return ctx.inputBase;
    case Buf::kOutput: return ctx.outputBase;
    case Buf::kScratch: return kBufScratch;
    case Buf::kNone: break;
  }
  return kBufNone;
}

Status byteOffset(const plan::Ref& r, const plan::Step& s, size_t es, uint64_t* out) {
  const uint64_t max = std::numeric_limits<uint64_t>::max() / es;
  if (r.offset > max || s.count > max || r.offset + s.count > max) {
    return InvalidArgument("plan step ", plan::toString(s), ": byte offset overflows");
  }
  if (r.buf == Buf::kNone) return InternalError("plan step ", plan::toString(s), " has no buffer");
  *out = r.offset * es;
  return Status::Ok();
}

Status peerFifo(int peer, int channel, const LoweringContext& ctx, const plan::Step& s,
                int32_t* out) {
  if (peer < 0 || peer >= ctx.nranks) {
    return InternalError("plan step ", plan::toString(s), ": peer ", peer, " outside [0, ",
                         ctx.nranks, ")");
  }
  if (channel < 0 || channel >= ctx.nchannels) {
    return InternalError("plan step ", plan::toString(s), ": channel ", channel, " outside [0, ",
                         ctx.nchannels, ")");
  }
  *out = fifoIndex(peer, channel, ctx.nranks);
  return Status::Ok();
}

}  // namespace

Status lowerProgram(const plan::ChannelProgram& program, const LoweringContext& ctx,
                    LoweredLane* lane) {
  const size_t es = ctx.elemSize;
  if (es == 0 || es > 8) return InvalidArgument("element size ", es, " is not 1..8 bytes");
  for (const plan::Step& s : program.steps) {
    if (s.count == 0) continue;
    DevStep d;
    d.planOp = static_cast<uint8_t>(s.op);
    d.bytes = s.count * es;
    uint16_t f = 0;
    const bool srcInput = s.src.buf == Buf::kInput;
    auto setA = [&](const plan::Ref& r) -> Status {
      d.aBuf = devBuf(r.buf, ctx);
      return byteOffset(r, s, es, &d.aOff);
    };
    auto setB = [&](const plan::Ref& r) -> Status {
      f |= kHasB;
      d.bBuf = devBuf(r.buf, ctx);
      return byteOffset(r, s, es, &d.bOff);
    };
    if (plan::opRecvs(s.op)) {
      f |= kRecvA;
      STRATA_RETURN_IF_ERROR(peerFifo(s.recvPeer, program.channel, ctx, s, &d.recvFifo));
    }
    if (plan::opSends(s.op)) {
      f |= kSend;
      STRATA_RETURN_IF_ERROR(peerFifo(s.sendPeer, program.channel, ctx, s, &d.sendFifo));
    }
    if (plan::opWritesDst(s.op)) {
      f |= kWriteDst;
      d.dstBuf = devBuf(s.dst.buf, ctx);
      STRATA_RETURN_IF_ERROR(byteOffset(s.dst, s, es, &d.dstOff));
    }
    switch (s.op) {
      case Op::kSend:
      case Op::kCopy:
        STRATA_RETURN_IF_ERROR(setA(s.src));
        if (srcInput && ctx.preScale) f |= kPreA;
        break;
      case Op::kRecv:
      case Op::kRecvCopySend:
        break;
      case Op::kRecvReduceSend:
      case Op::kRecvReduceCopy:
      case Op::kRecvReduceCopySend:
        STRATA_RETURN_IF_ERROR(setB(s.src));
        if (srcInput && ctx.preScale) f |= kPreB;
        break;
      case Op::kLocalReduce: {
        // Operand order as the host executor reduces: the pre-scaled
        // operand is the right-hand one unless both are Input.
        const bool src2Input = s.src2.buf == Buf::kInput;
        if (srcInput && src2Input && ctx.preScale) {
          STRATA_RETURN_IF_ERROR(setA(s.src));
          STRATA_RETURN_IF_ERROR(setB(s.src2));
          f |= kPreA | kRoundA | kPreB;
        } else if (srcInput) {
          STRATA_RETURN_IF_ERROR(setA(s.src2));
          STRATA_RETURN_IF_ERROR(setB(s.src));
          if (ctx.preScale) f |= kPreB;
        } else {
          STRATA_RETURN_IF_ERROR(setA(s.src));
          STRATA_RETURN_IF_ERROR(setB(s.src2));
          if (src2Input && ctx.preScale) f |= kPreB;
        }
        break;
      }
    }
    if (s.finalize && ctx.postDivide) f |= kPost;
    d.flags = f;
    lane->steps.push_back(d);
    lane->bytes += d.bytes;
  }
  return Status::Ok();
}

uint64_t effectiveLlMaxBytes(uint32_t nslots, uint64_t llSlotBytes, uint64_t setting) {
  uint64_t half = uint64_t(nslots) * llSlotDataBytes(llSlotBytes) / 2;
  return setting < half ? setting : half;
}

DevProtocol chooseProtocol(uint64_t operationBytes, uint64_t llMaxBytes) {
  return operationBytes <= llMaxBytes ? kProtoLL : kProtoSimple;
}

}  // namespace strata::cuda
