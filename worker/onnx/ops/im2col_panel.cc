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

#include "worker/onnx/ops/kernel_util.h"
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

// Row k of the im2col matrix is channel c, kernel row i, kernel column j
// (k = (c * kh + i) * kw + j); Next() steps to row k + 1.
struct Tap {
  int64_t j, i, c;
  Tap(const ConvGeometry& g, int64_t k) : j(k % g.kw), i((k / g.kw) % g.kh), c(k / (g.kw * g.kh)) {}
  void Next(const ConvGeometry& g) {
    if (++j == g.kw) {
      j = 0;
      if (++i == g.kh) {
        i = 0;
        ++c;
      }
    }
  }
};

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
  Tap t(g, k0);
  for (int64_t k = k0; k < k1; ++k, t.Next(g)) {
    const float* plane = image + t.c * g.h * g.w;
    float* row = dst + (k - k0) * kPackedPanel;
    for (size_t s = 0; s < count; ++s) {
      const Segment& seg = segments[s];
      const int64_t iy = seg.oy * g.sh - g.ph + t.i * g.dh;
      const bool inside = iy >= 0 && iy < g.h;  // a padding row reads as zeros
      GatherRowScalar(plane + (inside ? iy * g.w : 0), inside ? g.w : 0,
                      seg.ox0 * g.sw + t.j * g.dw - g.pw, g.sw, seg.ox1 - seg.ox0, row + seg.at);
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

constexpr int kMaxTaps = 16;  // kernel widths the vector paths take

// A panel row cut into pieces of at most kLanes columns (a piece never
// straddles two output rows): per piece q where it goes (out_at), its
// output lanes (out_bits), its input row relative to the kernel row's top,
// and per tap j its input offset and input lanes (in_bits; stride 2 reads
// 2 * kLanes input lanes and keeps the even ones). Lane masks are bits;
// padding lanes are left out, so they read as zeros.
template <int kLanes>
struct Pieces {
  static constexpr int kMax = kPackedPanel + kLanes;  // >= segments + 48 / kLanes
  int count = 0;
  int64_t out_at[kMax], row_top[kMax];
  uint32_t out_bits[kMax];
  int64_t in_at[kMaxTaps][kMax];
  uint32_t in_bits[kMaxTaps][kMax];

  template <int kStride>
  void Build(const ConvGeometry& g, int64_t n0, int64_t n1) {
    Segment segments[kPackedPanel];
    const size_t nseg = Segments(g, n0, n1, segments);
    count = 0;
    for (size_t s = 0; s < nseg; ++s) {
      const Segment& seg = segments[s];
      for (int64_t t0 = 0; t0 < seg.ox1 - seg.ox0; t0 += kLanes, ++count) {
        const int64_t lanes = std::min<int64_t>(kLanes, seg.ox1 - seg.ox0 - t0);
        out_at[count] = seg.at + t0;
        out_bits[count] = LaneMask(0, lanes);
        row_top[count] = seg.oy * g.sh - g.ph;
        for (int64_t j = 0; j < g.kw; ++j) {
          const int64_t base = (seg.ox0 + t0) * kStride + j * g.dw - g.pw;
          in_at[j][count] = base;
          in_bits[j][count] = LaneMask(-base, g.w - base) & LaneMask(0, kStride * (lanes - 1) + 1);
        }
      }
    }
  }
};

// Stride kStride in {1, 2}; g.kw <= kMaxTaps.
template <int kStride>
__attribute__((target("avx512f"))) void Im2ColPanel512(const float* image, const ConvGeometry& g,
                                                       int64_t k0, int64_t k1, int64_t n0,
                                                       int64_t n1, float* dst) {
  Pieces<16> pc;
  pc.Build<kStride>(g, n0, n1);
  const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512 zero = _mm512_setzero_ps();
  Tap t(g, k0);
  for (int64_t k = k0; k < k1; ++k, t.Next(g)) {
    const float* plane = image + t.c * g.h * g.w;
    float* row = dst + (k - k0) * kPackedPanel;
    const int64_t dy = t.i * g.dh;
    for (int q = 0; q < pc.count; ++q) {
      const int64_t iy = pc.row_top[q] + dy;
      __m512 x = zero;
      if (iy >= 0 && iy < g.h) {
        const float* src = Offset(plane, iy * g.w + pc.in_at[t.j][q]);
        const uint32_t m = pc.in_bits[t.j][q];
        if constexpr (kStride == 1) {
          x = _mm512_maskz_loadu_ps(static_cast<__mmask16>(m), src);
        } else {
          const __m512 lo = _mm512_maskz_loadu_ps(static_cast<__mmask16>(m), src);
          const __m512 hi = _mm512_maskz_loadu_ps(static_cast<__mmask16>(m >> 16), Offset(src, 16));
          x = _mm512_permutex2var_ps(lo, even, hi);
        }
      }
      _mm512_mask_storeu_ps(row + pc.out_at[q], static_cast<__mmask16>(pc.out_bits[q]), x);
    }
  }
}

// The same for AVX2 (8 columns per piece): the masks are kept as bits per
// piece and tap and widened to a vector per load; a piece that ends inside
// the panel row is stored whole (lanes past its end are zeros that the next
// piece, stored after it, overwrites), so only a row's last piece is a
// masked store (microcoded on AMD Zen).
__attribute__((target("avx2"), always_inline)) inline __m256i LaneVector(uint32_t bits) {
  const __m256i lane = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
  return _mm256_cmpeq_epi32(
      _mm256_and_si256(_mm256_set1_epi32(static_cast<int>(bits & 0xFF)), lane), lane);
}

template <int kStride>
__attribute__((target("avx2"))) void Im2ColPanelAvx2(const float* image, const ConvGeometry& g,
                                                     int64_t k0, int64_t k1, int64_t n0, int64_t n1,
                                                     float* dst) {
  Pieces<8> pc;
  pc.Build<kStride>(g, n0, n1);
  const __m256 zero = _mm256_setzero_ps();
  Tap t(g, k0);
  for (int64_t k = k0; k < k1; ++k, t.Next(g)) {
    const float* plane = image + t.c * g.h * g.w;
    float* row = dst + (k - k0) * kPackedPanel;
    const int64_t dy = t.i * g.dh;
    for (int q = 0; q < pc.count; ++q) {
      const int64_t iy = pc.row_top[q] + dy;
      __m256 x = zero;
      if (iy >= 0 && iy < g.h) {
        const float* src = Offset(plane, iy * g.w + pc.in_at[t.j][q]);
        const uint32_t m = pc.in_bits[t.j][q];
        if constexpr (kStride == 1) {
          x = _mm256_maskload_ps(src, LaneVector(m));
        } else {
          const __m256 lo = _mm256_maskload_ps(src, LaneVector(m));
          const __m256 hi = _mm256_maskload_ps(Offset(src, 8), LaneVector(m >> 8));
          x = Even8(lo, hi);
        }
      }
      // Stored whole unless that would run past the panel row.
      if (pc.out_at[q] + 8 <= kPackedPanel) {
        _mm256_storeu_ps(row + pc.out_at[q], x);
      } else {
        _mm256_maskstore_ps(row + pc.out_at[q], LaneVector(pc.out_bits[q]), x);
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
