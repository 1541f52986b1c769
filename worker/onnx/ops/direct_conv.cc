#include "worker/onnx/ops/direct_conv.h"

#include <immintrin.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace strongroom::worker::onnx::ops {
namespace {

// Output positions (flat q) per tile: 3 zmm.
constexpr int64_t kTileQ = 48;
// Floats past the last bordered plane that a tile's loads may reach (the
// border columns' and the last tile's lanes, never stored): fewer than 48.
constexpr int64_t kGuard = 64;
// Below this many multiply-adds the pool's wake-up costs more than it saves
// (as in packed_gemm.cc).
constexpr int64_t kParallelMacs = int64_t{1} << 20;

// Lanes of one vector of q that belong to one output row: lane l goes to
// y[offset + l] (q = oy * (w + 2) + ox is output oy * w + ox, so offset =
// q_first - 2 * oy). A vector's border-column lanes and those past the last
// position belong to none.
struct Piece {
  __mmask16 mask;
  int64_t offset;
};
struct VectorMap {
  int count = 0;
  Piece piece[3];
};

VectorMap MapVector(int64_t qv, int64_t q_end, int64_t row, int64_t w) {
  VectorMap out;
  int64_t lane = 0;
  while (lane < 16 && qv + lane < q_end) {
    const int64_t q = qv + lane;
    const int64_t oy = q / row, ox = q - oy * row;
    if (ox >= w) {  // a border column
      lane += row - ox;
      continue;
    }
    const int64_t len = std::min({16 - lane, w - ox, q_end - q});
    out.piece[out.count++] = {static_cast<__mmask16>(((1u << len) - 1u) << lane), qv - 2 * oy};
    lane += len;
  }
  return out;
}

// 8 output channels (`rows` of them stored) x 48 q from `x` (the tile's first
// q in the first bordered plane), over every input channel and tap; the
// epilogue as in PackedGemm's Tile (bias, then residual, then the sums in K
// order, then Relu).
__attribute__((target("avx512f"))) void DirectTile(int64_t channels, const float* a, const float* x,
                                                   int64_t plane, int64_t row, const VectorMap* map,
                                                   float* y, int64_t ldc, int64_t rows,
                                                   const float* bias, const float* residual,
                                                   bool relu) {
  constexpr int kNv = 3;
  __m512 acc[kPackedRows][kNv];
  const __m512 zero = _mm512_setzero_ps();
#pragma GCC unroll 8
  for (int r = 0; r < kPackedRows; ++r) {
#pragma GCC unroll 3
    for (int v = 0; v < kNv; ++v) {
      acc[r][v] = bias != nullptr && r < rows ? _mm512_set1_ps(bias[r]) : zero;
      if (residual != nullptr && r < rows) {
        __m512 rv = zero;
        for (int p = 0; p < map[v].count; ++p) {
          rv = _mm512_mask_loadu_ps(rv, map[v].piece[p].mask,
                                    residual + r * ldc + map[v].piece[p].offset);
        }
        acc[r][v] = _mm512_add_ps(acc[r][v], rv);
      }
    }
  }
  for (int64_t c = 0; c < channels; ++c, x += plane) {
#pragma GCC unroll 3
    for (int i = 0; i < 3; ++i) {
#pragma GCC unroll 3
      for (int j = 0; j < 3; ++j, a += kWeightBlock) {
        const float* b = x + i * row + j;
        __m512 bv[kNv];
#pragma GCC unroll 3
        for (int v = 0; v < kNv; ++v) bv[v] = _mm512_loadu_ps(b + v * 16);
#pragma GCC unroll 8
        for (int r = 0; r < kPackedRows; ++r) {
          const __m512 ar = _mm512_set1_ps(a[r]);
#pragma GCC unroll 3
          for (int v = 0; v < kNv; ++v) acc[r][v] = _mm512_fmadd_ps(ar, bv[v], acc[r][v]);
        }
      }
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < kPackedRows; ++r) {
    if (r >= rows) break;
#pragma GCC unroll 3
    for (int v = 0; v < kNv; ++v) {
      __m512 out = acc[r][v];
      if (relu) out = _mm512_maskz_max_ps(0xFFFF, out, zero);
      for (int p = 0; p < map[v].count; ++p) {
        _mm512_mask_storeu_ps(y + r * ldc + map[v].piece[p].offset, map[v].piece[p].mask, out);
      }
    }
  }
}

bool DirectConvEnabled() {
  static const bool on = [] {
    const char* env = std::getenv("STRONGROOM_ONNX_DIRECT_CONV");
    return env == nullptr || std::strcmp(env, "0") != 0;
  }();
  return on;
}

}  // namespace

bool DirectConv3x3Fits(const ConvGeometry& g, int64_t channels, const PackedWeights& w) {
  return Avx512Available() && g.kh == 3 && g.kw == 3 && g.sh == 1 && g.sw == 1 && g.dh == 1 &&
         g.dw == 1 && g.ph == 1 && g.pw == 1 && g.oh == g.h && g.ow == g.w &&
         g.w >= kDirectConvMinWidth && channels > 0 && w.k() == channels * 9;
}

bool UseDirectConv3x3(const ConvGeometry& g, int64_t channels, const PackedWeights& w) {
  return DirectConv3x3Fits(g, channels, w) && g.oh * g.ow >= kDirectConvMinPositions &&
         DirectConvEnabled();
}

size_t DirectConv3x3ScratchFloats(const ConvGeometry& g, int64_t channels) {
  return static_cast<size_t>(channels * (g.h + 2) * (g.w + 2) + kGuard);
}

void DirectConv3x3(ThreadPool* pool, const PackedWeights& w, const float* x, int64_t channels,
                   const ConvGeometry& g, const GemmEpilogue& ep, float* y, int64_t ldc,
                   float* scratch) {
  const int64_t row = g.w + 2, plane = (g.h + 2) * row, m = w.m();
  const int64_t q_end = (g.oh - 1) * row + g.ow;  // one past the last output's q
  const int64_t tiles = (q_end + kTileQ - 1) / kTileQ;
  const int threads = pool == nullptr ? 1 : pool->num_threads();
  const bool parallel = threads > 1 && tiles > 1 && m * w.k() * q_end >= kParallelMacs;
  // The bordered planes, split by rows so that a thread copies the rows of
  // the positions it computes (and, after a split by positions, wrote).
  auto pad = [&](int64_t r0, int64_t r1) {
    for (int64_t c = 0; c < channels; ++c) {
      float* dst = scratch + c * plane;
      const float* src = x + c * g.h * g.w;
      for (int64_t pr = r0; pr < r1; ++pr) {
        float* d = dst + pr * row;
        if (pr == 0 || pr == g.h + 1) {
          std::memset(d, 0, static_cast<size_t>(row) * sizeof(float));
          continue;
        }
        d[0] = 0.0f;
        std::memcpy(d + 1, src + (pr - 1) * g.w, static_cast<size_t>(g.w) * sizeof(float));
        d[g.w + 1] = 0.0f;
      }
    }
  };
  std::memset(scratch + channels * plane, 0, kGuard * sizeof(float));
  auto run = [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t q0 = t * kTileQ;
      VectorMap map[3];
      for (int v = 0; v < 3; ++v) map[v] = MapVector(q0 + 16 * v, q_end, row, g.w);
      for (int64_t r0 = 0; r0 < m; r0 += kPackedRows) {
        const float* a = w.block(r0 / kWeightBlock) + r0 % kWeightBlock;
        DirectTile(channels, a, scratch + q0, plane, row, map, y + r0 * ldc, ldc,
                   std::min(kPackedRows, m - r0), ep.bias != nullptr ? ep.bias + r0 : nullptr,
                   ep.residual != nullptr ? ep.residual + r0 * ldc : nullptr, ep.relu);
      }
    }
  };
  if (!parallel) {
    pad(0, g.h + 2);
    run(0, tiles);
    return;
  }
  pool->ParallelForByOwner(g.h + 2, pad);
  pool->ParallelForByOwner(tiles, run);
}

}  // namespace strongroom::worker::onnx::ops
