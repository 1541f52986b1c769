// Gemv: one row of a Gemm (M = 1) with AVX-512 or AVX2, for the classifier
// layers of vision models (resnet50's 1 x 2048 by 2048 x 1000). OpenBLAS
// 0.3.21 runs such a call as a full GEMM that packs all of B first (8 MB for
// resnet50, every run); this reads B once, so it runs at memory speed.
//
// Only call where PackedGemmAvailable() (packed_gemm.h): AVX-512F or AVX2 +
// FMA. Results differ from OpenBLAS's in the last bits (another summation
// order), and between the two instruction sets.
//
// Thread-safety: may run concurrently on distinct outputs.
#ifndef STRONGROOM_WORKER_ONNX_OPS_GEMV_H_
#define STRONGROOM_WORKER_ONNX_OPS_GEMV_H_

#include <cstdint>

#include "worker/onnx/thread_pool.h"

namespace strongroom::worker::onnx::ops {

// y[j] = alpha * sum_k x[k] * B(k, j) + beta * y[j] for j < n, where
// B(k, j) = trans_b ? b[j * ldb + k] : b[k * ldb + j]. With beta == 0, y is
// not read. `pool` may be null.
void Gemv(ThreadPool* pool, bool trans_b, int64_t n, int64_t k, float alpha, const float* x,
          const float* b, int64_t ldb, float beta, float* y);

}  // namespace strongroom::worker::onnx::ops

#endif  // STRONGROOM_WORKER_ONNX_OPS_GEMV_H_
