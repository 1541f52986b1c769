#include "worker/onnx/ops/packed_gemm.h"

#include <immintrin.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "worker/onnx/ops/kernel_util.h"

namespace strongroom::worker::onnx::ops {
namespace {

// K rows of B per pass: one B panel is kKc x 48 floats (48 KiB), streamed
// from L2 while the 8 x kKc weight block (8 KiB) stays in L1.
constexpr int64_t kKc = kPanelPassRows;
// Panels per column block: the packed B block (kKc x 480 floats, 480 KiB)
// stays in L2 while every weight block passes over it.
constexpr int64_t kBlockPanels = kColumnBlockPanels;
// B rows the tile prefetches ahead: a 1x1 convolution's B is read in place,
// rows `ld` floats apart, a pattern the hardware prefetcher does not follow
// (m 64, k 256, n 3136: 97 -> 114 GFLOP/s, thread CPU time, loaded VM).
// Prefetches past the panel's end are harmless (they never fault).
constexpr int64_t kPrefetchRows = 16;
// Below this many multiply-adds the pool's wake-up costs more than it saves.
constexpr int64_t kParallelMacs = int64_t{1} << 20;

// One 8 x (16 * NV) tile of C over kc steps of K. `first`: the tile starts
// from the bias and residual, else from C; `relu` (on the last K pass only)
// clamps at zero. Only `rows` rows and, in the last vector, the `tail`
// lanes are read from C / the residual and written.
template <int NV>
__attribute__((target("avx512f"))) void Tile(int64_t kc, const float* a, const float* b,
                                             int64_t ldb, float* c, int64_t ldc, int64_t rows,
                                             __mmask16 tail, bool first, const float* bias,
                                             const float* residual, bool relu) {
  __m512 acc[kPackedRows][NV];
  const __m512 zero = _mm512_setzero_ps();
#pragma GCC unroll 8
  for (int r = 0; r < kPackedRows; ++r) {
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      const __mmask16 mask = v == NV - 1 ? tail : __mmask16{0xFFFF};
      if (r >= rows) {
        acc[r][v] = zero;
      } else if (!first) {
        acc[r][v] = _mm512_maskz_loadu_ps(mask, c + r * ldc + v * 16);
      } else {
        acc[r][v] = bias != nullptr ? _mm512_set1_ps(bias[r]) : zero;
        if (residual != nullptr) {
          acc[r][v] =
              _mm512_add_ps(acc[r][v], _mm512_maskz_loadu_ps(mask, residual + r * ldc + v * 16));
        }
      }
    }
  }
  for (int64_t k = 0; k < kc; ++k) {
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      _mm_prefetch(reinterpret_cast<const char*>(b + (k + kPrefetchRows) * ldb + v * 16),
                   _MM_HINT_T0);
    }
    __m512 bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      // The last vector masked: in place, B's row may end there.
      bv[v] = v == NV - 1 ? _mm512_maskz_loadu_ps(tail, b + k * ldb + v * 16)
                          : _mm512_loadu_ps(b + k * ldb + v * 16);
    }
#pragma GCC unroll 8
    for (int r = 0; r < kPackedRows; ++r) {
      const __m512 ar = _mm512_set1_ps(a[k * kWeightBlock + r]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(ar, bv[v], acc[r][v]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < kPackedRows; ++r) {
    if (r >= rows) break;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      const __mmask16 mask = v == NV - 1 ? tail : __mmask16{0xFFFF};
      __m512 x = acc[r][v];
      if (relu) x = _mm512_maskz_max_ps(0xFFFF, x, zero);
      _mm512_mask_storeu_ps(c + r * ldc + v * 16, mask, x);
    }
  }
}

__attribute__((target("avx2,fma"), always_inline)) inline __m256 Load8(bool masked, const float* p,
                                                                       __m256i mask) {
  return masked ? _mm256_maskload_ps(p, mask) : _mm256_loadu_ps(p);
}

// The same tile for CPUs with AVX2 and FMA but no AVX-512 (16 vector
// registers, not 32): 4 rows x (8 * NV) columns, NV <= 3, so half an 8-row
// weight group by half a panel. Every element gets the same operations in
// the same order as in Tile (the bias, then the residual, then one fused
// multiply-add per K step in K order, then Relu), so both kernels give the
// same results to the bit, whichever tile and thread computes an element.
// `Tail`: the last vector has only `tail` lanes (1..7), read and written
// with masks; the other vectors (and a full last one) are plain loads and
// stores, since masked stores are slow on some AVX2 CPUs (microcoded on AMD
// Zen).
template <int NV, bool Tail>
__attribute__((target("avx2,fma"))) void TileAvx2(int64_t kc, const float* a, const float* b,
                                                  int64_t ldb, float* c, int64_t ldc, int64_t rows,
                                                  int tail, bool first, const float* bias,
                                                  const float* residual, bool relu) {
  constexpr int kRows = 4;
  const __m256 zero = _mm256_setzero_ps();
  const __m256i mask = FirstLanes8(tail);
  __m256 acc[kRows][NV];
#pragma GCC unroll 4
  for (int r = 0; r < kRows; ++r) {
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) {
      if (r >= rows) {
        acc[r][v] = zero;
      } else if (!first) {
        acc[r][v] = Load8(Tail && v == NV - 1, c + r * ldc + v * 8, mask);
      } else {
        acc[r][v] = bias != nullptr ? _mm256_set1_ps(bias[r]) : zero;
        if (residual != nullptr) {
          acc[r][v] = _mm256_add_ps(acc[r][v],
                                    Load8(Tail && v == NV - 1, residual + r * ldc + v * 8, mask));
        }
      }
    }
  }
  for (int64_t k = 0; k < kc; ++k) {
    // One prefetch per 64-byte line of the row ahead (24 floats span two).
    _mm_prefetch(reinterpret_cast<const char*>(b + (k + kPrefetchRows) * ldb), _MM_HINT_T0);
    if constexpr (NV == 3) {
      _mm_prefetch(reinterpret_cast<const char*>(b + (k + kPrefetchRows) * ldb + 16), _MM_HINT_T0);
    }
    __m256 bv[NV];
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) {
      bv[v] = Load8(Tail && v == NV - 1, b + k * ldb + v * 8, mask);  // in place, B's row may end
    }
#pragma GCC unroll 4
    for (int r = 0; r < kRows; ++r) {
      const __m256 ar = _mm256_broadcast_ss(a + k * kWeightBlock + r);
#pragma GCC unroll 3
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_fmadd_ps(ar, bv[v], acc[r][v]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < kRows; ++r) {
    if (r >= rows) break;
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) {
      __m256 x = acc[r][v];
      if (relu) x = _mm256_max_ps(x, zero);
      if (Tail && v == NV - 1) {
        _mm256_maskstore_ps(c + r * ldc + v * 8, mask, x);
      } else {
        _mm256_storeu_ps(c + r * ldc + v * 8, x);
      }
    }
  }
}

// The AVX2 tiles' loop over a column block's packed B (`kc` rows from K row
// `k0`, `panels` panels of `ldb`-strided rows at `b`, the last `last_width`
// wide): K in steps of kAvx2Kc, and within a step each half panel of B
// (kAvx2Kc x 24 floats, 12 KiB) stays in L1 while every 4-row quad of the
// weights passes over it (a quad's weights, a 16-row block's lines, come
// from L2 in order). With 16 registers a tile holds 4 x 24 of C, a third of
// an AVX-512 tile, so B is reloaded three times as often, which this order
// serves from L1. C is stored and reloaded between steps: same sums.
constexpr int64_t kAvx2Kc = 128;
// In place, B's half panels are copied (see PassAvx2) when at least this
// many weight rows pass over each copy.
constexpr int64_t kAvx2CopyMinRows = 64;
void PassAvx2(const PackedWeights& w, int64_t k0, int64_t kc, const float* b, int64_t ldb,
              int64_t panel_stride, int64_t panels, int64_t last_width, float* c, int64_t ldc,
              const GemmEpilogue& ep, const float* residual, float* copy) {
  constexpr int64_t kHalf = kPackedPanel / 2;
  const int64_t m = w.m(), k = w.k();
  for (int64_t s0 = 0; s0 < kc; s0 += kAvx2Kc) {
    const int64_t s1 = std::min(kc, s0 + kAvx2Kc);
    const bool first = k0 + s0 == 0;
    const bool relu = ep.relu && k0 + s1 == k;
    for (int64_t p = 0; p < panels; ++p) {
      const int64_t width = p == panels - 1 ? last_width : kPackedPanel;
      const float* bp = b + p * panel_stride + s0 * ldb;
      int64_t ldp = ldb;
      if (copy != nullptr) {
        // In place, B's rows lie 4 * ld bytes apart: at ld = 3136 (a 56x56
        // input) 128 rows of a half panel fall on the same few L1 sets and
        // evict each other. Copied, they are contiguous.
        for (int64_t kk = s0; kk < s1; ++kk) {
          std::memcpy(copy + (kk - s0) * kPackedPanel, b + p * panel_stride + kk * ldb,
                      static_cast<size_t>(width) * sizeof(float));
        }
        bp = copy;
        ldp = kPackedPanel;
      }
      // The panel's vectors of C in two tiles, the first of up to three: a
      // 25-32 column panel (squeezenet's 13x13 outputs end in one of 25) as
      // 2 + 2 vectors, not 3 + 1, since a one-vector tile's four
      // accumulators cannot cover the multiply-add latency.
      const int64_t first_cols = width > kHalf ? std::min(kHalf, (width + 15) / 16 * 8) : width;
      for (int64_t j0 = 0; j0 < width; j0 += first_cols) {
        const int64_t cw = std::min(first_cols, width - j0);
        const int64_t nv = (cw + 7) / 8;
        const int tail = static_cast<int>(cw - (nv - 1) * 8);
        const bool masked = tail != 8;
        auto* tile = nv == 3   ? (masked ? TileAvx2<3, true> : TileAvx2<3, false>)
                     : nv == 2 ? (masked ? TileAvx2<2, true> : TileAvx2<2, false>)
                               : (masked ? TileAvx2<1, true> : TileAvx2<1, false>);
        const int64_t col = p * kPackedPanel + j0;
        const float* bt = bp + j0;
        for (int64_t r0 = 0; r0 < m; r0 += 4) {
          const int64_t rows = std::min<int64_t>(4, m - r0);
          const float* a =
              w.block(r0 / kWeightBlock) + (k0 + s0) * kWeightBlock + r0 % kWeightBlock;
          const float* bias = ep.bias != nullptr ? ep.bias + r0 : nullptr;
          const float* rt = residual != nullptr ? residual + r0 * ldc + col : nullptr;
          // The next quad's C (or, in the first step, its residual) is
          // fetched while this tile runs: between K steps the column block's C
          // (m x 480 floats) has left L1 and L2, and a tile's first
          // multiply-adds wait on its 4 x 24 values (resnet50, one thread,
          // alternating in one process, minimum of 20-30 runs: 2-8% faster
          // in 5 runs of 7, see docs/bench.md). Lines 0, 48 and the last
          // byte cover the row's 96 bytes however they are aligned.
          const float* next = first ? residual : c;
          if (next != nullptr && r0 + 4 < m) {
            for (int64_t i = 0, nr = std::min<int64_t>(4, m - r0 - 4); i < nr; ++i) {
              const char* q = reinterpret_cast<const char*>(next + (r0 + 4 + i) * ldc + col);
              _mm_prefetch(q, _MM_HINT_T0);
              _mm_prefetch(q + 48, _MM_HINT_T0);
              _mm_prefetch(q + cw * sizeof(float) - 1, _MM_HINT_T0);
            }
          }
          tile(s1 - s0, a, bt, ldp, c + r0 * ldc + col, ldc, rows, tail, first, bias, rt, relu);
        }
      }
    }
  }
}

// Columns [n0, n1) of C: for each K pass, pack the block's B panels, then
// run every weight block over them.
void RunColumnBlock(const PackedWeights& w, int64_t n0, int64_t n1, const PanelSource& src,
                    const GemmEpilogue& ep, float* c, int64_t ldc, float* scratch, PackedIsa isa) {
  const int64_t m = w.m(), k = w.k();
  const int64_t panels = (n1 - n0 + kPackedPanel - 1) / kPackedPanel;
  const bool in_place = src.matrix != nullptr;
  float* buf = scratch;
  const int64_t ldb = in_place ? src.ld : kPackedPanel;
  for (int64_t k0 = 0; k0 < k; k0 += kKc) {
    const int64_t k1 = std::min(k, k0 + kKc);
    for (int64_t p = 0; !in_place && p < panels; ++p) {
      const int64_t p0 = n0 + p * kPackedPanel;
      float* dst = buf + p * kKc * kPackedPanel;
      PackPanel(src, k0, k1, p0, std::min(n1, p0 + kPackedPanel), dst);
    }
    if (isa == PackedIsa::kAvx2) {
      const float* b = in_place ? src.matrix + k0 * src.ld + n0 : buf;
      const int64_t panel_stride = in_place ? kPackedPanel : kKc * kPackedPanel;
      const float* rt = ep.residual != nullptr ? ep.residual + n0 : nullptr;
      PassAvx2(w, k0, k1 - k0, b, ldb, panel_stride, panels, n1 - n0 - (panels - 1) * kPackedPanel,
               c + n0, ldc, ep, rt, in_place && m >= kAvx2CopyMinRows ? buf : nullptr);
      continue;
    }
    const bool first = k0 == 0;
    const bool relu = ep.relu && k1 == k;
    for (int64_t r0 = 0; r0 < m; r0 += kPackedRows) {
      const int64_t rows = std::min(kPackedRows, m - r0);
      const float* a = w.block(r0 / kWeightBlock) + k0 * kWeightBlock + r0 % kWeightBlock;
      const float* bias = ep.bias != nullptr ? ep.bias + r0 : nullptr;
      for (int64_t p = 0; p < panels; ++p) {
        const int64_t p0 = n0 + p * kPackedPanel;
        const int64_t width = std::min(n1, p0 + kPackedPanel) - p0;
        const float* b = in_place ? src.matrix + k0 * src.ld + p0 : buf + p * kKc * kPackedPanel;
        float* ct = c + r0 * ldc + p0;
        const float* rt = ep.residual != nullptr ? ep.residual + r0 * ldc + p0 : nullptr;
        const int64_t nv = (width + 15) / 16;
        const __mmask16 tail = static_cast<__mmask16>((1u << (width - (nv - 1) * 16)) - 1u);
        switch (nv) {
          case 3:
            Tile<3>(k1 - k0, a, b, ldb, ct, ldc, rows, tail, first, bias, rt, relu);
            break;
          case 2:
            Tile<2>(k1 - k0, a, b, ldb, ct, ldc, rows, tail, first, bias, rt, relu);
            break;
          default:
            Tile<1>(k1 - k0, a, b, ldb, ct, ldc, rows, tail, first, bias, rt, relu);
            break;
        }
      }
    }
  }
}

}  // namespace

PackedIsa PackedGemmIsa() {
  static const PackedIsa isa = [] {
    // For A/B measurements: STRONGROOM_ONNX_PACKED_GEMM=0 keeps im2col +
    // OpenBLAS; =avx2 runs the AVX2 tiles on an AVX-512 CPU too.
    const char* env = std::getenv("STRONGROOM_ONNX_PACKED_GEMM");
    if (env != nullptr && std::strcmp(env, "0") == 0) return PackedIsa::kNone;
    __builtin_cpu_init();
    const bool avx2 = __builtin_cpu_supports("avx2") != 0 && __builtin_cpu_supports("fma") != 0;
    if (env != nullptr && std::strcmp(env, "avx2") == 0 && avx2) return PackedIsa::kAvx2;
    if (__builtin_cpu_supports("avx512f") != 0) return PackedIsa::kAvx512;
    return avx2 ? PackedIsa::kAvx2 : PackedIsa::kNone;
  }();
  return isa;
}

bool PackedGemmAvailable() { return PackedGemmIsa() != PackedIsa::kNone; }

bool Avx512Available() { return PackedGemmIsa() == PackedIsa::kAvx512; }

PackedWeights::PackedWeights(const float* w, int64_t m, int64_t k)
    : m_(m),
      k_(k),
      data_(static_cast<size_t>((m + kWeightBlock - 1) / kWeightBlock * kWeightBlock * k) *
            sizeof(float)) {
  float* out = reinterpret_cast<float*>(data_.data());  // zero-filled: padding rows stay 0
  // Written in order, reading the block's rows side by side.
  for (int64_t r0 = 0; r0 < m; r0 += kWeightBlock) {
    const int64_t rows = std::min(kWeightBlock, m - r0);
    float* dst = out + r0 * k;
    const float* src = w + r0 * k;
    for (int64_t j = 0; j < k; ++j) {
      for (int64_t lane = 0; lane < rows; ++lane) dst[j * kWeightBlock + lane] = src[lane * k + j];
    }
  }
}

size_t PackedGemmScratchFloats(int threads, int64_t m) {
  const int64_t t = std::max(1, threads);
  // Per thread a column block of B panels; the by-channels kernel's C^T
  // (kChannelKernelMaxN rounded up to 16 columns, by each thread's slice of
  // rows rounded up to whole weight blocks plus one spare block).
  const int64_t panels = t * kKc * kBlockPanels * kPackedPanel;
  const int64_t rows = (std::max<int64_t>(m, 0) + kWeightBlock - 1) / kWeightBlock * kWeightBlock;
  return static_cast<size_t>(panels + kChannelKernelMaxN * (rows + 2 * t * kWeightBlock));
}

void PackPanel(const PanelSource& src, int64_t k0, int64_t k1, int64_t n0, int64_t n1,
               float* dst) {
  if (src.geometry != nullptr) {
    Im2ColPanel(src.image, *src.geometry, k0, k1, n0, n1, dst);
  } else {
    src.fill(k0, k1, n0, n1, dst);
  }
}

GemmKernel ChooseGemmKernel(int64_t m, int64_t k, int64_t n) {
  static const bool channels_on = [] {
    const char* env = std::getenv("STRONGROOM_ONNX_CHANNEL_KERNEL");
    return env == nullptr || std::strcmp(env, "0") != 0;
  }();
  return channels_on && n < kChannelKernelMaxN && k >= kChannelKernelMinK &&
                 m >= kChannelKernelMinM
             ? GemmKernel::kByChannels
             : GemmKernel::kByColumns;
}

void PackedGemm(ThreadPool* pool, const PackedWeights& w, int64_t n, const PanelSource& src,
                const GemmEpilogue& epilogue, float* c, int64_t ldc, float* scratch) {
  // AVX2 follows the same choice as AVX-512 (so both give the same bits):
  // with its 16-channel x 5-6 column groups the by-channels kernel beats the
  // 4 x 24 column tiles on these shapes too (Zen 3, minimum of 80 calls
  // alternating, by channels / by columns, one thread): 1000 x 512 x 169
  // 2.09-2.15 / 2.14-2.23 ms, 1024 x 256 x 196 1.25 / 1.32, 256 x 576 x 169
  // 0.56 / 0.62, 512 x 4608 x 49 3.09 / 4.14; two threads 1.43 / 1.67,
  // 0.62 / 0.70; even with K of 128-255 (256 x 128 x 196 0.159 / 0.156).
  if (ChooseGemmKernel(w.m(), w.k(), n) == GemmKernel::kByChannels) {
    PackedGemmByChannels(pool, w, n, src, epilogue, c, ldc, scratch);
  } else {
    PackedGemmByColumns(pool, w, n, src, epilogue, c, ldc, scratch);
  }
}

void PackedGemmByColumns(ThreadPool* pool, const PackedWeights& w, int64_t n,
                         const PanelSource& src, const GemmEpilogue& epilogue, float* c,
                         int64_t ldc, float* scratch) {
  PackedGemmByColumns(pool, w, n, src, epilogue, c, ldc, scratch, PackedGemmIsa());
}

void PackedGemmByColumns(ThreadPool* pool, const PackedWeights& w, int64_t n,
                         const PanelSource& src, const GemmEpilogue& epilogue, float* c,
                         int64_t ldc, float* scratch, PackedIsa isa) {
  if (n <= 0 || w.m() <= 0) return;
  const int threads = pool == nullptr ? 1 : pool->num_threads();
  const int64_t panels = (n + kPackedPanel - 1) / kPackedPanel;
  const bool parallel = threads > 1 && panels > 1 && w.m() * w.k() * n >= kParallelMacs;
  // In parallel, a whole number of equal blocks per thread, equal in vectors
  // of C rather than in whole panels: a tile's time goes with the vectors it
  // computes (it is bound by the multiply-adds), and with few panels whole
  // ones split badly: a 14x14 output (196 columns, 5 panels, the last 4
  // wide) went 144 + 52 columns to two threads; now 104 + 92 (3 and 2
  // panels, the last ones 8 and 44 wide).
  int64_t block_cols = kBlockPanels * kPackedPanel;
  if (parallel) {
    const int64_t rounds = (panels + threads * kBlockPanels - 1) / (threads * kBlockPanels);
    const int64_t share = (n + rounds * threads - 1) / (rounds * threads);
    const int64_t lanes = isa == PackedIsa::kAvx2 ? 8 : 16;
    block_cols = std::min(block_cols, (share + lanes - 1) / lanes * lanes);
  }
  const int64_t blocks = (n + block_cols - 1) / block_cols;
  if (!parallel) {
    for (int64_t blk = 0; blk < blocks; ++blk) {
      RunColumnBlock(w, blk * block_cols, std::min(n, (blk + 1) * block_cols), src, epilogue, c,
                     ldc, scratch, isa);
    }
    return;
  }
  // Thread t computes the t-th run of blocks (the same columns, so the same
  // output positions, as in the previous layer: the input it reads is
  // mostly what it wrote), and a thread done early takes blocks from the
  // back of the others' runs (a thread that started late or runs slower
  // takes fewer). Each packs into its own thread's scratch slot.
  const size_t slot_floats = static_cast<size_t>(kKc * kBlockPanels * kPackedPanel);
  pool->ParallelForByOwner(blocks, [&](int64_t b0, int64_t b1) {
    float* slot = scratch + static_cast<size_t>(pool->ThreadIndex()) * slot_floats;
    for (int64_t blk = b0; blk < b1; ++blk) {
      RunColumnBlock(w, blk * block_cols, std::min(n, (blk + 1) * block_cols), src, epilogue, c,
                     ldc, slot, isa);
    }
  });
}

}  // namespace strongroom::worker::onnx::ops
