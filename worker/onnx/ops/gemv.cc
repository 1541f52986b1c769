#include "worker/onnx/ops/gemv.h"

#include <immintrin.h>

#include <algorithm>

#include "worker/onnx/ops/kernel_util.h"
#include "worker/onnx/ops/packed_gemm.h"

namespace strongroom::worker::onnx::ops {
namespace {

// Below this many multiply-adds one thread does it all.
constexpr int64_t kParallelMacs = int64_t{1} << 18;
constexpr int64_t kColumns = 64;  // outputs per register block, B not transposed

__attribute__((target("avx512f"))) float Dot(const float* x, const float* b, int64_t k) {
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                   _mm512_setzero_ps()};
  int64_t i = 0;
  for (; i + 64 <= k; i += 64) {
#pragma GCC unroll 4
    for (int v = 0; v < 4; ++v) {
      acc[v] = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16 * v), _mm512_loadu_ps(b + i + 16 * v),
                               acc[v]);
    }
  }
  for (; i < k; i += 16) {
    const __mmask16 m = static_cast<__mmask16>(k - i >= 16 ? 0xFFFF : (1u << (k - i)) - 1u);
    acc[0] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, b + i),
                             acc[0]);
  }
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]),
                                       _mm512_add_ps(acc[2], acc[3])));
  float sum = 0.0f;
  for (float lane : lanes) sum += lane;
  return sum;
}

// Outputs [j0, j1) (at most kColumns) with B not transposed.
__attribute__((target("avx512f"))) void Axpys(const float* x, const float* b, int64_t ldb,
                                              int64_t k, int64_t j0, int64_t j1, float* out) {
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                   _mm512_setzero_ps()};
  __mmask16 mask[4];
  for (int v = 0; v < 4; ++v) {
    const int64_t lanes = std::clamp<int64_t>(j1 - j0 - 16 * v, 0, 16);
    mask[v] = static_cast<__mmask16>((1u << lanes) - 1u);
  }
  for (int64_t i = 0; i < k; ++i) {
    const __m512 xi = _mm512_set1_ps(x[i]);
    const float* row = b + i * ldb + j0;
#pragma GCC unroll 4
    for (int v = 0; v < 4; ++v) {
      acc[v] = _mm512_fmadd_ps(xi, _mm512_maskz_loadu_ps(mask[v], row + 16 * v), acc[v]);
    }
  }
  for (int v = 0; v < 4; ++v) _mm512_mask_storeu_ps(out + 16 * v, mask[v], acc[v]);
}

// The same two kernels with AVX2 + FMA (CPUs without AVX-512): 8-lane
// vectors, so 4 x 8 lanes per Dot step and 8 vectors per Axpys block. The
// lanes are summed in another grouping than with AVX-512, so the two differ
// in the last bits, as either differs from OpenBLAS; each output is still
// computed by one thread in one order.
__attribute__((target("avx2,fma"))) float DotAvx2(const float* x, const float* b, int64_t k) {
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps()};
  int64_t i = 0;
  for (; i + 32 <= k; i += 32) {
#pragma GCC unroll 4
    for (int v = 0; v < 4; ++v) {
      acc[v] =
          _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8 * v), _mm256_loadu_ps(b + i + 8 * v), acc[v]);
    }
  }
  for (; i < k; i += 8) {
    const __m256i m = FirstLanes8(k - i);
    acc[0] = _mm256_fmadd_ps(_mm256_maskload_ps(x + i, m), _mm256_maskload_ps(b + i, m), acc[0]);
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes,
                  _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
  float sum = 0.0f;
  for (float lane : lanes) sum += lane;
  return sum;
}

__attribute__((target("avx2,fma"))) void AxpysAvx2(const float* x, const float* b, int64_t ldb,
                                                   int64_t k, int64_t j0, int64_t j1, float* out) {
  constexpr int kVectors = kColumns / 8;
  __m256 acc[kVectors];
  __m256i mask[kVectors];
  for (int v = 0; v < kVectors; ++v) {
    acc[v] = _mm256_setzero_ps();
    mask[v] = FirstLanes8(j1 - j0 - 8 * v);
  }
  if (j1 - j0 == kColumns) {  // a whole block: plain loads (masked ones cost more on AMD Zen)
    for (int64_t i = 0; i < k; ++i) {
      const __m256 xi = _mm256_broadcast_ss(x + i);
      const float* row = b + i * ldb + j0;
#pragma GCC unroll 8
      for (int v = 0; v < kVectors; ++v) {
        acc[v] = _mm256_fmadd_ps(xi, _mm256_loadu_ps(row + 8 * v), acc[v]);
      }
    }
  } else {
    for (int64_t i = 0; i < k; ++i) {
      const __m256 xi = _mm256_broadcast_ss(x + i);
      const float* row = b + i * ldb + j0;
#pragma GCC unroll 8
      for (int v = 0; v < kVectors; ++v) {
        acc[v] = _mm256_fmadd_ps(xi, _mm256_maskload_ps(row + 8 * v, mask[v]), acc[v]);
      }
    }
  }
  for (int v = 0; v < kVectors; ++v) _mm256_maskstore_ps(out + 8 * v, mask[v], acc[v]);
}

void GemvRange(bool trans_b, int64_t j0, int64_t j1, int64_t k, float alpha, const float* x,
               const float* b, int64_t ldb, float beta, float* y) {
  auto finish = [&](int64_t j, float dot) {
    y[j] = beta == 0.0f ? alpha * dot : alpha * dot + beta * y[j];
  };
  const bool avx512 = Avx512Available();
  if (trans_b) {
    for (int64_t j = j0; j < j1; ++j) {
      finish(j, avx512 ? Dot(x, b + j * ldb, k) : DotAvx2(x, b + j * ldb, k));
    }
    return;
  }
  alignas(64) float dots[kColumns];
  for (int64_t c0 = j0; c0 < j1; c0 += kColumns) {
    const int64_t c1 = std::min(j1, c0 + kColumns);
    (avx512 ? Axpys : AxpysAvx2)(x, b, ldb, k, c0, c1, dots);
    for (int64_t j = c0; j < c1; ++j) finish(j, dots[j - c0]);
  }
}

}  // namespace

void Gemv(ThreadPool* pool, bool trans_b, int64_t n, int64_t k, float alpha, const float* x,
          const float* b, int64_t ldb, float beta, float* y) {
  const int threads = pool == nullptr ? 1 : pool->num_threads();
  if (threads == 1 || n * k < kParallelMacs) {
    GemvRange(trans_b, 0, n, k, alpha, x, b, ldb, beta, y);
    return;
  }
  // Chunks of whole register blocks.
  const int64_t chunk = (n / threads + kColumns) / kColumns * kColumns;
  pool->ParallelFor((n + chunk - 1) / chunk, 1, [&](int64_t c0, int64_t c1) {
    GemvRange(trans_b, c0 * chunk, std::min(n, c1 * chunk), k, alpha, x, b, ldb, beta, y);
  });
}

}  // namespace strongroom::worker::onnx::ops
