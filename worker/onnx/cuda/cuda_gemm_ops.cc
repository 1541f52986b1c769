// Conv (im2col kernel + cuBLAS SGEMM per image and group; 1x1 stride-1
// unpadded convolutions multiply the input directly), Gemm and MatMul.
#include <climits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "worker/onnx/attributes.h"
#include "worker/onnx/cuda/cuda_kernels.h"
#include "worker/onnx/cuda/cuda_ops.h"
#include "worker/onnx/op.h"
#include "worker/onnx/ops/kernel_util.h"
#include "worker/onnx/ops/window.h"

namespace strongroom::worker::onnx::cuda {
namespace {

absl::Status CheckInt(std::initializer_list<int64_t> dims) {
  for (int64_t d : dims) {
    if (d > INT_MAX) {
      return absl::InvalidArgumentError(
          absl::StrCat("dimension ", d, " exceeds cuBLAS's int range"));
    }
  }
  return absl::OkStatus();
}

// Row-major C[m,n] = alpha * op(A) * op(B) + beta * C through column-major
// cuBLAS: C^T = op(B)^T * op(A)^T.
absl::Status Sgemm(DeviceContext& dc, bool ta, bool tb, int64_t m, int64_t n, int64_t k,
                   float alpha, const float* a, int64_t lda, const float* b, int64_t ldb,
                   float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return absl::OkStatus();
  RETURN_IF_ERROR(CheckInt({m, n, k, lda, ldb, ldc, m * n}));
  if (k == 0) {  // C = beta * C (cuBLAS wants leading dimensions of at least 1)
    if (ldc != n) return absl::InternalError("an empty product into a strided C");
    if (beta == 0.0f) {
      SR_CUDA_RETURN_IF_ERROR(
          cudaMemsetAsync(c, 0, sizeof(float) * static_cast<size_t>(m * n), dc.stream()));
    } else {
      SR_CUBLAS_RETURN_IF_ERROR(cublasSscal(dc.blas(), static_cast<int>(m * n), &beta, c, 1));
    }
    return absl::OkStatus();
  }
  SR_CUBLAS_RETURN_IF_ERROR(cublasSgemm(
      dc.blas(), tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N,
      static_cast<int>(n), static_cast<int>(m), static_cast<int>(k), &alpha, b,
      static_cast<int>(ldb), a, static_cast<int>(lda), &beta, c, static_cast<int>(ldc)));
  return absl::OkStatus();
}

}  // namespace

absl::Status RunConv(DeviceContext& dc, const Node& node, const OpArgs& a) {
  AttributeReader attrs(node.attributes);
  ASSIGN_OR_RETURN(auto window, ops::ReadWindowAttrs(attrs, true, false, false));
  ASSIGN_OR_RETURN(auto group, attrs.Int("group", 1));
  const Tensor& x = *a.in[0];
  const Tensor& w = *a.in[1];
  ASSIGN_OR_RETURN(
      auto axes, ops::ResolveWindow(window, Shape(x.shape().begin() + 2, x.shape().end()),
                                    std::vector<int64_t>(w.shape().begin() + 2, w.shape().end())));
  const bool two_d = axes.size() == 2;
  const ops::AxisWindow unit{1, 1, 1, 1, 0, 0, 1};
  const ops::AxisWindow& ay = two_d ? axes[0] : unit;
  const ops::AxisWindow& ax = two_d ? axes[1] : axes[0];
  const int64_t n = x.dim(0), c = x.dim(1), m = w.dim(0);
  const int64_t cg = c / group, mg = m / group;
  Im2ColGeometry g{cg,           ay.in,     ax.in,       ay.kernel,   ax.kernel,
                   ay.stride,    ax.stride, ay.dilation, ax.dilation, ay.pad_begin,
                   ax.pad_begin, ay.out,    ax.out};
  const int64_t kg = cg * g.kh * g.kw, positions = g.oh * g.ow;
  // A 1x1 window with unit strides and no padding: the input planes are
  // already the columns.
  const bool direct = g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0 &&
                      ay.pad_end == 0 && ax.pad_end == 0;
  ASSIGN_OR_RETURN(auto dx, dc.InputAs<float>(a, 0));
  ASSIGN_OR_RETURN(auto dw, dc.InputAs<float>(a, 1));
  ASSIGN_OR_RETURN(auto dy, dc.Output(a, 0));
  float* columns = nullptr;
  if (!direct) {
    ASSIGN_OR_RETURN(columns, dc.Columns(sizeof(float) * static_cast<size_t>(kg * positions)));
  }
  for (int64_t img = 0; img < n; ++img) {
    for (int64_t grp = 0; grp < group; ++grp) {
      const float* plane = dx + (img * c + grp * cg) * g.h * g.w;
      const float* b = plane;
      if (!direct) {
        SR_CUDA_RETURN_IF_ERROR(LaunchIm2Col(plane, g, columns, dc.stream()));
        b = columns;
      }
      RETURN_IF_ERROR(Sgemm(dc, false, false, mg, positions, kg, 1.0f, dw + grp * mg * kg, kg, b,
                            positions, 0.0f, dy + (img * m + grp * mg) * positions, positions));
    }
  }
  if (a.in.size() > 2 && a.in[2] != nullptr) {
    ASSIGN_OR_RETURN(auto db, dc.InputAs<float>(a, 2));
    SR_CUDA_RETURN_IF_ERROR(LaunchAddBias(dy, db, n, m, positions, dc.stream()));
  }
  return absl::OkStatus();
}

absl::Status RunGemm(DeviceContext& dc, const Node& node, const OpArgs& a) {
  AttributeReader attrs(node.attributes);
  ASSIGN_OR_RETURN(const float alpha, attrs.Float("alpha", 1.0f));
  ASSIGN_OR_RETURN(const float beta, attrs.Float("beta", 1.0f));
  ASSIGN_OR_RETURN(const int64_t ta, attrs.Int("transA", 0));
  ASSIGN_OR_RETURN(const int64_t tb, attrs.Int("transB", 0));
  const Tensor& ta_in = *a.in[0];
  const Tensor& tb_in = *a.in[1];
  Tensor& y = *a.out[0];
  const int64_t m = y.dim(0), n = y.dim(1), k = ta != 0 ? ta_in.dim(0) : ta_in.dim(1);
  ASSIGN_OR_RETURN(auto da, dc.InputAs<float>(a, 0));
  ASSIGN_OR_RETURN(auto db, dc.InputAs<float>(a, 1));
  ASSIGN_OR_RETURN(auto dy, dc.Output(a, 0));
  float beta_used = 0.0f;
  if (a.in.size() > 2 && a.in[2] != nullptr && beta != 0.0f) {
    // C broadcast into y on the device, then y is the accumulator.
    ASSIGN_OR_RETURN(auto dc_in, dc.InputAs<float>(a, 2));
    const BroadcastGeometry g = Geometry(y.shape(), a.in[2]->shape(), nullptr);
    SR_CUDA_RETURN_IF_ERROR(
        LaunchBinary(BinaryOp::kCopyA, dc_in, nullptr, dy, g, m * n, dc.stream()));
    beta_used = beta;
  }
  return Sgemm(dc, ta != 0, tb != 0, m, n, k, alpha, da, ta_in.dim(1), db, tb_in.dim(1), beta_used,
               dy, n);
}

absl::Status RunMatMul(DeviceContext& dc, const OpArgs& a) {
  const Tensor& ta = *a.in[0];
  const Tensor& tb = *a.in[1];
  const Shape as = ta.rank() == 1 ? Shape{1, ta.dim(0)} : ta.shape();
  const Shape bs = tb.rank() == 1 ? Shape{tb.dim(0), 1} : tb.shape();
  const int64_t m = as[as.size() - 2], k = as.back(), n = bs.back();
  const Shape a_batch(as.begin(), as.end() - 2), b_batch(bs.begin(), bs.end() - 2);
  ASSIGN_OR_RETURN(auto batch, BroadcastShapes(a_batch, b_batch));
  const std::vector<int64_t> sa = ops::BroadcastStrides(a_batch, batch);
  const std::vector<int64_t> sb = ops::BroadcastStrides(b_batch, batch);
  ASSIGN_OR_RETURN(auto da, dc.InputAs<float>(a, 0));
  ASSIGN_OR_RETURN(auto db, dc.InputAs<float>(a, 1));
  ASSIGN_OR_RETURN(auto dy, dc.Output(a, 0));
  const int64_t batches = Product(batch, 0, batch.size());
  for (int64_t i = 0; i < batches; ++i) {
    int64_t oa = 0, ob = 0, rem = i;
    for (size_t d = batch.size(); d-- > 0;) {
      const int64_t idx = rem % batch[d];
      rem /= batch[d];
      oa += idx * sa[d];
      ob += idx * sb[d];
    }
    RETURN_IF_ERROR(Sgemm(dc, false, false, m, n, k, 1.0f, da + oa * m * k, k, db + ob * k * n, n,
                          0.0f, dy + i * m * n, n));
  }
  return absl::OkStatus();
}

}  // namespace strongroom::worker::onnx::cuda
