// An AVX-512 (or AVX2) single-precision GEMM for convolutions, C[M,N] (+)= W[M,K] *
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
// straight from the input, in cache (docs/bench.md, "Third pass" and
// "Fourth pass").
//
// Layout: W in blocks of kWeightBlock (16) output channels, k-major within
// a block ([block][k][16], the last block zero-padded). B panels of at most
// kPackedPanel columns, k-major ([k][kPackedPanel]). Two micro-kernels:
//  - by columns (the default): an 8 x 48 tile of C in 24 zmm registers,
//    vectors along the output positions (B rows), weights broadcast; K is
//    taken 256 rows at a time.
//  - by channels, for few output positions (n < kChannelKernelMaxN: the
//    7x7 and 14x14 stages of the usual vision models, where 48-column
//    panels leave lanes empty, e.g. n = 49 fills 49 of 64): a 48 x 8 tile
//    with vectors along the output channels (the weights' 16-row blocks),
//    B broadcast, accumulated into a transposed scratch C^T that the
//    epilogue writes back (with bias, residual, Relu); K 128 rows at a time.
//
// Portability: the kernels are compiled with __attribute__((target)) and
// only called after PackedGemmAvailable() (both kernels, with AVX2 tiles
// where the CPU lacks AVX-512); the rest of the library stays baseline
// x86-64.
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

inline constexpr int64_t kPackedRows = 8;    // output channels per by-columns tile
inline constexpr int64_t kWeightBlock = 16;  // output channels per packed weight block
inline constexpr int64_t kPackedPanel = 48;  // columns per panel (3 zmm)
// B rows per K pass and panels per column block of the by-columns kernel
// (its per-thread scratch: kPanelPassRows x kColumnBlockPanels panels).
inline constexpr int64_t kPanelPassRows = 256;
inline constexpr int64_t kColumnBlockPanels = 10;
// The by-channels kernel runs GEMMs with fewer output positions than this
// and at least kChannelKernelMinK / kChannelKernelMinM (its epilogue
// transposes C, which pays off only over a long enough reduction).
inline constexpr int64_t kChannelKernelMaxN = 256;
inline constexpr int64_t kChannelKernelMinK = 128;
inline constexpr int64_t kChannelKernelMinM = 32;

// Which tiles the by-columns kernel runs on this CPU (checked once): AVX-512F,
// else AVX2 with FMA (4 x 24 tiles in 16 registers, the same results to the
// bit), else none, and callers keep their portable path (im2col +
// OpenBLAS). STRONGROOM_ONNX_PACKED_GEMM=0 forces none, =avx2 the AVX2 tiles.
// The by-channels kernel follows PackedGemmIsa() too.
enum class PackedIsa { kNone, kAvx2, kAvx512 };
PackedIsa PackedGemmIsa();
// PackedGemmIsa() != kNone: PackedGemm can be called.
bool PackedGemmAvailable();
// PackedGemmIsa() == kAvx512: the other AVX-512 kernels (ops/gemv.h, the
// pooling kernels) can be called.
bool Avx512Available();

// W[M,K] row-major (leading dimension K) in the micro-kernel's layout.
class PackedWeights {
 public:
  PackedWeights(const float* w, int64_t m, int64_t k);
  int64_t m() const { return m_; }
  int64_t k() const { return k_; }
  // Block `b` (rows b*kWeightBlock ...): k() * kWeightBlock floats, row r
  // of step j at [j * kWeightBlock + r]. 64-byte aligned.
  const float* block(int64_t b) const {
    return reinterpret_cast<const float*>(data_.data()) + b * k_ * kWeightBlock;
  }
  int64_t blocks() const { return (m_ + kWeightBlock - 1) / kWeightBlock; }

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

// Floats of 64-byte-aligned scratch PackedGemm needs with `threads` threads
// for W with `m` rows.
size_t PackedGemmScratchFloats(int threads, int64_t m);

// C[m][n] = relu?(bias[m] + residual[m][n] + sum_k W[m][k] * B[k][n]) for
// n in [0, n), C with leading dimension ldc. `pool` may be null (one
// thread). `scratch`: PackedGemmScratchFloats(pool's threads) floats, 64-byte
// aligned (the packed panels; a session's scratch, wiped with it).
void PackedGemm(ThreadPool* pool, const PackedWeights& w, int64_t n, const PanelSource& b,
                const GemmEpilogue& epilogue, float* c, int64_t ldc, float* scratch);

// Which micro-kernel PackedGemm picks (see the layout note above); the
// STRONGROOM_ONNX_CHANNEL_KERNEL=0 environment variable turns the
// by-channels one off (A/B measurements).
enum class GemmKernel { kByColumns, kByChannels };
GemmKernel ChooseGemmKernel(int64_t m, int64_t k, int64_t n);

// How the by-channels kernel shares a GEMM among threads: contiguous runs
// of weight blocks (every column each; each thread reads only its share of
// the weights, and all of B), or runs of columns (every weight block each,
// and only its own columns of B, which the previous layer's split by
// output positions mostly wrote on the same core). By columns, where the
// per-thread C^T fits the scratch, when either
//  - the weights (m * k floats) are smaller than B's source
//    (`source_floats`: the input the columns are read or im2col-packed
//    from), so reading all of them costs less than reading the half of B
//    another core wrote (~4x a local line on the 2-vCPU VM); or
//  - the blocks do not divide evenly enough among the threads (m 48 is
//    3 blocks: 2 + 1 leaves one thread idle a third of the time);
// by blocks otherwise.
enum class ChannelSplit { kByBlocks, kByColumns };
ChannelSplit ChooseChannelSplit(int threads, int64_t m, int64_t k, int64_t n,
                                int64_t source_floats);

// Internal to PackedGemm, exposed for tests that run each kernel (and each
// split) on the same shape: the by-columns and by-channels GEMMs.
void PackedGemmByColumns(ThreadPool* pool, const PackedWeights& w, int64_t n,
                         const PanelSource& b, const GemmEpilogue& epilogue, float* c,
                         int64_t ldc, float* scratch);
// With the given tiles (kAvx2 or kAvx512; the CPU must have them).
void PackedGemmByColumns(ThreadPool* pool, const PackedWeights& w, int64_t n, const PanelSource& b,
                         const GemmEpilogue& epilogue, float* c, int64_t ldc, float* scratch,
                         PackedIsa isa);
void PackedGemmByChannels(ThreadPool* pool, const PackedWeights& w, int64_t n,
                          const PanelSource& b, const GemmEpilogue& epilogue, float* c,
                          int64_t ldc, float* scratch);
void PackedGemmByChannels(ThreadPool* pool, const PackedWeights& w, int64_t n,
                          const PanelSource& b, const GemmEpilogue& epilogue, float* c,
                          int64_t ldc, float* scratch, ChannelSplit split);
// Rows [k0, k1) and columns [n0, n1) of B from `src`, packed with row stride
// kPackedPanel (src.matrix is not packed: callers read it in place).
void PackPanel(const PanelSource& src, int64_t k0, int64_t k1, int64_t n0, int64_t n1,
               float* dst);

}  // namespace strongroom::worker::onnx::ops

#endif  // STRONGROOM_WORKER_ONNX_OPS_PACKED_GEMM_H_
