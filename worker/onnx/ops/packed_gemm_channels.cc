// PackedGemmByChannels (packed_gemm.h): the micro-kernel for GEMMs with few
// output positions. Vectors run along the output channels (a weight block's
// 16 rows at one K step are one zmm load) and B's values are broadcast, so
// no lane is wasted when n is not a multiple of 16 (n = 49: the by-columns
// kernel fills 49 of 64 lanes). Each 48 x 8 tile of C^T lives in 24 zmm
// registers over a 128-row K pass and is accumulated into a per-thread
// C^T scratch (contiguous along the channels); after the last pass over a
// panel the epilogue transposes it into C with bias, residual and Relu.
//
// Blocking: per column panel (48 positions) and K pass (128 rows), B's panel
// (24 KiB) is packed once and stays in L1 while the weight blocks stream
// from L2 (3 x 64 bytes per K step for 24 multiply-add vectors).
//
// Without AVX-512 (PackedIsa::kAvx2) the tiles run as AVX2 groups of 16
// channels by 5 or 6 columns and the write-back transposes 8 x 8 blocks:
// the same results to the bit.
#include <immintrin.h>

#include <algorithm>
#include <array>

#include "worker/onnx/ops/packed_gemm.h"

namespace strongroom::worker::onnx::ops {
namespace {

constexpr int64_t kKc = 128;     // K rows per pass
constexpr int kTileVectors = 3;  // weight blocks (16 channels each) per tile
constexpr int kTileColumns = 8;  // positions per tile
// K steps the tile prefetches ahead, for B's row and the weight blocks. A
// 1x1 convolution's B is read in place, one line per K step 4 * n bytes
// apart, often just written by the other core (on the 2-vCPU VM such a
// line costs ~4x a local one): alternating in one process on two threads,
// m 256, k 1024, n 196 went from 627 to 540 us when the caller had just
// written B and from 486 to 456 us when neither had; light resnet50's
// 14x14 1x1 layers 7-14% faster, the whole model ~3% (1.8% with B alone).
constexpr int64_t kPrefetchSteps = 16;
// Below this many multiply-adds the pool's wake-up costs more than it saves.
constexpr int64_t kParallelMacs = int64_t{1} << 20;

int64_t RoundUp16(int64_t x) { return (x + 15) / 16 * 16; }

// C^T's row stride for weight blocks [blk0, blk1): one spare vector per row,
// since with a row length of a multiple of 1024 floats a tile's 8 rows
// would all map to the same L1 sets.
int64_t CtStride(int64_t blk0, int64_t blk1) { return (blk1 - blk0 + 1) * kWeightBlock; }

// Columns per thread in a by-columns split: whole tiles.
int64_t ColumnsPerThread(int threads, int64_t n) {
  const int64_t tiles = (n + kTileColumns - 1) / kTileColumns;
  return (tiles + threads - 1) / threads * kTileColumns;
}

// Floats of C^T scratch a by-columns split needs, and the floats that
// PackedGemmScratchFloats sets aside for C^T (after the panel slots).
int64_t CtColumnSplitFloats(int threads, int64_t blocks, int64_t n) {
  return threads * RoundUp16(ColumnsPerThread(threads, n)) * CtStride(0, blocks);
}
int64_t CtRegionFloats(int threads, int64_t m) {
  return static_cast<int64_t>(PackedGemmScratchFloats(threads, m)) -
         std::max(1, threads) * kPanelPassRows * kColumnBlockPanels * kPackedPanel;
}

// ct[j * ldt + v * 16 + lane] (+)= sum_k a[v * astride + k * 16 + lane] *
// b[k * ldb + j] for j < NC, v < MV, over kc steps.
template <int MV, int NC>
__attribute__((target("avx512f"))) void ChannelTile(int64_t kc, const float* a, int64_t astride,
                                                    const float* b, int64_t ldb, float* ct,
                                                    int64_t ldt, bool first) {
  __m512 acc[MV][NC];
#pragma GCC unroll 8
  for (int j = 0; j < NC; ++j) {
#pragma GCC unroll 3
    for (int v = 0; v < MV; ++v) {
      acc[v][j] = first ? _mm512_setzero_ps() : _mm512_load_ps(ct + j * ldt + v * 16);
    }
  }
  for (int64_t k = 0; k < kc; ++k) {
    // Past the pass's end these read nothing that could fault (prefetches
    // never do).
    _mm_prefetch(reinterpret_cast<const char*>(b + (k + kPrefetchSteps) * ldb), _MM_HINT_T0);
#pragma GCC unroll 3
    for (int v = 0; v < MV; ++v) {
      _mm_prefetch(
          reinterpret_cast<const char*>(a + v * astride + (k + kPrefetchSteps) * kWeightBlock),
          _MM_HINT_T0);
    }
    __m512 av[MV];
#pragma GCC unroll 3
    for (int v = 0; v < MV; ++v) av[v] = _mm512_load_ps(a + v * astride + k * kWeightBlock);
#pragma GCC unroll 8
    for (int j = 0; j < NC; ++j) {
      const __m512 bj = _mm512_set1_ps(b[k * ldb + j]);
#pragma GCC unroll 3
      for (int v = 0; v < MV; ++v) acc[v][j] = _mm512_fmadd_ps(av[v], bj, acc[v][j]);
    }
  }
#pragma GCC unroll 8
  for (int j = 0; j < NC; ++j) {
#pragma GCC unroll 3
    for (int v = 0; v < MV; ++v) _mm512_store_ps(ct + j * ldt + v * 16, acc[v][j]);
  }
}

// The same tile with AVX2 (16 ymm registers): each 16-channel block is two
// vectors, and the NC columns go in groups of up to six (12 accumulators).
// Every element of C^T gets the same fused multiply-adds in the same K order
// as in ChannelTile, so the results are the same bits.
template <int C>
__attribute__((target("avx2,fma"))) void ChannelGroupAvx2(int64_t kc, const float* a,
                                                          const float* b, int64_t ldb, float* ct,
                                                          int64_t ldt, bool first) {
  __m256 acc[C][2];
#pragma GCC unroll 6
  for (int j = 0; j < C; ++j) {
    acc[j][0] = first ? _mm256_setzero_ps() : _mm256_load_ps(ct + j * ldt);
    acc[j][1] = first ? _mm256_setzero_ps() : _mm256_load_ps(ct + j * ldt + 8);
  }
  for (int64_t k = 0; k < kc; ++k) {
    _mm_prefetch(reinterpret_cast<const char*>(b + (k + kPrefetchSteps) * ldb), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(a + (k + kPrefetchSteps) * kWeightBlock),
                 _MM_HINT_T0);
    const __m256 a0 = _mm256_load_ps(a + k * kWeightBlock);
    const __m256 a1 = _mm256_load_ps(a + k * kWeightBlock + 8);
#pragma GCC unroll 6
    for (int j = 0; j < C; ++j) {
      const __m256 bj = _mm256_broadcast_ss(b + k * ldb + j);
      acc[j][0] = _mm256_fmadd_ps(a0, bj, acc[j][0]);
      acc[j][1] = _mm256_fmadd_ps(a1, bj, acc[j][1]);
    }
  }
#pragma GCC unroll 6
  for (int j = 0; j < C; ++j) {
    _mm256_store_ps(ct + j * ldt, acc[j][0]);
    _mm256_store_ps(ct + j * ldt + 8, acc[j][1]);
  }
}

using GroupFn = void (*)(int64_t, const float*, const float*, int64_t, float*, int64_t, bool);
constexpr std::array<GroupFn, 6> kGroupsAvx2 = {
    &ChannelGroupAvx2<1>, &ChannelGroupAvx2<2>, &ChannelGroupAvx2<3>,
    &ChannelGroupAvx2<4>, &ChannelGroupAvx2<5>, &ChannelGroupAvx2<6>,
};

// Columns [0, nc) in groups of at most six, as even as they come (49 ->
// four of 6 and five of 5): a group keeps two accumulators per column, and
// with fewer than ~8 it cannot cover the multiply-adds' latency (the 8-column
// tiles of the AVX-512 kernel, run as 6 + 2, had their 2-column groups at
// about half speed, and a last 1-column panel at a quarter).
void ChannelSegmentAvx2(int64_t mv, int64_t nc, int64_t kc, const float* a, int64_t astride,
                        const float* b, int64_t ldb, float* ct, int64_t ldt, bool first) {
  const int64_t groups = (nc + 5) / 6;
  for (int64_t v = 0; v < mv; ++v) {
    for (int64_t g = 0, j0 = 0; g < groups; ++g) {
      const int64_t cols = (nc - j0 + groups - g - 1) / (groups - g);
      kGroupsAvx2[static_cast<size_t>(cols - 1)](kc, a + v * astride, b + j0, ldb,
                                                 ct + j0 * ldt + v * kWeightBlock, ldt, first);
      j0 += cols;
    }
  }
}

using TileFn = void (*)(int64_t, const float*, int64_t, const float*, int64_t, float*, int64_t,
                        bool);

template <int MV, int... NC>
constexpr std::array<TileFn, sizeof...(NC)> TileRow(std::integer_sequence<int, NC...>) {
  return {&ChannelTile<MV, NC + 1>...};
}

// kTiles[mv - 1][nc - 1].
constexpr std::array<std::array<TileFn, kTileColumns>, kTileVectors> kTiles = {
    TileRow<1>(std::make_integer_sequence<int, kTileColumns>()),
    TileRow<2>(std::make_integer_sequence<int, kTileColumns>()),
    TileRow<3>(std::make_integer_sequence<int, kTileColumns>()),
};

// GCC 12's unmasked unpack and shuffle intrinsics start from an undefined
// vector (_mm512_undefined_ps) that -Wmaybe-uninitialized reports; every
// lane is written.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// In place: v[i] (lane j) becomes v[j] (lane i).
__attribute__((target("avx512f"))) inline void Transpose16(__m512 v[16]) {
  __m512 t[16], u[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(v[i], v[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(v[i], v[i + 1]);
  }
  // u[4q + e], 128-bit lane L: element 4L + e of rows 4q .. 4q + 3.
  for (int q = 0; q < 4; ++q) {
    u[4 * q + 0] = _mm512_shuffle_ps(t[4 * q + 0], t[4 * q + 2], 0x44);
    u[4 * q + 1] = _mm512_shuffle_ps(t[4 * q + 0], t[4 * q + 2], 0xEE);
    u[4 * q + 2] = _mm512_shuffle_ps(t[4 * q + 1], t[4 * q + 3], 0x44);
    u[4 * q + 3] = _mm512_shuffle_ps(t[4 * q + 1], t[4 * q + 3], 0xEE);
  }
  for (int e = 0; e < 4; ++e) {
    const __m512 a0 = _mm512_shuffle_f32x4(u[e], u[4 + e], 0x88);
    const __m512 a1 = _mm512_shuffle_f32x4(u[e], u[4 + e], 0xDD);
    const __m512 b0 = _mm512_shuffle_f32x4(u[8 + e], u[12 + e], 0x88);
    const __m512 b1 = _mm512_shuffle_f32x4(u[8 + e], u[12 + e], 0xDD);
    v[e] = _mm512_shuffle_f32x4(a0, b0, 0x88);
    v[4 + e] = _mm512_shuffle_f32x4(a1, b1, 0x88);
    v[8 + e] = _mm512_shuffle_f32x4(a0, b0, 0xDD);
    v[12 + e] = _mm512_shuffle_f32x4(a1, b1, 0xDD);
  }
}
#pragma GCC diagnostic pop

// C[row][p0 + j] = relu?(C^T[j][row - row0] + bias[row] +
// residual[row][p0 + j]) for rows [row0, row1) and j < width, 16 x 16
// blocks transposed in registers. `ct` has room for whole 16-column blocks
// (columns past `width` hold stale values whose lanes are never stored).
__attribute__((target("avx512f"))) void WriteBack(const float* ct, int64_t ldt, int64_t row0,
                                                  int64_t row1, int64_t p0, int64_t width,
                                                  const GemmEpilogue& ep, float* c, int64_t ldc) {
  const __m512 zero = _mm512_setzero_ps();
  for (int64_t r0 = row0; r0 < row1; r0 += 16) {
    const int64_t rows = std::min<int64_t>(16, row1 - r0);
    for (int64_t j0 = 0; j0 < width; j0 += 16) {
      const int64_t cols = std::min<int64_t>(16, width - j0);
      const __mmask16 mask = static_cast<__mmask16>((1u << cols) - 1u);
      __m512 v[16];
      for (int j = 0; j < 16; ++j) v[j] = _mm512_load_ps(ct + (j0 + j) * ldt + (r0 - row0));
      Transpose16(v);
      for (int64_t i = 0; i < rows; ++i) {
        const int64_t row = r0 + i;
        __m512 x = v[i];
        if (ep.bias != nullptr) x = _mm512_add_ps(x, _mm512_set1_ps(ep.bias[row]));
        if (ep.residual != nullptr) {
          x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(mask, ep.residual + row * ldc + p0 + j0));
        }
        if (ep.relu) x = _mm512_maskz_max_ps(0xFFFF, x, zero);  // maskz: see Transpose16
        _mm512_mask_storeu_ps(c + row * ldc + p0 + j0, mask, x);
      }
    }
  }
}

// 8 x 8 transpose: v[j] holds 8 rows of column j in, row i of the
// result out.
__attribute__((target("avx2"), always_inline)) inline void Transpose8(__m256 v[8]) {
  __m256 t[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(v[i], v[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(v[i], v[i + 1]);
  }
  __m256 u[8];
  for (int i = 0; i < 8; i += 4) {
    u[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int i = 0; i < 4; ++i) {
    v[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
    v[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
  }
}

// WriteBack without AVX-512: the same additions in the same order (C^T,
// then the bias, then the residual), and Relu as max(x, 0) picks (0 for NaN
// and -0). Whole 8 x 8 blocks are transposed in registers (C^T is read a
// row of 8 channels at a time, not an element per cache line); the rest
// element by element.
__attribute__((target("avx2"))) void WriteBackAvx2(const float* ct, int64_t ldt, int64_t row0,
                                                   int64_t row1, int64_t p0, int64_t width,
                                                   const GemmEpilogue& ep, float* c, int64_t ldc) {
  const __m256 zero = _mm256_setzero_ps();
  const int64_t rows8 = row0 + (row1 - row0) / 8 * 8, width8 = width / 8 * 8;
  for (int64_t r = row0; r < rows8; r += 8) {
    for (int64_t j = 0; j < width8; j += 8) {
      __m256 v[8];
      for (int i = 0; i < 8; ++i) v[i] = _mm256_loadu_ps(ct + (j + i) * ldt + (r - row0));
      Transpose8(v);
      for (int i = 0; i < 8; ++i) {
        __m256 x = v[i];
        if (ep.bias != nullptr) x = _mm256_add_ps(x, _mm256_set1_ps(ep.bias[r + i]));
        if (ep.residual != nullptr) {
          x = _mm256_add_ps(x, _mm256_loadu_ps(ep.residual + (r + i) * ldc + p0 + j));
        }
        if (ep.relu) x = _mm256_max_ps(x, zero);
        _mm256_storeu_ps(c + (r + i) * ldc + p0 + j, x);
      }
    }
  }
  const auto one = [&](int64_t row, int64_t j) {
    float x = ct[j * ldt + (row - row0)];
    if (ep.bias != nullptr) x += ep.bias[row];
    if (ep.residual != nullptr) x += ep.residual[row * ldc + p0 + j];
    if (ep.relu) x = x > 0.0f ? x : 0.0f;
    c[row * ldc + p0 + j] = x;
  };
  for (int64_t row = row0; row < rows8; ++row) {
    for (int64_t j = width8; j < width; ++j) one(row, j);
  }
  for (int64_t row = rows8; row < row1; ++row) {
    for (int64_t j = 0; j < width; ++j) one(row, j);
  }
}

// Weight blocks [blk0, blk1) (rows blk0 * 16 ...) over columns [n0, n1)
// (n1 - n0 < kChannelKernelMaxN): `buf` holds the K pass's packed B panels
// (kPackedPanel columns each, kKc rows), `ct` (n1 - n0) x ldt floats.
void RunChannelSlice(const PackedWeights& w, int64_t blk0, int64_t blk1, int64_t n0, int64_t n1,
                     const PanelSource& src, const GemmEpilogue& ep, float* c, int64_t ldc,
                     float* buf, float* ct) {
  const int64_t k = w.k();
  const bool avx512 = Avx512Available();  // else the AVX2 tiles
  const int64_t ldt = CtStride(blk0, blk1);
  const int64_t astride = k * kWeightBlock;  // floats between weight blocks
  const bool in_place = src.matrix != nullptr;
  const int64_t width = n1 - n0;
  const int64_t panels = (width + kPackedPanel - 1) / kPackedPanel;
  // Panel p packs columns [start(p), start(p + 1)) of the slice. The
  // AVX-512 tiles (8 columns) must not straddle panels: whole 48-column
  // panels. The AVX2 groups take any width: panels as even as they come
  // (49 -> 24 + 25, not 48 + 1).
  const auto start = [&](int64_t p) {
    return avx512 ? std::min(width, p * kPackedPanel) : p * width / panels;
  };
  for (int64_t k0 = 0; k0 < k; k0 += kKc) {
    const int64_t k1 = std::min(k, k0 + kKc);
    for (int64_t p = 0; !in_place && p < panels; ++p) {
      PackPanel(src, k0, k1, n0 + start(p), n0 + start(p + 1), buf + p * kKc * kPackedPanel);
    }
    const bool first = k0 == 0;
    const int64_t ldb = in_place ? src.ld : kPackedPanel;
    // The weight blocks' K pass (3 x 8 KiB) stays in L1 while every column
    // passes over it.
    for (int64_t blk = blk0; blk < blk1; blk += kTileVectors) {
      const int64_t mv = std::min<int64_t>(kTileVectors, blk1 - blk);
      const float* a = w.block(blk) + k0 * kWeightBlock;
      float* ct_rows = ct + (blk - blk0) * kWeightBlock;
      if (!avx512) {
        // In place, B's rows hold the whole slice: one run of groups.
        for (int64_t p = 0; p < (in_place ? 1 : panels); ++p) {
          const int64_t j0 = in_place ? 0 : start(p);
          const int64_t nc = in_place ? width : start(p + 1) - j0;
          const float* b = in_place ? src.matrix + k0 * src.ld + n0 : buf + p * kKc * kPackedPanel;
          ChannelSegmentAvx2(mv, nc, k1 - k0, a, astride, b, ldb, ct_rows + j0 * ldt, ldt, first);
        }
        continue;
      }
      for (int64_t j0 = 0; j0 < width; j0 += kTileColumns) {
        // Tiles never straddle a panel: kPackedPanel is a multiple of 8.
        const int64_t nc = std::min<int64_t>(kTileColumns, width - j0);
        const float* b = in_place
                             ? src.matrix + k0 * src.ld + n0 + j0
                             : buf + (j0 / kPackedPanel) * kKc * kPackedPanel + j0 % kPackedPanel;
        kTiles[static_cast<size_t>(mv - 1)][static_cast<size_t>(nc - 1)](
            k1 - k0, a, astride, b, ldb, ct_rows + j0 * ldt, ldt, first);
      }
    }
  }
  const int64_t row1 = std::min(w.m(), blk1 * kWeightBlock);
  if (avx512) {
    WriteBack(ct, ldt, blk0 * kWeightBlock, row1, n0, width, ep, c, ldc);
  } else {
    WriteBackAvx2(ct, ldt, blk0 * kWeightBlock, row1, n0, width, ep, c, ldc);
  }
}

// Floats of what B is read or packed from: the matrix itself, or the
// convolution's input planes.
int64_t SourceFloats(const PanelSource& src, int64_t k, int64_t n) {
  if (src.geometry != nullptr) {
    const ConvGeometry& g = *src.geometry;
    return k / std::max<int64_t>(1, g.kh * g.kw) * g.h * g.w;
  }
  return k * n;
}

}  // namespace

ChannelSplit ChooseChannelSplit(int threads, int64_t m, int64_t k, int64_t n,
                                int64_t source_floats) {
  const int64_t blocks = (m + kWeightBlock - 1) / kWeightBlock;
  if (threads <= 1 || CtColumnSplitFloats(threads, blocks, n) > CtRegionFloats(threads, m)) {
    return ChannelSplit::kByBlocks;
  }
  if (m * k < source_floats) return ChannelSplit::kByColumns;
  // Idle share of a split by blocks: the slowest thread's extra blocks.
  const int64_t per = (blocks + threads - 1) / threads;
  const bool uneven = (per * threads - blocks) * 8 > blocks;
  return uneven ? ChannelSplit::kByColumns : ChannelSplit::kByBlocks;
}

void PackedGemmByChannels(ThreadPool* pool, const PackedWeights& w, int64_t n,
                          const PanelSource& src, const GemmEpilogue& epilogue, float* c,
                          int64_t ldc, float* scratch) {
  const int threads = pool == nullptr ? 1 : pool->num_threads();
  PackedGemmByChannels(pool, w, n, src, epilogue, c, ldc, scratch,
                       ChooseChannelSplit(threads, w.m(), w.k(), n, SourceFloats(src, w.k(), n)));
}

void PackedGemmByChannels(ThreadPool* pool, const PackedWeights& w, int64_t n,
                          const PanelSource& src, const GemmEpilogue& epilogue, float* c,
                          int64_t ldc, float* scratch, ChannelSplit split) {
  if (n <= 0 || w.m() <= 0) return;
  if (n >= kChannelKernelMaxN) {  // the scratch holds C^T for fewer columns only
    PackedGemmByColumns(pool, w, n, src, epilogue, c, ldc, scratch);
    return;
  }
  const int threads = pool == nullptr ? 1 : pool->num_threads();
  const int64_t blocks = w.blocks();
  const size_t slot_floats =
      static_cast<size_t>(kPanelPassRows * kColumnBlockPanels * kPackedPanel);
  float* ct_region = scratch + static_cast<size_t>(std::max(1, threads)) * slot_floats;
  const bool parallel = threads > 1 && w.m() * w.k() * n >= kParallelMacs;
  if (split == ChannelSplit::kByColumns &&
      CtColumnSplitFloats(threads, blocks, n) > CtRegionFloats(threads, w.m())) {
    split = ChannelSplit::kByBlocks;
  }
  if (!parallel || (split == ChannelSplit::kByBlocks && blocks == 1)) {
    RunChannelSlice(w, 0, blocks, 0, n, src, epilogue, c, ldc, scratch, ct_region);
    return;
  }
  if (split == ChannelSplit::kByColumns) {
    // Thread t (ParallelForByOwner: the same thread for the same columns in
    // every layer) takes whole tiles of columns, every weight block; its C^T
    // scratch (a column run rounded up to 16 for WriteBack) follows the
    // previous thread's.
    const int64_t per = ColumnsPerThread(threads, n);
    const size_t ct_floats = static_cast<size_t>(RoundUp16(per) * CtStride(0, blocks));
    pool->ParallelForByOwner(threads, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t n0 = std::min(n, t * per);
        const int64_t n1 = std::min(n, n0 + per);
        if (n0 >= n1) continue;
        RunChannelSlice(w, 0, blocks, n0, n1, src, epilogue, c, ldc,
                        scratch + static_cast<size_t>(t) * slot_floats,
                        ct_region + static_cast<size_t>(t) * ct_floats);
      }
    });
    return;
  }
  // Thread t takes a contiguous slice of weight blocks; its C^T scratch
  // starts at the slice's first row.
  const int64_t per = (blocks + threads - 1) / threads;
  pool->ParallelForByOwner(threads, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t blk0 = std::min(blocks, t * per);
      const int64_t blk1 = std::min(blocks, blk0 + per);
      if (blk0 >= blk1) continue;
      RunChannelSlice(
          w, blk0, blk1, 0, n, src, epilogue, c, ldc,
          scratch + static_cast<size_t>(t) * slot_floats,
          ct_region + static_cast<size_t>((blk0 + t) * kWeightBlock * kChannelKernelMaxN));
    }
  });
}

}  // namespace strongroom::worker::onnx::ops
