#include "core/status.h"

#include <cstring>

namespace strata {

const char* codeName(Code code) {
  switch (code) {
    case Code::kOk: return "success";
    case Code::kCudaError: return "unhandled cuda error";
    case Code::kSystemError: return "unhandled system error";
    case Code::kInternalError: return "internal error";
    case Code::kInvalidArgument: return "invalid argument";
    case Code::kInvalidUsage: return "invalid usage";
    case Code::kRemoteError: return "remote process exited or there was a network error";
    case Code::kInProgress: return "operation in progress";
  }
  return "unknown result code";
}

const std::string& Status::message() const {
  static const std::string kNone;
  return rep_ ? rep_->message : kNone;
}

std::string Status::toString() const {
  if (ok()) return "ok";
  return strCat(codeName(rep_->code), ": ", rep_->message);
}

Status ErrnoError(const std::string& what, int err) {
  char buf[128];
  const char* text = strerror_r(err, buf, sizeof buf);
  return Status(Code::kSystemError, strCat(what, ": ", text, " (errno ", err, ")"));
}

}  // namespace strata
