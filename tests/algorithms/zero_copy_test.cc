// The zero-copy analysis (plan/zero_copy.h): hand-made plans where a later
// or concurrent write makes a sent region unstable and an earlier or
// concurrent access makes a received region unsafe to fill early; stream
// positions; Input and Output analysed as one buffer (in-place calls) and
// the steps marked returnsOwn; and the indexed analysis against a direct
// reading of its definition over every algorithm's plans, in and out of
// place.
#include <gtest/gtest.h>

#include <optional>
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

// The definition, read directly: quadratic, for checking the index. With
// inputAt, Input and Output are one buffer (signed element positions).
plan::ZeroCopyMap naive(const plan::RankPlan& p, std::optional<int64_t> inputAt = std::nullopt) {
  plan::ZeroCopyMap z;
  auto user = [](Buf b) { return b == Buf::kInput || b == Buf::kOutput; };
  // Which buffer, and where in it, a region lies.
  auto space = [&](Buf b) { return inputAt.has_value() ? Buf::kOutput : b; };
  auto at = [&](const Ref& r) {
    int64_t off = static_cast<int64_t>(r.offset);
    return inputAt.has_value() && r.buf == Buf::kInput ? off + *inputAt : off;
  };
  struct Use {
    size_t prog, step;
    Buf buf;
    int64_t b, e;
    bool write;
  };
  std::vector<Use> uses;
  for (size_t q = 0; q < p.programs.size(); ++q) {
    const auto& steps = p.programs[q].steps;
    for (size_t j = 0; j < steps.size(); ++j) {
      const Step& s = steps[j];
      if (s.count == 0) continue;
      auto use = [&](const Ref& r, bool write) {
        const int64_t n = static_cast<int64_t>(s.count);
        uses.push_back({q, j, space(r.buf), at(r), at(r) + n, write});
      };
      if (plan::opReadsSrc(s.op) && user(s.src.buf)) use(s.src, false);
      if (s.op == Op::kLocalReduce && user(s.src2.buf)) use(s.src2, false);
      if (plan::opWritesDst(s.op) && user(s.dst.buf)) use(s.dst, true);
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
        const int64_t b = at(*r), e = b + static_cast<int64_t>(s.count);
        for (const Use& u : uses) {
          if (u.buf == space(r->buf) && u.b < e && b < u.e && pred(u)) return true;
        }
        return false;
      };
      // A later write of the same program by a returnsOwn step comes after
      // every earlier read of its elements left the rank; an earlier read
      // of the same program does not stop a returnsOwn step's receive.
      if (sent != nullptr && user(sent->buf) && !any(sent, [&](const Use& u) {
            return u.write && (u.prog != q || (u.step > j && !steps[u.step].returnsOwn));
          })) {
        z.flags[q][j] |= plan::kStableSend;
      }
      if (recv != nullptr && user(recv->buf) && !any(recv, [&](const Use& u) {
            return u.prog != q || (u.step < j && (u.write || !s.returnsOwn));
          })) {
        z.flags[q][j] |= plan::kUntouchedRecv;
      }
    }
  }
  return z;
}

TEST(ZeroCopyAnalysis, MatchesTheDefinitionOnEveryAlgorithm) {
  size_t plans = 0, flagged = 0, inPlacePlans = 0, inPlaceFlagged = 0;
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
            if (auto at = plan::inPlaceInputAt(args); at.has_value()) {
              plan::ZeroCopyMap aliased = plan::analyzeZeroCopy(p, at);
              ASSERT_EQ(aliased.flags, naive(p, at).flags)
                  << "in place: " << algo << " " << plan::collName(type) << " n=" << n
                  << " rank=" << rank << " count=" << count << "\n"
                  << plan::toString(p);
              EXPECT_TRUE(aliased.aliased);
              EXPECT_EQ(aliased.inputAt, *at);
              EXPECT_EQ(aliased.inputExtent, got.inputExtent);
              EXPECT_EQ(aliased.outputExtent, got.outputExtent);
              ++inPlacePlans;
              for (const auto& prog : aliased.flags) {
                for (uint8_t f : prog) inPlaceFlagged += f != 0;
              }
            }
          }
        }
      }
    }
  }
  EXPECT_GT(plans, 300u);
  EXPECT_GT(flagged, 1000u);
  EXPECT_GT(inPlacePlans, 200u);
  EXPECT_GT(inPlaceFlagged, 500u);
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
        s.returnsOwn = plan::opRecvs(s.op) && next(3) == 0;
        prog.push_back(s);
      }
    }
    plan::RankPlan p = planOf(std::move(programs));
    plan::ZeroCopyMap got = plan::analyzeZeroCopy(p);
    ASSERT_EQ(got.flags, naive(p).flags) << "trial " << trial << "\n" << plan::toString(p);
    for (const auto& prog : got.flags) {
      for (uint8_t f : prog) (f != 0 ? flagged : unflagged) += 1;
    }
    // Input anywhere from before Output's start to past its end.
    const int64_t at = static_cast<int64_t>(next(160)) - 60;
    plan::ZeroCopyMap aliased = plan::analyzeZeroCopy(p, at);
    ASSERT_EQ(aliased.flags, naive(p, at).flags)
        << "trial " << trial << " Input at Output+" << at << "\n" << plan::toString(p);
  }
  EXPECT_GT(flagged, 1000u);
  EXPECT_GT(unflagged, 1000u);
}

// The ring all-reduce plan of `rank` among n, 1000 elements on 2 channels.
plan::RankPlan ringAllReduce(int n, int rank, size_t maxStepElems) {
  plan::CollArgs args;
  args.type = CollType::kAllReduce;
  args.count = 1000;
  args.rank = rank;
  args.nranks = n;
  plan::PlanOptions options;
  options.nchannels = 2;
  options.maxStepElems = maxStepElems;
  auto built = algorithms::buildPlan(args, options, "ring");
  EXPECT_TRUE(built.ok()) << built.status().toString();
  return built.ok() ? built.value() : plan::RankPlan{};
}

// The ring all-reduce, out of place, on two ranks: everything it sends can
// go by reference and its final receive straight into the output.
TEST(ZeroCopyAnalysis, RingAllReduceSendsAndReceivesInPlace) {
  const plan::RankPlan p = ringAllReduce(2, 0, 100);
  ASSERT_FALSE(p.programs.empty());
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

// Input and Output as one buffer: regions of the two meet where Input lies
// within Output; a step marked returnsOwn may receive where earlier steps of
// its program only read (not where they wrote), and its writes leave earlier
// sends of its program stable (not those of other programs).
TEST(ZeroCopyAnalysis, AliasedBuffersAndReturnsOwn) {
  Step back = step(Op::kRecv, kNone, out(10), 10, 1);
  back.returnsOwn = true;
  Step plain = back;
  plain.returnsOwn = false;
  // Input at Output+10: in(0) is out(10).
  auto p = planOf({{step(Op::kSend, in(0), kNone, 10, -1, 1), back}});
  auto apart = plan::analyzeZeroCopy(p);
  EXPECT_TRUE(apart.at(0, 0) & plan::kStableSend);
  EXPECT_TRUE(apart.at(0, 1) & plan::kUntouchedRecv);
  auto z = plan::analyzeZeroCopy(p, 10);
  EXPECT_TRUE(z.aliased);
  EXPECT_TRUE(z.at(0, 0) & plan::kStableSend) << "rewritten only by a returnsOwn step";
  EXPECT_TRUE(z.at(0, 1) & plan::kUntouchedRecv) << "only read before";
  // Unmarked, the same steps conflict once the buffers alias.
  auto q = planOf({{step(Op::kSend, in(0), kNone, 10, -1, 1), plain}});
  z = plan::analyzeZeroCopy(q, 10);
  EXPECT_FALSE(z.at(0, 0) & plan::kStableSend);
  EXPECT_FALSE(z.at(0, 1) & plan::kUntouchedRecv);
  // Input elsewhere: no overlap, no conflict.
  z = plan::analyzeZeroCopy(q, 20);
  EXPECT_TRUE(z.at(0, 0) & plan::kStableSend);
  EXPECT_TRUE(z.at(0, 1) & plan::kUntouchedRecv);
  // Input before Output (negative position): in(15) is out(5).
  auto neg = planOf({{step(Op::kSend, in(15), kNone, 10, -1, 1), plain}});
  z = plan::analyzeZeroCopy(neg, -10);
  EXPECT_FALSE(z.at(0, 0) & plan::kStableSend);
  EXPECT_FALSE(z.at(0, 1) & plan::kUntouchedRecv);
  // An earlier write is never excused, nor is another program's access.
  auto w = planOf({{step(Op::kCopy, in(50), in(0), 10), back}});
  z = plan::analyzeZeroCopy(w, 10);
  EXPECT_FALSE(z.at(0, 1) & plan::kUntouchedRecv);
  auto other = planOf({{back}, {step(Op::kSend, in(0), kNone, 10, -1, 3)}});
  z = plan::analyzeZeroCopy(other, 10);
  EXPECT_FALSE(z.at(0, 0) & plan::kUntouchedRecv);
  EXPECT_FALSE(z.at(1, 0) & plan::kStableSend);
}

TEST(ZeroCopyAnalysis, InPlaceLayoutsFollowNccl) {
  plan::CollArgs a;
  a.count = 100;
  a.rank = 3;
  a.nranks = 4;
  a.type = CollType::kAllReduce;
  EXPECT_EQ(plan::inPlaceInputAt(a), std::optional<int64_t>(0));
  a.type = CollType::kBroadcast;
  EXPECT_EQ(plan::inPlaceInputAt(a), std::optional<int64_t>(0));
  a.type = CollType::kReduce;
  EXPECT_EQ(plan::inPlaceInputAt(a), std::optional<int64_t>(0));
  a.type = CollType::kAllGather;  // sendbuff = recvbuff + rank * sendcount
  EXPECT_EQ(plan::inPlaceInputAt(a), std::optional<int64_t>(300));
  a.type = CollType::kReduceScatter;  // recvbuff = sendbuff + rank * recvcount
  EXPECT_EQ(plan::inPlaceInputAt(a), std::optional<int64_t>(-300));
  for (CollType t : {CollType::kAllToAll, CollType::kGather, CollType::kScatter, CollType::kSend,
                     CollType::kRecv}) {
    a.type = t;
    EXPECT_FALSE(plan::inPlaceInputAt(a).has_value()) << plan::collName(t);
  }
  a.type = CollType::kAllGather;
  a.count = SIZE_MAX / 2;
  EXPECT_FALSE(plan::inPlaceInputAt(a).has_value()) << "rank * count overflows";
}

// The ring all-reduce in place, on every rank of 2 to 5: what it sends goes
// by reference and what it receives in the all-gather lands in the buffer,
// thanks to returnsOwn; without the marks the in-place call would copy.
TEST(ZeroCopyAnalysis, InPlaceRingAllReduceRelyOnReturnsOwn) {
  for (int n = 2; n <= 5; ++n) {
    for (int rank = 0; rank < n; ++rank) {
      plan::RankPlan p = ringAllReduce(n, rank, 60);
      ASSERT_FALSE(p.programs.empty());
      const std::optional<int64_t> inPlace = 0;  // all-reduce: Input is Output
      auto z = plan::analyzeZeroCopy(p, inPlace);
      size_t marked = 0;
      for (size_t q = 0; q < p.programs.size(); ++q) {
        for (size_t j = 0; j < p.programs[q].steps.size(); ++j) {
          const Step& s = p.programs[q].steps[j];
          marked += s.returnsOwn;
          if (s.op == Op::kSend || s.op == Op::kRecvReduceCopySend || s.op == Op::kRecvCopySend) {
            EXPECT_TRUE(z.at(q, j) & plan::kStableSend) << "n=" << n << " rank " << rank << " program " << q << " step " << j;
          }
          if (s.op == Op::kRecv || s.op == Op::kRecvCopySend) {
            EXPECT_TRUE(s.returnsOwn);
            EXPECT_TRUE(z.at(q, j) & plan::kUntouchedRecv) << "n=" << n << " rank " << rank << " program " << q << " step " << j;
          }
        }
      }
      EXPECT_GT(marked, 0u);
      for (auto& prog : p.programs) {
        for (auto& s : prog.steps) s.returnsOwn = false;
      }
      z = plan::analyzeZeroCopy(p, inPlace);
      ASSERT_FALSE(z.at(0, 0) & plan::kStableSend) << "n=" << n << ": the first send is rewritten later";
      const size_t last = p.programs[0].steps.size() - 1;
      ASSERT_EQ(p.programs[0].steps[last].op, Op::kRecv);
      EXPECT_FALSE(z.at(0, last) & plan::kUntouchedRecv) << "n=" << n << ": read before";
    }
  }
}

}  // namespace
}  // namespace strata::testing
