// Small helpers shared by the bootstrap tests.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "bootstrap/bootstrap.h"
#include "core/status.h"
#include "net/auth.h"

namespace strata::testing {

inline std::string toHex(const net::Digest& d) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  for (uint8_t b : d) {
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

inline bootstrap::Options bootOptions(int timeoutMs, const AbortFlag* abort = nullptr) {
  bootstrap::Options o;
  o.timeout = std::chrono::milliseconds(timeoutMs);
  o.abort = abort;
  return o;
}

inline double secondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace strata::testing

#define ASSERT_OK(expr)                                    \
  do {                                                     \
    ::strata::Status assert_ok_ = (expr);                  \
    ASSERT_TRUE(assert_ok_.ok()) << assert_ok_.toString(); \
  } while (0)
#define EXPECT_OK(expr)                                    \
  do {                                                     \
    ::strata::Status expect_ok_ = (expr);                  \
    EXPECT_TRUE(expect_ok_.ok()) << expect_ok_.toString(); \
  } while (0)
