#include "algorithms/result_check.h"

#include <sstream>

namespace strata::testing {

using plan::CollArgs;
using plan::CollType;

namespace {

// What belongs in one Output element.
struct Expected {
  bool reduced = false;  // one contribution from every rank at `index`
  int rank = 0;          // otherwise the single symbol (rank, index)
  size_t index = 0;
};

size_t outputSize(const CollArgs& a) {
  const size_t blocks = static_cast<size_t>(a.nranks) * a.count;
  switch (a.type) {
    case CollType::kAllGather:
    case CollType::kAllToAll: return blocks;
    case CollType::kGather: return a.rank == a.root ? blocks : 0;
    case CollType::kReduce: return a.rank == a.root ? a.count : 0;
    case CollType::kSend: return 0;
    default: return a.count;
  }
}

Expected expectedAt(const CollArgs& a, size_t i) {
  const size_t n = a.count;
  switch (a.type) {
    case CollType::kAllReduce:
    case CollType::kReduce: return {true, 0, i};
    case CollType::kReduceScatter: return {true, 0, static_cast<size_t>(a.rank) * n + i};
    case CollType::kAllGather:
    case CollType::kGather: return {false, static_cast<int>(i / n), i % n};
    case CollType::kBroadcast: return {false, a.root, i};
    case CollType::kAllToAll:
      return {false, static_cast<int>(i / n), static_cast<size_t>(a.rank) * n + i % n};
    case CollType::kScatter: return {false, a.root, static_cast<size_t>(a.rank) * n + i};
    case CollType::kRecv: return {false, a.peer, i};
    case CollType::kSend: break;
  }
  return {};
}

std::string describeExpected(const Expected& e, int nranks, const VerifyOptions& o) {
  std::ostringstream os;
  if (!e.reduced) {
    os << "{(" << e.rank << ',' << e.index << ")}";
    return os.str();
  }
  os << "one (r," << e.index << ") from each of " << nranks << " ranks";
  if (o.preScale) os << ", each pre-scaled once";
  if (o.postDivide) os << ", finalized once";
  return os.str();
}

// What is wrong with v, or "" when it is what e asks for.
std::string mismatch(const ExpandedValue& v, const Expected& e, int nranks,
                     const VerifyOptions& o) {
  if (!e.reduced) {
    const bool right = v.contributions.size() == 1 && v.finalized == 0 &&
                       v.contributions[0] == Contribution{e.rank, e.index, 0};
    return right ? "" : "wrong element";
  }
  if (v.contributions.size() != static_cast<size_t>(nranks)) {
    return std::to_string(v.contributions.size()) + " contributions";
  }
  for (int r = 0; r < nranks; ++r) {
    const Contribution& c = v.contributions[static_cast<size_t>(r)];
    if (c.rank != r || c.index != e.index) return "wrong contributions";
    if (o.preScale && c.preScaled != 1) {
      return "rank " + std::to_string(r) + "'s contribution pre-scaled " +
             std::to_string(c.preScaled) + " times";
    }
  }
  if (o.postDivide && v.finalized != 1) {
    return "finalized " + std::to_string(v.finalized) + " times";
  }
  if (o.postDivide && v.reducedAfterFinalize) return "reduced after finalize";
  return "";
}

}  // namespace

void checkResults(const std::vector<RankOperation>& ops, const PlanSimulator& sim,
                  const VerifyOptions& options, VerifyReport& report) {
  constexpr size_t kMaxReported = 8;
  size_t wrong = 0;
  for (size_t o = 0; o < ops.size(); ++o) {
    const CollArgs& a = ops[o].args;
    const size_t size = outputSize(a);
    for (size_t i = 0; i < size; ++i) {
      const Expected e = expectedAt(a, i);
      const ValueHandle v = sim.outputValue(o, i);
      const std::string problem = v == PlanSimulator::kNoValue
                                      ? "never written"
                                      : mismatch(sim.pool().expand(v), e, a.nranks, options);
      if (problem.empty()) continue;
      if (++wrong > kMaxReported) continue;
      std::ostringstream os;
      os << plan::collName(a.type) << " rank " << a.rank << " Output[" << i << "] = ";
      if (v != PlanSimulator::kNoValue) {
        os << sim.pool().describe(v) << (sim.outputWritten(o, i) ? "" : " (never written)");
      }
      os << " (" << problem << "), expected " << describeExpected(e, a.nranks, options);
      report.add(Finding::kWrongResult, os.str());
    }
  }
  if (wrong > kMaxReported) {
    report.add(Finding::kWrongResult,
               "... " + std::to_string(wrong - kMaxReported) + " more wrong Output elements");
  }
}

}  // namespace strata::testing
