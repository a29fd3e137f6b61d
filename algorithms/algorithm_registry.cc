// buildPlan: checks the arguments, picks the algorithm (the default for the
// collective, or the one named) and runs its builder.
#include <cstdint>
#include <string>
#include <vector>

#include "algorithms/algorithms.h"
#include "algorithms/builders.h"

namespace strata::algorithms {

using plan::CollArgs;
using plan::CollType;
using plan::PlanOptions;
using plan::RankPlan;

namespace {

using Builder = RankPlan (*)(const CollArgs&, const PlanOptions&);

struct Algorithm {
  const char* name;
  CollType type;
  Builder build;
};

// Per collective, the first entry is the default.
constexpr Algorithm kAlgorithms[] = {
    {"ring", CollType::kAllReduce, buildRingAllReduce},
    {"direct", CollType::kAllReduce, buildDirectAllReduce},
    {"ring", CollType::kReduceScatter, buildRingReduceScatter},
    {"ring", CollType::kAllGather, buildRingAllGather},
    {"chain", CollType::kBroadcast, buildChainBroadcast},
    {"chain", CollType::kReduce, buildChainReduce},
    {"p2p", CollType::kAllToAll, buildP2pAllToAll},
    {"p2p", CollType::kGather, buildP2pGather},
    {"p2p", CollType::kScatter, buildP2pScatter},
    {"p2p", CollType::kSend, buildP2pSend},
    {"p2p", CollType::kRecv, buildP2pRecv},
};

bool hasRoot(CollType t) {
  return t == CollType::kBroadcast || t == CollType::kReduce || t == CollType::kGather ||
         t == CollType::kScatter;
}

bool isPointToPoint(CollType t) { return t == CollType::kSend || t == CollType::kRecv; }

// Collectives with a buffer of nranks*count elements.
bool hasBlockBuffer(CollType t) {
  return t == CollType::kReduceScatter || t == CollType::kAllGather ||
         t == CollType::kAllToAll || t == CollType::kGather || t == CollType::kScatter;
}

Status checkArgs(const CollArgs& args, const PlanOptions& options) {
  const char* coll = plan::collName(args.type);
  if (args.nranks < 1) return InvalidArgument(coll, ": nranks must be at least 1, got ", args.nranks);
  if (args.rank < 0 || args.rank >= args.nranks) {
    return InvalidArgument(coll, ": rank ", args.rank, " is out of range for ", args.nranks,
                           " ranks");
  }
  if (hasRoot(args.type) && (args.root < 0 || args.root >= args.nranks)) {
    return InvalidArgument(coll, ": root ", args.root, " is out of range for ", args.nranks,
                           " ranks");
  }
  if (isPointToPoint(args.type) && (args.peer < 0 || args.peer >= args.nranks)) {
    return InvalidArgument(coll, ": peer ", args.peer, " is out of range for ", args.nranks,
                           " ranks");
  }
  if (hasBlockBuffer(args.type) && args.count > SIZE_MAX / static_cast<size_t>(args.nranks)) {
    return InvalidArgument(coll, ": count ", args.count, " times ", args.nranks,
                           " ranks overflows the buffer size");
  }
  if (options.nchannels < 1) {
    return InvalidArgument(coll, ": nchannels must be at least 1, got ", options.nchannels);
  }
  if (options.p2pChannel < 0) {
    return InvalidArgument(coll, ": p2pChannel must not be negative, got ", options.p2pChannel);
  }
  if (options.maxStepElems == 0) return InvalidArgument(coll, ": maxStepElems must be at least 1");
  return Status::Ok();
}

std::string joinNames(const std::vector<std::string>& names) {
  std::string s;
  for (const std::string& n : names) s += (s.empty() ? "" : ", ") + n;
  return s.empty() ? "none" : s;
}

}  // namespace

RankPlan emptyPlan(const CollArgs& args, const char* algorithm) {
  RankPlan plan;
  plan.rank = args.rank;
  plan.nranks = args.nranks;
  plan.algorithm = algorithm;
  return plan;
}

std::vector<std::string> availableAlgorithms(CollType type) {
  std::vector<std::string> names;
  for (const Algorithm& a : kAlgorithms) {
    if (a.type == type) names.emplace_back(a.name);
  }
  return names;
}

StatusOr<RankPlan> buildPlan(const CollArgs& args, const PlanOptions& options,
                             const std::string& algo) {
  bool knownName = algo.empty();
  for (const Algorithm& a : kAlgorithms) {
    if (algo == a.name) knownName = true;
    if (a.type != args.type || (!algo.empty() && algo != a.name)) continue;
    Status st = checkArgs(args, options);
    if (!st.ok()) return st;
    return a.build(args, options);
  }
  const char* coll = plan::collName(args.type);
  if (!knownName) {
    return InvalidArgument("unknown algorithm '", algo, "' for ", coll,
                           " (available: ", joinNames(availableAlgorithms(args.type)), ")");
  }
  if (algo.empty()) return InvalidArgument("no algorithm implements collective ", coll);
  return InvalidArgument("algorithm '", algo, "' does not implement ", coll,
                         " (available: ", joinNames(availableAlgorithms(args.type)), ")");
}

}  // namespace strata::algorithms
