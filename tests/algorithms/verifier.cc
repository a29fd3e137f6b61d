// verifyPlans: argument checks, then the structural checks, the symbolic run
// and the result checks, each only when the one before let it make sense.
#include "algorithms/verifier.h"

#include <algorithm>
#include <sstream>

#include "algorithms/buffer_layout.h"
#include "algorithms/plan_simulator.h"
#include "algorithms/plan_structure_check.h"
#include "algorithms/result_check.h"

namespace strata::testing {

using plan::CollType;

namespace {

// Simulating more than this many elements of one buffer is a test mistake.
constexpr size_t kMaxSimulatedElems = size_t{1} << 24;

bool isPointToPoint(CollType t) { return t == CollType::kSend || t == CollType::kRecv; }

bool hasRoot(CollType t) {
  return t == CollType::kBroadcast || t == CollType::kReduce || t == CollType::kGather ||
         t == CollType::kScatter;
}

bool checkOperations(const std::vector<RankOperation>& ops, const VerifyOptions& options,
                     VerifyReport& report) {
  if (ops.empty()) {
    report.add(Finding::kBadOperation, "no operations to verify");
    return false;
  }
  const plan::CollArgs& first = ops[0].args;
  const int n = first.nranks;
  if (n < 1 || n > ValuePool::kMaxRank) {
    report.add(Finding::kBadOperation, "nranks " + std::to_string(n) + " is out of range");
    return false;
  }
  const bool p2p = isPointToPoint(first.type);
  std::vector<int> seen(static_cast<size_t>(n), 0);
  for (const RankOperation& op : ops) {
    const plan::CollArgs& a = op.args;
    std::ostringstream who;
    who << plan::collName(a.type) << " of rank " << a.rank << ": ";
    if (a.nranks != n || a.rank < 0 || a.rank >= n) {
      report.add(Finding::kBadOperation, who.str() + "rank or nranks differs");
      return false;
    }
    if (op.plan.rank != a.rank || op.plan.nranks != a.nranks) {
      report.add(Finding::kBadOperation, who.str() + "the plan is for rank " +
                                             std::to_string(op.plan.rank) + " of " +
                                             std::to_string(op.plan.nranks));
      return false;
    }
    if (isPointToPoint(a.type) != p2p) {
      report.add(Finding::kBadOperation, who.str() + "mixes point-to-point and collectives");
      return false;
    }
    if (!p2p && (a.type != first.type || a.count != first.count || a.root != first.root)) {
      report.add(Finding::kBadOperation, who.str() + "type, count or root differs from rank " +
                                             std::to_string(first.rank));
      return false;
    }
    if (p2p && (a.peer < 0 || a.peer >= n)) {
      report.add(Finding::kBadOperation, who.str() + "peer is out of range");
      return false;
    }
    if (hasRoot(a.type) && (a.root < 0 || a.root >= n)) {
      report.add(Finding::kBadOperation, who.str() + "root is out of range");
      return false;
    }
    if (options.inPlace && !hasInPlaceForm(a.type)) {
      report.add(Finding::kBadOperation, who.str() + "has no in-place form");
      return false;
    }
    if (a.count > kMaxSimulatedElems / static_cast<size_t>(n)) {
      report.add(Finding::kBadOperation, who.str() + "count is too large to simulate");
      return false;
    }
    ++seen[static_cast<size_t>(a.rank)];
  }
  if (!p2p) {
    for (int r = 0; r < n; ++r) {
      if (seen[static_cast<size_t>(r)] != 1) {
        report.add(Finding::kBadOperation, "a collective needs exactly one operation per rank; rank " +
                                               std::to_string(r) + " has " +
                                               std::to_string(seen[static_cast<size_t>(r)]));
        return false;
      }
    }
  }
  return true;
}

size_t largestStep(const std::vector<RankOperation>& ops) {
  size_t largest = 0;
  for (const RankOperation& op : ops) {
    for (const plan::ChannelProgram& prog : op.plan.programs) {
      for (const plan::Step& s : prog.steps) largest = std::max(largest, s.count);
    }
  }
  return largest;
}

}  // namespace

const char* findingName(Finding f) {
  switch (f) {
    case Finding::kBadOperation: return "bad operation";
    case Finding::kMalformedStep: return "malformed step";
    case Finding::kOutOfBounds: return "out of bounds";
    case Finding::kWritesInput: return "writes input";
    case Finding::kStreamShared: return "stream shared";
    case Finding::kUnwrittenRead: return "unwritten read";
    case Finding::kMemoryConflict: return "memory conflict";
    case Finding::kDeadlock: return "deadlock";
    case Finding::kUnmatchedReceive: return "unmatched receive";
    case Finding::kLeftoverData: return "leftover data";
    case Finding::kWrongResult: return "wrong result";
  }
  return "unknown finding";
}

bool VerifyReport::has(Finding f) const {
  for (const Entry& e : findings) {
    if (e.kind == f) return true;
  }
  return false;
}

void VerifyReport::add(Finding f, std::string message) {
  findings.push_back(Entry{f, std::move(message)});
}

std::string VerifyReport::toString() const {
  if (findings.empty()) return "ok";
  std::ostringstream os;
  for (const Entry& e : findings) os << findingName(e.kind) << ": " << e.message << '\n';
  return os.str();
}

VerifyReport verifyPlans(const std::vector<RankOperation>& ops, const VerifyOptions& options) {
  VerifyReport report;
  if (!checkOperations(ops, options, report)) return report;
  std::vector<BufferLayout> layouts;
  layouts.reserve(ops.size());
  for (const RankOperation& op : ops) layouts.push_back(bufferLayout(op.args, options.inPlace));
  if (!checkPlanStructure(ops, layouts, report)) return report;
  VerifyOptions resolved = options;
  if (resolved.streamCapacity == 0) resolved.streamCapacity = largestStep(ops) + 1;
  PlanSimulator sim(ops, layouts, resolved, report);
  if (!sim.run()) return report;
  checkResults(ops, sim, options, report);
  return report;
}

}  // namespace strata::testing
