#include "algorithms/buffer_layout.h"

namespace strata::testing {

using plan::CollType;

bool hasInPlaceForm(CollType type) {
  switch (type) {
    case CollType::kAllReduce:
    case CollType::kReduceScatter:
    case CollType::kAllGather:
    case CollType::kBroadcast:
    case CollType::kReduce:
    case CollType::kGather:
    case CollType::kScatter: return true;
    default: return false;
  }
}

BufferLayout bufferLayout(const plan::CollArgs& args, bool inPlace) {
  const size_t count = args.count;
  const size_t blocks = static_cast<size_t>(args.nranks) * count;
  const bool isRoot = args.rank == args.root;
  BufferLayout l;
  size_t inputInOutput = 0;  // in place: where Input starts inside Output
  size_t outputInInput = 0;  // in place: where Output starts inside Input
  bool outputHoldsInput = true;
  switch (args.type) {
    case CollType::kAllReduce:
      l.inputSize = count;
      l.outputSize = count;
      break;
    case CollType::kBroadcast:
      l.inputSize = isRoot ? count : 0;
      l.outputSize = count;
      break;
    case CollType::kReduce:
      l.inputSize = count;
      l.outputSize = isRoot ? count : 0;
      break;
    case CollType::kReduceScatter:
      l.inputSize = blocks;
      l.outputSize = count;
      outputHoldsInput = false;
      outputInInput = static_cast<size_t>(args.rank) * count;
      break;
    case CollType::kAllGather:
      l.inputSize = count;
      l.outputSize = blocks;
      inputInOutput = static_cast<size_t>(args.rank) * count;
      break;
    case CollType::kAllToAll:
      l.inputSize = blocks;
      l.outputSize = blocks;
      break;
    case CollType::kGather:
      l.inputSize = count;
      l.outputSize = isRoot ? blocks : 0;
      inputInOutput = static_cast<size_t>(args.root) * count;
      break;
    case CollType::kScatter:
      l.inputSize = isRoot ? blocks : 0;
      l.outputSize = count;
      outputHoldsInput = false;
      outputInInput = static_cast<size_t>(args.root) * count;
      break;
    case CollType::kSend:
      l.inputSize = count;
      break;
    case CollType::kRecv:
      l.outputSize = count;
      break;
  }
  if (inPlace && l.inputSize > 0 && l.outputSize > 0) {
    l.aliased = true;
    if (outputHoldsInput) {
      l.outputBase = 0;
      l.inputBase = inputInOutput;
      l.memorySize = l.outputSize;
    } else {
      l.inputBase = 0;
      l.outputBase = outputInInput;
      l.memorySize = l.inputSize;
    }
    return l;
  }
  l.inputBase = 0;
  l.outputBase = l.inputSize;
  l.memorySize = l.inputSize + l.outputSize;
  return l;
}

}  // namespace strata::testing
