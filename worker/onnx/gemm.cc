#include "worker/onnx/gemm.h"

#include <cblas.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace strongroom::worker::onnx {

void SetBlasThreads(int threads) { openblas_set_num_threads(threads); }

std::string BlasCoreName() {
  const char* name = openblas_get_corename();
  return name == nullptr ? "" : name;
}

std::string BlasCoreTypeOverride() {
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return "";
  std::string core = BlasCoreName();
  for (char& ch : core) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (core != "prescott" && core != "core2" && core != "nehalem" && core != "sandybridge") {
    return "";
  }
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")) {
    return "SkylakeX";
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  return "";
}

void ReexecWithBlasCoreType(char** argv) {
  const std::string core = BlasCoreTypeOverride();
  if (core.empty()) return;
  if (setenv("OPENBLAS_CORETYPE", core.c_str(), 1) != 0) return;
  execv("/proc/self/exe", argv);
  // Exec failed: carry on with the slow kernels (the variable stays set,
  // so a retry in this process would not loop).
}

namespace {

void BlasCall(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
              const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
              int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    // BLAS leaves C alone when k == 0 only if beta == 1; be explicit.
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == 0 ? 0.0f : beta * c[i * ldc + j];
    }
    return;
  }
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, static_cast<blasint>(m), static_cast<blasint>(n),
              static_cast<blasint>(k), alpha, a, static_cast<blasint>(lda), b,
              static_cast<blasint>(ldb), beta, c, static_cast<blasint>(ldc));
}

}  // namespace

void Sgemm(ThreadPool* pool, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
           float alpha, const float* a, int64_t lda, const float* b, int64_t ldb, float beta,
           float* c, int64_t ldc) {
  const int threads = pool == nullptr ? 1 : pool->num_threads();
  // Below ~1 MFLOP the split costs more than it saves.
  if (threads == 1 || m * n * k < (int64_t{1} << 20)) {
    BlasCall(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  constexpr int64_t kBlock = 16;
  if (n >= m) {
    // Column blocks: op(B)[:, j0:j1] and C[:, j0:j1].
    const int64_t blocks = (n + kBlock - 1) / kBlock;
    const int64_t grain = std::max<int64_t>(1, blocks / (threads * 2));
    pool->ParallelFor(blocks, grain, [&](int64_t b0, int64_t b1) {
      const int64_t j0 = b0 * kBlock, j1 = std::min(n, b1 * kBlock);
      const float* bj = trans_b ? b + j0 * ldb : b + j0;
      BlasCall(trans_a, trans_b, m, j1 - j0, k, alpha, a, lda, bj, ldb, beta, c + j0, ldc);
    });
  } else {
    // Row blocks: op(A)[i0:i1, :] and C[i0:i1, :].
    const int64_t blocks = (m + kBlock - 1) / kBlock;
    const int64_t grain = std::max<int64_t>(1, blocks / (threads * 2));
    pool->ParallelFor(blocks, grain, [&](int64_t b0, int64_t b1) {
      const int64_t i0 = b0 * kBlock, i1 = std::min(m, b1 * kBlock);
      const float* ai = trans_a ? a + i0 : a + i0 * lda;
      BlasCall(trans_a, trans_b, i1 - i0, n, k, alpha, ai, lda, b, ldb, beta, c + i0 * ldc, ldc);
    });
  }
}

}  // namespace strongroom::worker::onnx
