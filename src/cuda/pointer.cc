#include "cuda/pointer.h"

#include <atomic>

#include "cuda/runtime.h"

#if STRATA_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

namespace strata::cuda {
namespace {

std::atomic<Classifier> testClassifier{nullptr};

PointerInfo classifyWithRuntime(const void* p) {
  PointerInfo info;
#if STRATA_HAVE_CUDA
  if (p == nullptr || deviceCount() == 0) return info;
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
