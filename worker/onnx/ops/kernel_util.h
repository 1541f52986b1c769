// Internal helpers for the CPU kernels: numpy-style broadcast iteration and
// per-type dispatch. Header-only so the per-element lambdas inline.
#ifndef STRONGROOM_WORKER_ONNX_OPS_KERNEL_UTIL_H_
#define STRONGROOM_WORKER_ONNX_OPS_KERNEL_UTIL_H_

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "worker/onnx/op.h"

namespace strongroom::worker::onnx::ops {

// Elements per parallel chunk for cheap element-wise loops.
inline constexpr int64_t kElementwiseGrain = 16384;

// An AVX2 mask (for _mm256_maskload_ps / _mm256_maskstore_ps) of the first
// n of 8 float lanes, n clamped to [0, 8]. Only call from AVX2 code.
__attribute__((target("avx2"), always_inline)) inline __m256i FirstLanes8(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(std::clamp<int64_t>(n, 0, 8))),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// Lanes 0, 2, 4, 6 of a then of b (Odd8: 1, 3, 5, 7): the even / odd
// elements of 16 consecutive floats. Only call from AVX2 code.
__attribute__((target("avx2"), always_inline)) inline __m256 Even8(__m256 a, __m256 b) {
  const __m256 t = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));  // a0 a2 b0 b2 | a4 a6 b4 b6
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(t), 0xD8));
}
__attribute__((target("avx2"), always_inline)) inline __m256 Odd8(__m256 a, __m256 b) {
  const __m256 t = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(t), 0xD8));
}

// Strides (in elements) of `in` viewed in an output of shape `out`, with 0
// along broadcast dims. REQUIRES: in broadcasts to out.
inline std::vector<int64_t> BroadcastStrides(const Shape& in, const Shape& out) {
  std::vector<int64_t> strides(out.size(), 0);
  int64_t s = 1;
  for (size_t k = 0; k < in.size(); ++k) {
    const size_t i = in.size() - 1 - k;
    const size_t o = out.size() - 1 - k;
    strides[o] = in[i] == 1 ? 0 : s;
    s *= in[i];
  }
  return strides;
}

// A broadcast of two inputs over an output, with adjacent dims merged where
// both inputs step the same way, so that the innermost loop is long.
struct BroadcastPlan {
  std::vector<int64_t> dims;  // merged output dims (at least one)
  std::vector<int64_t> sa, sb;
};

inline BroadcastPlan MakeBroadcastPlan(const Shape& a, const Shape& b, const Shape& out) {
  const std::vector<int64_t> sa = BroadcastStrides(a, out), sb = BroadcastStrides(b, out);
  BroadcastPlan p;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == 1) continue;  // size-1 dims never move an index
    const bool mergeable =
        !p.dims.empty() && (p.sa.back() == 0) == (sa[i] == 0) && (p.sb.back() == 0) == (sb[i] == 0);
    if (mergeable) {
      p.dims.back() *= out[i];
      p.sa.back() = sa[i];
      p.sb.back() = sb[i];
    } else {
      p.dims.push_back(out[i]);
      p.sa.push_back(sa[i]);
      p.sb.push_back(sb[i]);
    }
  }
  if (p.dims.empty()) {
    p.dims = {1};
    p.sa = {0};
    p.sb = {0};
  }
  return p;
}

// out[i] = f(a[ia], b[ib]) over the broadcast. `out` may alias `a` when a
// has the output's shape.
template <typename TA, typename TB, typename TO, typename F>
void BroadcastBinary(ThreadPool* pool, const TA* a, const Shape& a_shape, const TB* b,
                     const Shape& b_shape, TO* out, const Shape& out_shape, F f) {
  const BroadcastPlan p = MakeBroadcastPlan(a_shape, b_shape, out_shape);
  const size_t r = p.dims.size();
  const int64_t inner = p.dims[r - 1];
  const int64_t ia = p.sa[r - 1], ib = p.sb[r - 1];
  int64_t rows = 1;
  for (size_t i = 0; i + 1 < r; ++i) rows *= p.dims[i];
  const int64_t grain = std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(1, inner));
  pool->ParallelFor(rows, grain, [&](int64_t row0, int64_t row1) {
    for (int64_t row = row0; row < row1; ++row) {
      int64_t oa = 0, ob = 0, rem = row;
      for (size_t k = r - 1; k-- > 0;) {
        const int64_t idx = rem % p.dims[k];
        rem /= p.dims[k];
        oa += idx * p.sa[k];
        ob += idx * p.sb[k];
      }
      const TA* pa = a + oa;
      const TB* pb = b + ob;
      TO* po = out + row * inner;
      if (ia == 1 && ib == 1) {
        for (int64_t j = 0; j < inner; ++j) po[j] = f(pa[j], pb[j]);
      } else if (ia == 1) {
        const TB vb = *pb;
        for (int64_t j = 0; j < inner; ++j) po[j] = f(pa[j], vb);
      } else if (ib == 1) {
        const TA va = *pa;
        for (int64_t j = 0; j < inner; ++j) po[j] = f(va, pb[j]);
      } else {
        for (int64_t j = 0; j < inner; ++j) po[j] = f(pa[j * ia], pb[j * ib]);
      }
    }
  });
}

// Copies `in` broadcast to `out_shape` into `out` (elements of `elem` bytes).
inline void BroadcastCopy(ThreadPool* pool, const uint8_t* in, const Shape& in_shape, uint8_t* out,
                          const Shape& out_shape, size_t elem) {
  std::vector<int64_t> s = BroadcastStrides(in_shape, out_shape);
  int64_t rows = 1;
  for (size_t i = 0; i + 1 < out_shape.size(); ++i) rows *= out_shape[i];
  const int64_t inner = out_shape.empty() ? 1 : out_shape.back();
  const int64_t is = out_shape.empty() ? 0 : s.back();
  pool->ParallelFor(rows, 64, [&](int64_t row0, int64_t row1) {
    for (int64_t row = row0; row < row1; ++row) {
      int64_t off = 0, rem = row;
      for (size_t k = out_shape.empty() ? 0 : out_shape.size() - 1; k-- > 0;) {
        off += (rem % out_shape[k]) * s[k];
        rem /= out_shape[k];
      }
      uint8_t* po = out + static_cast<size_t>(row * inner) * elem;
      if (is == 1) {
        std::memcpy(po, in + static_cast<size_t>(off) * elem, static_cast<size_t>(inner) * elem);
      } else {
        for (int64_t j = 0; j < inner; ++j) {
          std::memcpy(po + static_cast<size_t>(j) * elem,
                      in + static_cast<size_t>(off + j * is) * elem, elem);
        }
      }
    }
  });
}

// Element-wise map over a contiguous range, in parallel.
template <typename TI, typename TO, typename F>
void ParallelMap(ThreadPool* pool, const TI* in, TO* out, int64_t n, F f) {
  pool->ParallelFor(n, kElementwiseGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) out[i] = f(in[i]);
  });
}

// Relu in place over `rows` rows of `width` floats, `stride` apart (the
// epilogue of kernels with a fused activation). Same expression as the Relu
// kernel, so fused and separate results are bit-identical.
inline void ReluRows(ThreadPool* pool, float* p, int64_t rows, int64_t width, int64_t stride) {
  pool->ParallelFor(rows, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(1, width)),
                    [&](int64_t r0, int64_t r1) {
                      for (int64_t r = r0; r < r1; ++r) {
                        float* row = p + r * stride;
                        for (int64_t i = 0; i < width; ++i) row[i] = row[i] > 0 ? row[i] : 0.0f;
                      }
                    });
}

// Meta for "same type and shape as input 0".
inline absl::Status SameAsInput(std::span<const TensorMeta* const> in, std::span<TensorMeta> out) {
  for (TensorMeta& o : out) {
    o.dtype = in[0]->dtype;
    o.shape = in[0]->shape;
  }
  return absl::OkStatus();
}

}  // namespace strongroom::worker::onnx::ops

#endif  // STRONGROOM_WORKER_ONNX_OPS_KERNEL_UTIL_H_
