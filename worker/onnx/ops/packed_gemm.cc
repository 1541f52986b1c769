#include "worker/onnx/ops/packed_gemm.h"

#include <immintrin.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

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

// Columns [n0, n1) of C: for each K pass, pack the block's B panels, then
// run every weight block over them.
void RunColumnBlock(const PackedWeights& w, int64_t n0, int64_t n1, const PanelSource& src,
                    const GemmEpilogue& ep, float* c, int64_t ldc, float* scratch) {
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
    const bool first = k0 == 0;
    const bool relu = ep.relu && k1 == k;
    for (int64_t r0 = 0; r0 < m; r0 += kPackedRows) {
      const int64_t rows = std::min(kPackedRows, m - r0);
      const float* a = w.block(r0 / kWeightBlock) + k0 * kWeightBlock + r0 % kWeightBlock;
      const float* bias = ep.bias != nullptr ? ep.bias + r0 : nullptr;
      for (int64_t p = 0; p < panels; ++p) {
        const int64_t p0 = n0 + p * kPackedPanel;
        const int64_t width = std::min(n1, p0 + kPackedPanel) - p0;
        const int64_t nv = (width + 15) / 16;
        const __mmask16 tail = static_cast<__mmask16>((1u << (width - (nv - 1) * 16)) - 1u);
        const float* b = in_place ? src.matrix + k0 * src.ld + p0 : buf + p * kKc * kPackedPanel;
        float* ct = c + r0 * ldc + p0;
        const float* rt = ep.residual != nullptr ? ep.residual + r0 * ldc + p0 : nullptr;
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

bool PackedGemmAvailable() {
  static const bool available = [] {
    // For A/B measurements: STRONGROOM_ONNX_PACKED_GEMM=0 keeps im2col + OpenBLAS.
    const char* env = std::getenv("STRONGROOM_ONNX_PACKED_GEMM");
    if (env != nullptr && std::strcmp(env, "0") == 0) return false;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") != 0;
  }();
  return available;
}

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
  if (ChooseGemmKernel(w.m(), w.k(), n) == GemmKernel::kByChannels) {
    PackedGemmByChannels(pool, w, n, src, epilogue, c, ldc, scratch);
  } else {
    PackedGemmByColumns(pool, w, n, src, epilogue, c, ldc, scratch);
  }
}

void PackedGemmByColumns(ThreadPool* pool, const PackedWeights& w, int64_t n,
                         const PanelSource& src, const GemmEpilogue& epilogue, float* c,
                         int64_t ldc, float* scratch) {
  if (n <= 0 || w.m() <= 0) return;
  const int threads = pool == nullptr ? 1 : pool->num_threads();
  const int64_t panels = (n + kPackedPanel - 1) / kPackedPanel;
  const bool parallel = threads > 1 && panels > 1 && w.m() * w.k() * n >= kParallelMacs;
  // In parallel, a whole number of equal blocks per thread: 64 panels (a
  // 55x55 output) make 8 blocks of 8, not 4 + 3 blocks of 10 (the last of 4).
  int64_t per_block = kBlockPanels;
  if (parallel) {
    const int64_t rounds = (panels + threads * kBlockPanels - 1) / (threads * kBlockPanels);
    per_block = (panels + rounds * threads - 1) / (rounds * threads);
  }
  const int64_t blocks = (panels + per_block - 1) / per_block;
  const int64_t block_cols = per_block * kPackedPanel;
  if (!parallel) {
    for (int64_t blk = 0; blk < blocks; ++blk) {
      RunColumnBlock(w, blk * block_cols, std::min(n, (blk + 1) * block_cols), src, epilogue, c,
                     ldc, scratch);
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
                     ldc, slot);
    }
  });
}

}  // namespace strongroom::worker::onnx::ops
