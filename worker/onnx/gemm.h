// Row-major single-precision GEMM through OpenBLAS, split across a
// ThreadPool. OpenBLAS itself is kept single-threaded (SetBlasThreads(1) is
// called by every Session) so that its threads and ours never compete for
// the same cores: the parallelism comes from running independent column (or
// row) blocks of C on the pool's threads.
#ifndef STRONGROOM_WORKER_ONNX_GEMM_H_
#define STRONGROOM_WORKER_ONNX_GEMM_H_

#include <cstdint>
#include <string>

#include "worker/onnx/thread_pool.h"

namespace strongroom::worker::onnx {

// Sets OpenBLAS's own thread count (process-wide).
void SetBlasThreads(int threads);

// OpenBLAS's kernel set ("SkylakeX", "Haswell", "Prescott", ...).
std::string BlasCoreName();

// OpenBLAS (0.3.21 at least) picks its kernels from the CPU model when it
// loads, and on models it does not know (the "Intel(R) Xeon(R) Processor"
// of this project's VMs) falls back to the SSE3 "Prescott" kernels, 5-8x
// slower than the AVX-512 ones the CPU supports. This is the
// OPENBLAS_CORETYPE that fixes it ("SkylakeX" with AVX-512, "Haswell" with
// AVX2 and FMA), or "" when the loaded kernels are fine or the variable is
// already set. It only takes effect in a new process: see
// ReexecWithBlasCoreType().
std::string BlasCoreTypeOverride();

// For a main(): when BlasCoreTypeOverride() is not empty, sets
// OPENBLAS_CORETYPE and re-executes /proc/self/exe with `argv`. Returns
// (doing nothing) otherwise or when the exec fails. Call it first thing,
// before any thread or secret exists.
void ReexecWithBlasCoreType(char** argv);

// C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C, all row-major with
// leading dimensions lda, ldb, ldc. `pool` may be null (one thread).
void Sgemm(ThreadPool* pool, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
           float alpha, const float* a, int64_t lda, const float* b, int64_t ldb, float beta,
           float* c, int64_t ldc);

}  // namespace strongroom::worker::onnx

#endif  // STRONGROOM_WORKER_ONNX_GEMM_H_
