#include "plan/plan.h"

#include <sstream>

namespace strata::plan {

const char* opName(Op op) {
  switch (op) {
    case Op::kSend: return "Send";
    case Op::kRecv: return "Recv";
    case Op::kRecvReduceSend: return "RecvReduceSend";
    case Op::kRecvReduceCopy: return "RecvReduceCopy";
    case Op::kRecvCopySend: return "RecvCopySend";
    case Op::kRecvReduceCopySend: return "RecvReduceCopySend";
    case Op::kCopy: return "Copy";
    case Op::kLocalReduce: return "LocalReduce";
  }
  return "UnknownOp";
}

bool opSends(Op op) {
  switch (op) {
    case Op::kSend:
    case Op::kRecvReduceSend:
    case Op::kRecvCopySend:
    case Op::kRecvReduceCopySend: return true;
    default: return false;
  }
}

bool opRecvs(Op op) {
  switch (op) {
    case Op::kRecv:
    case Op::kRecvReduceSend:
    case Op::kRecvReduceCopy:
    case Op::kRecvCopySend:
    case Op::kRecvReduceCopySend: return true;
    default: return false;
  }
}

bool opReadsSrc(Op op) {
  switch (op) {
    case Op::kSend:
    case Op::kRecvReduceSend:
    case Op::kRecvReduceCopy:
    case Op::kRecvReduceCopySend:
    case Op::kCopy:
    case Op::kLocalReduce: return true;
    default: return false;
  }
}

bool opWritesDst(Op op) {
  switch (op) {
    case Op::kRecv:
    case Op::kRecvReduceCopy:
    case Op::kRecvCopySend:
    case Op::kRecvReduceCopySend:
    case Op::kCopy:
    case Op::kLocalReduce: return true;
    default: return false;
  }
}

bool opReduces(Op op) {
  switch (op) {
    case Op::kRecvReduceSend:
    case Op::kRecvReduceCopy:
    case Op::kRecvReduceCopySend:
    case Op::kLocalReduce: return true;
    default: return false;
  }
}

const char* bufName(Buf b) {
  switch (b) {
    case Buf::kNone: return "None";
    case Buf::kInput: return "Input";
    case Buf::kOutput: return "Output";
    case Buf::kScratch: return "Scratch";
  }
  return "UnknownBuf";
}

size_t RankPlan::stepCount() const {
  size_t n = 0;
  for (const ChannelProgram& p : programs) n += p.steps.size();
  return n;
}

namespace {

void appendRef(std::ostringstream& os, const char* name, const Ref& r) {
  os << ' ' << name << '=' << bufName(r.buf) << '+' << r.offset;
}

}  // namespace

std::string toString(const Step& s) {
  std::ostringstream os;
  os << opName(s.op) << " count=" << s.count;
  if (opRecvs(s.op)) os << " from=" << s.recvPeer;
  if (opSends(s.op)) os << " to=" << s.sendPeer;
  if (opReadsSrc(s.op)) appendRef(os, "src", s.src);
  if (s.op == Op::kLocalReduce) appendRef(os, "src2", s.src2);
  if (opWritesDst(s.op)) appendRef(os, "dst", s.dst);
  if (s.finalize) os << " finalize";
  if (s.returnsOwn) os << " returnsOwn";
  return os.str();
}

std::string toString(const RankPlan& p) {
  std::ostringstream os;
  os << "plan rank " << p.rank << "/" << p.nranks << " algorithm=" << p.algorithm
     << " scratch=" << p.scratchElems << " programs=" << p.programs.size()
     << " steps=" << p.stepCount() << '\n';
  for (const ChannelProgram& prog : p.programs) {
    os << "  channel " << prog.channel << ": " << prog.steps.size() << " steps\n";
    for (size_t i = 0; i < prog.steps.size(); ++i) {
      os << "    [" << i << "] " << toString(prog.steps[i]) << '\n';
    }
  }
  return os.str();
}

const char* collName(CollType t) {
  switch (t) {
    case CollType::kAllReduce: return "AllReduce";
    case CollType::kReduceScatter: return "ReduceScatter";
    case CollType::kAllGather: return "AllGather";
    case CollType::kBroadcast: return "Broadcast";
    case CollType::kReduce: return "Reduce";
    case CollType::kAllToAll: return "AllToAll";
    case CollType::kGather: return "Gather";
    case CollType::kScatter: return "Scatter";
    case CollType::kSend: return "Send";
    case CollType::kRecv: return "Recv";
  }
  return "UnknownColl";
}

bool collReduces(CollType t) {
  return t == CollType::kAllReduce || t == CollType::kReduceScatter || t == CollType::kReduce;
}

}  // namespace strata::plan
