#include "worker/onnx/cuda/cuda_backend.h"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <climits>
#include <unordered_map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "worker/onnx/cuda/cuda_kernels.h"
#include "worker/onnx/ops/kernel_util.h"
#include "worker/onnx/ops/window.h"

namespace strongroom::worker::onnx {
namespace {

absl::Status CudaError(absl::string_view call, cudaError_t e) {
  return absl::InternalError(absl::StrCat("cuda: ", call, ": ", cudaGetErrorString(e)));
}

absl::Status BlasError(absl::string_view call, cublasStatus_t s) {
  return absl::InternalError(absl::StrCat("cublas: ", call, ": status ", static_cast<int>(s)));
}

#define CUDA_RETURN_IF_ERROR(call)                    \
  do {                                                \
    if (cudaError_t e_ = (call); e_ != cudaSuccess) { \
      return CudaError(#call, e_);                    \
    }                                                 \
  } while (false)

#define CUBLAS_RETURN_IF_ERROR(call)                               \
  do {                                                             \
    if (cublasStatus_t s_ = (call); s_ != CUBLAS_STATUS_SUCCESS) { \
      return BlasError(#call, s_);                                 \
    }                                                              \
  } while (false)

absl::Status CheckInt(std::initializer_list<int64_t> dims) {
  for (int64_t d : dims) {
    if (d > INT_MAX)
      return absl::InvalidArgumentError(
          absl::StrCat("dimension ", d, " exceeds cuBLAS's int range"));
  }
  return absl::OkStatus();
}

// Device memory, zeroed before it is freed. Move-only.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(o.ptr_), bytes_(o.bytes_) {
    o.ptr_ = nullptr;
    o.bytes_ = 0;
  }
  DeviceBuffer& operator=(DeviceBuffer&&) = delete;
  ~DeviceBuffer() { Release(); }

  absl::Status Reserve(size_t bytes) {
    if (bytes <= bytes_) return absl::OkStatus();
    Release();
    void* p = nullptr;
    CUDA_RETURN_IF_ERROR(cudaMalloc(&p, bytes));
    ptr_ = static_cast<float*>(p);
    bytes_ = bytes;
    return absl::OkStatus();
  }
  float* get() const { return ptr_; }

 private:
  void Release() {
    if (ptr_ != nullptr) {
      cudaMemset(ptr_, 0, bytes_);
      cudaDeviceSynchronize();
      cudaFree(ptr_);
    }
    ptr_ = nullptr;
    bytes_ = 0;
  }
  float* ptr_ = nullptr;
  size_t bytes_ = 0;
};

class CudaBackend final : public Backend {
 public:
  CudaBackend(cudaStream_t stream, cublasHandle_t blas) : stream_(stream), blas_(blas) {}
  // The buffers are freed (zeroed first) after this, on the default stream.
  ~CudaBackend() override {
    cublasDestroy(blas_);
    cudaStreamDestroy(stream_);
  }

  bool Handles(const Node& node) const override {
    return node.op_type == "Conv" || node.op_type == "Gemm" || node.op_type == "MatMul";
  }

  absl::Status Run(const Node& node, const ExecContext& ctx, std::span<const Tensor* const> in,
                   std::span<const bool> constant, std::span<Tensor* const> out) override {
    absl::Status s;
    if (node.op_type == "Conv") {
      s = Conv(node, in, constant, out[0]);
    } else if (node.op_type == "Gemm") {
      s = Gemm(node, ctx, in, constant, out[0]);
    } else {
      s = MatMul(in, constant, out[0]);
    }
    if (!s.ok()) return s;
    CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_));
    return absl::OkStatus();
  }

 private:
  enum Slot { kInput0, kInput1, kInput2, kOutput, kColumns, kSlots };

  // The device copy of `t`: cached when constant, else uploaded into `slot`.
  absl::StatusOr<const float*> Upload(const Tensor& t, bool constant, Slot slot) {
    if (constant) {
      auto it = constants_.find(&t);
      if (it != constants_.end()) return it->second.get();
    }
    DeviceBuffer fresh;
    DeviceBuffer& buf = constant ? fresh : scratch_[slot];
    auto s = buf.Reserve(std::max<size_t>(t.byte_size(), 4));
    if (!s.ok()) return s;
    CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(buf.get(), t.bytes().data(), t.byte_size(),
                                         cudaMemcpyHostToDevice, stream_));
    if (!constant) return buf.get();
    return constants_.emplace(&t, std::move(fresh)).first->second.get();
  }

  absl::StatusOr<float*> Output(Tensor* y, bool upload) {
    auto s = scratch_[kOutput].Reserve(std::max<size_t>(y->byte_size(), 4));
    if (!s.ok()) return s;
    if (upload) {
      CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(scratch_[kOutput].get(), y->bytes().data(),
                                           y->byte_size(), cudaMemcpyHostToDevice, stream_));
    }
    return scratch_[kOutput].get();
  }

  absl::Status Download(const float* d, Tensor* y) {
    CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(y->mutable_bytes().data(), d, y->byte_size(),
                                         cudaMemcpyDeviceToHost, stream_));
    return absl::OkStatus();
  }

  // Row-major C[m,n] = alpha * op(A) * op(B) + beta * C through column-major
  // cuBLAS: C^T = op(B)^T * op(A)^T.
  absl::Status Sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                     int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
    if (m == 0 || n == 0) return absl::OkStatus();
    auto s = CheckInt({m, n, k, lda, ldb, ldc});
    if (!s.ok()) return s;
    CUBLAS_RETURN_IF_ERROR(cublasSgemm(
        blas_, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, static_cast<int>(n),
        static_cast<int>(m), static_cast<int>(k), &alpha, b, static_cast<int>(ldb), a,
        static_cast<int>(lda), &beta, c, static_cast<int>(ldc)));
    return absl::OkStatus();
  }

  absl::Status Conv(const Node& node, std::span<const Tensor* const> in,
                    std::span<const bool> constant, Tensor* y) {
    AttributeReader attrs(node.attributes);
    auto window = ops::ReadWindowAttrs(attrs, true, false, false);
    if (!window.ok()) return window.status();
    auto group = attrs.Int("group", 1);
    if (!group.ok()) return group.status();
    const Tensor& x = *in[0];
    const Tensor& w = *in[1];
    auto axes = ops::ResolveWindow(*window, Shape(x.shape().begin() + 2, x.shape().end()),
                                   std::vector<int64_t>(w.shape().begin() + 2, w.shape().end()));
    if (!axes.ok()) return axes.status();
    const bool two_d = axes->size() == 2;
    const ops::AxisWindow unit{1, 1, 1, 1, 0, 0, 1};
    const ops::AxisWindow& ay = two_d ? (*axes)[0] : unit;
    const ops::AxisWindow& ax = two_d ? (*axes)[1] : (*axes)[0];
    const int64_t n = x.dim(0), c = x.dim(1), m = w.dim(0);
    const int64_t cg = c / *group, mg = m / *group;
    cuda::Im2ColGeometry g{cg,           ay.in,     ax.in,       ay.kernel,   ax.kernel,
                           ay.stride,    ax.stride, ay.dilation, ax.dilation, ay.pad_begin,
                           ax.pad_begin, ay.out,    ax.out};
    const int64_t kg = cg * g.kh * g.kw, positions = g.oh * g.ow;
    auto dx = Upload(x, constant[0], kInput0);
    if (!dx.ok()) return dx.status();
    auto dw = Upload(w, constant[1], kInput1);
    if (!dw.ok()) return dw.status();
    auto dy = Output(y, false);
    if (!dy.ok()) return dy.status();
    auto s = scratch_[kColumns].Reserve(std::max<size_t>(4, sizeof(float) * kg * positions));
    if (!s.ok()) return s;
    for (int64_t img = 0; img < n; ++img) {
      for (int64_t grp = 0; grp < *group; ++grp) {
        CUDA_RETURN_IF_ERROR(cuda::LaunchIm2Col(*dx + (img * c + grp * cg) * g.h * g.w, g,
                                                scratch_[kColumns].get(), stream_));
        s = Sgemm(false, false, mg, positions, kg, 1.0f, *dw + grp * mg * kg, kg,
                  scratch_[kColumns].get(), positions, 0.0f, *dy + (img * m + grp * mg) * positions,
                  positions);
        if (!s.ok()) return s;
      }
    }
    if (in.size() > 2 && in[2] != nullptr) {
      auto db = Upload(*in[2], constant[2], kInput2);
      if (!db.ok()) return db.status();
      CUDA_RETURN_IF_ERROR(cuda::LaunchAddBias(*dy, *db, n, m, positions, stream_));
    }
    return Download(*dy, y);
  }

  absl::Status Gemm(const Node& node, const ExecContext& ctx, std::span<const Tensor* const> in,
                    std::span<const bool> constant, Tensor* y) {
    AttributeReader attrs(node.attributes);
    auto alpha = attrs.Float("alpha", 1.0f);
    auto beta = attrs.Float("beta", 1.0f);
    auto ta = attrs.Int("transA", 0);
    auto tb = attrs.Int("transB", 0);
    for (const absl::Status& s : {alpha.status(), beta.status(), ta.status(), tb.status()}) {
      if (!s.ok()) return s;
    }
    const Tensor& a = *in[0];
    const Tensor& b = *in[1];
    const int64_t m = y->dim(0), n = y->dim(1), k = *ta ? a.dim(0) : a.dim(1);
    float beta_used = 0.0f;
    if (in.size() > 2 && in[2] != nullptr && *beta != 0.0f) {
      // C broadcast on the host into y, then y goes up as the accumulator.
      ops::BroadcastCopy(ctx.pool(), in[2]->bytes().data(), in[2]->shape(),
                         y->mutable_bytes().data(), y->shape(), sizeof(float));
      beta_used = *beta;
    }
    auto da = Upload(a, constant[0], kInput0);
    if (!da.ok()) return da.status();
    auto db = Upload(b, constant[1], kInput1);
    if (!db.ok()) return db.status();
    auto dy = Output(y, beta_used != 0.0f);
    if (!dy.ok()) return dy.status();
    auto s =
        Sgemm(*ta != 0, *tb != 0, m, n, k, *alpha, *da, a.dim(1), *db, b.dim(1), beta_used, *dy, n);
    if (!s.ok()) return s;
    return Download(*dy, y);
  }

  absl::Status MatMul(std::span<const Tensor* const> in, std::span<const bool> constant,
                      Tensor* y) {
    const Tensor& a = *in[0];
    const Tensor& b = *in[1];
    const Shape as = a.rank() == 1 ? Shape{1, a.dim(0)} : a.shape();
    const Shape bs = b.rank() == 1 ? Shape{b.dim(0), 1} : b.shape();
    const int64_t m = as[as.size() - 2], k = as.back(), n = bs.back();
    const Shape a_batch(as.begin(), as.end() - 2), b_batch(bs.begin(), bs.end() - 2);
    auto batch = BroadcastShapes(a_batch, b_batch);
    if (!batch.ok()) return batch.status();
    const std::vector<int64_t> sa = ops::BroadcastStrides(a_batch, *batch);
    const std::vector<int64_t> sb = ops::BroadcastStrides(b_batch, *batch);
    auto da = Upload(a, constant[0], kInput0);
    if (!da.ok()) return da.status();
    auto db = Upload(b, constant[1], kInput1);
    if (!db.ok()) return db.status();
    auto dy = Output(y, false);
    if (!dy.ok()) return dy.status();
    const int64_t batches = Product(*batch, 0, batch->size());
    for (int64_t i = 0; i < batches; ++i) {
      int64_t oa = 0, ob = 0, rem = i;
      for (size_t d = batch->size(); d-- > 0;) {
        const int64_t idx = rem % (*batch)[d];
        rem /= (*batch)[d];
        oa += idx * sa[d];
        ob += idx * sb[d];
      }
      auto s = Sgemm(false, false, m, n, k, 1.0f, *da + oa * m * k, k, *db + ob * k * n, n, 0.0f,
                     *dy + i * m * n, n);
      if (!s.ok()) return s;
    }
    return Download(*dy, y);
  }

  cudaStream_t stream_;
  cublasHandle_t blas_;
  std::unordered_map<const Tensor*, DeviceBuffer> constants_;
  DeviceBuffer scratch_[kSlots];
};

}  // namespace

absl::StatusOr<std::unique_ptr<Backend>> CreateCudaBackend() {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("device cuda: no CUDA device (",
                     e != cudaSuccess ? cudaGetErrorString(e) : "0 devices", ")"));
  }
  CUDA_RETURN_IF_ERROR(cudaSetDevice(0));
  cudaStream_t stream;
  CUDA_RETURN_IF_ERROR(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  cublasHandle_t blas;
  if (cublasStatus_t s = cublasCreate(&blas); s != CUBLAS_STATUS_SUCCESS) {
    cudaStreamDestroy(stream);
    return BlasError("cublasCreate", s);
  }
  // FP32 results as on the CPU: no TF32 tensor-core shortcuts.
  cublasSetMathMode(blas, CUBLAS_DEFAULT_MATH);
  cublasSetStream(blas, stream);
  return std::unique_ptr<Backend>(new CudaBackend(stream, blas));
}

void RegisterCudaBackend() { RegisterDeviceBackend(Device::kCuda, CreateCudaBackend); }

}  // namespace strongroom::worker::onnx
