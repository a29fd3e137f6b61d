// Sizes on bench command lines: a number with an optional K, M or G suffix
// (powers of 1024), as nccl-tests spells them ("8", "256K", "1.5M", "2G").
#pragma once

#include <cstddef>
#include <cstdlib>

namespace strata::bench {

inline size_t parseBytes(const char* s) {
  char* end = nullptr;
  double v = std::strtod(s, &end);
  switch (end != nullptr ? *end : 0) {
    case 'K': case 'k': v *= 1024; break;
    case 'M': case 'm': v *= 1024 * 1024; break;
    case 'G': case 'g': v *= 1024.0 * 1024 * 1024; break;
    default: break;
  }
  return v > 0 ? static_cast<size_t>(v) : 0;
}

}  // namespace strata::bench
