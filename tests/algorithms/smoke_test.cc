#include <gtest/gtest.h>
#include "algorithms/plan_sweep.h"
namespace strata::testing {
TEST(Smoke, AllReduce) {
  plan::CollArgs a; a.type = plan::CollType::kAllReduce; a.count = 17; a.nranks = 4;
  plan::PlanOptions o; o.nchannels = 2; o.maxStepElems = 3;
  auto ops = buildAllRanks(a, o);
  for (bool ip : {false, true}) {
    auto rep = verifyAllRanks(ops, a.type, o, ip);
    EXPECT_TRUE(rep.ok()) << rep.toString() << plan::toString(ops[0].plan);
  }
}
}
