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

__global__ void ReluKernel(const float* x, float* y, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float v = x[i];
    y[i] = v > 0.0f ? v : 0.0f;  // as the CPU kernel: NaN and -0 give +0
  }
}

__global__ void BatchNormKernel(const float* x, const float* scale, const float* bias,
                                const float* mean, const float* var, float epsilon, float* y,
                                int64_t channels, int64_t size, int64_t total) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t c = (i / size) % channels;
    const float a = scale[c] / sqrtf(var[c] + epsilon);
    const float b = bias[c] - mean[c] * a;
    y[i] = x[i] * a + b;
  }
}

__global__ void BinaryKernel(BinaryOp op, const float* a, const float* b, float* y,
                             BroadcastGeometry g, int64_t total) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t rem = i, ia = 0, ib = 0;
    for (int d = g.rank - 1; d >= 0; --d) {
      const int64_t idx = rem % g.dims[d];
      rem /= g.dims[d];
      ia += idx * g.a_strides[d];
      ib += idx * g.b_strides[d];
    }
    const float va = a[ia];
    switch (op) {
      case BinaryOp::kAdd: y[i] = va + b[ib]; break;
      case BinaryOp::kSub: y[i] = va - b[ib]; break;
      case BinaryOp::kMul: y[i] = va * b[ib]; break;
      case BinaryOp::kDiv: y[i] = va / b[ib]; break;
      case BinaryOp::kCopyA: y[i] = va; break;
    }
  }
}

// Taps i in [0, k) with lo <= start + i * d < hi, as [first, last); as
// TapRange in pool.cc.
__device__ int64_t FloorDiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
__device__ int64_t CeilDiv(int64_t a, int64_t b) { return -FloorDiv(-a, b); }
__device__ void TapRange(const PoolAxis& a, int64_t start, int64_t lo, int64_t hi,
                         int64_t* first, int64_t* last) {
  const int64_t f = max(int64_t{0}, CeilDiv(lo - start, a.d));
  const int64_t l = min(a.k, CeilDiv(hi - start, a.d));
  *first = f;
  *last = max(f, l);
}

__global__ void PoolKernel(const float* x, float* y, PoolGeometry g, int64_t total) {
  const int64_t out_plane = g.y.out * g.x.out;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t p = i / out_plane;
    const int64_t oy = (i % out_plane) / g.x.out;
    const int64_t ox = i % g.x.out;
    const int64_t y0 = oy * g.y.s - g.y.pb, x0 = ox * g.x.s - g.x.pb;
    int64_t fy, ly, fx, lx;
    TapRange(g.y, y0, 0, g.y.in, &fy, &ly);
    TapRange(g.x, x0, 0, g.x.in, &fx, &lx);
    const float* src = x + p * g.y.in * g.x.in;
    if (g.max) {
      float best = -3.402823466e+38f;  // lowest float, as the CPU kernel starts
      for (int64_t r = fy; r < ly; ++r) {
        const float* row = src + (y0 + r * g.y.d) * g.x.in;
        for (int64_t c = fx; c < lx; ++c) {
          const float v = row[x0 + c * g.x.d];
          best = best < v ? v : best;  // std::max(best, v): NaN is skipped
        }
      }
      y[i] = best;
    } else {
      float sum = 0.0f;
      for (int64_t r = fy; r < ly; ++r) {
        const float* row = src + (y0 + r * g.y.d) * g.x.in;
        for (int64_t c = fx; c < lx; ++c) sum += row[x0 + c * g.x.d];
      }
      int64_t count = (ly - fy) * (lx - fx);
      if (g.count_include_pad) {
        int64_t pfy, ply, pfx, plx;
        TapRange(g.y, y0, -g.y.pb, g.y.in + g.y.pe, &pfy, &ply);
        TapRange(g.x, x0, -g.x.pb, g.x.in + g.x.pe, &pfx, &plx);
        count = (ply - pfy) * (plx - pfx);
      }
      y[i] = count > 0 ? sum / static_cast<float>(count) : 0.0f;
    }
  }
}

// One block per plane: a strided sum per thread, then a tree in shared
// memory; in double, as the CPU kernel sums (the order differs).
__global__ void GlobalAverageKernel(const float* x, float* y, int64_t size) {
  __shared__ double partial[kThreads];
  const float* src = x + blockIdx.x * size;
  double sum = 0.0;
  for (int64_t i = threadIdx.x; i < size; i += blockDim.x) sum += src[i];
  partial[threadIdx.x] = sum;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) partial[threadIdx.x] += partial[threadIdx.x + half];
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    y[blockIdx.x] = size > 0 ? static_cast<float>(partial[0] / static_cast<double>(size)) : 0.0f;
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

cudaError_t LaunchRelu(const float* x, float* y, int64_t n, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  ReluKernel<<<Blocks(n), kThreads, 0, stream>>>(x, y, n);
  return cudaGetLastError();
}

cudaError_t LaunchBatchNorm(const float* x, const float* scale, const float* bias,
                            const float* mean, const float* var, float epsilon, float* y,
                            int64_t images, int64_t channels, int64_t size, cudaStream_t stream) {
  const int64_t total = images * channels * size;
  if (total == 0) return cudaSuccess;
  BatchNormKernel<<<Blocks(total), kThreads, 0, stream>>>(x, scale, bias, mean, var, epsilon, y,
                                                          channels, size, total);
  return cudaGetLastError();
}

cudaError_t LaunchBinary(BinaryOp op, const float* a, const float* b, float* y,
                         const BroadcastGeometry& g, int64_t total, cudaStream_t stream) {
  if (total == 0) return cudaSuccess;
  BinaryKernel<<<Blocks(total), kThreads, 0, stream>>>(op, a, b, y, g, total);
  return cudaGetLastError();
}

cudaError_t LaunchPool(const float* x, float* y, const PoolGeometry& g, cudaStream_t stream) {
  const int64_t total = g.planes * g.y.out * g.x.out;
  if (total == 0) return cudaSuccess;
  PoolKernel<<<Blocks(total), kThreads, 0, stream>>>(x, y, g, total);
  return cudaGetLastError();
}

cudaError_t LaunchGlobalAverage(const float* x, float* y, int64_t planes, int64_t size,
                                cudaStream_t stream) {
  if (planes == 0) return cudaSuccess;
  if (planes > 2147483647) return cudaErrorInvalidValue;
  GlobalAverageKernel<<<static_cast<unsigned>(planes), kThreads, 0, stream>>>(x, y, size);
  return cudaGetLastError();
}

}  // namespace strongroom::worker::onnx::cuda
