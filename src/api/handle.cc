#include "api/handle.h"

#include <mutex>
#include <unordered_set>

namespace strata::api {
namespace {

std::mutex& registryMutex() {
  static std::mutex mu;
  return mu;
}
std::unordered_set<const ncclComm*>& registry() {
  static auto* live = new std::unordered_set<const ncclComm*>();
  return *live;
}

}  // namespace

ncclComm* newHandle() {
  auto* h = new ncclComm();
  std::lock_guard<std::mutex> lock(registryMutex());
  registry().insert(h);
  return h;
}

void destroyHandle(ncclComm* handle) {
  {
    std::lock_guard<std::mutex> lock(registryMutex());
    registry().erase(handle);
  }
  delete handle;
}

bool isLive(const ncclComm* handle) {
  std::lock_guard<std::mutex> lock(registryMutex());
  return registry().count(handle) != 0;
}

StatusOr<Communicator*> lookup(const ncclComm* handle, const char* function) {
  if (handle == nullptr) return InvalidArgument(function, ": comm is NULL");
  std::lock_guard<std::mutex> lock(registryMutex());
  if (registry().count(handle) == 0) {
    return InvalidArgument(function, ": comm ", static_cast<const void*>(handle),
                           " is not a live communicator (destroyed, aborted or never created)");
  }
  if (!handle->initStatus.ok()) {
    return Status(handle->initStatus.code(),
                  strCat(function, ": communicator failed to initialise: ",
                         handle->initStatus.message()));
  }
  if (!handle->impl) {
    return InvalidUsage(function, ": communicator is still initialising (inside a group?)");
  }
  return handle->impl.get();
}

}  // namespace strata::api
