#include "algorithms/plan_structure_check.h"

#include <map>
#include <sstream>
#include <tuple>

namespace strata::testing {

using plan::Buf;
using plan::Op;
using plan::Ref;
using plan::Step;

namespace {

constexpr int kMaxChannel = 1 << 20;

struct StepContext {
  const RankOperation& op;
  const BufferLayout& layout;
  size_t program;
  size_t step;

  std::string where() const {
    std::ostringstream os;
    os << "rank " << op.args.rank << " program " << program << " (channel "
       << op.plan.programs[program].channel << ") step " << step << " ["
       << plan::toString(op.plan.programs[program].steps[step]) << "]";
    return os.str();
  }
};

size_t bufferSize(const StepContext& ctx, Buf b) {
  switch (b) {
    case Buf::kInput: return ctx.layout.inputSize;
    case Buf::kOutput: return ctx.layout.outputSize;
    case Buf::kScratch: return ctx.op.plan.scratchElems;
    default: return 0;
  }
}

bool validOp(Op op) { return static_cast<int>(op) <= static_cast<int>(Op::kLocalReduce); }

// Checks one operand; false if the step cannot be simulated.
bool checkRef(const StepContext& ctx, const char* role, Ref ref, size_t count,
              VerifyReport& report) {
  if (ref.buf == Buf::kNone || static_cast<int>(ref.buf) > static_cast<int>(Buf::kScratch)) {
    report.add(Finding::kMalformedStep, ctx.where() + ": " + role + " names no buffer");
    return false;
  }
  const size_t size = bufferSize(ctx, ref.buf);
  if (ref.offset > size || count > size - ref.offset) {
    std::ostringstream os;
    os << ctx.where() << ": " << role << " " << plan::bufName(ref.buf) << "[" << ref.offset
       << ", " << ref.offset << "+" << count << ") is outside the buffer of " << size
       << " elements";
    report.add(Finding::kOutOfBounds, os.str());
    return false;
  }
  return true;
}

bool checkPeer(const StepContext& ctx, const char* role, int peer, VerifyReport& report) {
  if (peer >= 0 && peer < ctx.op.args.nranks) return true;
  report.add(Finding::kMalformedStep,
             ctx.where() + ": " + role + " peer " + std::to_string(peer) + " is out of range");
  return false;
}

bool checkStep(const StepContext& ctx, const Step& s, VerifyReport& report) {
  if (!validOp(s.op)) {
    report.add(Finding::kMalformedStep, ctx.where() + ": unknown op");
    return false;
  }
  bool ok = true;
  if (s.count == 0) {
    report.add(Finding::kMalformedStep, ctx.where() + ": moves no elements");
    ok = false;
  }
  const bool reducing = plan::collReduces(ctx.op.args.type);
  if (!reducing && (plan::opReduces(s.op) || s.finalize)) {
    report.add(Finding::kMalformedStep, ctx.where() + ": reduces or finalizes in " +
                                            plan::collName(ctx.op.args.type) +
                                            ", which does not reduce");
    ok = false;
  }
  if (plan::opSends(s.op)) ok = checkPeer(ctx, "send", s.sendPeer, report) && ok;
  if (plan::opRecvs(s.op)) ok = checkPeer(ctx, "receive", s.recvPeer, report) && ok;
  if (plan::opReadsSrc(s.op)) ok = checkRef(ctx, "src", s.src, s.count, report) && ok;
  if (s.op == Op::kLocalReduce) ok = checkRef(ctx, "src2", s.src2, s.count, report) && ok;
  if (plan::opWritesDst(s.op)) {
    if (s.dst.buf == Buf::kInput) {
      report.add(Finding::kWritesInput, ctx.where() + ": writes the Input buffer");
      ok = false;
    } else {
      ok = checkRef(ctx, "dst", s.dst, s.count, report) && ok;
    }
  }
  return ok;
}

// (rank, sends?, peer, channel): a directed stream as one rank sees it.
using StreamKey = std::tuple<int, bool, int, int>;

struct StreamUser {
  size_t op;
  size_t program;
  bool reported = false;
};

void recordStream(std::map<StreamKey, StreamUser>& users, const StreamKey& key, size_t op,
                  size_t program, VerifyReport& report) {
  auto [it, inserted] = users.emplace(key, StreamUser{op, program});
  StreamUser& first = it->second;
  if (inserted || (first.op == op && first.program == program) || first.reported) return;
  first.reported = true;
  const auto& [rank, sends, peer, channel] = key;
  std::ostringstream os;
  os << "rank " << rank << ": program " << program << " and program " << first.program
     << (first.op == op ? "" : " of another operation") << " both "
     << (sends ? "send to" : "receive from") << " rank " << peer << " on channel " << channel;
  report.add(Finding::kStreamShared, os.str());
}

}  // namespace

bool checkPlanStructure(const std::vector<RankOperation>& ops,
                        const std::vector<BufferLayout>& layouts, VerifyReport& report) {
  bool ok = true;
  std::map<StreamKey, StreamUser> users;
  for (size_t o = 0; o < ops.size(); ++o) {
    const RankOperation& rop = ops[o];
    for (size_t pi = 0; pi < rop.plan.programs.size(); ++pi) {
      const plan::ChannelProgram& prog = rop.plan.programs[pi];
      if (prog.channel < 0 || prog.channel >= kMaxChannel) {
        report.add(Finding::kMalformedStep, "rank " + std::to_string(rop.args.rank) +
                                                " program " + std::to_string(pi) +
                                                ": channel " + std::to_string(prog.channel) +
                                                " is out of range");
        ok = false;
        continue;
      }
      for (size_t si = 0; si < prog.steps.size(); ++si) {
        const Step& s = prog.steps[si];
        const StepContext ctx{rop, layouts[o], pi, si};
        if (!checkStep(ctx, s, report)) {
          ok = false;
          continue;
        }
        const int rank = rop.args.rank;
        if (plan::opSends(s.op)) {
          recordStream(users, StreamKey{rank, true, s.sendPeer, prog.channel}, o, pi, report);
        }
        if (plan::opRecvs(s.op)) {
          recordStream(users, StreamKey{rank, false, s.recvPeer, prog.channel}, o, pi, report);
        }
      }
    }
  }
  return ok && !report.has(Finding::kStreamShared);
}

}  // namespace strata::testing
