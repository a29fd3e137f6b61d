// The AVX2 + F16C implementation, chosen at run time by activeReduceImpl().
// Types computed in fp32 (float, fp16, bf16, fp8) use hand-written 8-lane
// loops; integers and double use the generic loop compiled for AVX2. Every
// function that touches AVX2 carries STRATA_AVX2, so this file needs no
// special compiler flags and the rest of the library stays baseline x86-64.
#include "kernels/host/reduce_loops.h"

#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>

#define STRATA_AVX2 __attribute__((target("avx2,f16c")))

namespace strata::kernels::detail {
namespace {

// ---- 8 elements of a datatype <-> 8 floats.

template <DataType D>
struct Vec {
  static constexpr bool kHave = false;
};

template <>
struct Vec<DataType::kFloat32> {
  static constexpr bool kHave = true;
  STRATA_AVX2 static __m256 load(const float* p) { return _mm256_loadu_ps(p); }
  STRATA_AVX2 static void store(float* p, __m256 v) { _mm256_storeu_ps(p, v); }
};

template <>
struct Vec<DataType::kFloat16> {
  static constexpr bool kHave = true;
  STRATA_AVX2 static __m256 load(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  STRATA_AVX2 static void store(uint16_t* p, __m256 v) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
  }
};

template <>
struct Vec<DataType::kBfloat16> {
  static constexpr bool kHave = true;
  STRATA_AVX2 static __m256 load(const uint16_t* p) {
    const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
  }
  // Same rounding as floatToBf16.
  STRATA_AVX2 static void store(uint16_t* p, __m256 v) {
    const __m256i x = _mm256_castps_si256(v);
    const __m256i hi = _mm256_srli_epi32(x, 16);
    const __m256i bias = _mm256_add_epi32(_mm256_and_si256(hi, _mm256_set1_epi32(1)),
                                          _mm256_set1_epi32(0x7fff));
    __m256i r = _mm256_srli_epi32(_mm256_add_epi32(x, bias), 16);
    const __m256i quiet = _mm256_or_si256(hi, _mm256_set1_epi32(0x40));
    r = _mm256_blendv_epi8(r, quiet, _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q)));
    const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(r, r), 0x08);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm256_castsi256_si128(packed));
  }
};

STRATA_AVX2 inline __m256i loadBytes(const uint8_t* p) {
  return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
}

// Stores the low byte of each 32-bit lane (all lanes hold 0..255).
STRATA_AVX2 inline void storeBytes(uint8_t* p, __m256i r) {
  const __m256i w = _mm256_packus_epi16(_mm256_packus_epi32(r, r), _mm256_setzero_si256());
  const __m128i bytes =
      _mm_unpacklo_epi32(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
  _mm_storel_epi64(reinterpret_cast<__m128i*>(p), bytes);
}

STRATA_AVX2 inline __m256i select(__m256i mask, __m256i ifTrue, __m256i ifFalse) {
  return _mm256_blendv_epi8(ifFalse, ifTrue, mask);
}

STRATA_AVX2 inline __m256i splat(uint32_t v) { return _mm256_set1_epi32(int(v)); }

// Lanes where the unsigned 31-bit magnitude a is below / above a bound.
STRATA_AVX2 inline __m256i below(__m256i a, uint32_t bound) {
  return _mm256_cmpgt_epi32(splat(bound), a);
}
STRATA_AVX2 inline __m256i above(__m256i a, uint32_t bound) {
  return _mm256_cmpgt_epi32(a, splat(bound));
}

// The fp8 encoders below are fp8e4m3/fp8e5m2 from convert.h, lane by lane.
template <>
struct Vec<DataType::kFloat8e4m3> {
  static constexpr bool kHave = true;
  STRATA_AVX2 static __m256 load(const uint8_t* p) {
    const __m256i v = loadBytes(p);
    const __m256i mag = _mm256_and_si256(v, splat(0x7f));
    const __m256i sign = _mm256_slli_epi32(_mm256_and_si256(v, splat(0x80)), 24);
    __m256i bits = _mm256_add_epi32(_mm256_slli_epi32(mag, 20), splat(120u << 23));
    const __m256 sub = _mm256_mul_ps(_mm256_cvtepi32_ps(mag), _mm256_set1_ps(0x1p-9f));
    bits = select(below(mag, 8), _mm256_castps_si256(sub), bits);
    bits = select(_mm256_cmpeq_epi32(mag, splat(0x7f)), splat(0x7fc00000u), bits);
    return _mm256_castsi256_ps(_mm256_or_si256(bits, sign));
  }
  STRATA_AVX2 static void store(uint8_t* p, __m256 v) {
    const __m256i x = _mm256_castps_si256(v);
    const __m256i a = _mm256_and_si256(x, splat(0x7fffffffu));
    const __m256i sign = _mm256_and_si256(_mm256_srli_epi32(x, 24), splat(0x80));
    const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(a, 20), splat(1));
    __m256i r = _mm256_add_epi32(_mm256_add_epi32(a, splat(0x7ffffu - (120u << 23))), odd);
    r = _mm256_srli_epi32(r, 20);
    const __m256 shifted = _mm256_add_ps(_mm256_castsi256_ps(a), _mm256_set1_ps(16384.0f));
    const __m256i sub = _mm256_sub_epi32(_mm256_castps_si256(shifted), splat(0x46800000u));
    r = select(below(a, 0x3c800000u), sub, r);
    r = select(above(a, 0x43e00000u), splat(0x7e), r);
    r = select(above(a, 0x7f800000u), splat(0x7f), r);
    storeBytes(p, _mm256_or_si256(r, sign));
  }
};

template <>
struct Vec<DataType::kFloat8e5m2> {
  static constexpr bool kHave = true;
  // An e5m2 byte is the high byte of the fp16 with the same value.
  STRATA_AVX2 static __m256 load(const uint8_t* p) {
    const __m128i w = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
    return _mm256_cvtph_ps(_mm_slli_epi16(w, 8));
  }
  STRATA_AVX2 static void store(uint8_t* p, __m256 v) {
    const __m256i x = _mm256_castps_si256(v);
    const __m256i a = _mm256_and_si256(x, splat(0x7fffffffu));
    const __m256i sign = _mm256_and_si256(_mm256_srli_epi32(x, 24), splat(0x80));
    const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(a, 21), splat(1));
    __m256i r = _mm256_add_epi32(_mm256_add_epi32(a, splat(0xfffffu - (112u << 23))), odd);
    r = _mm256_srli_epi32(r, 21);
    const __m256 shifted = _mm256_add_ps(_mm256_castsi256_ps(a), _mm256_set1_ps(128.0f));
    const __m256i sub = _mm256_sub_epi32(_mm256_castps_si256(shifted), splat(0x43000000u));
    r = select(below(a, 0x38800000u), sub, r);
    r = select(above(a, 0x47600000u), splat(0x7b), r);
    r = select(_mm256_cmpeq_epi32(a, splat(0x7f800000u)), splat(0x7c), r);
    r = select(above(a, 0x7f800000u), splat(0x7e), r);
    storeBytes(p, _mm256_or_si256(r, sign));
  }
};

// ---- Operators on 8 floats, with the NaN rules of Arith<float>.

template <class Op> struct VecOp;
template <> struct VecOp<OpSum> {
  STRATA_AVX2 static __m256 apply(__m256 a, __m256 b) { return _mm256_add_ps(a, b); }
};
template <> struct VecOp<OpProd> {
  STRATA_AVX2 static __m256 apply(__m256 a, __m256 b) { return _mm256_mul_ps(a, b); }
};
// max_ps(a, b) is a > b ? a : b, which already returns a NaN b; a NaN a is
// put back by the blend.
template <> struct VecOp<OpMax> {
  STRATA_AVX2 static __m256 apply(__m256 a, __m256 b) {
    return _mm256_blendv_ps(_mm256_max_ps(a, b), a, _mm256_cmp_ps(a, a, _CMP_UNORD_Q));
  }
};
template <> struct VecOp<OpMin> {
  STRATA_AVX2 static __m256 apply(__m256 a, __m256 b) {
    return _mm256_blendv_ps(_mm256_min_ps(a, b), a, _mm256_cmp_ps(a, a, _CMP_UNORD_Q));
  }
};

template <DataType D, class Op, bool kBinary, bool kPre, bool kPost>
STRATA_AVX2 inline __m256 step(const typename Codec<D>::Store* a,
                               const typename Codec<D>::Store* b, __m256 scale,
                               __m256 divisor) {
  __m256 y = Vec<D>::load(kBinary ? b : a);
  if constexpr (kPre) y = _mm256_mul_ps(y, scale);
  if constexpr (kBinary) y = VecOp<Op>::apply(Vec<D>::load(a), y);
  if constexpr (kPost) y = _mm256_div_ps(y, divisor);
  return y;
}

template <DataType D, class Op, bool kBinary, bool kPre, bool kPost>
struct Avx2Kernel {
  STRATA_AVX2 static void run(void* dstv, const void* av, const void* bv, size_t n,
                              const Reduction& r) {
    const Params<D> p(r);
    if constexpr (!Vec<D>::kHave) {
      genericLoop<D, Op, kBinary, kPre, kPost>(dstv, av, bv, n, p);
    } else {
      using S = typename Codec<D>::Store;
      S* dst = static_cast<S*>(dstv);
      const S* a = static_cast<const S*>(av);
      const S* b = static_cast<const S*>(bv);
      const __m256 scale = _mm256_set1_ps(p.scale);
      const __m256 divisor = _mm256_set1_ps(p.divisor);
      // Two vectors per iteration, both loaded before either is stored, so
      // dst may be a or b.
      size_t i = 0;
      for (; i + 16 <= n; i += 16) {
        const __m256 y0 = step<D, Op, kBinary, kPre, kPost>(a + i, b + i, scale, divisor);
        const __m256 y1 = step<D, Op, kBinary, kPre, kPost>(a + i + 8, b + i + 8, scale, divisor);
        Vec<D>::store(dst + i, y0);
        Vec<D>::store(dst + i + 8, y1);
      }
      if (i + 8 <= n) {
        Vec<D>::store(dst + i, step<D, Op, kBinary, kPre, kPost>(a + i, b + i, scale, divisor));
        i += 8;
      }
      genericLoop<D, Op, kBinary, kPre, kPost>(dst + i, a + i, b + i, n - i, p);
    }
  }
};

void avx2Apply(DataType t, const Reduction& r, bool binary, bool pre, bool post, void* dst,
               const void* a, const void* b, size_t count) {
  dispatch<Avx2Kernel>(t, r, binary, pre, post, dst, a, b, count);
}

}  // namespace

const HostReduceImpl* avx2ReduceImpl() {
  static constexpr HostReduceImpl kImpl{"avx2", avx2Apply};
  static const bool supported = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c");
  }();
  return supported ? &kImpl : nullptr;
}

}  // namespace strata::kernels::detail

#else  // not x86

namespace strata::kernels::detail {
const HostReduceImpl* avx2ReduceImpl() { return nullptr; }
}  // namespace strata::kernels::detail

#endif
