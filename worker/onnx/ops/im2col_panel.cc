// Im2ColPanel (packed_gemm.h): the implicit im2col that feeds
// PackedGemm one kPackedPanel-column panel at a time. With AVX-512 and
// horizontal strides 1 or 2 (every convolution of the usual models), the
// panel's column masks are computed once per panel and kernel column tap, so
// each panel row costs one masked load (two and a permute for stride 2) and
// one masked store per 16 columns; padding reads as zeros through the masks.
// With AVX2 (PackedIsa::kAvx2) the same in 8-column pieces.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "worker/onnx/ops/packed_gemm.h"

namespace strongroom::worker::onnx::ops {
namespace {

// The output-row pieces of columns [n0, n1): output row oy, columns
// [ox0, ox1), at offset `at` in the panel row.
struct Segment {
  int64_t oy, ox0, ox1, at;
};

size_t Segments(const ConvGeometry& g, int64_t n0, int64_t n1, Segment* out) {
  size_t count = 0;
  for (int64_t p = n0; p < n1;) {
    const int64_t ox0 = p % g.ow;
    const int64_t ox1 = std::min(g.ow, ox0 + (n1 - p));
    out[count++] = {p / g.ow, ox0, ox1, p - n0};
    p += ox1 - ox0;
  }
  return count;
}

void GatherRowScalar(const float* row, int64_t width, int64_t start, int64_t stride,
                     int64_t len, float* dst) {
  for (int64_t t = 0; t < len; ++t) {
    const int64_t i = start + t * stride;
    dst[t] = i >= 0 && i < width ? row[i] : 0.0f;
  }
}

void Im2ColPanelScalar(const float* image, const ConvGeometry& g, int64_t k0, int64_t k1,
                       int64_t n0, int64_t n1, float* dst) {
  Segment segments[kPackedPanel];
  const size_t count = Segments(g, n0, n1, segments);
  int64_t j = k0 % g.kw, i = (k0 / g.kw) % g.kh, c = k0 / (g.kw * g.kh);
  for (int64_t k = k0; k < k1; ++k) {
    const float* plane = image + c * g.h * g.w;
    float* row = dst + (k - k0) * kPackedPanel;
    for (size_t s = 0; s < count; ++s) {
      const Segment& seg = segments[s];
      const int64_t iy = seg.oy * g.sh - g.ph + i * g.dh;
      const bool inside = iy >= 0 && iy < g.h;  // a padding row reads as zeros
      GatherRowScalar(plane + (inside ? iy * g.w : 0), inside ? g.w : 0,
                      seg.ox0 * g.sw + j * g.dw - g.pw, g.sw, seg.ox1 - seg.ox0, row + seg.at);
    }
    if (++j == g.kw) {
      j = 0;
      if (++i == g.kh) {
        i = 0;
        ++c;
      }
    }
  }
}

// Lanes [lo, hi) of 32 (clamped), as a bit mask.
uint32_t LaneMask(int64_t lo, int64_t hi) {
  lo = std::clamp<int64_t>(lo, 0, 32);
  hi = std::clamp<int64_t>(hi, 0, 32);
  if (hi <= lo) return 0;
  return static_cast<uint32_t>(((uint64_t{1} << hi) - 1) & ~((uint64_t{1} << lo) - 1));
}

// p + i floats, as an address: a masked load's base may lie before the row
// (the lanes outside it are never read).
const float* Offset(const float* p, int64_t i) {
  return reinterpret_cast<const float*>(reinterpret_cast<uintptr_t>(p) +
                                        static_cast<uintptr_t>(i) * sizeof(float));
}

constexpr int kMaxTaps = 16;                  // kernel widths the AVX-512 path takes
constexpr int kMaxVectors = kPackedPanel + 4;  // 16-column pieces of one panel row

// Stride kStride in {1, 2}; g.kw <= kMaxTaps.
template <int kStride>
__attribute__((target("avx512f"))) void Im2ColPanel512(const float* image, const ConvGeometry& g,
                                                       int64_t k0, int64_t k1, int64_t n0,
                                                       int64_t n1, float* dst) {
  Segment segments[kPackedPanel];
  const size_t count = Segments(g, n0, n1, segments);
  // Per 16-column piece q: where it goes, its output lanes, its input row
  // (relative to the kernel row's top), and per tap j its input offset and
  // lanes (stride 2: 32 input lanes, the even ones kept).
  int64_t out_at[kMaxVectors], row_top[kMaxVectors];
  __mmask16 out_mask[kMaxVectors];
  int64_t in_at[kMaxTaps][kMaxVectors];
  uint32_t in_mask[kMaxTaps][kMaxVectors];
  int nq = 0;
  for (size_t s = 0; s < count; ++s) {
    const Segment& seg = segments[s];
    for (int64_t t0 = 0; t0 < seg.ox1 - seg.ox0; t0 += 16, ++nq) {
      const int64_t lanes = std::min<int64_t>(16, seg.ox1 - seg.ox0 - t0);
      out_at[nq] = seg.at + t0;
      out_mask[nq] = static_cast<__mmask16>(LaneMask(0, lanes));
      row_top[nq] = seg.oy * g.sh - g.ph;
      for (int64_t j = 0; j < g.kw; ++j) {
        const int64_t base = (seg.ox0 + t0) * kStride + j * g.dw - g.pw;
        in_at[j][nq] = base;
        in_mask[j][nq] = LaneMask(-base, g.w - base) & LaneMask(0, kStride * (lanes - 1) + 1);
      }
    }
  }
  const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512 zero = _mm512_setzero_ps();
  int64_t j = k0 % g.kw, i = (k0 / g.kw) % g.kh, c = k0 / (g.kw * g.kh);
  for (int64_t k = k0; k < k1; ++k) {
    const float* plane = image + c * g.h * g.w;
    float* row = dst + (k - k0) * kPackedPanel;
    const int64_t dy = i * g.dh;
    for (int q = 0; q < nq; ++q) {
      const int64_t iy = row_top[q] + dy;
      __m512 x = zero;
      if (iy >= 0 && iy < g.h) {
        const float* src = Offset(plane, iy * g.w + in_at[j][q]);
        const uint32_t m = in_mask[j][q];
        if constexpr (kStride == 1) {
          x = _mm512_maskz_loadu_ps(static_cast<__mmask16>(m), src);
        } else {
          const __m512 lo = _mm512_maskz_loadu_ps(static_cast<__mmask16>(m), src);
          const __m512 hi = _mm512_maskz_loadu_ps(static_cast<__mmask16>(m >> 16), Offset(src, 16));
          x = _mm512_permutex2var_ps(lo, even, hi);
        }
      }
      _mm512_mask_storeu_ps(row + out_at[q], out_mask[q], x);
    }
    if (++j == g.kw) {
      j = 0;
      if (++i == g.kh) {
        i = 0;
        ++c;
      }
    }
  }
}

// The same for AVX2 (8 columns per piece): the masks are kept as bits per
// piece and tap and widened to a vector per load; a piece that ends inside
// the panel row is stored whole (lanes past its end are zeros that the next
// piece, stored after it, overwrites), so only a row's last piece is a
// masked store (microcoded on AMD Zen).
constexpr int kMaxVectors8 = kPackedPanel + 8;  // 8-column pieces of one panel row

__attribute__((target("avx2"), always_inline)) inline __m256i LaneVector(uint32_t bits) {
  const __m256i lane = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
  return _mm256_cmpeq_epi32(
      _mm256_and_si256(_mm256_set1_epi32(static_cast<int>(bits & 0xFF)), lane), lane);
}

template <int kStride>
__attribute__((target("avx2"))) void Im2ColPanelAvx2(const float* image, const ConvGeometry& g,
                                                     int64_t k0, int64_t k1, int64_t n0, int64_t n1,
                                                     float* dst) {
  Segment segments[kPackedPanel];
  const size_t count = Segments(g, n0, n1, segments);
  int64_t out_at[kMaxVectors8], row_top[kMaxVectors8];
  uint32_t out_bits[kMaxVectors8];
  int64_t in_at[kMaxTaps][kMaxVectors8];
  uint32_t in_bits[kMaxTaps][kMaxVectors8];
  int nq = 0;
  for (size_t s = 0; s < count; ++s) {
    const Segment& seg = segments[s];
    for (int64_t t0 = 0; t0 < seg.ox1 - seg.ox0; t0 += 8, ++nq) {
      const int64_t lanes = std::min<int64_t>(8, seg.ox1 - seg.ox0 - t0);
      out_at[nq] = seg.at + t0;
      // Stored whole unless that would run past the panel row.
      out_bits[nq] = out_at[nq] + 8 <= kPackedPanel ? 0xFF : LaneMask(0, lanes);
      row_top[nq] = seg.oy * g.sh - g.ph;
      for (int64_t j = 0; j < g.kw; ++j) {
        const int64_t base = (seg.ox0 + t0) * kStride + j * g.dw - g.pw;
        in_at[j][nq] = base;
        in_bits[j][nq] = LaneMask(-base, g.w - base) & LaneMask(0, kStride * (lanes - 1) + 1);
      }
    }
  }
  const __m256 zero = _mm256_setzero_ps();
  int64_t j = k0 % g.kw, i = (k0 / g.kw) % g.kh, c = k0 / (g.kw * g.kh);
  for (int64_t k = k0; k < k1; ++k) {
    const float* plane = image + c * g.h * g.w;
    float* row = dst + (k - k0) * kPackedPanel;
    const int64_t dy = i * g.dh;
    for (int q = 0; q < nq; ++q) {
      const int64_t iy = row_top[q] + dy;
      __m256 x = zero;
      if (iy >= 0 && iy < g.h) {
        const float* src = Offset(plane, iy * g.w + in_at[j][q]);
        const uint32_t m = in_bits[j][q];
        if constexpr (kStride == 1) {
          x = _mm256_maskload_ps(src, LaneVector(m));
        } else {
          const __m256 lo = _mm256_maskload_ps(src, LaneVector(m));
          const __m256 hi = _mm256_maskload_ps(Offset(src, 8), LaneVector(m >> 8));
          // [a0 a2 a8 a10 | a4 a6 a12 a14], then 64-bit pieces 0, 2, 1, 3.
          const __m256 even = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
          x = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(even), 0xD8));
        }
      }
      if (out_bits[q] == 0xFF) {
        _mm256_storeu_ps(row + out_at[q], x);
      } else {
        _mm256_maskstore_ps(row + out_at[q], LaneVector(out_bits[q]), x);
      }
    }
    if (++j == g.kw) {
      j = 0;
      if (++i == g.kh) {
        i = 0;
        ++c;
      }
    }
  }
}

}  // namespace

void Im2ColPanel(const float* image, const ConvGeometry& g, int64_t k0, int64_t k1, int64_t n0,
                 int64_t n1, float* dst) {
  if (Avx512Available() && g.kw <= kMaxTaps) {
    if (g.sw == 1) return Im2ColPanel512<1>(image, g, k0, k1, n0, n1, dst);
    if (g.sw == 2) return Im2ColPanel512<2>(image, g, k0, k1, n0, n1, dst);
  }
  if (PackedGemmIsa() == PackedIsa::kAvx2 && g.kw <= kMaxTaps) {
    if (g.sw == 1) return Im2ColPanelAvx2<1>(image, g, k0, k1, n0, n1, dst);
    if (g.sw == 2) return Im2ColPanelAvx2<2>(image, g, k0, k1, n0, n1, dst);
  }
  Im2ColPanelScalar(image, g, k0, k1, n0, n1, dst);
}

}  // namespace strongroom::worker::onnx::ops
