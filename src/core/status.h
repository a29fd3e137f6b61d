// Status and StatusOr: errors are values inside the library. At the C
// boundary (src/api) a Status becomes an ncclResult_t plus the text returned
// by ncclGetLastError.
#pragma once

#include <optional>
#include <sstream>
#include <string>
#include <utility>

namespace strata {

// Values equal ncclResult_t so the boundary conversion is a cast.
enum class Code : int {
  kOk = 0,
  kCudaError = 1,
  kSystemError = 2,
  kInternalError = 3,
  kInvalidArgument = 4,
  kInvalidUsage = 5,
  kRemoteError = 6,
  kInProgress = 7,
};

const char* codeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // Prepends context ("while connecting to rank 3: ...") and returns *this.
  Status& withContext(const std::string& context) {
    if (!ok()) message_ = context + ": " + message_;
    return *this;
  }

  std::string toString() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

template <typename... Args>
std::string strCat(Args&&... args) {
  std::ostringstream os;
  (os << ... << std::forward<Args>(args));
  return os.str();
}

template <typename... Args>
Status InvalidArgument(Args&&... args) {
  return Status(Code::kInvalidArgument, strCat(std::forward<Args>(args)...));
}
template <typename... Args>
Status InvalidUsage(Args&&... args) {
  return Status(Code::kInvalidUsage, strCat(std::forward<Args>(args)...));
}
template <typename... Args>
Status SystemError(Args&&... args) {
  return Status(Code::kSystemError, strCat(std::forward<Args>(args)...));
}
template <typename... Args>
Status InternalError(Args&&... args) {
  return Status(Code::kInternalError, strCat(std::forward<Args>(args)...));
}
template <typename... Args>
Status RemoteError(Args&&... args) {
  return Status(Code::kRemoteError, strCat(std::forward<Args>(args)...));
}
// A deadline passed. Reported as a system error with "timed out" in the text
// (NCCL 2.28 has no timeout result code).
template <typename... Args>
Status Timeout(Args&&... args) {
  return Status(Code::kSystemError, strCat("timed out: ", std::forward<Args>(args)...));
}
// An operation was stopped by ncclCommAbort or a failure elsewhere.
template <typename... Args>
Status Aborted(Args&&... args) {
  return Status(Code::kRemoteError, strCat("aborted: ", std::forward<Args>(args)...));
}
// errno-based system error: "what: strerror(errno)".
Status ErrnoError(const std::string& what, int err);

template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(Status status) : status_(std::move(status)) {}  // NOLINT: implicit by design
  StatusOr(T value) : value_(std::move(value)) {}          // NOLINT
  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  T& operator*() { return *value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace strata

#define STRATA_CONCAT_INNER(a, b) a##b
#define STRATA_CONCAT(a, b) STRATA_CONCAT_INNER(a, b)

#define STRATA_RETURN_IF_ERROR(expr)                  \
  do {                                                \
    ::strata::Status strata_status_ = (expr);         \
    if (!strata_status_.ok()) return strata_status_;  \
  } while (0)

#define STRATA_RETURN_IF_ERROR_CTX(expr, ctx)                         \
  do {                                                                \
    ::strata::Status strata_status_ = (expr);                         \
    if (!strata_status_.ok()) return strata_status_.withContext(ctx); \
  } while (0)

#define STRATA_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()

#define STRATA_ASSIGN_OR_RETURN(lhs, expr) \
  STRATA_ASSIGN_OR_RETURN_IMPL(STRATA_CONCAT(strata_so_, __LINE__), lhs, expr)
