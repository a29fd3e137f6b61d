// The plan builders behind buildPlan. Each takes arguments already checked
// by buildPlan (ranks, roots and peers in range, maxStepElems >= 1,
// nchannels >= 1, buffer sizes that fit in size_t) and cannot fail.
#pragma once

#include "plan/plan.h"

namespace strata::algorithms {

// A plan for args.rank with no programs yet.
plan::RankPlan emptyPlan(const plan::CollArgs& args, const char* algorithm);

// ring: reduce-scatter and/or all-gather around a ring per channel.
plan::RankPlan buildRingAllReduce(const plan::CollArgs& args, const plan::PlanOptions& options);
plan::RankPlan buildRingReduceScatter(const plan::CollArgs& args,
                                      const plan::PlanOptions& options);
plan::RankPlan buildRingAllGather(const plan::CollArgs& args, const plan::PlanOptions& options);

// direct: every rank sends to every rank, reductions in rank order (small messages).
plan::RankPlan buildDirectAllReduce(const plan::CollArgs& args, const plan::PlanOptions& options);

// chain: a pipelined chain from (Broadcast) or towards (Reduce) the root.
plan::RankPlan buildChainBroadcast(const plan::CollArgs& args, const plan::PlanOptions& options);
plan::RankPlan buildChainReduce(const plan::CollArgs& args, const plan::PlanOptions& options);

// p2p: one program per peer and direction on options.p2pChannel.
plan::RankPlan buildP2pSend(const plan::CollArgs& args, const plan::PlanOptions& options);
plan::RankPlan buildP2pRecv(const plan::CollArgs& args, const plan::PlanOptions& options);
plan::RankPlan buildP2pAllToAll(const plan::CollArgs& args, const plan::PlanOptions& options);
plan::RankPlan buildP2pGather(const plan::CollArgs& args, const plan::PlanOptions& options);
plan::RankPlan buildP2pScatter(const plan::CollArgs& args, const plan::PlanOptions& options);

}  // namespace strata::algorithms
