// The dynamic half of the PlanVerifier: runs all ranks' channel programs
// together on symbolic values, element by element, through bounded FIFO
// streams, and records what goes wrong (see verifier.h for the model).
// Plans must have passed the structural checks (plan_structure_check.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

#include "algorithms/buffer_layout.h"
#include "algorithms/symbolic_value.h"
#include "algorithms/verifier.h"

namespace strata::testing {

class PlanSimulator {
 public:
  PlanSimulator(const std::vector<RankOperation>& ops, const std::vector<BufferLayout>& layouts,
                const VerifyOptions& options, VerifyReport& report);

  // Runs until every program is done or nothing can move. True when every
  // program finished without a finding and all streams are empty.
  bool run();

  // After run(): whether a step wrote Output[index] of ops[op], and the value
  // there (the Input symbol it aliases in place, if nothing wrote it).
  bool outputWritten(size_t op, size_t index) const;
  ValueHandle outputValue(size_t op, size_t index) const;
  const ValuePool& pool() const { return pool_; }

  static constexpr ValueHandle kNoValue = ~uint64_t{0} >> 1;

 private:
  struct Cell {
    ValueHandle value = kNoValue;
    int32_t writer = -1;  // program that last wrote, -1 none
    int32_t reader = -1;  // program that read, -1 none, -2 several
  };
  struct Memory {
    std::vector<Cell> user;
    std::vector<Cell> scratch;
  };
  struct Stream {
    int from = 0;
    int to = 0;
    int channel = 0;
    std::deque<ValueHandle> elements;
  };
  struct Program {
    int id = 0;
    size_t op = 0;
    int rank = 0;
    size_t index = 0;  // in its plan
    const plan::ChannelProgram* code = nullptr;
    size_t step = 0;
    size_t done = 0;  // elements of the current step already moved
    bool finished() const { return step >= code->steps.size(); }
  };

  size_t advance(Program& p, size_t quantum);
  bool moveElement(Program& p, const plan::Step& s, Stream* in, Stream* out);
  bool read(Program& p, plan::Ref ref, ValueHandle& v);
  bool write(Program& p, plan::Ref ref, ValueHandle v);
  Cell& cellAt(const Program& p, plan::Ref ref, size_t element);
  Stream& stream(int from, int to, int channel);
  bool sendsLater(int from, int to, int channel) const;
  void reportStuck();
  void reportLeftovers();
  std::string where(const Program& p) const;
  std::string bufferElement(const Program& p, plan::Ref ref) const;

  const std::vector<RankOperation>& ops_;
  const std::vector<BufferLayout>& layouts_;
  VerifyOptions options_;
  VerifyReport& report_;
  ValuePool pool_;
  std::vector<Memory> memory_;
  std::vector<Program> programs_;
  std::deque<Stream> streams_;  // a deque: references stay valid as it grows
  std::unordered_map<uint64_t, size_t> streamIndex_;
  bool failed_ = false;
};

}  // namespace strata::testing
