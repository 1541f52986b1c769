// A direct 3x3 convolution (stride 1, dilation 1, one pixel of zero padding
// on every side, one group) for AVX-512 CPUs, on the weights PackedGemm
// already holds (packed_gemm.h): no im2col panels.
//
// The input is copied once into zero-bordered planes of (h + 2) x (w + 2)
// floats. With rows that wide, output position (oy, ox) lies at q = oy *
// (w + 2) + ox in the same flat numbering, and its tap (i, j) at q + i *
// (w + 2) + j in the bordered plane: each of the nine taps of every input
// channel is one contiguous run, read in place. A tile computes 8 output
// channels x 48 consecutive q (3 zmm per channel, 24 accumulators); the two
// border columns each row contributes to q are computed and dropped (2 /
// (w + 2) of the work: 3.4% at 56 wide, 12.5% at 14). The tile's input is
// (48 + 2 (w + 2) + 2) floats per channel, so it stays in L1 / L2 while
// every weight block passes over it, where the im2col path streams a packed
// 256 x 480 block of B from L2 per pass (docs/bench.md, "Seventeenth pass").
//
// The sums are those of PackedGemm's by-columns kernel to the bit: the
// bias, then the residual, then one fused multiply-add per K step, K in the
// im2col order ((c * 3 + i) * 3 + j).
#ifndef STRONGROOM_WORKER_ONNX_OPS_DIRECT_CONV_H_
#define STRONGROOM_WORKER_ONNX_OPS_DIRECT_CONV_H_

#include <cstddef>
#include <cstdint>

#include "worker/onnx/ops/packed_gemm.h"
#include "worker/onnx/thread_pool.h"

namespace strongroom::worker::onnx::ops {

// The narrowest input the kernel takes: with rows of at least 9 floats a
// 16-lane vector of q touches at most three output rows.
inline constexpr int64_t kDirectConvMinWidth = 7;
// The fewest output positions for which a convolution runs here rather than
// through PackedGemm: below, PackedGemm's by-channels kernel wins
// (resnet50's 14x14 and 7x7 stages, squeezenet's 13x13: 1.1-1.7x the
// direct kernel's time), above it the direct kernel (56x56, 55x55, 28x28,
// 27x27: 0.82-0.99x PackedGemm's; docs/bench.md, "Seventeenth pass").
inline constexpr int64_t kDirectConvMinPositions = 256;

// Whether DirectConv3x3 can compute this convolution: an AVX-512 CPU, a 3x3
// kernel, strides and dilations 1, one pixel of padding on every side (so
// oh = h, ow = w), w at least kDirectConvMinWidth, and `channels` (input
// channels, for K = channels x 9) matching the packed weights' K.
bool DirectConv3x3Fits(const ConvGeometry& g, int64_t channels, const PackedWeights& w);
// Whether Conv runs it so: it fits, has at least kDirectConvMinPositions
// output positions, and STRONGROOM_ONNX_DIRECT_CONV is not 0 (A/B
// measurements).
bool UseDirectConv3x3(const ConvGeometry& g, int64_t channels, const PackedWeights& w);

// Floats of scratch DirectConv3x3 needs for `channels` planes under `g`.
size_t DirectConv3x3ScratchFloats(const ConvGeometry& g, int64_t channels);

// y[m][oy * w + ox] (leading dimension ldc between output channels) =
// relu?(bias[m] + residual[m][...] + sum over c, i, j of W[m][(c * 3 + i) *
// 3 + j] * x[c][oy + i - 1][ox + j - 1]), x being `channels` planes of h x w.
// The residual, when set, has y's layout (leading dimension ldc). `pool`
// may be null (one thread). Only after DirectConv3x3Fits.
void DirectConv3x3(ThreadPool* pool, const PackedWeights& w, const float* x, int64_t channels,
                   const ConvGeometry& g, const GemmEpilogue& epilogue, float* y, int64_t ldc,
                   float* scratch);

}  // namespace strongroom::worker::onnx::ops

#endif  // STRONGROOM_WORKER_ONNX_OPS_DIRECT_CONV_H_
