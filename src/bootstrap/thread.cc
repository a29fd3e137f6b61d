#include "bootstrap/thread.h"

#include <new>

namespace strata::bootstrap {
namespace {

void* trampoline(void* arg) {
  auto* fn = static_cast<std::function<void()>*>(arg);
  (*fn)();
  delete fn;
  return nullptr;
}

}  // namespace

Status spawnThread(std::function<void()> fn, pthread_t* joinable) {
  auto* heap = new (std::nothrow) std::function<void()>(std::move(fn));
  if (heap == nullptr) return SystemError("out of memory starting a thread");
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  if (joinable == nullptr) pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t tid;
  int rc = pthread_create(&tid, &attr, trampoline, heap);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    delete heap;
    return ErrnoError("pthread_create", rc);
  }
  if (joinable != nullptr) *joinable = tid;
  return Status::Ok();
}

}  // namespace strata::bootstrap
