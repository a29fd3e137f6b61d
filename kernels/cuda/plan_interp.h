// The plan interpreter: one thread block runs one DevLane, step by step,
// moving data through the FIFOs with the simple (bulk) or the LL
// (flag-in-data) protocol and reducing while it moves. Written once,
// templated on the datatype, the operator and an execution context Ctx, so
// the CUDA kernel (kernels/cuda/executor.cu, Ctx = a thread block) and the
// host emulation in the tests (Ctx = one host thread) run the same code.
//
// Ctx provides: tid(), nthreads(), barrier(), loadAcquire / storeRelease of a
// 64-bit counter, loadVolatile / storeVolatile of an LL line (the flag
// travels in the same 8-byte access as the data, so no fence), nowNs(),
// pause(spins) (called on the spins-th poll of a wait), setError(word, code).
#pragma once

#include "kernels/cuda/device_plan.h"

#if defined(__CUDACC__)
#define STRATA_UNROLL _Pragma("unroll")
#else
#define STRATA_UNROLL
#endif

namespace strata::cuda_kernels {

// What thread 0 decides for one chunk and every thread reads.
struct ChunkState {
  uint64_t bytes;         // data bytes in this chunk
  const uint8_t* inSimple;  // receive: simple slot data at the read offset
  const uint64_t* inLL;     // receive: LL slot (header line first)
  uint64_t inOff;           // receive: byte offset within the LL slot data
  uint32_t inFlag;          // receive: LL flag expected
  uint8_t* outSimple;       // send: simple slot
  uint64_t* outLL;          // send: LL slot
  uint32_t outFlag;         // send: LL flag to write
  int32_t error;
};

inline constexpr int kUnitBytes = 16;  // one vector load/store
inline constexpr int kUnroll = 4;      // units each thread has in flight (library kernels)
#ifndef STRATA_PLAN_UNROLL
#define STRATA_PLAN_UNROLL 6
#endif
inline constexpr int kPlanUnroll = STRATA_PLAN_UNROLL;  // ... in the plan kernel

// 16 bytes as four 32-bit words. Every access below uses compile-time word
// and byte positions (loops are unrolled, partial units are masked rather
// than indexed), so a Unit lives in registers: a run-time index would move
// it to local memory, which costs the kernels most of their bandwidth.
struct alignas(16) Unit {
  uint32_t w[4];
};

// Element k of a unit, k a compile-time position in an unrolled loop.
template <class S>
STRATA_HD S unitGet(const Unit& u, int k) {
  S s;
  if constexpr (sizeof(S) == 8) {
    uint64_t v = uint64_t(u.w[2 * k]) | (uint64_t(u.w[2 * k + 1]) << 32);
    std::memcpy(&s, &v, 8);
  } else if constexpr (sizeof(S) == 4) {
    std::memcpy(&s, &u.w[k], 4);
  } else if constexpr (sizeof(S) == 2) {
    uint16_t v = uint16_t(u.w[k >> 1] >> (16 * (k & 1)));
    std::memcpy(&s, &v, 2);
  } else {
    uint8_t v = uint8_t(u.w[k >> 2] >> (8 * (k & 3)));
    std::memcpy(&s, &v, 1);
  }
  return s;
}
template <class S>
STRATA_HD void unitSet(Unit& u, int k, S s) {
  if constexpr (sizeof(S) == 8) {
    uint64_t v;
    std::memcpy(&v, &s, 8);
    u.w[2 * k] = uint32_t(v);
    u.w[2 * k + 1] = uint32_t(v >> 32);
  } else if constexpr (sizeof(S) == 4) {
    std::memcpy(&u.w[k], &s, 4);
  } else if constexpr (sizeof(S) == 2) {
    uint16_t v;
    std::memcpy(&v, &s, 2);
    const int sh = 16 * (k & 1);
    u.w[k >> 1] = (u.w[k >> 1] & ~(0xffffu << sh)) | (uint32_t(v) << sh);
  } else {
    uint8_t v;
    std::memcpy(&v, &s, 1);
    const int sh = 8 * (k & 3);
    u.w[k >> 2] = (u.w[k >> 2] & ~(0xffu << sh)) | (uint32_t(v) << sh);
  }
}

template <class Ctx>
STRATA_HD bool waitFailed(Ctx& ctx, const DevLaunch& L, uint64_t start, uint64_t spins,
                          int32_t* code) {
  if ((spins & 1023) != 0) return false;
  if (L.abortFlag != nullptr && *L.abortFlag != 0) {
    *code = kDevAborted;
    return true;
  }
  if (L.timeoutNs != 0 && ctx.nowNs() - start > L.timeoutNs) {
    *code = kDevTimeout;
    return true;
  }
  return false;
}

// ---- Element work on a unit of up to 16 bytes.
// Returns the unit's result; a and b are taken by value so that a caller
// may keep the result in a's registers.
template <DataType D, ReduceOp Op>
STRATA_HD Unit computeUnit(const DevReduction& red, uint16_t flags, Unit a, Unit b, int nbytes) {
  using E = Elem<D>;
  using S = typename E::S;
  using C = typename E::C;
  using A = Arith<C>;
  constexpr int kPer = kUnitBytes / int(sizeof(S));
  const C scale = A::scale(red);
  Unit out{{0, 0, 0, 0}};
STRATA_UNROLL
  for (int k = 0; k < kPer; ++k) {
    if (k * int(sizeof(S)) >= nbytes) break;
    C y = E::load(unitGet<S>(a, k));
    if (flags & kPreA) y = A::mul(y, scale);
    if (flags & kRoundA) y = E::load(E::store(y));
    if (flags & kHasB) {
      C cb = E::load(unitGet<S>(b, k));
      if (flags & kPreB) cb = A::mul(cb, scale);
      y = applyOp<Op>(y, cb);
    }
    if (flags & kPost) y = A::div(y, red.divisor);
    unitSet<S>(out, k, E::store(y));
  }
  return out;
}

STRATA_HD bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; }

// Up to 16 bytes one at a time (tails and unaligned units), bytes past
// nbytes read as zero. Volatile: FIFO bytes may come from another SM.
STRATA_HD void loadBytes(Unit& u, const volatile uint8_t* p, int nbytes) {
  u = Unit{{0, 0, 0, 0}};
  STRATA_UNROLL
  for (int i = 0; i < kUnitBytes; ++i) {
    if (i < nbytes) u.w[i >> 2] |= uint32_t(p[i]) << (8 * (i & 3));
  }
}
#if defined(__CUDA_ARCH__)
__device__ __forceinline__ Unit unitOf(uint4 v) { return Unit{{v.x, v.y, v.z, v.w}}; }
#endif
STRATA_HD void loadUnit(Unit& u, const uint8_t* p, int nbytes) {
  if (nbytes == kUnitBytes && aligned16(p)) {
#if defined(__CUDA_ARCH__)
    u = unitOf(*reinterpret_cast<const uint4*>(p));
#else
    std::memcpy(u.w, p, kUnitBytes);
#endif
  } else {
    loadBytes(u, p, nbytes);
  }
}
// FIFO slot data written by another SM or GPU: read past the (incoherent)
// L1 cache, from L2.
STRATA_HD void loadFifoUnit(Unit& u, const uint8_t* p, int nbytes) {
#if defined(__CUDA_ARCH__)
  if (nbytes == kUnitBytes && aligned16(p)) {
    u = unitOf(__ldcg(reinterpret_cast<const uint4*>(p)));
  } else {
    loadBytes(u, p, nbytes);
  }
#else
  loadUnit(u, p, nbytes);
#endif
}

STRATA_HD void storeUnit(uint8_t* p, const Unit& u, int nbytes) {
  if (nbytes == kUnitBytes && aligned16(p)) {
#if defined(__CUDA_ARCH__)
    *reinterpret_cast<uint4*>(p) = make_uint4(u.w[0], u.w[1], u.w[2], u.w[3]);
#else
    std::memcpy(p, u.w, kUnitBytes);
#endif
  } else {
    STRATA_UNROLL
    for (int i = 0; i < kUnitBytes; ++i) {
      if (i < nbytes) p[i] = uint8_t(u.w[i >> 2] >> (8 * (i & 3)));
    }
  }
}

// Reads `nbytes` (<= 16) of LL data starting at data byte `off` of a slot,
// polling every line until its flag is `flag`. The bytes span at most five
// 4-byte lines; they are read into fixed registers and shifted into place.
// False on abort/timeout.
template <class Ctx>
STRATA_HD bool llRead(Ctx& ctx, const DevLaunch& L, const uint64_t* slot, uint32_t flag,
                      uint64_t off, int nbytes, Unit& u, int32_t* code) {
  const uint64_t firstLine = off / 4, lastLine = (off + nbytes - 1) / 4;
  uint32_t d[5];
  STRATA_UNROLL
  for (int j = 0; j < 5; ++j) {
    d[j] = 0;
    if (firstLine + j > lastLine) continue;
    const uint64_t* line = slot + 1 + firstLine + j;
    uint64_t v = ctx.loadVolatile(line);
    uint64_t spins = 0, start = 0;
    while (uint32_t(v >> 32) != flag) {
      if (spins == 0) start = ctx.nowNs();
      if (waitFailed(ctx, L, start, ++spins, code)) return false;
      ctx.pause(spins);
      v = ctx.loadVolatile(line);
    }
    d[j] = uint32_t(v);
  }
  const int sh = int(off & 3) * 8;
  STRATA_UNROLL
  for (int j = 0; j < 4; ++j) {
    u.w[j] = uint32_t((uint64_t(d[j]) | (uint64_t(d[j + 1]) << 32)) >> sh);
  }
  // Bytes past nbytes may hold a neighbour's data; callers ignore them.
  return true;
}

// Writes `nbytes` (<= 16, a whole number of lines except at the end of the
// chunk) of LL data at data byte `off` (a multiple of 16) of a slot.
template <class Ctx>
STRATA_HD void llWrite(Ctx& ctx, uint64_t* slot, uint32_t flag, uint64_t off, const Unit& u,
                       int nbytes) {
  STRATA_UNROLL
  for (int line = 0; line < 4; ++line) {
    if (line * 4 >= nbytes) break;
    ctx.storeVolatile(slot + 1 + off / 4 + line, (uint64_t(flag) << 32) | u.w[line]);
  }
}

// All threads: the element work of one chunk.
template <DataType D, ReduceOp Op, class Ctx>
STRATA_HD bool processChunk(Ctx& ctx, const DevLaunch& L, const DevStep& s, uint64_t done,
                            const ChunkState& c, int32_t* code) {
  const uint64_t n = c.bytes;
  const uint8_t* aMem = (s.flags & kRecvA) ? nullptr : L.bases[s.aBuf] + s.aOff + done;
  const uint8_t* bMem = (s.flags & kHasB) ? L.bases[s.bBuf] + s.bOff + done : nullptr;
  uint8_t* dst = (s.flags & kWriteDst) ? L.bases[s.dstBuf] + s.dstOff + done : nullptr;
  const uint64_t units = (n + kUnitBytes - 1) / kUnitBytes;
  const uint64_t nt = uint64_t(ctx.nthreads());
  // Unit base + k * nt for k < kPlanUnroll: neighbouring threads touch
  // neighbouring 16-byte units (coalesced), each with kPlanUnroll loads of
  // each operand in flight.
  for (uint64_t base = uint64_t(ctx.tid()); base < units; base += nt * kPlanUnroll) {
    Unit a[kPlanUnroll], b[kPlanUnroll];  // a[k] then holds the result
    int len[kPlanUnroll];
    STRATA_UNROLL
    for (int k = 0; k < kPlanUnroll; ++k) {
      uint64_t u = base + k * nt;
      len[k] = u < units ? int(n - u * kUnitBytes < kUnitBytes ? n - u * kUnitBytes : kUnitBytes)
                         : 0;
      if (len[k] == 0) continue;
      uint64_t off = u * kUnitBytes;
      if (aMem != nullptr) {
        loadUnit(a[k], aMem + off, len[k]);
      } else if (c.inSimple != nullptr) {
        loadFifoUnit(a[k], c.inSimple + off, len[k]);
      } else if (!llRead(ctx, L, c.inLL, c.inFlag, c.inOff + off, len[k], a[k], code)) {
        return false;
      }
      if (bMem != nullptr) loadUnit(b[k], bMem + off, len[k]);
    }
    STRATA_UNROLL
    for (int k = 0; k < kPlanUnroll; ++k) {
      if (len[k] == 0) continue;
      a[k] = computeUnit<D, Op>(L.red, s.flags, a[k], b[k], len[k]);
      uint64_t off = (base + k * nt) * kUnitBytes;
      if (dst != nullptr) storeUnit(dst + off, a[k], len[k]);
      if (c.outSimple != nullptr) storeUnit(c.outSimple + off, a[k], len[k]);
      if (c.outLL != nullptr) llWrite(ctx, c.outLL, c.outFlag, off, a[k], len[k]);
    }
  }
  return true;
}

// Thread 0: waits for the receive data and the send slot of the next chunk
// and fills `c`. Returns false (with *code) on abort, timeout or a stream
// that does not match the step.
template <class Ctx>
STRATA_HD bool prepareChunk(Ctx& ctx, const DevLaunch& L, const DevLane& lane, const DevStep& s,
                            uint64_t remaining, ChunkState& c, int32_t* code) {
  const bool ll = lane.protocol == kProtoLL;
  c.bytes = remaining;
  c.inSimple = nullptr;
  c.inLL = nullptr;
  c.outSimple = nullptr;
  c.outLL = nullptr;
  if (s.flags & kRecvA) {
    const DevFifo& f = L.recvFifos[s.recvFifo];
    uint64_t consumed = f.header->consumed;  // only this lane writes it
    uint32_t slot = uint32_t(consumed % f.nslots);
    uint64_t size = 0;
    uint64_t spins = 0, start = 0;
    if (ll) {
      const uint64_t* lines = f.ll + slot * (f.llSlotBytes / 8);
      uint32_t flag = uint32_t(consumed + 1);
      uint64_t h = ctx.loadVolatile(lines);
      while (uint32_t(h >> 32) != flag) {
        if (spins == 0) start = ctx.nowNs();
        if (waitFailed(ctx, L, start, ++spins, code)) return false;
        ctx.pause(spins);
        h = ctx.loadVolatile(lines);
      }
      size = uint32_t(h);
      c.inLL = lines;
      c.inFlag = flag;
      c.inOff = f.header->recvOffset;
    } else {
      while (ctx.loadAcquire(&f.header->posted) <= consumed) {
        if (spins == 0) start = ctx.nowNs();
        if (waitFailed(ctx, L, start, ++spins, code)) return false;
        ctx.pause(spins);
      }
      size = ctx.loadVolatile(&f.header->sizes[slot]);
      c.inSimple = f.simple + slot * f.slotBytes + f.header->recvOffset;
    }
    uint64_t avail = size - f.header->recvOffset;
    if (avail == 0 || avail % L.elemSize != 0 || size > (ll ? llSlotDataBytes(f.llSlotBytes)
                                                                : f.slotBytes)) {
      *code = kDevBadStream;
      return false;
    }
    if (avail < c.bytes) c.bytes = avail;
  }
  if (s.flags & kSend) {
    const DevFifo& f = L.sendFifos[s.sendFifo];
    uint64_t posted = f.header->posted;  // only this lane writes it
    uint64_t spins = 0, start = 0;
    while (posted - ctx.loadAcquire(&f.header->consumed) >= f.nslots) {
      if (spins == 0) start = ctx.nowNs();
      if (waitFailed(ctx, L, start, ++spins, code)) return false;
      ctx.pause(spins);
    }
    uint32_t slot = uint32_t(posted % f.nslots);
    uint64_t cap = ll ? llSlotDataBytes(f.llSlotBytes) : f.slotBytes;
    cap -= cap % L.elemSize;
    if (cap < c.bytes) c.bytes = cap;
    if (ll) {
      c.outLL = f.ll + slot * (f.llSlotBytes / 8);
      c.outFlag = uint32_t(posted + 1);
    } else {
      c.outSimple = f.simple + slot * f.slotBytes;
    }
  }
  return true;
}

// Thread 0, after every thread finished the chunk: publish and release.
template <class Ctx>
STRATA_HD void finishChunk(Ctx& ctx, const DevLaunch& L, const DevLane& lane, const DevStep& s,
                           const ChunkState& c) {
  const bool ll = lane.protocol == kProtoLL;
  if (s.flags & kSend) {
    const DevFifo& f = L.sendFifos[s.sendFifo];
    uint64_t posted = f.header->posted;
    if (ll) {
      ctx.storeVolatile(c.outLL, (uint64_t(c.outFlag) << 32) | uint32_t(c.bytes));
      f.header->posted = posted + 1;  // the receiver polls the lines, not this
    } else {
      f.header->sizes[posted % f.nslots] = c.bytes;
      ctx.storeRelease(&f.header->posted, posted + 1);
    }
  }
  if (s.flags & kRecvA) {
    const DevFifo& f = L.recvFifos[s.recvFifo];
    uint64_t consumed = f.header->consumed;
    uint64_t size = ll ? uint32_t(ctx.loadVolatile(c.inLL))
                       : ctx.loadVolatile(&f.header->sizes[consumed % f.nslots]);
    uint64_t off = f.header->recvOffset + c.bytes;
    if (off >= size) {
      f.header->recvOffset = 0;
      ctx.storeRelease(&f.header->consumed, consumed + 1);
    } else {
      f.header->recvOffset = off;
    }
  }
}

// Every thread of the block calls this with the same lane. Returns kDevOk
// or the error that stopped it (also recorded in L.error).
template <DataType D, ReduceOp Op, class Ctx>
STRATA_HD int32_t runLane(Ctx& ctx, const DevLaunch& L, const DevLane& lane, ChunkState& shared) {
  for (uint32_t i = 0; i < lane.nsteps; ++i) {
    const DevStep& s = lane.steps[i];
    uint64_t done = 0;
    while (done < s.bytes) {
      if (ctx.tid() == 0) {
        int32_t code = kDevOk;
        if (!prepareChunk(ctx, L, lane, s, s.bytes - done, shared, &code)) shared.error = code;
      }
      ctx.barrier();
      if (shared.error != kDevOk) break;
      int32_t code = kDevOk;
      if (!processChunk<D, Op>(ctx, L, s, done, shared, &code)) shared.error = code;
      // Thread 0 publishes after the barrier with a release store
      // (storeRelease): the barrier orders every thread's writes before it
      // and the release is cumulative, so one per chunk covers the whole
      // block. LL lines carry their own flags and need none.
      ctx.barrier();
      if (shared.error != kDevOk) break;
      if (ctx.tid() == 0) finishChunk(ctx, L, lane, s, shared);
      done += shared.bytes;
      ctx.barrier();  // `shared` is rewritten for the next chunk
    }
    if (shared.error != kDevOk) break;
  }
  int32_t err = shared.error;
  if (err != kDevOk && ctx.tid() == 0) ctx.setError(L.error, err);
  return err;
}

}  // namespace strata::cuda_kernels
