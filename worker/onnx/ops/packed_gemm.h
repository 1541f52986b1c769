// An AVX-512 single-precision GEMM for convolutions, C[M,N] (+)= W[M,K] *
// B[K,N], with the weights W packed once (at Session::Create, see
// ConvOp::WithConstants) and B packed panel by panel as it is needed (an
// implicit im2col, Im2ColPanel: the column matrix is never materialized
// whole; a 1x1 convolution's input is read in place), plus the
// convolution's epilogue (bias, residual, Relu) applied in registers.
//
// Why not OpenBLAS: for the convolutions of the usual vision models (K a few
// dozen to a few thousand, N = output positions, M = output channels, often
// 16-64) OpenBLAS 0.3.21 re-packs both operands on every call, cblas_sgemm's
// fixed costs weigh on the small GEMMs, and im2col and the bias / Relu passes
// each go over memory; here the weights are packed once and B is packed
// straight from the input, in cache (docs/bench.md, "Third pass").
//
// Layout: W in blocks of kPackedRows output channels, k-major within a block
// ([block][k][kPackedRows], the last block zero-padded). B panels of at most
// kPackedPanel columns, k-major ([k][kPackedPanel]). The micro-kernel keeps
// an 8 x 48 tile of C in 24 zmm registers; K is taken 256 rows at a time.
//
// Portability: the kernels are compiled with __attribute__((target)) and
// only called after PackedGemmAvailable(); the rest of the library stays
// baseline x86-64.
//
// Thread-safety: PackedWeights is immutable once built; PackedGemm may run
// concurrently on distinct C and scratch.
#ifndef STRONGROOM_WORKER_ONNX_OPS_PACKED_GEMM_H_
#define STRONGROOM_WORKER_ONNX_OPS_PACKED_GEMM_H_

#include <cstdint>
#include <functional>
#include <memory>

#include "worker/onnx/tensor.h"
#include "worker/onnx/thread_pool.h"

namespace strongroom::worker::onnx::ops {

inline constexpr int64_t kPackedRows = 8;    // output channels per micro-tile
inline constexpr int64_t kPackedPanel = 48;  // columns per micro-tile (3 zmm)

// True when this CPU runs the AVX-512 kernel (AVX-512F; checked once).
// Otherwise callers keep their portable path (im2col + OpenBLAS).
bool PackedGemmAvailable();

// W[M,K] row-major (leading dimension K) in the micro-kernel's layout.
class PackedWeights {
 public:
  PackedWeights(const float* w, int64_t m, int64_t k);
  int64_t m() const { return m_; }
  int64_t k() const { return k_; }
  // Block `b` (rows b*kPackedRows ...): k() * kPackedRows floats.
  const float* block(int64_t b) const {
    return reinterpret_cast<const float*>(data_.data()) + b * k_ * kPackedRows;
  }

 private:
  int64_t m_, k_;
  AlignedBuffer data_;
};

// Writes B[k][n] for k in [k0, k1) and n in [n0, n1) (n1 - n0 <= kPackedPanel)
// to dst[(k - k0) * kPackedPanel + (n - n0)].
using PanelFiller =
    std::function<void(int64_t k0, int64_t k1, int64_t n0, int64_t n1, float* dst)>;

// A 2-D convolution's geometry (a 1-D one has h = kh = oh = 1): input
// h x w, kernel kh x kw, strides, dilations, leading pads, output oh x ow.
struct ConvGeometry {
  int64_t h, w, kh, kw, sh, sw, dh, dw, ph, pw, oh, ow;
};

// Where B comes from: a row-major matrix read in place (`matrix`, leading
// dimension `ld`; a 1x1 convolution's input); or the im2col matrix of the
// planes at `image` under `geometry` (row k = (c * kh + i) * kw + j, column
// n = oy * ow + ox), packed panel by panel; or else panels packed by `fill`.
struct PanelSource {
  const float* matrix = nullptr;
  int64_t ld = 0;
  const float* image = nullptr;
  const ConvGeometry* geometry = nullptr;
  PanelFiller fill;
};

// Rows [k0, k1) and columns [n0, n1) (n1 - n0 <= kPackedPanel) of the im2col
// matrix of `image` under `g`, packed (row stride kPackedPanel).
void Im2ColPanel(const float* image, const ConvGeometry& g, int64_t k0, int64_t k1, int64_t n0,
                 int64_t n1, float* dst);

struct GemmEpilogue {
  const float* bias = nullptr;      // [M], or null
  const float* residual = nullptr;  // [M, N] with leading dimension ldc, or null
  bool relu = false;
};

// Floats of 64-byte-aligned scratch PackedGemm needs with `threads` threads.
size_t PackedGemmScratchFloats(int threads);

// C[m][n] = relu?(bias[m] + residual[m][n] + sum_k W[m][k] * B[k][n]) for
// n in [0, n), C with leading dimension ldc. `pool` may be null (one
// thread). `scratch`: PackedGemmScratchFloats(pool's threads) floats, 64-byte
// aligned (the packed panels; a session's scratch, wiped with it).
void PackedGemm(ThreadPool* pool, const PackedWeights& w, int64_t n, const PanelSource& b,
                const GemmEpilogue& epilogue, float* c, int64_t ldc, float* scratch);

}  // namespace strongroom::worker::onnx::ops

#endif  // STRONGROOM_WORKER_ONNX_OPS_PACKED_GEMM_H_
