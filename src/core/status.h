// Status and StatusOr: errors are values inside the library. At the C
// boundary (src/api) a Status becomes an ncclResult_t plus the text returned
// by ncclGetLastError.
#pragma once

#include <memory>
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

// An OK status is one null pointer: creating, moving and destroying it on
// the hot paths costs nothing. Only errors carry a code and a message.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) {
    if (code != Code::kOk) rep_ = std::make_unique<Rep>(Rep{code, std::move(message)});
  }
  Status(const Status& other) : rep_(other.rep_ ? std::make_unique<Rep>(*other.rep_) : nullptr) {}
  Status& operator=(const Status& other) {
    if (this != &other) rep_ = other.rep_ ? std::make_unique<Rep>(*other.rep_) : nullptr;
    return *this;
  }
  Status(Status&&) noexcept = default;
  Status& operator=(Status&&) noexcept = default;

  static Status Ok() { return Status(); }

  bool ok() const { return rep_ == nullptr; }
  Code code() const { return rep_ ? rep_->code : Code::kOk; }
  const std::string& message() const;

  // Prepends context ("while connecting to rank 3: ...") and returns *this.
  Status& withContext(const std::string& context) {
    if (rep_) rep_->message = context + ": " + rep_->message;
    return *this;
  }

  std::string toString() const;

 private:
  struct Rep {
    Code code;
    std::string message;
  };
  std::unique_ptr<Rep> rep_;
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
