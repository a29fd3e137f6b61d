#include "support/ranks.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

namespace strata::testing {

struct Watchdog::State {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::thread thread;
};

// Sanitized builds run several times slower (ThreadSanitizer most); a
// deadline meant to catch hangs stretches with them, so a test that is only
// slow there does not fail as hung.
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr int kSanitizerSlowdown = 2;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
constexpr int kSanitizerSlowdown = 2;
#else
constexpr int kSanitizerSlowdown = 1;
#endif
#else
constexpr int kSanitizerSlowdown = 1;
#endif

Watchdog::Watchdog(int seconds, std::string what) : state_(new State) {
  seconds *= kSanitizerSlowdown;
  State* s = state_;
  s->thread = std::thread([s, seconds, what = std::move(what)] {
    std::unique_lock<std::mutex> lock(s->mu);
    if (!s->cv.wait_for(lock, std::chrono::seconds(seconds), [s] { return s->done; })) {
      std::fprintf(stderr, "WATCHDOG: '%s' did not finish within %d s; failing the test\n",
                   what.c_str(), seconds);
      std::fflush(stderr);
      std::_Exit(124);
    }
  });
}

Watchdog::~Watchdog() {
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->done = true;
  }
  state_->cv.notify_all();
  state_->thread.join();
  delete state_;
}

void runThreads(int n, const std::function<void(int)>& fn, int timeoutSec) {
  Watchdog dog(timeoutSec, "runThreads");
  std::vector<std::thread> threads;
  threads.reserve(n);
  for (int r = 0; r < n; ++r) threads.emplace_back([&fn, r] { fn(r); });
  for (auto& t : threads) t.join();
}

std::vector<int> runProcesses(int n, const std::function<int(int)>& fn, int timeoutSec) {
  std::fflush(stdout);
  std::fflush(stderr);
  std::vector<pid_t> pids(n, -1);
  for (int r = 0; r < n; ++r) {
    pid_t pid = fork();
    if (pid == 0) {
      // A child must never return into the test runner.
      alarm(static_cast<unsigned>(timeoutSec + 5));
      int rc = fn(r);
      if (::testing::Test::HasFailure() && rc == 0) rc = 1;
      std::fflush(stdout);
      std::fflush(stderr);
      std::_Exit(rc);
    }
    pids[r] = pid;
  }
  std::vector<int> codes(n, -1);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeoutSec);
  int remaining = n;
  while (remaining > 0) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      for (int r = 0; r < n; ++r) {
        if (pids[r] == pid) {
          codes[r] = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
          pids[r] = -1;
          --remaining;
        }
      }
      continue;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      std::fprintf(stderr, "WATCHDOG: %d of %d ranks still running after %d s; killing them\n",
                   remaining, n, timeoutSec);
      for (int r = 0; r < n; ++r) {
        if (pids[r] > 0) {
          kill(pids[r], SIGKILL);
          waitpid(pids[r], nullptr, 0);
          codes[r] = -1;
        }
      }
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return codes;
}

ScopedEnv::ScopedEnv(const char* name, const std::string& value) : name_(name) {
  const char* old = std::getenv(name);
  hadOld_ = old != nullptr;
  if (hadOld_) old_ = old;
  setenv(name, value.c_str(), 1);
}

ScopedEnv::~ScopedEnv() {
  if (hadOld_) {
    setenv(name_.c_str(), old_.c_str(), 1);
  } else {
    unsetenv(name_.c_str());
  }
}

}  // namespace strata::testing
