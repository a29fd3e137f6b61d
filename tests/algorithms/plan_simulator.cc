#include "algorithms/plan_simulator.h"

#include <algorithm>
#include <sstream>

namespace strata::testing {

using plan::Buf;
using plan::Op;
using plan::Ref;
using plan::Step;

PlanSimulator::PlanSimulator(const std::vector<RankOperation>& ops,
                             const std::vector<BufferLayout>& layouts,
                             const VerifyOptions& options, VerifyReport& report)
    : ops_(ops), layouts_(layouts), options_(options), report_(report) {
  if (options_.quantum == 0) options_.quantum = options_.streamCapacity;
  memory_.resize(ops.size());
  for (size_t o = 0; o < ops.size(); ++o) {
    const BufferLayout& l = layouts[o];
    Memory& m = memory_[o];
    m.user.resize(l.memorySize);
    m.scratch.resize(ops[o].plan.scratchElems);
    for (size_t i = 0; i < l.inputSize; ++i) {
      m.user[l.inputBase + i].value = ValuePool::symbol(ops[o].args.rank, i);
    }
    for (size_t i = 0; i < ops[o].plan.programs.size(); ++i) {
      Program p;
      p.id = static_cast<int>(programs_.size());
      p.op = o;
      p.rank = ops[o].args.rank;
      p.index = i;
      p.code = &ops[o].plan.programs[i];
      programs_.push_back(p);
    }
  }
}

PlanSimulator::Stream& PlanSimulator::stream(int from, int to, int channel) {
  const uint64_t key = (static_cast<uint64_t>(from) << 42) | (static_cast<uint64_t>(to) << 21) |
                       static_cast<uint64_t>(channel);
  auto it = streamIndex_.find(key);
  if (it != streamIndex_.end()) return streams_[it->second];
  streamIndex_.emplace(key, streams_.size());
  Stream s;
  s.from = from;
  s.to = to;
  s.channel = channel;
  streams_.push_back(std::move(s));
  return streams_.back();
}

std::string PlanSimulator::where(const Program& p) const {
  std::ostringstream os;
  os << "rank " << p.rank << " program " << p.index << " (channel " << p.code->channel << ")";
  if (!p.finished()) {
    const Step& s = p.code->steps[p.step];
    os << " step " << p.step << " [" << plan::toString(s) << "] after " << p.done << "/"
       << s.count << " elements";
  }
  return os.str();
}

std::string PlanSimulator::bufferElement(const Program& p, Ref ref) const {
  return plan::bufName(ref.buf) + std::string("[") + std::to_string(ref.offset + p.done) + "]";
}

PlanSimulator::Cell& PlanSimulator::cellAt(const Program& p, Ref ref, size_t element) {
  Memory& m = memory_[p.op];
  const BufferLayout& l = layouts_[p.op];
  const size_t at = ref.offset + element;
  switch (ref.buf) {
    case Buf::kInput: return m.user[l.inputBase + at];
    case Buf::kOutput: return m.user[l.outputBase + at];
    default: return m.scratch[at];
  }
}

bool PlanSimulator::read(Program& p, Ref ref, ValueHandle& v) {
  Cell& c = cellAt(p, ref, p.done);
  if (ref.buf != Buf::kInput && c.writer < 0) {
    report_.add(Finding::kUnwrittenRead, where(p) + " reads " + bufferElement(p, ref) +
                                             " before anything wrote it");
    return false;
  }
  if (c.writer >= 0 && c.writer != p.id) {
    report_.add(Finding::kMemoryConflict,
                where(p) + " reads " + bufferElement(p, ref) + " written by " +
                    where(programs_[static_cast<size_t>(c.writer)]));
    return false;
  }
  if (c.reader == -1) {
    c.reader = p.id;
  } else if (c.reader != p.id) {
    c.reader = -2;
  }
  v = c.value;
  if (ref.buf == Buf::kInput && plan::collReduces(ops_[p.op].args.type)) v = pool_.preScale(v);
  return true;
}

bool PlanSimulator::write(Program& p, Ref ref, ValueHandle v) {
  Cell& c = cellAt(p, ref, p.done);
  const bool otherWriter = c.writer >= 0 && c.writer != p.id;
  const bool otherReader = c.reader == -2 || (c.reader >= 0 && c.reader != p.id);
  if (otherWriter || otherReader) {
    report_.add(Finding::kMemoryConflict,
                where(p) + " writes " + bufferElement(p, ref) +
                    " that another program of the rank also " +
                    (otherWriter ? "writes" : "reads"));
    return false;
  }
  c.writer = p.id;
  c.value = v;
  return true;
}

bool PlanSimulator::moveElement(Program& p, const Step& s, Stream* in, Stream* out) {
  ValueHandle received = kNoValue;
  ValueHandle a = kNoValue;
  ValueHandle b = kNoValue;
  if (in != nullptr) {
    received = in->elements.front();
    in->elements.pop_front();
  }
  if (plan::opReadsSrc(s.op) && !read(p, s.src, a)) return false;
  if (s.op == Op::kLocalReduce && !read(p, s.src2, b)) return false;
  ValueHandle v = kNoValue;
  switch (s.op) {
    case Op::kSend:
    case Op::kCopy: v = a; break;
    case Op::kRecv:
    case Op::kRecvCopySend: v = received; break;
    case Op::kRecvReduceSend:
    case Op::kRecvReduceCopy:
    case Op::kRecvReduceCopySend: v = pool_.reduce(received, a); break;
    case Op::kLocalReduce: v = pool_.reduce(a, b); break;
  }
  if (s.finalize) v = pool_.finalize(v);
  if (plan::opWritesDst(s.op) && !write(p, s.dst, v)) return false;
  if (out != nullptr) out->elements.push_back(v);
  return true;
}

size_t PlanSimulator::advance(Program& p, size_t quantum) {
  size_t moved = 0;
  while (!p.finished() && moved < quantum) {
    const Step& s = p.code->steps[p.step];
    const int channel = p.code->channel;
    Stream* in = plan::opRecvs(s.op) ? &stream(s.recvPeer, p.rank, channel) : nullptr;
    Stream* out = plan::opSends(s.op) ? &stream(p.rank, s.sendPeer, channel) : nullptr;
    while (p.done < s.count && moved < quantum) {
      if (in != nullptr && in->elements.empty()) return moved;
      if (out != nullptr && out->elements.size() >= options_.streamCapacity) return moved;
      if (!moveElement(p, s, in, out)) {
        failed_ = true;
        return moved;
      }
      ++p.done;
      ++moved;
    }
    if (p.done < s.count) break;
    ++p.step;
    p.done = 0;
  }
  return moved;
}

bool PlanSimulator::run() {
  bool progress = true;
  while (progress && !failed_) {
    progress = false;
    for (Program& p : programs_) {
      if (p.finished()) continue;
      const size_t moved = advance(p, options_.quantum);
      report_.elementsMoved += moved;
      progress = progress || moved > 0;
      if (failed_) return false;
    }
  }
  const bool allDone =
      std::all_of(programs_.begin(), programs_.end(), [](const Program& p) { return p.finished(); });
  if (!allDone) {
    reportStuck();
    return false;
  }
  reportLeftovers();
  return report_.ok();
}

bool PlanSimulator::sendsLater(int from, int to, int channel) const {
  for (const Program& p : programs_) {
    if (p.rank != from || p.code->channel != channel || p.finished()) continue;
    for (size_t i = p.step; i < p.code->steps.size(); ++i) {
      const Step& s = p.code->steps[i];
      if (plan::opSends(s.op) && s.sendPeer == to) return true;
    }
  }
  return false;
}

void PlanSimulator::reportStuck() {
  std::ostringstream os;
  size_t blocked = 0;
  for (const Program& p : programs_) {
    if (p.finished()) continue;
    const Step& s = p.code->steps[p.step];
    const int channel = p.code->channel;
    ++blocked;
    if (plan::opRecvs(s.op) && stream(s.recvPeer, p.rank, channel).elements.empty()) {
      if (!sendsLater(s.recvPeer, p.rank, channel)) {
        report_.add(Finding::kUnmatchedReceive,
                    where(p) + " waits for data from rank " + std::to_string(s.recvPeer) +
                        " on channel " + std::to_string(channel) +
                        ", which has nothing left to send there");
      }
      if (blocked <= 16) {
        os << "\n  " << where(p) << ": waiting for data from rank " << s.recvPeer;
      }
    } else if (blocked <= 16) {
      os << "\n  " << where(p) << ": waiting for room towards rank " << s.sendPeer
         << " (stream full)";
    }
  }
  if (blocked > 16) os << "\n  ... and " << (blocked - 16) << " more";
  report_.add(Finding::kDeadlock,
              std::to_string(blocked) + " program(s) cannot progress:" + os.str());
}

void PlanSimulator::reportLeftovers() {
  for (const Stream& s : streams_) {
    if (s.elements.empty()) continue;
    report_.add(Finding::kLeftoverData,
                "stream rank " + std::to_string(s.from) + " -> rank " + std::to_string(s.to) +
                    " channel " + std::to_string(s.channel) + " still holds " +
                    std::to_string(s.elements.size()) + " element(s) nobody received");
  }
}

bool PlanSimulator::outputWritten(size_t op, size_t index) const {
  return memory_[op].user[layouts_[op].outputBase + index].writer >= 0;
}

ValueHandle PlanSimulator::outputValue(size_t op, size_t index) const {
  return memory_[op].user[layouts_[op].outputBase + index].value;
}

}  // namespace strata::testing
