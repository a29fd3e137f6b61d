// Plans for counts beyond 2^31 and 2^32 elements, checked by their ranges
// rather than run: every Output element is written exactly once, every read
// stays inside its buffer, and the offsets at the far end are exact.
#include <gtest/gtest.h>

#include <algorithm>
#include <utility>

#include "algorithms/algorithms.h"
#include "algorithms/buffer_layout.h"

namespace strata::testing {
namespace {

using plan::Buf;
using plan::CollType;

constexpr size_t k2G = size_t{1} << 31;
constexpr size_t k4G = size_t{1} << 32;

plan::RankPlan build(CollType type, size_t count, int rank, int nranks, size_t maxStep,
                     int nchannels = 2, int root = 0) {
  plan::CollArgs args;
  args.type = type;
  args.count = count;
  args.rank = rank;
  args.nranks = nranks;
  args.root = root;
  args.peer = (rank + 1) % nranks;
  plan::PlanOptions options;
  options.maxStepElems = maxStep;
  options.nchannels = nchannels;
  auto built = algorithms::buildPlan(args, options);
  EXPECT_TRUE(built.ok()) << built.status().toString();
  return built.ok() ? std::move(built).value() : plan::RankPlan{};
}

// Output ranges written by the plan tile [0, size) exactly; reads stay in
// their buffers. Returns the number of steps looked at.
size_t expectTiledOutput(const plan::RankPlan& p, const plan::CollArgs& args, size_t maxStep) {
  const BufferLayout layout = bufferLayout(args, false);
  std::vector<std::pair<size_t, size_t>> writes;
  size_t steps = 0;
  for (const plan::ChannelProgram& prog : p.programs) {
    for (const plan::Step& s : prog.steps) {
      ++steps;
      EXPECT_LE(s.count, maxStep);
      if (plan::opReadsSrc(s.op) && s.src.buf == Buf::kInput) {
        EXPECT_LE(s.src.offset, layout.inputSize - s.count) << plan::toString(s);
      }
      if (plan::opWritesDst(s.op)) {
        EXPECT_EQ(s.dst.buf, Buf::kOutput);
        writes.emplace_back(s.dst.offset, s.count);
      }
    }
  }
  std::sort(writes.begin(), writes.end());
  size_t end = 0;
  for (const auto& [offset, count] : writes) {
    EXPECT_EQ(offset, end) << "gap or overlap in Output writes";
    end = offset + count;
  }
  EXPECT_EQ(end, layout.outputSize);
  return steps;
}

plan::CollArgs argsOf(CollType type, size_t count, int rank, int nranks, int root = 0) {
  plan::CollArgs a;
  a.type = type;
  a.count = count;
  a.rank = rank;
  a.nranks = nranks;
  a.root = root;
  a.peer = (rank + 1) % nranks;
  return a;
}

TEST(HugeCounts, EveryCollectiveTilesItsOutput) {
  struct Case {
    CollType type;
    size_t count;
    int nranks;
    size_t maxStep;
  };
  const Case cases[] = {
      {CollType::kAllReduce, k2G + 7, 4, size_t{1} << 26},
      {CollType::kReduceScatter, k2G + 3, 3, size_t{1} << 28},
      {CollType::kAllGather, k4G + 5, 2, size_t{1} << 30},
      {CollType::kBroadcast, 2 * k4G + 1, 3, size_t{1} << 30},
      {CollType::kReduce, 2 * k4G + 1, 3, size_t{1} << 30},
      {CollType::kAllToAll, k2G + 1, 3, size_t{1} << 29},
      {CollType::kGather, k2G + 1, 3, size_t{1} << 29},
      {CollType::kScatter, k2G + 1, 3, size_t{1} << 29},
      {CollType::kSend, k4G + 1, 2, size_t{1} << 30},
      {CollType::kRecv, k4G + 1, 2, size_t{1} << 30},
  };
  for (const Case& c : cases) {
    for (int rank = 0; rank < c.nranks; ++rank) {
      SCOPED_TRACE(std::string(plan::collName(c.type)) + " rank " + std::to_string(rank));
      const plan::RankPlan p = build(c.type, c.count, rank, c.nranks, c.maxStep, 2, 1);
      const size_t steps = expectTiledOutput(p, argsOf(c.type, c.count, rank, c.nranks, 1),
                                             c.maxStep);
      if (c.type != CollType::kSend && !(c.type == CollType::kReduce && rank != 1) &&
          !(c.type == CollType::kGather && rank != 1)) {
        EXPECT_GT(steps, 0u);
      }
    }
  }
}

TEST(HugeCounts, RingAllReduceOffsetsAtBothEnds) {
  const size_t count = k2G + 7;
  const size_t maxStep = size_t{1} << 26;
  const plan::RankPlan p = build(CollType::kAllReduce, count, 3, 4, maxStep, 1);
  ASSERT_EQ(p.programs.size(), 1u);
  const std::vector<plan::Step>& s = p.programs[0].steps;
  // 9 slices (8 * 4 * 2^26 = 2^31 < count) of 2*4-1 steps.
  ASSERT_EQ(s.size(), 9u * 7u);
  // Slice 0 holds count/9 + 1 elements (count % 9 == 2); rank 3 starts with
  // rank 2's chunk, the third quarter of it.
  const size_t slice0 = count / 9 + 1;
  EXPECT_EQ(s[0].src.offset, 2 * (slice0 / 4) + std::min<size_t>(2, slice0 % 4));
  // The last step receives the chunk of rank 0 of the last slice.
  const size_t lastSlice = count / 9;
  const size_t lastBegin = count - lastSlice;
  EXPECT_EQ(s.back().op, plan::Op::kRecv);
  EXPECT_EQ(s.back().dst.offset, lastBegin);
  // The own chunk of the last slice ends the buffer.
  const plan::Step& finish = s[s.size() - 4];
  ASSERT_TRUE(finish.finalize);
  EXPECT_EQ(finish.dst.offset, lastBegin + 3 * (lastSlice / 4) + std::min<size_t>(3, lastSlice % 4));
  EXPECT_EQ(finish.dst.offset + finish.count, count);
}

TEST(HugeCounts, ReduceScatterReadsBlocksBeyond4G) {
  const size_t count = k2G + 3;
  const plan::RankPlan p = build(CollType::kReduceScatter, count, 2, 3, size_t{1} << 28, 1);
  const plan::Step& last = p.programs[0].steps.back();
  EXPECT_EQ(last.op, plan::Op::kRecvReduceCopy);
  EXPECT_EQ(last.src.offset, 2 * count + last.dst.offset);
  EXPECT_EQ(last.dst.offset + last.count, count);
  EXPECT_GT(last.src.offset, k4G);
}

TEST(HugeCounts, AllToAllBlocksBeyond4G) {
  const size_t count = 3 * k2G + 1;
  const plan::RankPlan p = build(CollType::kAllToAll, count, 1, 3, size_t{1} << 31, 1);
  size_t maxEnd = 0;
  for (const plan::ChannelProgram& prog : p.programs) {
    for (const plan::Step& s : prog.steps) {
      const plan::Ref r = plan::opWritesDst(s.op) ? s.dst : s.src;
      maxEnd = std::max(maxEnd, r.offset + s.count);
    }
  }
  EXPECT_EQ(maxEnd, 3 * count);
}

}  // namespace
}  // namespace strata::testing
