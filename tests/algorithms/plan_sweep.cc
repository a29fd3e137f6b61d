#include "algorithms/plan_sweep.h"

#include <gtest/gtest.h>

#include <sstream>

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

}  // namespace strata::testing
