#include "kernels/host/convert.h"

#include <cstring>

namespace strata::kernels {
namespace {

template <class S, float (*kLoad)(S)>
void widen(float* dst, const void* srcv, size_t count) {
  const S* src = static_cast<const S*>(srcv);
  for (size_t i = 0; i < count; ++i) dst[i] = kLoad(src[i]);
}

template <class S, S (*kStore)(float)>
void narrow(void* dstv, const float* src, size_t count) {
  S* dst = static_cast<S*>(dstv);
  for (size_t i = 0; i < count; ++i) dst[i] = kStore(src[i]);
}

}  // namespace

bool convertToFloat(DataType type, float* dst, const void* src, size_t count) {
  switch (type) {
    case DataType::kFloat32:
      if (count != 0 && dst != src) std::memmove(dst, src, count * sizeof(float));
      return true;
    case DataType::kFloat16: widen<uint16_t, halfToFloat>(dst, src, count); return true;
    case DataType::kBfloat16: widen<uint16_t, bf16ToFloat>(dst, src, count); return true;
    case DataType::kFloat8e4m3: widen<uint8_t, fp8e4m3ToFloat>(dst, src, count); return true;
    case DataType::kFloat8e5m2: widen<uint8_t, fp8e5m2ToFloat>(dst, src, count); return true;
    default: return false;
  }
}

bool convertFromFloat(DataType type, void* dst, const float* src, size_t count) {
  switch (type) {
    case DataType::kFloat32:
      if (count != 0 && dst != src) std::memmove(dst, src, count * sizeof(float));
      return true;
    case DataType::kFloat16: narrow<uint16_t, floatToHalf>(dst, src, count); return true;
    case DataType::kBfloat16: narrow<uint16_t, floatToBf16>(dst, src, count); return true;
    case DataType::kFloat8e4m3: narrow<uint8_t, floatToFp8e4m3>(dst, src, count); return true;
    case DataType::kFloat8e5m2: narrow<uint8_t, floatToFp8e5m2>(dst, src, count); return true;
    default: return false;
  }
}

}  // namespace strata::kernels
