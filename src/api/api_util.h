// Helpers for the extern "C" boundary: every entry point converts a Status
// into an ncclResult_t, records the text for ncclGetLastError, and never lets
// an exception escape.
#pragma once

#include <cstring>
#include <exception>
#include <new>

#include "core/status.h"
#include "nccl.h"

#define NCCL_API_EXPORT extern "C" __attribute__((visibility("default")))

// Defines pnccl<name> as an alias of nccl<name> (profiling interposition).
#define NCCL_API_ALIAS(ret, name, params) \
  NCCL_API_EXPORT ret p##name params __attribute__((alias(#name)));

namespace strata::api {

// An enum argument as the int the caller passed. A C caller may pass any
// int, and loading an out-of-range value through the enum type is undefined
// behaviour in C++, so the bits are copied instead.
template <typename E>
int rawEnum(const E& e) {
  static_assert(sizeof(E) == sizeof(int), "NCCL enums are int-sized");
  int v;
  std::memcpy(&v, &e, sizeof v);
  return v;
}

// Records s as this thread's last error (and logs it at WARN) and returns
// the matching ncclResult_t. Success clears nothing: the text stays until the
// next failure, as NCCL does.
ncclResult_t report(const Status& s);
void setLastError(const std::string& text);
const char* lastError();

// Runs fn (returning Status) with exceptions converted to errors.
template <typename Fn>
ncclResult_t guarded(Fn&& fn) {
  try {
    return report(fn());
  } catch (const std::bad_alloc&) {
    return report(SystemError("out of host memory"));
  } catch (const std::exception& e) {
    return report(InternalError("unexpected exception: ", e.what()));
  } catch (...) {
    return report(InternalError("unexpected exception"));
  }
}

}  // namespace strata::api
