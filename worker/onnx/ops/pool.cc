// MaxPool (float, uint8, int8), AveragePool (count_include_pad, ceil_mode,
// dilations) over 1-D and 2-D windows, and GlobalAveragePool.
#include <immintrin.h>

#include <algorithm>
#include <limits>
#include <type_traits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "worker/onnx/ops/factories.h"
#include "worker/onnx/ops/kernel_util.h"
#include "worker/onnx/ops/packed_gemm.h"
#include "worker/onnx/ops/window.h"

namespace strongroom::worker::onnx::ops {
namespace {

// o[i] = max(o[i], src[2 * i]) for i in [0, n), as std::max(o[i], .) picks
// (o[i] on NaN and ties). src[0, 2 * n + 30] must be readable.
__attribute__((target("avx512f"))) void MaxStride2Avx512(float* o, const float* src, int64_t n) {
  const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 mask =
        n - i >= 16 ? __mmask16{0xFFFF} : static_cast<__mmask16>((1u << (n - i)) - 1u);
    const __m512 s = _mm512_permutex2var_ps(_mm512_loadu_ps(src + 2 * i), even,
                                            _mm512_loadu_ps(src + 2 * i + 16));
    const __m512 cur = _mm512_maskz_loadu_ps(mask, o + i);
    // max_ps(a, b) is a > b ? a : b: b (the current max) on NaN and ties.
    _mm512_mask_storeu_ps(o + i, mask, _mm512_maskz_max_ps(0xFFFF, s, cur));
  }
}

// v[i] = the max of rows[r * stride + i] over r in [0, rows), i in [0, n),
// from lowest(), in the order and with the picks of std::max(v[i], .).
__attribute__((target("avx512f"))) void ColumnMaxAvx512(const float* rows_base, int64_t stride,
                                                        int64_t rows, int64_t n, float* v) {
  const __m512 lowest = _mm512_set1_ps(std::numeric_limits<float>::lowest());
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 mask =
        n - i >= 16 ? __mmask16{0xFFFF} : static_cast<__mmask16>((1u << (n - i)) - 1u);
    __m512 acc = lowest;
    for (int64_t r = 0; r < rows; ++r) {
      acc = _mm512_maskz_max_ps(0xFFFF, _mm512_maskz_loadu_ps(mask, rows_base + r * stride + i),
                                acc);
    }
    _mm512_mask_storeu_ps(v + i, mask, acc);
  }
}

// The column max of the 16 columns from c of `rows` rows (row r at
// src + r * stride), masked to the row's `len` columns, rows in order.
__attribute__((target("avx512f"), always_inline)) inline __m512 ColumnMax16(
    const float* src, int64_t stride, int64_t rows, int64_t len, int64_t c) {
  const int64_t left = len - c;
  const __mmask16 mask = left >= 16  ? __mmask16{0xFFFF}
                         : left <= 0 ? __mmask16{0}
                                     : static_cast<__mmask16>((1u << left) - 1u);
  __m512 acc = _mm512_set1_ps(std::numeric_limits<float>::lowest());
  for (int64_t r = 0; r < rows; ++r) {
    acc = _mm512_maskz_max_ps(0xFFFF, _mm512_maskz_loadu_ps(mask, src + r * stride + c), acc);
  }
  return acc;
}

// out[i] = the max over taps j < k (k <= 3) and rows r of src[r][2 i + j],
// i in [0, n), row r at src + r * stride with `len` readable columns
// (2 (n - 1) + k <= len). Column maxima stay in registers: going through a
// buffer, as ColumnMaxAvx512 + MaxStride2Avx512 do, stalls every unaligned
// reload on the masked store before it, which cost 3x on 27-wide rows.
// Same picks as those two (rows, then taps, in order).
__attribute__((target("avx512f"), always_inline)) inline void MaxRowStride2Avx512(
    const float* src, int64_t stride, int64_t rows, int64_t len, int64_t k, int64_t n, float* out) {
  const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  const __m512 lowest = _mm512_set1_ps(std::numeric_limits<float>::lowest());
  // Columns [2 i, 2 i + 16): computed once, as the previous step's third
  // block when k > 2 (a 3x3/2 window costs two column maxima per 16
  // outputs, not three).
  __m512 a = ColumnMax16(src, stride, rows, len, 0);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 mask =
        n - i >= 16 ? __mmask16{0xFFFF} : static_cast<__mmask16>((1u << (n - i)) - 1u);
    const __m512 b = ColumnMax16(src, stride, rows, len, 2 * i + 16);
    __m512 acc = _mm512_maskz_max_ps(0xFFFF, _mm512_permutex2var_ps(a, even, b), lowest);
    if (k > 1) acc = _mm512_maskz_max_ps(0xFFFF, _mm512_permutex2var_ps(a, odd, b), acc);
    const bool more = i + 16 < n;
    if (k > 2 || more) {
      const __m512 c = ColumnMax16(src, stride, rows, len, 2 * i + 32);
      if (k > 2) {  // columns 2 i + 2: a and b shifted by two, then the even ones
        const __m512i ai = _mm512_castps_si512(a), bi = _mm512_castps_si512(b),
                      ci = _mm512_castps_si512(c);
        const __m512 a2 = _mm512_castsi512_ps(_mm512_maskz_alignr_epi32(0xFFFF, bi, ai, 2));
        const __m512 b2 = _mm512_castsi512_ps(_mm512_maskz_alignr_epi32(0xFFFF, ci, bi, 2));
        acc = _mm512_maskz_max_ps(0xFFFF, _mm512_permutex2var_ps(a2, even, b2), acc);
      }
      a = c;
    }
    _mm512_mask_storeu_ps(out + i, mask, acc);
  }
}

// MaxRowStride2Avx512 for every output row of one plane, in one call (per
// row, the call and its setup cost as much as a 13-wide row's work): output
// row oy reads input rows [first[oy], first[oy] + rows[oy]) from column
// `base` on, and writes n values at out + oy * out_stride.
__attribute__((target("avx512f"))) void MaxPlaneStride2Avx512(const float* plane, int64_t in_w,
                                                              const int64_t* first,
                                                              const int64_t* rows, int64_t oh,
                                                              int64_t base, int64_t k, int64_t n,
                                                              float* out, int64_t out_stride) {
  for (int64_t oy = 0; oy < oh; ++oy) {
    MaxRowStride2Avx512(plane + first[oy] * in_w + base, in_w, rows[oy], in_w - base, k, n,
                        out + oy * out_stride);
  }
}

// The same in 8-lane AVX2 vectors (no AVX-512): the column max of 8 columns
// from c, masked to the row's `len` columns (masked-out lanes read 0 and
// feed only outputs that are never stored).
__attribute__((target("avx2"), always_inline)) inline __m256 ColumnMax8(const float* src,
                                                                        int64_t stride,
                                                                        int64_t rows, int64_t len,
                                                                        int64_t c) {
  const int64_t left = std::clamp<int64_t>(len - c, 0, 8);
  const __m256i mask = FirstLanes8(left);
  __m256 acc = _mm256_set1_ps(std::numeric_limits<float>::lowest());
  if (left == 8) {
    for (int64_t r = 0; r < rows; ++r)
      acc = _mm256_max_ps(_mm256_loadu_ps(src + r * stride + c), acc);
  } else {
    for (int64_t r = 0; r < rows; ++r) {
      acc = _mm256_max_ps(_mm256_maskload_ps(src + r * stride + c, mask), acc);
    }
  }
  return acc;
}

// MaxRowStride2Avx512 with AVX2, 8 outputs per step: the same maxima in the
// same order (rows, then taps), so the same picks.
__attribute__((target("avx2"), always_inline)) inline void MaxRowStride2Avx2(
    const float* src, int64_t stride, int64_t rows, int64_t len, int64_t k, int64_t n, float* out) {
  const __m256 lowest = _mm256_set1_ps(std::numeric_limits<float>::lowest());
  const __m256i rotate = _mm256_setr_epi32(1, 2, 3, 4, 5, 6, 7, 0);
  __m256 a = ColumnMax8(src, stride, rows, len, 0);
  for (int64_t i = 0; i < n; i += 8) {
    const __m256 b = ColumnMax8(src, stride, rows, len, 2 * i + 8);
    const __m256 even = Even8(a, b);  // columns 2 i, 2 i + 2, ..., 2 i + 14
    __m256 acc = _mm256_max_ps(even, lowest);
    if (k > 1) acc = _mm256_max_ps(Odd8(a, b), acc);
    const bool more = i + 8 < n;
    if (k > 2 || more) {
      const __m256 c = ColumnMax8(src, stride, rows, len, 2 * i + 16);
      if (k > 2) {  // columns 2 i + 2, ..., 2 i + 16: even shifted by one lane, then c's first
        const __m256 shifted = _mm256_permutevar8x32_ps(even, rotate);
        const __m256 third =
            _mm256_blend_ps(shifted, _mm256_permutevar8x32_ps(c, _mm256_setzero_si256()), 0x80);
        acc = _mm256_max_ps(third, acc);
      }
      a = c;
    }
    if (n - i >= 8) {
      _mm256_storeu_ps(out + i, acc);
    } else {
      const __m256i mask = FirstLanes8(n - i);
      _mm256_maskstore_ps(out + i, mask, acc);
    }
  }
}

__attribute__((target("avx2"))) void MaxPlaneStride2Avx2(const float* plane, int64_t in_w,
                                                         const int64_t* first, const int64_t* rows,
                                                         int64_t oh, int64_t base, int64_t k,
                                                         int64_t n, float* out,
                                                         int64_t out_stride) {
  for (int64_t oy = 0; oy < oh; ++oy) {
    MaxRowStride2Avx2(plane + first[oy] * in_w + base, in_w, rows[oy], in_w - base, k, n,
                      out + oy * out_stride);
  }
}

// A plane's mean from GlobalAveragePool's eight lane sums, added in one
// fixed order (both of its loops use this, so they agree to the bit).
inline float LaneMean(const double (&lanes)[8], int64_t size) {
  const double sum = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) +
                     ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
  return size > 0 ? static_cast<float>(sum / static_cast<double>(size)) : 0.0f;
}

// GlobalAveragePool's plane means for planes [p0, p1) in groups of four
// (four independent chains of adds; one plane's chain was latency-bound),
// with the same sums as the scalar loop: eight double lanes, lane l taking
// elements i with i % 8 == l and the tail's elements from lane 0, added in
// the same fixed order. Returns the first plane it left to the caller.
__attribute__((target("avx512f"))) int64_t PlaneMeansAvx512(const float* px, int64_t size,
                                                            int64_t p0, int64_t p1, float* py) {
  if (size <= 0) return p0;
  const int64_t full = size / 8 * 8, rest = size - full;
  int64_t p = p0;
  for (; p + 4 <= p1; p += 4) {
    __m512d acc[4] = {_mm512_setzero_pd(), _mm512_setzero_pd(), _mm512_setzero_pd(),
                      _mm512_setzero_pd()};
    const float* plane = px + p * size;
    for (int64_t i = 0; i < full; i += 8) {
      for (int q = 0; q < 4; ++q) {
        acc[q] = _mm512_add_pd(acc[q],
                               _mm512_maskz_cvtps_pd(0xFF, _mm256_loadu_ps(plane + q * size + i)));
      }
    }
    for (int q = 0; q < 4; ++q) {
      double lanes[8];
      _mm512_storeu_pd(lanes, acc[q]);
      // The tail as the scalar loop adds it (adding +0.0 to the other lanes
      // would not change them either, but this keeps the loads in bounds).
      for (int64_t l = 0; l < rest; ++l) lanes[l] += plane[q * size + full + l];
      py[p + q] = LaneMean(lanes, size);
    }
  }
  return p;
}

// One spatial axis after resolution (a 1-D pool is 2-D with a unit height).
struct Axis {
  int64_t in, k, s, d, pb, pe, out;
};

std::pair<Axis, Axis> To2D(const std::vector<AxisWindow>& win) {
  auto axis = [](const AxisWindow& a) {
    return Axis{a.in, a.kernel, a.stride, a.dilation, a.pad_begin, a.pad_end, a.out};
  };
  if (win.size() == 1) return {Axis{1, 1, 1, 1, 0, 0, 1}, axis(win[0])};
  return {axis(win[0]), axis(win[1])};
}

// Window taps of output `o` along `a`: [first, last) tap indices whose input
// position is inside the input, and how many lie inside input + padding.
struct Taps {
  int64_t first, last, padded;
};

// floor(a / b) and ceil(a / b) for b > 0.
int64_t FloorDiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
int64_t CeilDiv(int64_t a, int64_t b) { return -FloorDiv(-a, b); }

// Taps i in [0, k) with lo <= start + i * d < hi, as [first, last).
std::pair<int64_t, int64_t> TapRange(const Axis& a, int64_t start, int64_t lo, int64_t hi) {
  const int64_t first = std::max<int64_t>(0, CeilDiv(lo - start, a.d));
  const int64_t last = std::min<int64_t>(a.k, CeilDiv(hi - start, a.d));
  return {first, std::max(first, last)};
}

Taps TapsAt(const Axis& a, int64_t o) {
  const int64_t start = o * a.s - a.pb;
  const auto [first, last] = TapRange(a, start, 0, a.in);
  const auto [pfirst, plast] = TapRange(a, start, -a.pb, a.in + a.pe);
  return Taps{first, last, plast - pfirst};
}

class PoolOp final : public Op {
 public:
  enum class Kind { kMax, kAverage };
  PoolOp(Kind kind, WindowAttrs window, bool count_include_pad)
      : kind_(kind), window_(std::move(window)), count_include_pad_(count_include_pad) {}

  absl::Status Infer(std::span<const TensorMeta* const> in,
                     std::span<TensorMeta> out) const override {
    auto s = kind_ == Kind::kMax
                 ? CheckType(in[0], 0, {DataType::kFloat, DataType::kUint8, DataType::kInt8})
                 : CheckType(in[0], 0, {DataType::kFloat});
    if (!s.ok()) return s;
    const Shape& x = in[0]->shape;
    if (x.size() != 3 && x.size() != 4) {
      return absl::InvalidArgumentError(
          absl::StrCat("input X ", ShapeToString(x), ": only 1-D and 2-D pooling is supported"));
    }
    auto win = ResolveWindow(window_, Shape(x.begin() + 2, x.end()), {});
    if (!win.ok()) return win.status();
    out[0].dtype = in[0]->dtype;
    out[0].shape = {x[0], x[1]};
    for (const AxisWindow& a : *win) out[0].shape.push_back(a.out);
    return absl::OkStatus();
  }

  absl::Status Run(const ExecContext& ctx, std::span<const Tensor* const> in,
                   std::span<Tensor* const> out) const override {
    const Tensor& x = *in[0];
    auto win = ResolveWindow(window_, Shape(x.shape().begin() + 2, x.shape().end()), {});
    if (!win.ok()) return win.status();
    const auto [ay, ax] = To2D(*win);
    switch (x.dtype()) {
      case DataType::kFloat:
        Pool<float>(ctx, x.data<float>().data(), out[0]->mutable_data<float>().data(),
                    x.dim(0) * x.dim(1), ay, ax);
        break;
      case DataType::kUint8:
        Pool<uint8_t>(ctx, x.data<uint8_t>().data(), out[0]->mutable_data<uint8_t>().data(),
                      x.dim(0) * x.dim(1), ay, ax);
        break;
      case DataType::kInt8:
        Pool<int8_t>(ctx, x.data<int8_t>().data(), out[0]->mutable_data<int8_t>().data(),
                     x.dim(0) * x.dim(1), ay, ax);
        break;
      default:
        return absl::InvalidArgumentError("unsupported element type");
    }
    return absl::OkStatus();
  }

 private:
  template <typename T>
  void Pool(const ExecContext& ctx, const T* x, T* y, int64_t planes, const Axis& ay,
            const Axis& ax) const {
    std::vector<Taps> ty(ay.out), tx(ax.out);
    for (int64_t o = 0; o < ay.out; ++o) ty[o] = TapsAt(ay, o);
    for (int64_t o = 0; o < ax.out; ++o) tx[o] = TapsAt(ax, o);
    const int64_t in_plane = ay.in * ax.in, out_plane = ay.out * ax.out;
    if (kind_ == Kind::kMax && ay.d == 1 && ax.d == 1) {
      const int64_t grain = std::max<int64_t>(1, 4096 / std::max<int64_t>(1, out_plane));
      // [ox_lo, ox_hi): outputs whose window has all ax.k taps in the row.
      int64_t ox_lo = 0, ox_hi = 0;
      while (ox_lo < ax.out && ox_lo * ax.s - ax.pb < 0) ++ox_lo;
      ox_hi = ox_lo;
      while (ox_hi < ax.out && ox_hi * ax.s - ax.pb + ax.k <= ax.in) ++ox_hi;
      // Separable: the column-wise max of the window's rows (contiguous, so
      // it vectorizes), then the max along each output's columns. Same
      // result as the loop below (NaNs are skipped in both; only which of
      // +0 and -0 wins a tie may differ).
      const bool avx512 = std::is_same_v<T, float> && Avx512Available();
      const bool avx2 = std::is_same_v<T, float> && PackedGemmIsa() == PackedIsa::kAvx2;
      const bool rows_in_registers = (avx512 || avx2) && ax.s == 2 && ax.k <= 3;
      // Per output row: the first input row and how many the window covers.
      std::vector<int64_t> row_first(ay.out), row_count(ay.out);
      for (int64_t oy = 0; oy < ay.out; ++oy) {
        row_first[oy] = oy * ay.s - ay.pb + ty[oy].first;
        row_count[oy] = ty[oy].last - ty[oy].first;
      }
      ctx.pool()->ParallelFor(planes, grain, [&](int64_t p0, int64_t p1) {
        // 32 spare entries: MaxStride2Avx512 loads whole vectors past the row.
        std::vector<T> colmax(static_cast<size_t>(ax.in + 32), std::numeric_limits<T>::lowest());
        T* v = colmax.data();
        for (int64_t p = p0; p < p1; ++p) {
          const T* src = x + p * in_plane;
          T* dst = y + p * out_plane;
          if constexpr (std::is_same_v<T, float>) {
            if (rows_in_registers && ox_hi > ox_lo) {
              (avx512 ? MaxPlaneStride2Avx512 : MaxPlaneStride2Avx2)(
                  src, ax.in, row_first.data(), row_count.data(), ay.out, ox_lo * ax.s - ax.pb,
                  ax.k, ox_hi - ox_lo, dst + ox_lo, ax.out);
              if (ox_lo == 0 && ox_hi == ax.out) continue;  // no edge columns
            }
          }
          for (int64_t oy = 0; oy < ay.out; ++oy) {
            const Taps& wy = ty[oy];
            const int64_t y0 = oy * ay.s - ay.pb;
            if constexpr (std::is_same_v<T, float>) {
              if (rows_in_registers) {
                // Stride 2 (SqueezeNet's and ResNet's 3x3/2): edges from
                // the rows, the rest in registers (above, for the plane).
                const float* rows_src = src + (y0 + wy.first) * ax.in;
                const int64_t rows = wy.last - wy.first;
                float* out_row = dst + oy * ax.out;
                auto edge = [&](int64_t ox) {
                  const Taps& wx = tx[ox];
                  const int64_t x0 = ox * ax.s - ax.pb;
                  float best = std::numeric_limits<float>::lowest();
                  for (int64_t r = 0; r < rows; ++r) {
                    for (int64_t j = wx.first; j < wx.last; ++j) {
                      best = std::max(best, rows_src[r * ax.in + x0 + j]);
                    }
                  }
                  out_row[ox] = best;
                };
                for (int64_t ox = 0; ox < ox_lo; ++ox) edge(ox);
                for (int64_t ox = std::max(ox_lo, ox_hi); ox < ax.out; ++ox) edge(ox);
                continue;
              }
              if (avx512) {
                ColumnMaxAvx512(src + (y0 + wy.first) * ax.in, ax.in, wy.last - wy.first, ax.in,
                                v);
              }
            }
            if (!avx512) {
              std::fill(v, v + ax.in, std::numeric_limits<T>::lowest());
              for (int64_t i = wy.first; i < wy.last; ++i) {
                const T* row = src + (y0 + i) * ax.in;
                for (int64_t ix = 0; ix < ax.in; ++ix) v[ix] = std::max(v[ix], row[ix]);
              }
            }
            T* out_row = dst + oy * ax.out;
            auto edge = [&](int64_t ox) {
              const Taps& wx = tx[ox];
              const int64_t x0 = ox * ax.s - ax.pb;
              T best = std::numeric_limits<T>::lowest();
              for (int64_t j = wx.first; j < wx.last; ++j) best = std::max(best, v[x0 + j]);
              out_row[ox] = best;
            };
            for (int64_t ox = 0; ox < ox_lo; ++ox) edge(ox);
            for (int64_t ox = std::max(ox_lo, ox_hi); ox < ax.out; ++ox) edge(ox);
            // Outputs whose whole window lies inside the row, tap by tap:
            // the same max sequence as edge(), in loops that vectorize.
            if (ox_hi > ox_lo) {
              const int64_t n = ox_hi - ox_lo;
              T* o = out_row + ox_lo;
              std::fill(o, o + n, std::numeric_limits<T>::lowest());
              for (int64_t j = 0; j < ax.k; ++j) {
                const T* src_j = v + ox_lo * ax.s - ax.pb + j;
                if (ax.s == 1) {
                  for (int64_t i = 0; i < n; ++i) o[i] = std::max(o[i], src_j[i]);
                } else if (ax.s == 2 && avx512) {
                  if constexpr (std::is_same_v<T, float>) MaxStride2Avx512(o, src_j, n);
                } else if (ax.s == 2) {
                  for (int64_t i = 0; i < n; ++i) o[i] = std::max(o[i], src_j[2 * i]);
                } else {
                  for (int64_t i = 0; i < n; ++i) o[i] = std::max(o[i], src_j[i * ax.s]);
                }
              }
            }
          }
        }
      });
      return;
    }
    ctx.pool()->ParallelFor(
        planes, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, out_plane)),
        [&](int64_t p0, int64_t p1) {
          for (int64_t p = p0; p < p1; ++p) {
            const T* src = x + p * in_plane;
            T* dst = y + p * out_plane;
            for (int64_t oy = 0; oy < ay.out; ++oy) {
              const Taps& wy = ty[oy];
              const int64_t y0 = oy * ay.s - ay.pb;
              for (int64_t ox = 0; ox < ax.out; ++ox) {
                const Taps& wx = tx[ox];
                const int64_t x0 = ox * ax.s - ax.pb;
                if (kind_ == Kind::kMax) {
                  T best = std::numeric_limits<T>::lowest();
                  for (int64_t i = wy.first; i < wy.last; ++i) {
                    const T* row = src + (y0 + i * ay.d) * ax.in;
                    for (int64_t j = wx.first; j < wx.last; ++j) {
                      best = std::max(best, row[x0 + j * ax.d]);
                    }
                  }
                  dst[oy * ax.out + ox] = best;
                } else {
                  float sum = 0;
                  for (int64_t i = wy.first; i < wy.last; ++i) {
                    const T* row = src + (y0 + i * ay.d) * ax.in;
                    for (int64_t j = wx.first; j < wx.last; ++j) sum += row[x0 + j * ax.d];
                  }
                  const int64_t count = count_include_pad_
                                            ? wy.padded * wx.padded
                                            : (wy.last - wy.first) * (wx.last - wx.first);
                  dst[oy * ax.out + ox] = count > 0 ? static_cast<T>(sum / count) : T{0};
                }
              }
            }
          }
        });
  }

  const Kind kind_;
  const WindowAttrs window_;
  const bool count_include_pad_;
};

class GlobalAveragePoolOp final : public Op {
 public:
  absl::Status Infer(std::span<const TensorMeta* const> in,
                     std::span<TensorMeta> out) const override {
    auto s = CheckType(in[0], 0, {DataType::kFloat});
    if (!s.ok()) return s;
    if (in[0]->shape.size() < 3) {
      return absl::InvalidArgumentError(
          absl::StrCat("input X ", ShapeToString(in[0]->shape), " needs N, C and spatial dims"));
    }
    out[0].dtype = DataType::kFloat;
    out[0].shape = in[0]->shape;
    std::fill(out[0].shape.begin() + 2, out[0].shape.end(), 1);
    return absl::OkStatus();
  }
  absl::Status Run(const ExecContext& ctx, std::span<const Tensor* const> in,
                   std::span<Tensor* const> out) const override {
    const Tensor& x = *in[0];
    const int64_t planes = x.dim(0) * x.dim(1);
    const int64_t size = Product(x.shape(), 2, x.shape().size());
    const float* px = x.data<float>().data();
    float* py = out[0]->mutable_data<float>().data();
    const bool avx512 = Avx512Available();
    ctx.pool()->ParallelFor(
        planes, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(1, size)),
        [&](int64_t p0, int64_t p1) {
          if (avx512) p0 = PlaneMeansAvx512(px, size, p0, p1, py);
          for (int64_t p = p0; p < p1; ++p) {
            // Eight running sums in double (lane i % 8), added in a fixed
            // order at the end: one chain of dependent adds per plane was
            // latency-bound (169 adds for squeezenet's 13x13 planes).
            const float* plane = px + p * size;
            double lanes[8] = {};
            int64_t i = 0;
            for (; i + 8 <= size; i += 8) {
              for (int l = 0; l < 8; ++l) lanes[l] += plane[i + l];
            }
            for (int l = 0; i < size; ++i, ++l) lanes[l] += plane[i];
            py[p] = LaneMean(lanes, size);
          }
        });
    return absl::OkStatus();
  }
};

}  // namespace

absl::StatusOr<std::unique_ptr<Op>> CreateMaxPool(const OpConfig& config, AttributeReader& attrs) {
  auto window = ReadWindowAttrs(attrs, /*with_dilations=*/true, /*with_ceil_mode=*/true,
                                /*kernel_required=*/true);
  if (!window.ok()) return window.status();
  auto storage_order = attrs.Int("storage_order", 0);
  if (!storage_order.ok()) return storage_order.status();
  if (*storage_order != 0) return UnsupportedAttribute("storage_order", *storage_order);
  auto s = attrs.Finish();
  if (!s.ok()) return s;
  return std::unique_ptr<Op>(new PoolOp(PoolOp::Kind::kMax, *std::move(window), false));
}

absl::StatusOr<std::unique_ptr<Op>> CreateAveragePool(const OpConfig& config,
                                                      AttributeReader& attrs) {
  auto window = ReadWindowAttrs(attrs, /*with_dilations=*/true, /*with_ceil_mode=*/true,
                                /*kernel_required=*/true);
  if (!window.ok()) return window.status();
  auto include_pad = attrs.Int("count_include_pad", 0);
  if (!include_pad.ok()) return include_pad.status();
  if (*include_pad != 0 && *include_pad != 1) {
    return UnsupportedAttribute("count_include_pad", *include_pad);
  }
  auto s = attrs.Finish();
  if (!s.ok()) return s;
  return std::unique_ptr<Op>(
      new PoolOp(PoolOp::Kind::kAverage, *std::move(window), *include_pad == 1));
}

absl::StatusOr<std::unique_ptr<Op>> CreateGlobalAveragePool(const OpConfig&,
                                                            AttributeReader& attrs) {
  auto s = attrs.Finish();
  if (!s.ok()) return s;
  return std::unique_ptr<Op>(new GlobalAveragePoolOp());
}

}  // namespace strongroom::worker::onnx::ops
