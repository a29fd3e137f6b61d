#include "algorithms/plan_sweep.h"

#include <gtest/gtest.h>

#include <iterator>
#include <sstream>

#include "algorithms/buffer_layout.h"

#include "algorithms/algorithms.h"

namespace strata::testing {

std::vector<RankOperation> buildAllRanks(const plan::CollArgs& args,
                                         const plan::PlanOptions& options,
                                         const std::string& algo) {
  std::vector<RankOperation> ops;
  for (int r = 0; r < args.nranks; ++r) {
    RankOperation op;
    op.args = args;
    op.args.rank = r;
    auto built = algorithms::buildPlan(op.args, options, algo);
    if (!built.ok()) {
      ADD_FAILURE() << "buildPlan failed for rank " << r << ": " << built.status().toString();
      return {};
    }
    op.plan = std::move(built).value();
    ops.push_back(std::move(op));
  }
  return ops;
}

std::vector<RankOperation> buildSendRecvPair(int nranks, int sender, int receiver, size_t count,
                                             const plan::PlanOptions& options) {
  std::vector<RankOperation> ops(2);
  ops[0].args = plan::CollArgs{plan::CollType::kSend, count, 0, receiver, sender, nranks};
  ops[1].args = plan::CollArgs{plan::CollType::kRecv, count, 0, sender, receiver, nranks};
  for (RankOperation& op : ops) {
    auto built = algorithms::buildPlan(op.args, options);
    if (!built.ok()) {
      ADD_FAILURE() << "buildPlan failed: " << built.status().toString();
      return {};
    }
    op.plan = std::move(built).value();
  }
  return ops;
}

size_t minimalStreamCapacity(plan::CollType type, const plan::PlanOptions& options) {
  switch (type) {
    case plan::CollType::kAllReduce:
    case plan::CollType::kReduceScatter:
    case plan::CollType::kAllGather: return options.maxStepElems + 1;
    default: return 1;
  }
}

VerifyReport verifyAllRanks(const std::vector<RankOperation>& ops, plan::CollType type,
                            const plan::PlanOptions& options, bool inPlace,
                            bool reductionSemantics) {
  VerifyOptions vo;
  vo.streamCapacity = minimalStreamCapacity(type, options);
  vo.inPlace = inPlace;
  vo.preScale = reductionSemantics;
  vo.postDivide = reductionSemantics;
  return verifyPlans(ops, vo);
}

std::string describeCase(const plan::CollArgs& args, const plan::PlanOptions& options,
                         bool inPlace) {
  std::ostringstream os;
  os << plan::collName(args.type) << " nranks=" << args.nranks << " count=" << args.count
     << " root=" << args.root << " maxStepElems=" << options.maxStepElems
     << " nchannels=" << options.nchannels << (inPlace ? " in-place" : " out-of-place");
  return os.str();
}

namespace {

bool isRooted(plan::CollType t) {
  return t == plan::CollType::kBroadcast || t == plan::CollType::kReduce ||
         t == plan::CollType::kGather || t == plan::CollType::kScatter;
}

}  // namespace

void checkPlanShape(const std::vector<RankOperation>& ops, const plan::PlanOptions& options,
                    const std::string& what) {
  const plan::CollType type = ops.front().args.type;
  const bool p2p = type == plan::CollType::kAllToAll || type == plan::CollType::kGather ||
                   type == plan::CollType::kScatter || type == plan::CollType::kSend ||
                   type == plan::CollType::kRecv;
  for (const RankOperation& op : ops) {
    for (const plan::ChannelProgram& prog : op.plan.programs) {
      if (p2p) {
        EXPECT_EQ(prog.channel, options.p2pChannel) << what;
      } else {
        EXPECT_TRUE(prog.channel >= 0 && prog.channel < options.nchannels) << what;
      }
      EXPECT_FALSE(prog.steps.empty()) << what;
      for (const plan::Step& s : prog.steps) {
        ASSERT_LE(s.count, options.maxStepElems) << what << ": " << plan::toString(s);
      }
    }
  }
}

SweepStats sweepCollective(plan::CollType type, const std::string& algo) {
  constexpr int kNranks[] = {1, 2, 3, 4, 5, 6, 7, 8, 13, 16};
  constexpr size_t kMaxStep[] = {1, 3, 64, 4096};
  constexpr size_t kCounts[] = {0, 1, 2, 5, 17, 100, 1000};
  constexpr int kMaxChannels = 4;
  constexpr size_t kMaxLargeCount = 6000;  // keeps the whole sweep fast
  constexpr int kMaxFailures = 5;
  SweepStats stats;
  int failures = 0;
  for (int n : kNranks) {
    const int roots = isRooted(type) ? n : 1;
    const int stride = roots * (n > 8 ? 3 : 1);
    for (int root = 0; root < roots; ++root) {
      for (int inPlace = 0; inPlace < 2; ++inPlace) {
        if (inPlace && !hasInPlaceForm(type)) continue;
        int combo = root + inPlace;
        for (size_t mi = 0; mi < std::size(kMaxStep); ++mi) {
          for (int ch = 1; ch <= kMaxChannels; ++ch) {
            const size_t maxStep = kMaxStep[mi];
            // About three pipeline slices per channel (a ring AllReduce slice
            // spans n steps).
            const size_t slice = type == plan::CollType::kAllReduce
                                     ? maxStep * static_cast<size_t>(n)
                                     : maxStep;
            const size_t large = 3 * slice * static_cast<size_t>(ch) + 5;
            const size_t countChoices = std::size(kCounts) + (large <= kMaxLargeCount ? 1 : 0);
            for (size_t ci = 0; ci < countChoices; ++ci) {
              if (combo++ % stride != 0) continue;
              plan::CollArgs args;
              args.type = type;
              args.count = ci < std::size(kCounts) ? kCounts[ci] : large;
              args.root = root;
              args.nranks = n;
              plan::PlanOptions options;
              options.nchannels = ch;
              options.maxStepElems = maxStep;
              options.p2pChannel = ch;
              const bool semantics = !plan::collReduces(type) || (ci + mi) % 4 != 3;
              const std::vector<RankOperation> ops = buildAllRanks(args, options, algo);
              if (ops.empty()) return stats;
              checkPlanShape(ops, options, describeCase(args, options, inPlace));
              const VerifyReport report = verifyAllRanks(ops, type, options, inPlace, semantics);
              ++stats.cases;
              stats.elementsMoved += report.elementsMoved;
              if (!report.ok()) {
                ADD_FAILURE() << describeCase(args, options, inPlace)
                              << (semantics ? "" : " (no reduction semantics)") << "\n"
                              << report.toString();
                if (++failures >= kMaxFailures) return stats;
              }
            }
          }
        }
      }
    }
  }
  return stats;
}

}  // namespace strata::testing
