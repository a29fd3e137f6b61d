// The CUDA kernel library against the host kernels: reduce and reduce-copy
// for every datatype and operator, 1..8 inputs, sizes from 0 to large,
// aligned and unaligned; conversions and block quantisation. Bit-exact.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "core/status.h"
#include "cuda/gpu_util.h"
#include "kernels/cuda/device_common.h"
#include "kernels/cuda/library.h"
#include "kernels/host/convert.h"
#include "kernels/host/reduce.h"

namespace strata::testing {
namespace {

using cuda_kernels::Elem;

// Finite random values of every datatype (no NaN: the host's vector
// conversions may pick another NaN payload).
std::vector<uint8_t> randomData(DataType t, size_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  const size_t es = dataTypeSize(t);
  std::vector<uint8_t> v(count * es);
  for (size_t i = 0; i < count; ++i) {
    uint8_t* p = v.data() + i * es;
    float f = std::uniform_real_distribution<float>(-100.0f, 100.0f)(rng);
    switch (t) {
      case DataType::kFloat32: std::memcpy(p, &f, 4); break;
      case DataType::kFloat64: { double d = f; std::memcpy(p, &d, 8); break; }
      case DataType::kFloat16: { uint16_t h = kernels::floatToHalf(f); std::memcpy(p, &h, 2); break; }
      case DataType::kBfloat16: { uint16_t h = kernels::floatToBf16(f); std::memcpy(p, &h, 2); break; }
      case DataType::kFloat8e4m3: p[0] = kernels::floatToFp8e4m3(f / 4); break;
      case DataType::kFloat8e5m2: p[0] = kernels::floatToFp8e5m2(f); break;
      default:
        for (size_t b = 0; b < es; ++b) p[b] = uint8_t(rng());
    }
  }
  return v;
}

// Left-to-right reduction of n inputs in the compute type, rounded once.
template <DataType D>
void referenceTyped(ReduceOp op, const std::vector<std::vector<uint8_t>>& in, uint8_t* out,
                    size_t count) {
  using E = Elem<D>;
  using S = typename E::S;
  for (size_t i = 0; i < count; ++i) {
    S s;
    std::memcpy(&s, in[0].data() + i * sizeof(S), sizeof(S));
    auto acc = E::load(s);
    for (size_t k = 1; k < in.size(); ++k) {
      std::memcpy(&s, in[k].data() + i * sizeof(S), sizeof(S));
      auto x = E::load(s);
      switch (op) {
        case ReduceOp::kSum: acc = cuda_kernels::applyOp<ReduceOp::kSum>(acc, x); break;
        case ReduceOp::kProd: acc = cuda_kernels::applyOp<ReduceOp::kProd>(acc, x); break;
        case ReduceOp::kMax: acc = cuda_kernels::applyOp<ReduceOp::kMax>(acc, x); break;
        case ReduceOp::kMin: acc = cuda_kernels::applyOp<ReduceOp::kMin>(acc, x); break;
      }
    }
    s = E::store(acc);
    std::memcpy(out + i * sizeof(S), &s, sizeof(S));
  }
}

void reference(DataType t, ReduceOp op, const std::vector<std::vector<uint8_t>>& in,
               uint8_t* out, size_t count) {
  if (in.size() == 2) {
    // Two inputs: the host kernel library itself is the reference.
    Reduction r;
    r.op = op;
    kernels::reduce(t, r, out, in[0].data(), in[1].data(), count);
    return;
  }
  switch (t) {
#define STRATA_REF(D) case DataType::D: return referenceTyped<DataType::D>(op, in, out, count);
    STRATA_REF(kInt8) STRATA_REF(kUint8) STRATA_REF(kInt32) STRATA_REF(kUint32)
    STRATA_REF(kInt64) STRATA_REF(kUint64) STRATA_REF(kFloat16) STRATA_REF(kFloat32)
    STRATA_REF(kFloat64) STRATA_REF(kBfloat16) STRATA_REF(kFloat8e4m3) STRATA_REF(kFloat8e5m2)
#undef STRATA_REF
  }
}

TEST(CudaKernels, ReduceCopyEveryTypeOpAndSize) {
  STRATA_REQUIRE_GPU();
  const size_t counts[] = {0, 1, 15, 16, 17, 4099, (1u << 20) + 5};
  for (int t = 0; t < kNumDataTypes; ++t) {
    const DataType type = static_cast<DataType>(t);
    const size_t es = dataTypeSize(type);
    for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kProd, ReduceOp::kMax, ReduceOp::kMin}) {
      for (int nsrc : {1, 2, 3, 8}) {
        for (size_t count : counts) {
          for (size_t misalign : {size_t(0), size_t(1)}) {
            if (misalign && count > 5000) continue;
            SCOPED_TRACE(strCat(dataTypeName(type), " ", reduceOpName(op), " nsrc=", nsrc,
                                " count=", count, " misaligned=", misalign));
            std::vector<std::vector<uint8_t>> in;
            std::vector<DeviceBuffer> dIn;
            std::vector<const void*> srcs;
            for (int k = 0; k < nsrc; ++k) {
              in.push_back(randomData(type, count, 1000 * t + 10 * k + uint32_t(count)));
              dIn.emplace_back((count + misalign) * es);
              CUDA_OK(cudaMemcpy(dIn.back().get<uint8_t>() + misalign * es, in.back().data(),
                                 count * es, cudaMemcpyHostToDevice));
              srcs.push_back(dIn.back().get<uint8_t>() + misalign * es);
            }
            DeviceBuffer d0((count + misalign) * es), d1((count + misalign) * es);
            void* dsts[2] = {d0.get<uint8_t>() + misalign * es, d1.get<uint8_t>() + misalign * es};
            ASSERT_EQ(cuda_kernels::reduceCopy(type, op, dsts, 2, srcs.data(), nsrc, count, nullptr),
                      0);
            CUDA_OK(cudaDeviceSynchronize());
            std::vector<uint8_t> want(count * es + 1), got0(count * es + 1), got1(count * es + 1);
            reference(type, op, in, want.data(), count);
            CUDA_OK(cudaMemcpy(got0.data(), dsts[0], count * es, cudaMemcpyDeviceToHost));
            CUDA_OK(cudaMemcpy(got1.data(), dsts[1], count * es, cudaMemcpyDeviceToHost));
            ASSERT_EQ(0, std::memcmp(want.data(), got0.data(), count * es));
            ASSERT_EQ(0, std::memcmp(want.data(), got1.data(), count * es));
          }
        }
      }
    }
  }
}

TEST(CudaKernels, RejectsBadArguments) {
  STRATA_REQUIRE_GPU();
  DeviceBuffer a(64), b(64);
  const void* srcs[9] = {};
  void* dsts[9] = {};
  for (auto& p : srcs) p = a.get();
  for (auto& p : dsts) p = b.get();
  EXPECT_NE(cuda_kernels::reduceCopy(DataType::kFloat32, ReduceOp::kSum, dsts, 1, srcs, 0, 4, nullptr), 0);
  EXPECT_NE(cuda_kernels::reduceCopy(DataType::kFloat32, ReduceOp::kSum, dsts, 1, srcs, 9, 4, nullptr), 0);
  EXPECT_NE(cuda_kernels::reduceCopy(DataType::kFloat32, ReduceOp::kSum, dsts, 9, srcs, 1, 4, nullptr), 0);
  EXPECT_NE(cuda_kernels::convert(DataType::kInt32, b.get(), DataType::kFloat32, a.get(), 4, nullptr), 0);
  EXPECT_NE(cuda_kernels::quantize(DataType::kFloat8e4m3, b.get(), b.get<float>(), a.get<float>(), 4, 48, nullptr), 0);
  cudaGetLastError();
}

TEST(CudaKernels, ConvertMatchesTheHostConversions) {
  STRATA_REQUIRE_GPU();
  std::vector<float> src;
  for (float f : {0.0f, -0.0f, 1.0f, -1.5f, 65504.0f, 65520.0f, 1e-8f, 6e-5f, 448.0f, 449.0f,
                  57344.0f, 1e30f, INFINITY, -INFINITY, NAN, 3.14159f}) {
    src.push_back(f);
  }
  std::mt19937 rng(7);
  for (int i = 0; i < 100000; ++i) {
    uint32_t bits = rng();
    float f;
    std::memcpy(&f, &bits, 4);
    src.push_back(f);
  }
  const size_t n = src.size();
  DeviceBuffer dSrc(n * 4), dNarrow(n * 2), dBack(n * 4);
  CUDA_OK(cudaMemcpy(dSrc.get(), src.data(), n * 4, cudaMemcpyHostToDevice));
  for (DataType t : {DataType::kFloat16, DataType::kBfloat16, DataType::kFloat8e4m3,
                     DataType::kFloat8e5m2}) {
    SCOPED_TRACE(dataTypeName(t));
    const size_t es = dataTypeSize(t);
    ASSERT_EQ(cuda_kernels::convert(t, dNarrow.get(), DataType::kFloat32, dSrc.get(), n, nullptr), 0);
    ASSERT_EQ(cuda_kernels::convert(DataType::kFloat32, dBack.get(), t, dNarrow.get(), n, nullptr), 0);
    CUDA_OK(cudaDeviceSynchronize());
    std::vector<uint8_t> narrow(n * es), want(n * es);
    std::vector<float> back(n), wantBack(n);
    CUDA_OK(cudaMemcpy(narrow.data(), dNarrow.get(), n * es, cudaMemcpyDeviceToHost));
    CUDA_OK(cudaMemcpy(back.data(), dBack.get(), n * 4, cudaMemcpyDeviceToHost));
    ASSERT_TRUE(kernels::convertFromFloat(t, want.data(), src.data(), n));
    ASSERT_TRUE(kernels::convertToFloat(t, wantBack.data(), want.data(), n));
    ASSERT_EQ(0, std::memcmp(narrow.data(), want.data(), n * es));
    for (size_t i = 0; i < n; ++i) {
      if (std::isnan(wantBack[i])) {
        ASSERT_TRUE(std::isnan(back[i])) << i;
      } else {
        ASSERT_EQ(back[i], wantBack[i]) << i;
      }
    }
  }
}

TEST(CudaKernels, BlockQuantizeRoundTrip) {
  STRATA_REQUIRE_GPU();
  const size_t n = 100003;
  std::vector<float> src(n);
  std::mt19937 rng(11);
  for (size_t i = 0; i < n; ++i) {
    // Blocks of very different magnitudes, one all-zero block.
    float mag = std::pow(10.0f, float(int(i / 256) % 9 - 4));
    src[i] = (i / 256 == 3) ? 0.0f : std::uniform_real_distribution<float>(-mag, mag)(rng);
  }
  DeviceBuffer dSrc(n * 4), dQ(n * 2), dScales(n * 4), dBack(n * 4);
  CUDA_OK(cudaMemcpy(dSrc.get(), src.data(), n * 4, cudaMemcpyHostToDevice));
  for (DataType t : {DataType::kFloat8e4m3, DataType::kFloat8e5m2, DataType::kFloat16,
                     DataType::kBfloat16}) {
    for (int block : {32, 256, 4096}) {
      SCOPED_TRACE(strCat(dataTypeName(t), " block ", block));
      const size_t es = dataTypeSize(t);
      const size_t nb = (n + block - 1) / block;
      ASSERT_EQ(cuda_kernels::quantize(t, dQ.get(), dScales.get<float>(), dSrc.get<float>(), n,
                                       block, nullptr), 0);
      ASSERT_EQ(cuda_kernels::dequantize(t, dBack.get<float>(), dQ.get(), dScales.get<float>(), n,
                                         block, nullptr), 0);
      CUDA_OK(cudaDeviceSynchronize());
      std::vector<float> scales(nb), back(n);
      std::vector<uint8_t> q(n * es);
      CUDA_OK(cudaMemcpy(scales.data(), dScales.get(), nb * 4, cudaMemcpyDeviceToHost));
      CUDA_OK(cudaMemcpy(q.data(), dQ.get(), n * es, cudaMemcpyDeviceToHost));
      CUDA_OK(cudaMemcpy(back.data(), dBack.get(), n * 4, cudaMemcpyDeviceToHost));
      const float fmax = cuda_kernels::quantizeFormatMax(t);
      for (size_t b = 0; b < nb; ++b) {
        float amax = 0;
        for (size_t i = b * block; i < std::min(n, (b + 1) * size_t(block)); ++i) {
          amax = std::max(amax, std::fabs(src[i]));
        }
        float scale = (fmax == 1.0f || amax == 0.0f) ? 1.0f : amax / fmax;
        ASSERT_EQ(scales[b], scale) << "block " << b;
        for (size_t i = b * block; i < std::min(n, (b + 1) * size_t(block)); ++i) {
          float scaled = src[i] / scale;
          uint8_t want[2];
          ASSERT_TRUE(kernels::convertFromFloat(t, want, &scaled, 1));
          ASSERT_EQ(0, std::memcmp(q.data() + i * es, want, es)) << i;
          float w;
          ASSERT_TRUE(kernels::convertToFloat(t, &w, want, 1));
          ASSERT_EQ(back[i], w * scale) << i;
        }
      }
    }
  }
}

}  // namespace
}  // namespace strata::testing
