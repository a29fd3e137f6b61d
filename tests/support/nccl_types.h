/* Element encode/decode for the conformance sweep, written against nccl.h
 * only. Values used by the sweep are small and exactly representable, so a
 * nearest-code search is enough for the narrow float formats. */
#ifndef STRATA_TEST_NCCL_TYPES_H
#define STRATA_TEST_NCCL_TYPES_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "nccl.h"

static inline const char* type_name(ncclDataType_t t) {
  static const char* names[] = {"int8",  "uint8",  "int32",   "uint32",  "int64",  "uint64",
                                "half",  "float",  "double",  "bf16",    "e4m3",   "e5m2"};
  return names[t];
}

static inline size_t type_size(ncclDataType_t t) {
  switch (t) {
    case ncclInt8: case ncclUint8: case ncclFloat8e4m3: case ncclFloat8e5m2: return 1;
    case ncclFloat16: case ncclBfloat16: return 2;
    case ncclInt32: case ncclUint32: case ncclFloat32: return 4;
    default: return 8;
  }
}

static inline int type_is_float(ncclDataType_t t) {
  return t == ncclFloat16 || t == ncclFloat32 || t == ncclFloat64 || t == ncclBfloat16 ||
         t == ncclFloat8e4m3 || t == ncclFloat8e5m2;
}

/* Relative precision of a type (one unit in the last place at 1.0). */
static inline double type_eps(ncclDataType_t t) {
  switch (t) {
    case ncclFloat16: return 1.0 / 1024;
    case ncclBfloat16: return 1.0 / 128;
    case ncclFloat8e4m3: return 1.0 / 8;
    case ncclFloat8e5m2: return 1.0 / 4;
    case ncclFloat32: return 1.0 / 8388608;
    case ncclFloat64: return 1e-15;
    default: return 0;
  }
}

static inline double decode_minifloat(unsigned bits, int expBits, int manBits, int bias, int e4m3) {
  unsigned sign = (bits >> (expBits + manBits)) & 1;
  unsigned exp = (bits >> manBits) & ((1u << expBits) - 1);
  unsigned man = bits & ((1u << manBits) - 1);
  double v;
  if (e4m3 && exp == 15 && man == 7) return NAN;
  if (!e4m3 && exp == (1u << expBits) - 1) return man ? NAN : (sign ? -INFINITY : INFINITY);
  if (exp == 0) {
    v = ldexp((double)man, 1 - bias - manBits);
  } else {
    v = ldexp((double)(man | (1u << manBits)), (int)exp - bias - manBits);
  }
  return sign ? -v : v;
}

static inline double half_to_double(uint16_t h) { return decode_minifloat(h, 5, 10, 15, 0); }

static inline double bf16_to_double(uint16_t b) {
  uint32_t u = (uint32_t)b << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

static inline double read_elem(ncclDataType_t t, const void* buf, size_t i) {
  const char* p = (const char*)buf + i * type_size(t);
  switch (t) {
    case ncclInt8: return *(const int8_t*)p;
    case ncclUint8: return *(const uint8_t*)p;
    case ncclInt32: return *(const int32_t*)p;
    case ncclUint32: return *(const uint32_t*)p;
    case ncclInt64: return (double)*(const int64_t*)p;
    case ncclUint64: return (double)*(const uint64_t*)p;
    case ncclFloat16: return half_to_double(*(const uint16_t*)p);
    case ncclFloat32: return *(const float*)p;
    case ncclFloat64: return *(const double*)p;
    case ncclBfloat16: return bf16_to_double(*(const uint16_t*)p);
    case ncclFloat8e4m3: return decode_minifloat(*(const uint8_t*)p, 4, 3, 7, 1);
    case ncclFloat8e5m2: return decode_minifloat(*(const uint8_t*)p, 5, 2, 15, 0);
    default: return NAN;
  }
}

/* Nearest code of a narrow float format by search (values are small). */
static inline unsigned nearest_code(double v, int bits, double (*decode)(unsigned)) {
  unsigned best = 0;
  double bestErr = INFINITY;
  for (unsigned c = 0; c < (1u << bits); ++c) {
    double d = decode(c);
    if (isnan(d)) continue;
    double err = fabs(d - v);
    if (err < bestErr) {
      bestErr = err;
      best = c;
    }
  }
  return best;
}
static inline double dec_e4m3(unsigned c) { return decode_minifloat(c, 4, 3, 7, 1); }
static inline double dec_e5m2(unsigned c) { return decode_minifloat(c, 5, 2, 15, 0); }
static inline double dec_half(unsigned c) { return half_to_double((uint16_t)c); }

/* Small integer values 0..64 are all the sweep writes; cache their codes. */
static inline unsigned encode_small(ncclDataType_t t, int v) {
  static int ready = 0;
  static unsigned half[65], e4m3[65], e5m2[65];
  if (!ready) {
    for (int i = 0; i <= 64; ++i) {
      half[i] = nearest_code(i, 16, dec_half);
      e4m3[i] = nearest_code(i, 8, dec_e4m3);
      e5m2[i] = nearest_code(i, 8, dec_e5m2);
    }
    ready = 1;
  }
  if (t == ncclFloat16) return half[v];
  if (t == ncclFloat8e4m3) return e4m3[v];
  return e5m2[v];
}

/* Writes the small non-negative integer v (0..64) as element i. */
static inline void write_small(ncclDataType_t t, void* buf, size_t i, int v) {
  char* p = (char*)buf + i * type_size(t);
  switch (t) {
    case ncclInt8: *(int8_t*)p = (int8_t)v; break;
    case ncclUint8: *(uint8_t*)p = (uint8_t)v; break;
    case ncclInt32: *(int32_t*)p = v; break;
    case ncclUint32: *(uint32_t*)p = (uint32_t)v; break;
    case ncclInt64: *(int64_t*)p = v; break;
    case ncclUint64: *(uint64_t*)p = (uint64_t)v; break;
    case ncclFloat32: *(float*)p = (float)v; break;
    case ncclFloat64: *(double*)p = v; break;
    case ncclBfloat16: {
      float f = (float)v;
      uint32_t u;
      memcpy(&u, &f, 4);
      *(uint16_t*)p = (uint16_t)(u >> 16);
      break;
    }
    case ncclFloat16: *(uint16_t*)p = (uint16_t)encode_small(t, v); break;
    default: *(uint8_t*)p = (uint8_t)encode_small(t, v); break;
  }
}

/* Integer results wrap around like the C types do. */
static inline double wrap_int(ncclDataType_t t, double v) {
  long long x = (long long)v;
  switch (t) {
    case ncclInt8: return (int8_t)x;
    case ncclUint8: return (uint8_t)x;
    case ncclInt32: return (int32_t)x;
    case ncclUint32: return (uint32_t)x;
    default: return v;
  }
}

#endif
