#include <gtest/gtest.h>
#include <chrono>
#include "algorithms/plan_sweep.h"
namespace strata::testing {
TEST(Smoke, Full) {
  using plan::CollType;
  for (CollType t : {CollType::kAllReduce, CollType::kReduceScatter, CollType::kAllGather, CollType::kBroadcast, CollType::kReduce, CollType::kAllToAll, CollType::kGather, CollType::kScatter}) {
    auto t0 = std::chrono::steady_clock::now();
    size_t runs = 0, moved = 0;
    for (int n : {1,2,3,4,5,6,7,8,13,16}) {
      for (int root = 0; root < n; ++root) {
        bool rooted = t == CollType::kBroadcast || t == CollType::kReduce || t == CollType::kGather || t == CollType::kScatter;
        if (!rooted && root > 0) break;
        for (size_t M : {1, 3, 64, 4096}) for (size_t count : {0, 1, 2, 5, 17, 100, 1000}) for (int ch = 1; ch <= 4; ++ch) for (bool ip : {false, true}) {
          if (ip && t == CollType::kAllToAll) continue;
          plan::CollArgs a; a.type = t; a.count = count; a.nranks = n; a.root = root;
          plan::PlanOptions o; o.nchannels = ch; o.maxStepElems = M;
          auto ops = buildAllRanks(a, o);
          auto rep = verifyAllRanks(ops, t, o, ip);
          ++runs; moved += rep.elementsMoved;
          if (!rep.ok()) { ADD_FAILURE() << describeCase(a, o, ip) << "\n" << rep.toString(); return; }
        }
      }
    }
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    printf("%s: %zu runs, %zu moved, %.2fs\n", plan::collName(t), runs, moved, s);
  }
}
}
