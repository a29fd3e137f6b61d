// The plan IR helpers: op operand tables, names and printing.
#include <gtest/gtest.h>

#include "plan/plan.h"

namespace strata::plan {
namespace {

TEST(PlanIr, OperandTablesFollowTheSemantics) {
  struct Row {
    Op op;
    bool sends, recvs, readsSrc, writesDst, reduces;
  };
  const Row rows[] = {
      {Op::kSend, true, false, true, false, false},
      {Op::kRecv, false, true, false, true, false},
      {Op::kRecvReduceSend, true, true, true, false, true},
      {Op::kRecvReduceCopy, false, true, true, true, true},
      {Op::kRecvCopySend, true, true, false, true, false},
      {Op::kRecvReduceCopySend, true, true, true, true, true},
      {Op::kCopy, false, false, true, true, false},
      {Op::kLocalReduce, false, false, true, true, true},
  };
  for (const Row& r : rows) {
    EXPECT_EQ(opSends(r.op), r.sends) << opName(r.op);
    EXPECT_EQ(opRecvs(r.op), r.recvs) << opName(r.op);
    EXPECT_EQ(opReadsSrc(r.op), r.readsSrc) << opName(r.op);
    EXPECT_EQ(opWritesDst(r.op), r.writesDst) << opName(r.op);
    EXPECT_EQ(opReduces(r.op), r.reduces) << opName(r.op);
  }
}

TEST(PlanIr, Names) {
  EXPECT_STREQ(opName(Op::kRecvReduceCopySend), "RecvReduceCopySend");
  EXPECT_STREQ(opName(static_cast<Op>(42)), "UnknownOp");
  EXPECT_STREQ(bufName(Buf::kScratch), "Scratch");
  EXPECT_STREQ(bufName(Buf::kNone), "None");
  EXPECT_STREQ(collName(CollType::kReduceScatter), "ReduceScatter");
  EXPECT_STREQ(collName(CollType::kRecv), "Recv");
  EXPECT_TRUE(collReduces(CollType::kAllReduce));
  EXPECT_TRUE(collReduces(CollType::kReduceScatter));
  EXPECT_TRUE(collReduces(CollType::kReduce));
  for (CollType t : {CollType::kAllGather, CollType::kBroadcast, CollType::kAllToAll,
                     CollType::kGather, CollType::kScatter, CollType::kSend, CollType::kRecv}) {
    EXPECT_FALSE(collReduces(t)) << collName(t);
  }
}

TEST(PlanIr, PrintsStepsWithTheirOperands) {
  Step s;
  s.op = Op::kRecvReduceCopySend;
  s.recvPeer = 1;
  s.sendPeer = 3;
  s.src = Ref{Buf::kInput, 8};
  s.dst = Ref{Buf::kOutput, 8};
  s.count = 4;
  s.finalize = true;
  EXPECT_EQ(toString(s),
            "RecvReduceCopySend count=4 from=1 to=3 src=Input+8 dst=Output+8 finalize");
  Step send;
  send.op = Op::kSend;
  send.sendPeer = 2;
  send.src = Ref{Buf::kScratch, 0};
  send.count = 1;
  EXPECT_EQ(toString(send), "Send count=1 to=2 src=Scratch+0");
}

TEST(PlanIr, CountsAndPrintsPlans) {
  RankPlan p;
  p.rank = 1;
  p.nranks = 2;
  p.algorithm = "ring";
  Step s;
  s.op = Op::kCopy;
  s.src = Ref{Buf::kInput, 0};
  s.dst = Ref{Buf::kOutput, 0};
  s.count = 3;
  p.programs.push_back(ChannelProgram{0, {s, s}});
  p.programs.push_back(ChannelProgram{1, {s}});
  EXPECT_EQ(p.stepCount(), 3u);
  const std::string text = toString(p);
  EXPECT_NE(text.find("plan rank 1/2 algorithm=ring"), std::string::npos) << text;
  EXPECT_NE(text.find("channel 1: 1 steps"), std::string::npos) << text;
  EXPECT_NE(text.find("[1] Copy count=3"), std::string::npos) << text;
}

}  // namespace
}  // namespace strata::plan
