// The zero-copy analysis (plan/zero_copy.h): hand-made plans where a later
// or concurrent write makes a sent region unstable and an earlier or
// concurrent access makes a received region unsafe to fill early; stream
// positions; and the indexed analysis against a direct reading of its
// definition over every algorithm's plans.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "algorithms/algorithms.h"
#include "plan/zero_copy.h"

namespace strata::testing {
namespace {

using plan::Buf;
using plan::CollType;
using plan::Op;
using plan::Ref;
using plan::Step;

Step step(Op op, Ref src, Ref dst, size_t count, int from = -1, int to = -1) {
  Step s;
  s.op = op;
  s.src = src;
  s.dst = dst;
  s.count = count;
  s.recvPeer = from;
  s.sendPeer = to;
  return s;
}

Ref in(size_t off) { return Ref{Buf::kInput, off}; }
Ref out(size_t off) { return Ref{Buf::kOutput, off}; }
Ref scratch(size_t off) { return Ref{Buf::kScratch, off}; }
const Ref kNone{};

plan::RankPlan planOf(std::vector<std::vector<Step>> programs) {
  plan::RankPlan p;
  p.nranks = 4;
  for (size_t i = 0; i < programs.size(); ++i) {
    p.programs.push_back(plan::ChannelProgram{static_cast<int>(i), std::move(programs[i])});
  }
  return p;
}

TEST(ZeroCopyAnalysis, SentRegionMustNotBeWrittenLaterOrConcurrently) {
  auto p = planOf({{step(Op::kSend, out(0), kNone, 10, -1, 1),       // 0: rewritten by 2
                    step(Op::kSend, out(100), kNone, 10, -1, 1),     // 1: nobody writes it
                    step(Op::kRecv, kNone, out(5), 10, 2),           // 2
                    step(Op::kSend, in(0), kNone, 50, -1, 1),        // 3: input nobody writes
                    step(Op::kSend, scratch(0), kNone, 10, -1, 1)},  // 4: scratch: never
                   {step(Op::kRecv, kNone, out(300), 10, 3),         // other program
                    step(Op::kSend, out(200), kNone, 10, -1, 3)}});
  auto z = plan::analyzeZeroCopy(p);
  EXPECT_FALSE(z.at(0, 0) & plan::kStableSend);
  EXPECT_TRUE(z.at(0, 1) & plan::kStableSend);
  EXPECT_TRUE(z.at(0, 3) & plan::kStableSend);
  EXPECT_FALSE(z.at(0, 4) & plan::kStableSend);
  EXPECT_TRUE(z.at(1, 1) & plan::kStableSend);

  // A write earlier in the same program is fine; any write by another
  // program is not, earlier or later in its order.
  auto q = planOf({{step(Op::kCopy, in(0), out(0), 10), step(Op::kSend, out(0), kNone, 10, -1, 1)},
                   {step(Op::kSend, out(50), kNone, 10, -1, 2), step(Op::kCopy, in(0), out(55), 1)}});
  z = plan::analyzeZeroCopy(q);
  EXPECT_TRUE(z.at(0, 1) & plan::kStableSend);
  EXPECT_FALSE(z.at(1, 0) & plan::kStableSend);
}

TEST(ZeroCopyAnalysis, CopySendStepsSendTheirDestination) {
  // RecvCopySend and RecvReduceCopySend send what they write to dst.
  auto p = planOf({{step(Op::kRecvReduceCopySend, in(0), out(0), 10, 1, 2),
                    step(Op::kRecvCopySend, kNone, out(10), 10, 1, 2),
                    step(Op::kRecvCopySend, kNone, out(20), 10, 1, 2),
                    step(Op::kRecv, kNone, out(25), 10, 1)}});
  auto z = plan::analyzeZeroCopy(p);
  EXPECT_TRUE(z.at(0, 0) & plan::kStableSend);
  EXPECT_TRUE(z.at(0, 1) & plan::kStableSend);
  EXPECT_FALSE(z.at(0, 2) & plan::kStableSend) << "out(25..29) is written by step 3";
}

TEST(ZeroCopyAnalysis, ReceivedRegionMustBeUntouchedBeforeAndElsewhere) {
  auto p = planOf({{step(Op::kSend, out(0), kNone, 10, -1, 1),        // reads out(0..9)
                    step(Op::kRecv, kNone, out(5), 10, 1),            // 1: read before: no
                    step(Op::kRecv, kNone, out(100), 10, 1),          // 2: yes
                    step(Op::kRecvCopySend, kNone, out(200), 10, 1, 2),  // 3: yes
                    step(Op::kCopy, out(100), in(0), 10),             // reads it later: fine
                    step(Op::kRecvReduceCopy, in(0), out(400), 10, 1),  // 5: reduces: never
                    step(Op::kRecv, kNone, scratch(0), 10, 1),        // 6: scratch: never
                    step(Op::kRecv, kNone, out(500), 10, 1)},         // 7: other program reads
                   {step(Op::kSend, out(505), kNone, 1, -1, 3)}});
  auto z = plan::analyzeZeroCopy(p);
  EXPECT_FALSE(z.at(0, 1) & plan::kUntouchedRecv);
  EXPECT_TRUE(z.at(0, 2) & plan::kUntouchedRecv);
  EXPECT_TRUE(z.at(0, 3) & plan::kUntouchedRecv);
  EXPECT_FALSE(z.at(0, 5) & plan::kUntouchedRecv);
  EXPECT_FALSE(z.at(0, 6) & plan::kUntouchedRecv);
  EXPECT_FALSE(z.at(0, 7) & plan::kUntouchedRecv);
  EXPECT_TRUE(z.writesInput);
  EXPECT_EQ(z.inputExtent, 10u);
  EXPECT_EQ(z.outputExtent, 510u);
}

TEST(ZeroCopyAnalysis, StreamPositionsCountWhatEachPeerSentBefore) {
  auto p = planOf({{step(Op::kRecv, kNone, out(0), 7, 1),
                    step(Op::kRecv, kNone, out(7), 5, 2),
                    step(Op::kSend, in(0), kNone, 100, -1, 1),
                    step(Op::kRecvReduceSend, in(0), kNone, 11, 1, 2),
                    step(Op::kRecv, kNone, out(20), 3, 2),
                    step(Op::kRecv, kNone, out(30), 4, 1)}});
  auto z = plan::analyzeZeroCopy(p);
  EXPECT_EQ(z.recvPosition[0][0], 0u);
  EXPECT_EQ(z.recvPosition[0][1], 0u);
  EXPECT_EQ(z.recvPosition[0][3], 7u);
  EXPECT_EQ(z.recvPosition[0][4], 5u);
  EXPECT_EQ(z.recvPosition[0][5], 18u);
}

// The definition, read directly: quadratic, for checking the index.
plan::ZeroCopyMap naive(const plan::RankPlan& p) {
  plan::ZeroCopyMap z;
  auto user = [](Buf b) { return b == Buf::kInput || b == Buf::kOutput; };
  struct Use {
    size_t prog, step;
    Buf buf;
    size_t b, e;
    bool write;
  };
  std::vector<Use> uses;
  for (size_t q = 0; q < p.programs.size(); ++q) {
    const auto& steps = p.programs[q].steps;
    for (size_t j = 0; j < steps.size(); ++j) {
      const Step& s = steps[j];
      if (s.count == 0) continue;
      if (plan::opReadsSrc(s.op)) uses.push_back({q, j, s.src.buf, s.src.offset, s.src.offset + s.count, false});
      if (s.op == Op::kLocalReduce) uses.push_back({q, j, s.src2.buf, s.src2.offset, s.src2.offset + s.count, false});
      if (plan::opWritesDst(s.op)) uses.push_back({q, j, s.dst.buf, s.dst.offset, s.dst.offset + s.count, true});
    }
  }
  z.flags.resize(p.programs.size());
  for (size_t q = 0; q < p.programs.size(); ++q) {
    const auto& steps = p.programs[q].steps;
    z.flags[q].assign(steps.size(), 0);
    for (size_t j = 0; j < steps.size(); ++j) {
      const Step& s = steps[j];
      if (s.count == 0) continue;
      const Ref* sent = s.op == Op::kSend ? &s.src
                        : (s.op == Op::kRecvCopySend || s.op == Op::kRecvReduceCopySend) ? &s.dst
                                                                                           : nullptr;
      const Ref* recv = (s.op == Op::kRecv || s.op == Op::kRecvCopySend) ? &s.dst : nullptr;
      auto any = [&](const Ref* r, auto pred) {
        for (const Use& u : uses) {
          if (u.buf == r->buf && u.b < r->offset + s.count && r->offset < u.e && pred(u)) return true;
        }
        return false;
      };
      if (sent != nullptr && user(sent->buf) &&
          !any(sent, [&](const Use& u) { return u.write && (u.prog != q || u.step > j); })) {
        z.flags[q][j] |= plan::kStableSend;
      }
      if (recv != nullptr && user(recv->buf) &&
          !any(recv, [&](const Use& u) { return u.prog != q || u.step < j; })) {
        z.flags[q][j] |= plan::kUntouchedRecv;
      }
    }
  }
  return z;
}

TEST(ZeroCopyAnalysis, MatchesTheDefinitionOnEveryAlgorithm) {
  size_t plans = 0, flagged = 0;
  for (CollType type : {CollType::kAllReduce, CollType::kReduceScatter, CollType::kAllGather,
                        CollType::kBroadcast, CollType::kReduce, CollType::kAllToAll,
                        CollType::kGather, CollType::kScatter, CollType::kSend, CollType::kRecv}) {
    for (const std::string& algo : algorithms::availableAlgorithms(type)) {
      for (int n : {1, 2, 3, 5}) {
        for (size_t count : {size_t{1}, size_t{7}, size_t{100}, size_t{1001}}) {
          for (int rank = 0; rank < n; ++rank) {
            plan::CollArgs args;
            args.type = type;
            args.count = count;
            args.rank = rank;
            args.nranks = n;
            args.root = n - 1;
            args.peer = (rank + 1) % n;
            plan::PlanOptions options;
            options.nchannels = 2;
            options.p2pChannel = 2;
            options.maxStepElems = 16;
            auto built = algorithms::buildPlan(args, options, algo);
            if (!built.ok()) continue;
            const plan::RankPlan& p = built.value();
            plan::ZeroCopyMap got = plan::analyzeZeroCopy(p);
            plan::ZeroCopyMap want = naive(p);
            ASSERT_EQ(got.flags, want.flags) << algo << " " << plan::collName(type) << " n=" << n
                                             << " rank=" << rank << " count=" << count << "\n"
                                             << plan::toString(p);
            ++plans;
            for (const auto& prog : got.flags) {
              for (uint8_t f : prog) flagged += f != 0;
            }
          }
        }
      }
    }
  }
  EXPECT_GT(plans, 300u);
  EXPECT_GT(flagged, 1000u);
}

// Random plans with heavily overlapping regions of every length: the
// index's window must find every overlap the definition finds.
TEST(ZeroCopyAnalysis, MatchesTheDefinitionOnRandomOverlaps) {
  uint64_t state = 12345;
  auto next = [&](uint64_t bound) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return (state >> 33) % bound;
  };
  const Op ops[] = {Op::kSend, Op::kRecv, Op::kRecvReduceSend, Op::kRecvReduceCopy,
                    Op::kRecvCopySend, Op::kRecvReduceCopySend, Op::kCopy, Op::kLocalReduce};
  const Buf bufs[] = {Buf::kInput, Buf::kOutput, Buf::kScratch};
  size_t flagged = 0, unflagged = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    std::vector<std::vector<Step>> programs(1 + next(3));
    for (auto& prog : programs) {
      size_t nsteps = 1 + next(12);
      for (size_t j = 0; j < nsteps; ++j) {
        Step s;
        s.op = ops[next(8)];
        s.count = next(10) == 0 ? 0 : 1 + next(next(2) ? 5 : 60);
        s.src = Ref{bufs[next(3)], next(100)};
        s.src2 = Ref{bufs[next(3)], next(100)};
        s.dst = Ref{bufs[next(3)], next(100)};
        s.recvPeer = plan::opRecvs(s.op) ? static_cast<int>(next(3)) : -1;
        s.sendPeer = plan::opSends(s.op) ? static_cast<int>(next(3)) : -1;
        prog.push_back(s);
      }
    }
    plan::RankPlan p = planOf(std::move(programs));
    plan::ZeroCopyMap got = plan::analyzeZeroCopy(p);
    ASSERT_EQ(got.flags, naive(p).flags) << "trial " << trial << "\n" << plan::toString(p);
    for (const auto& prog : got.flags) {
      for (uint8_t f : prog) (f != 0 ? flagged : unflagged) += 1;
    }
  }
  EXPECT_GT(flagged, 1000u);
  EXPECT_GT(unflagged, 1000u);
}

// The ring all-reduce, out of place, on two ranks: everything it sends can
// go by reference and its final receive straight into the output.
TEST(ZeroCopyAnalysis, RingAllReduceSendsAndReceivesInPlace) {
  plan::CollArgs args;
  args.type = CollType::kAllReduce;
  args.count = 1000;
  args.rank = 0;
  args.nranks = 2;
  plan::PlanOptions options;
  options.nchannels = 2;
  options.maxStepElems = 100;
  auto built = algorithms::buildPlan(args, options, "ring");
  ASSERT_TRUE(built.ok());
  const plan::RankPlan& p = built.value();
  auto z = plan::analyzeZeroCopy(p);
  for (size_t q = 0; q < p.programs.size(); ++q) {
    for (size_t j = 0; j < p.programs[q].steps.size(); ++j) {
      Op op = p.programs[q].steps[j].op;
      if (op == Op::kSend || op == Op::kRecvReduceCopySend) {
        EXPECT_TRUE(z.at(q, j) & plan::kStableSend) << "program " << q << " step " << j;
      }
      if (op == Op::kRecv) {
        EXPECT_TRUE(z.at(q, j) & plan::kUntouchedRecv) << "program " << q << " step " << j;
      }
    }
  }
}

}  // namespace
}  // namespace strata::testing
