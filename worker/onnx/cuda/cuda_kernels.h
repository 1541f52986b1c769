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

}  // namespace strongroom::worker::onnx::cuda

#endif  // STRONGROOM_WORKER_ONNX_CUDA_CUDA_KERNELS_H_
