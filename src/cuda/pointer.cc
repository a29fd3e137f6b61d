#include "cuda/pointer.h"

#include <atomic>

#include "cuda/runtime.h"

#if STRATA_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

namespace strata::cuda {
namespace {

std::atomic<Classifier> testClassifier{nullptr};

#if STRATA_HAVE_CUDA
// Device memory exists in this process only once a CUDA context does. A
// host-only program on a GPU machine should not get a context (hundreds of
// MiB of GPU memory) just because a collective classified its buffers, so
// classification waits until some context is active. Unknown: assume one.
bool contextExists() {
  static std::atomic<bool> seen{false};
  if (seen.load(std::memory_order_relaxed)) return true;
  using PrimaryState = int (*)(int device, unsigned* flags, int* active);  // cuDevicePrimaryCtxGetState
  using DeviceGet = int (*)(int* device, int ordinal);                      // cuDeviceGet
  using CtxCurrent = int (*)(void** ctx);                                    // cuCtxGetCurrent
  struct Entry {
    PrimaryState state = nullptr;
    DeviceGet get = nullptr;
    CtxCurrent current = nullptr;
  };
  static const Entry entry = [] {
    Entry e;
    auto load = [](const char* name) -> void* {
      void* fn = nullptr;
      cudaDriverEntryPointQueryResult q{};
      if (cudaGetDriverEntryPointByVersion(name, &fn, 12000, cudaEnableDefault, &q) != cudaSuccess ||
          q != cudaDriverEntryPointSuccess) {
        cudaGetLastError();
        return nullptr;
      }
      return fn;
    };
    e.state = reinterpret_cast<PrimaryState>(load("cuDevicePrimaryCtxGetState"));
    e.get = reinterpret_cast<DeviceGet>(load("cuDeviceGet"));
    e.current = reinterpret_cast<CtxCurrent>(load("cuCtxGetCurrent"));
    return e;
  }();
  if (entry.state == nullptr || entry.get == nullptr || entry.current == nullptr) return true;
  bool active = false;
  void* ctx = nullptr;
  if (entry.current(&ctx) == 0 && ctx != nullptr) active = true;
  for (int d = 0; d < deviceCount() && !active; ++d) {
    int dev = 0, on = 0;
    unsigned flags = 0;
    if (entry.get(&dev, d) == 0 && entry.state(dev, &flags, &on) == 0 && on != 0) active = true;
  }
  if (active) seen.store(true, std::memory_order_relaxed);
  return active;
}
#endif

PointerInfo classifyWithRuntime(const void* p) {
  PointerInfo info;
#if STRATA_HAVE_CUDA
  if (p == nullptr || deviceCount() == 0 || !contextExists()) return info;
  cudaPointerAttributes attr{};
  cudaError_t e = cudaPointerGetAttributes(&attr, p);
  if (e != cudaSuccess) {
    // Not a pointer CUDA knows (older runtimes report plain host memory
    // this way): host memory. Clear the error so it does not stick.
    cudaGetLastError();
    return info;
  }
  switch (attr.type) {
    case cudaMemoryTypeDevice:
      info.kind = MemoryKind::kDevice;
      info.device = attr.device;
      break;
    case cudaMemoryTypeManaged:
      info.kind = MemoryKind::kManaged;
      info.device = attr.device;
      break;
    case cudaMemoryTypeHost:
      info.kind = MemoryKind::kPinnedHost;
      break;
    default:
      break;
  }
#else
  (void)p;
#endif
  return info;
}

}  // namespace

const char* memoryKindName(MemoryKind k) {
  switch (k) {
    case MemoryKind::kHost: return "host";
    case MemoryKind::kPinnedHost: return "pinned host";
    case MemoryKind::kDevice: return "device";
    case MemoryKind::kManaged: return "managed";
  }
  return "?";
}

PointerInfo classify(const void* p) {
  Classifier c = testClassifier.load(std::memory_order_acquire);
  return c != nullptr ? c(p) : classifyWithRuntime(p);
}

void setClassifierForTesting(Classifier c) { testClassifier.store(c, std::memory_order_release); }

}  // namespace strata::cuda
