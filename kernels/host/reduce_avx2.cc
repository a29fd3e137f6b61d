// The AVX2 + F16C implementation, chosen at run time by activeReduceImpl().
// Types computed in fp32 (float, fp16, bf16, fp8) use hand-written loops
// over 16 elements at a time; integers and double use the generic loop,
// compiled here for AVX2. Every function that touches AVX2 carries
// STRATA_AVX2, so this file needs no special compiler flags and the rest of
// the library stays baseline x86-64.
#include "kernels/host/reduce_loops.h"

#if defined(__x86_64__) || defined(__i386__)

#include <cpuid.h>
#include <immintrin.h>

#define STRATA_AVX2 __attribute__((target("avx2,f16c")))

namespace strata::kernels::detail {
namespace {

// ---- 16 elements of a datatype <-> two vectors of 8 floats.
// Each Vec<D> has load2(p, lo, hi) and store2(p, lo, hi); lo holds elements
// 0..7 and hi 8..15. store2 rounds exactly as Codec<D>::store does.

template <DataType D>
struct Vec {
  static constexpr bool kHave = false;
};

STRATA_AVX2 inline __m256i splat(uint32_t v) { return _mm256_set1_epi32(int(v)); }
STRATA_AVX2 inline __m256i splat16(uint16_t v) { return _mm256_set1_epi16(int16_t(v)); }
STRATA_AVX2 inline __m128i load128(const void* p) {
  return _mm_loadu_si128(static_cast<const __m128i*>(p));
}
STRATA_AVX2 inline void store128(void* p, __m128i v) {
  _mm_storeu_si128(static_cast<__m128i*>(p), v);
}

// 16 fp16 values (in order) -> two vectors of floats.
STRATA_AVX2 inline void widenHalves(__m256i h, __m256& lo, __m256& hi) {
  lo = _mm256_cvtph_ps(_mm256_castsi256_si128(h));
  hi = _mm256_cvtph_ps(_mm256_extracti128_si256(h, 1));
}

template <>
struct Vec<DataType::kFloat32> {
  static constexpr bool kHave = true;
  STRATA_AVX2 static void load2(const float* p, __m256& lo, __m256& hi) {
    lo = _mm256_loadu_ps(p);
    hi = _mm256_loadu_ps(p + 8);
  }
  STRATA_AVX2 static void store2(float* p, __m256 lo, __m256 hi) {
    _mm256_storeu_ps(p, lo);
    _mm256_storeu_ps(p + 8, hi);
  }
};

template <>
struct Vec<DataType::kFloat16> {
  static constexpr bool kHave = true;
  STRATA_AVX2 static void load2(const uint16_t* p, __m256& lo, __m256& hi) {
    lo = _mm256_cvtph_ps(load128(p));
    hi = _mm256_cvtph_ps(load128(p + 8));
  }
  STRATA_AVX2 static void store2(uint16_t* p, __m256 lo, __m256 hi) {
    store128(p, _mm256_cvtps_ph(lo, _MM_FROUND_TO_NEAREST_INT));
    store128(p + 8, _mm256_cvtps_ph(hi, _MM_FROUND_TO_NEAREST_INT));
  }
};

template <>
struct Vec<DataType::kBfloat16> {
  static constexpr bool kHave = true;
  STRATA_AVX2 static void load2(const uint16_t* p, __m256& lo, __m256& hi) {
    lo = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(load128(p)), 16));
    hi = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(load128(p + 8)), 16));
  }
  // floatToBf16 on each 32-bit lane.
  STRATA_AVX2 static __m256i encode(__m256 v) {
    const __m256i x = _mm256_castps_si256(v);
    const __m256i top = _mm256_srli_epi32(x, 16);
    const __m256i bias = _mm256_add_epi32(_mm256_and_si256(top, splat(1)), splat(0x7fff));
    const __m256i r = _mm256_srli_epi32(_mm256_add_epi32(x, bias), 16);
    const __m256i quiet = _mm256_or_si256(top, splat(0x40));
    return _mm256_blendv_epi8(r, quiet, _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q)));
  }
  // packus works within 128-bit lanes; the qword permute restores the order.
  STRATA_AVX2 static void store2(uint16_t* p, __m256 lo, __m256 hi) {
    const __m256i pair = _mm256_packus_epi32(encode(lo), encode(hi));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm256_permute4x64_epi64(pair, 0xd8));
  }
};

// Lane-wise helpers for the fp8 encoders, which are floatToFp8e4m3 and
// floatToFp8e5m2 from convert.h on 8 lanes at a time.
STRATA_AVX2 inline __m256i select(__m256i mask, __m256i ifTrue, __m256i ifFalse) {
  return _mm256_blendv_epi8(ifFalse, ifTrue, mask);
}
// Lanes where the non-negative a is below / above a bound.
STRATA_AVX2 inline __m256i below(__m256i a, uint32_t bound) {
  return _mm256_cmpgt_epi32(splat(bound), a);
}
STRATA_AVX2 inline __m256i above(__m256i a, uint32_t bound) {
  return _mm256_cmpgt_epi32(a, splat(bound));
}
STRATA_AVX2 inline __m256i magnitude(__m256 v) {
  return _mm256_and_si256(_mm256_castps_si256(v), splat(0x7fffffffu));
}
STRATA_AVX2 inline __m256i signByte(__m256 v) {
  return _mm256_and_si256(_mm256_srli_epi32(_mm256_castps_si256(v), 24), splat(0x80));
}

STRATA_AVX2 inline __m256i encodeE4m3(__m256 v) {
  const __m256i a = magnitude(v);
  const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(a, 20), splat(1));
  __m256i r = _mm256_add_epi32(_mm256_add_epi32(a, splat(0x7ffffu - (120u << 23))), odd);
  r = _mm256_srli_epi32(r, 20);
  const __m256 shifted = _mm256_add_ps(_mm256_castsi256_ps(a), _mm256_set1_ps(16384.0f));
  const __m256i sub = _mm256_sub_epi32(_mm256_castps_si256(shifted), splat(0x46800000u));
  r = select(below(a, 0x3c800000u), sub, r);
  r = select(above(a, 0x43e00000u), splat(0x7e), r);
  r = select(above(a, 0x7f800000u), splat(0x7f), r);
  return _mm256_or_si256(r, signByte(v));
}

STRATA_AVX2 inline __m256i encodeE5m2(__m256 v) {
  const __m256i a = magnitude(v);
  const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(a, 21), splat(1));
  __m256i r = _mm256_add_epi32(_mm256_add_epi32(a, splat(0xfffffu - (112u << 23))), odd);
  r = _mm256_srli_epi32(r, 21);
  const __m256 shifted = _mm256_add_ps(_mm256_castsi256_ps(a), _mm256_set1_ps(128.0f));
  const __m256i sub = _mm256_sub_epi32(_mm256_castps_si256(shifted), splat(0x43000000u));
  r = select(below(a, 0x38800000u), sub, r);
  r = select(above(a, 0x47600000u), splat(0x7b), r);
  r = select(_mm256_cmpeq_epi32(a, splat(0x7f800000u)), splat(0x7c), r);
  r = select(above(a, 0x7f800000u), splat(0x7e), r);
  return _mm256_or_si256(r, signByte(v));
}

// 16 codes, one per 32-bit lane of lo (elements 0..7) and hi (8..15), each
// 0..255 -> 16 bytes. packus works within 128-bit lanes, leaving the dwords
// (4 codes each) as lo0 hi0 x x | lo1 hi1 x x; the permute puts them in order.
STRATA_AVX2 inline void storeCodes(uint8_t* p, __m256i lo, __m256i hi) {
  const __m256i w = _mm256_packus_epi32(lo, hi);
  const __m256i b = _mm256_packus_epi16(w, w);
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 3, 6, 7);
  store128(p, _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(b, order)));
}

template <>
struct Vec<DataType::kFloat8e4m3> {
  static constexpr bool kHave = true;
  // Each byte spread into the fp16 with the same fields (shifted left 7,
  // sign kept in bit 15) is the e4m3 value times 2^-8, subnormals included;
  // the NaN code S.1111.111 would read as 1.875 and is given fp16 NaN bits.
  STRATA_AVX2 static void load2(const uint8_t* p, __m256& lo, __m256& hi) {
    const __m256i v = _mm256_cvtepi8_epi16(load128(p));
    __m256i h = _mm256_and_si256(_mm256_slli_epi16(v, 7), splat16(0xbfff));
    const __m256i nan = _mm256_cmpeq_epi16(_mm256_and_si256(h, splat16(0x7fff)), splat16(0x3f80));
    h = _mm256_or_si256(h, _mm256_and_si256(nan, splat16(0x4000)));
    widenHalves(h, lo, hi);
    lo = _mm256_mul_ps(lo, _mm256_set1_ps(256.0f));
    hi = _mm256_mul_ps(hi, _mm256_set1_ps(256.0f));
  }
  STRATA_AVX2 static void store2(uint8_t* p, __m256 lo, __m256 hi) {
    storeCodes(p, encodeE4m3(lo), encodeE4m3(hi));
  }
};

template <>
struct Vec<DataType::kFloat8e5m2> {
  static constexpr bool kHave = true;
  // An e5m2 byte is the high byte of the fp16 with the same value.
  STRATA_AVX2 static void load2(const uint8_t* p, __m256& lo, __m256& hi) {
    widenHalves(_mm256_slli_epi16(_mm256_cvtepu8_epi16(load128(p)), 8), lo, hi);
  }
  STRATA_AVX2 static void store2(uint8_t* p, __m256 lo, __m256 hi) {
    storeCodes(p, encodeE5m2(lo), encodeE5m2(hi));
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
      // 16 elements per step, all loaded before any is stored, so dst may be
      // a or b. The last n % 16 go through the scalar loop, which rounds the
      // same way.
      size_t i = 0;
      for (; i + 16 <= n; i += 16) {
        __m256 y0, y1;
        Vec<D>::load2((kBinary ? b : a) + i, y0, y1);
        if constexpr (kPre) {
          y0 = _mm256_mul_ps(y0, scale);
          y1 = _mm256_mul_ps(y1, scale);
        }
        if constexpr (kBinary) {
          __m256 x0, x1;
          Vec<D>::load2(a + i, x0, x1);
          y0 = VecOp<Op>::apply(x0, y0);
          y1 = VecOp<Op>::apply(x1, y1);
        }
        if constexpr (kPost) {
          y0 = _mm256_div_ps(y0, divisor);
          y1 = _mm256_div_ps(y1, divisor);
        }
        Vec<D>::store2(dst + i, y0, y1);
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
  // __builtin_cpu_supports("avx2") also checks that the OS saves the YMM
  // registers; F16C is read from CPUID leaf 1 (not every compiler's builtin
  // knows its name).
  static const bool supported = [] {
    __builtin_cpu_init();
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    const bool f16c = __get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && (ecx & bit_F16C) != 0;
    return __builtin_cpu_supports("avx2") && f16c;
  }();
  return supported ? &kImpl : nullptr;
}

}  // namespace strata::kernels::detail

#else  // not x86

namespace strata::kernels::detail {
const HostReduceImpl* avx2ReduceImpl() { return nullptr; }
}  // namespace strata::kernels::detail

#endif
