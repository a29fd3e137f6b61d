// Pointer classification: where a buffer passed to a collective lives.
// Host memory (malloc, stack, mmap) and pinned host memory (cudaMallocHost,
// cudaHostRegister) are run by the host executor; device and managed memory
// need the CUDA executor. Without CUDA, a driver or a GPU every pointer is
// host memory.
#pragma once

namespace strata::cuda {

enum class MemoryKind { kHost, kPinnedHost, kDevice, kManaged };
const char* memoryKindName(MemoryKind k);

struct PointerInfo {
  MemoryKind kind = MemoryKind::kHost;
  int device = -1;  // the owning device for device/managed memory
};

// Never fails: a pointer CUDA does not know is host memory.
PointerInfo classify(const void* p);

// True for memory the host executor must not touch.
inline bool needsDevice(MemoryKind k) {
  return k == MemoryKind::kDevice || k == MemoryKind::kManaged;
}

// Tests replace the classifier (to present a pointer as device memory on a
// machine without a GPU); nullptr restores the real one.
using Classifier = PointerInfo (*)(const void*);
void setClassifierForTesting(Classifier c);

}  // namespace strata::cuda
