#include "worker/onnx/cuda/cuda_kernels.h"

namespace strongroom::worker::onnx::cuda {
namespace {

constexpr int kThreads = 256;

int Blocks(int64_t n) {
  const int64_t b = (n + kThreads - 1) / kThreads;
  return static_cast<int>(b < 65535 * 32 ? b : 65535 * 32);
}

__global__ void Im2ColKernel(const float* x, Im2ColGeometry g, float* col, int64_t total) {
  const int64_t positions = g.oh * g.ow;
  for (int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; idx < total;
       idx += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t p = idx % positions;
    const int64_t row = idx / positions;
    const int64_t j = row % g.kw;
    const int64_t i = (row / g.kw) % g.kh;
    const int64_t c = row / (g.kw * g.kh);
    const int64_t iy = (p / g.ow) * g.sh - g.ph + i * g.dh;
    const int64_t ix = (p % g.ow) * g.sw - g.pw + j * g.dw;
    col[idx] = iy >= 0 && iy < g.h && ix >= 0 && ix < g.w ? x[(c * g.h + iy) * g.w + ix] : 0.0f;
  }
}

__global__ void AddBiasKernel(float* y, const float* bias, int64_t channels, int64_t positions,
                              int64_t total) {
  for (int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; idx < total;
       idx += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    y[idx] += bias[(idx / positions) % channels];
  }
}

}  // namespace

cudaError_t LaunchIm2Col(const float* x, const Im2ColGeometry& g, float* col, cudaStream_t stream) {
  const int64_t total = g.channels * g.kh * g.kw * g.oh * g.ow;
  if (total == 0) return cudaSuccess;
  Im2ColKernel<<<Blocks(total), kThreads, 0, stream>>>(x, g, col, total);
  return cudaGetLastError();
}

cudaError_t LaunchAddBias(float* y, const float* bias, int64_t images, int64_t channels,
                          int64_t positions, cudaStream_t stream) {
  const int64_t total = images * channels * positions;
  if (total == 0) return cudaSuccess;
  AddBiasKernel<<<Blocks(total), kThreads, 0, stream>>>(y, bias, channels, positions, total);
  return cudaGetLastError();
}

}  // namespace strongroom::worker::onnx::cuda
