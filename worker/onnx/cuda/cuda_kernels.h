// Internal: launchers of the CUDA backend's kernels. All pointers are
// device pointers; work is queued on `stream`. Row-major NCHW layouts as in
// the CPU kernels.
#ifndef STRONGROOM_WORKER_ONNX_CUDA_CUDA_KERNELS_H_
#define STRONGROOM_WORKER_ONNX_CUDA_CUDA_KERNELS_H_

#include <cuda_runtime_api.h>

#include <cstdint>

namespace strongroom::worker::onnx::cuda {

struct Im2ColGeometry {
  int64_t channels, h, w, kh, kw, sh, sw, dh, dw, ph, pw, oh, ow;
};

// col[(c * kh + i) * kw + j][oy * ow + ox] = x[c][oy*sh - ph + i*dh][ox*sw - pw + j*dw]
// (0 outside the input).
cudaError_t LaunchIm2Col(const float* x, const Im2ColGeometry& g, float* col, cudaStream_t stream);

// y[(n * channels + c) * positions + p] += bias[c].
cudaError_t LaunchAddBias(float* y, const float* bias, int64_t images, int64_t channels,
                          int64_t positions, cudaStream_t stream);

// y[i] = x[i] > 0 ? x[i] : 0 (NaN and -0 give +0, as the CPU kernel), i in [0, n).
cudaError_t LaunchRelu(const float* x, float* y, int64_t n, cudaStream_t stream);

// Inference BatchNormalization over [images, channels, size]:
// y = x * a[c] + b[c] with a = scale / sqrt(var + epsilon), b = bias - mean * a.
cudaError_t LaunchBatchNorm(const float* x, const float* scale, const float* bias,
                            const float* mean, const float* var, float epsilon, float* y,
                            int64_t images, int64_t channels, int64_t size, cudaStream_t stream);

// Element-wise binary operators with NumPy broadcasting. Strides are in
// elements, 0 along broadcast dims; dims and strides are the output's rank.
inline constexpr int kMaxRank = 8;
struct BroadcastGeometry {
  int rank = 0;
  int64_t dims[kMaxRank] = {};
  int64_t a_strides[kMaxRank] = {};
  int64_t b_strides[kMaxRank] = {};
};
enum class BinaryOp { kAdd, kSub, kMul, kDiv, kCopyA };
// y[i] = a[i'] op b[i''] over the output's `total` elements (kCopyA: y = a
// broadcast, b unused). y may be a when a is not broadcast.
cudaError_t LaunchBinary(BinaryOp op, const float* a, const float* b, float* y,
                         const BroadcastGeometry& g, int64_t total, cudaStream_t stream);

// 1-D and 2-D max / average pooling over `planes` planes (a 1-D pool has a
// unit y axis), with the taps, padding and count_include_pad semantics of
// the CPU kernel (worker/onnx/ops/pool.cc).
struct PoolAxis {
  int64_t in, k, s, d, pb, pe, out;
};
struct PoolGeometry {
  int64_t planes;
  PoolAxis y, x;
  bool max;
  bool count_include_pad;
};
cudaError_t LaunchPool(const float* x, float* y, const PoolGeometry& g, cudaStream_t stream);

// y[p] = the mean of x[p * size, (p + 1) * size), p in [0, planes).
cudaError_t LaunchGlobalAverage(const float* x, float* y, int64_t planes, int64_t size,
                                cudaStream_t stream);

}  // namespace strongroom::worker::onnx::cuda

#endif  // STRONGROOM_WORKER_ONNX_CUDA_CUDA_KERNELS_H_
