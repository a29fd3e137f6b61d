// Starting threads without exceptions (std::thread throws when it cannot).
#pragma once

#include <pthread.h>

#include <functional>

#include "core/status.h"

namespace strata::bootstrap {

// Runs fn on a new thread. With `joinable` set, it receives the handle for
// pthread_join; with nullptr the thread is detached.
Status spawnThread(std::function<void()> fn, pthread_t* joinable);

}  // namespace strata::bootstrap
