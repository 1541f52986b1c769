// MatMul (numpy semantics, batched with broadcasting) and Gemm, both on
// OpenBLAS through Sgemm; a single-row Gemm on an AVX-512 CPU runs as Gemv
// (gemv.h).
#include <climits>

#include "absl/strings/str_cat.h"
#include "worker/onnx/gemm.h"
#include "worker/onnx/ops/factories.h"
#include "worker/onnx/ops/gemv.h"
#include "worker/onnx/ops/kernel_util.h"
#include "worker/onnx/ops/packed_gemm.h"

namespace strongroom::worker::onnx::ops {
namespace {

absl::Status CheckBlasDims(std::initializer_list<int64_t> dims) {
  for (int64_t d : dims) {
    if (d > INT_MAX) {
      return absl::InvalidArgumentError(absl::StrCat("dimension ", d, " exceeds BLAS's int range"));
    }
  }
  return absl::OkStatus();
}

// Shapes of a MatMul after numpy's 1-D promotion.
struct MatMulDims {
  Shape a, b;   // promoted to rank >= 2
  Shape batch;  // broadcast batch dims
  int64_t m, k, n;
  Shape out;  // final output shape (promoted dims removed)
};

absl::StatusOr<MatMulDims> PlanMatMul(const Shape& a_in, const Shape& b_in) {
  if (a_in.empty() || b_in.empty()) {
    return absl::InvalidArgumentError("MatMul inputs must have rank >= 1");
  }
  MatMulDims d;
  d.a = a_in.size() == 1 ? Shape{1, a_in[0]} : a_in;
  d.b = b_in.size() == 1 ? Shape{b_in[0], 1} : b_in;
  d.m = d.a[d.a.size() - 2];
  d.k = d.a.back();
  d.n = d.b.back();
  if (d.b[d.b.size() - 2] != d.k) {
    return absl::InvalidArgumentError(absl::StrCat("shapes ", ShapeToString(a_in), " and ",
                                                   ShapeToString(b_in),
                                                   " do not multiply (inner dims differ)"));
  }
  auto batch =
      BroadcastShapes(Shape(d.a.begin(), d.a.end() - 2), Shape(d.b.begin(), d.b.end() - 2));
  if (!batch.ok()) return batch.status();
  d.batch = *batch;
  d.out = d.batch;
  if (a_in.size() > 1) d.out.push_back(d.m);
  if (b_in.size() > 1) d.out.push_back(d.n);
  return d;
}

class MatMulOp final : public Op {
 public:
  absl::Status Infer(std::span<const TensorMeta* const> in,
                     std::span<TensorMeta> out) const override {
    for (size_t i = 0; i < 2; ++i) {
      auto s = CheckType(in[i], i, {DataType::kFloat});
      if (!s.ok()) return s;
    }
    auto d = PlanMatMul(in[0]->shape, in[1]->shape);
    if (!d.ok()) return d.status();
    out[0].dtype = DataType::kFloat;
    out[0].shape = d->out;
    // With one matrix on the right, Run() stacks the left batches into one
    // GEMM of batches * m rows; otherwise each batch is its own GEMM.
    const Shape b_batch(d->b.begin(), d->b.end() - 2);
    int64_t stacked = d->m;
    if (Product(b_batch, 0, b_batch.size()) == 1) {
      for (int64_t b : d->batch) {
        if (__builtin_mul_overflow(stacked, b, &stacked)) {
          return absl::InvalidArgumentError("batch dimensions times rows overflow");
        }
      }
    }
    return CheckBlasDims({d->m, d->n, d->k, stacked});
  }

  absl::Status Run(const ExecContext& ctx, std::span<const Tensor* const> in,
                   std::span<Tensor* const> out) const override {
    auto d = PlanMatMul(in[0]->shape(), in[1]->shape());
    if (!d.ok()) return d.status();
    const float* a = in[0]->data<float>().data();
    const float* b = in[1]->data<float>().data();
    float* y = out[0]->mutable_data<float>().data();
    const int64_t batches = Product(d->batch, 0, d->batch.size());
    const Shape a_batch(d->a.begin(), d->a.end() - 2), b_batch(d->b.begin(), d->b.end() - 2);
    const int64_t b_batches = Product(b_batch, 0, b_batch.size());
    const int64_t a_batches = Product(a_batch, 0, a_batch.size());
    if (b_batches == 1 && a_batches == batches) {
      // One matrix on the right: stack the left batches into one GEMM.
      Sgemm(ctx.pool(), false, false, batches * d->m, d->n, d->k, 1.0f, a, d->k, b, d->n, 0.0f, y,
            d->n);
      return absl::OkStatus();
    }
    const std::vector<int64_t> sa = BroadcastStrides(a_batch, d->batch);
    const std::vector<int64_t> sb = BroadcastStrides(b_batch, d->batch);
    auto one = [&](int64_t i, ThreadPool* pool) {
      int64_t oa = 0, ob = 0, rem = i;
      for (size_t k = d->batch.size(); k-- > 0;) {
        const int64_t idx = rem % d->batch[k];
        rem /= d->batch[k];
        oa += idx * sa[k];
        ob += idx * sb[k];
      }
      Sgemm(pool, false, false, d->m, d->n, d->k, 1.0f, a + oa * d->m * d->k, d->k,
            b + ob * d->k * d->n, d->n, 0.0f, y + i * d->m * d->n, d->n);
    };
    if (batches >= ctx.pool()->num_threads()) {
      ctx.pool()->ParallelFor(batches, 1, [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) one(i, nullptr);
      });
    } else {
      for (int64_t i = 0; i < batches; ++i) one(i, ctx.pool());
    }
    return absl::OkStatus();
  }
};

class GemmOp final : public Op {
 public:
  GemmOp(float alpha, float beta, bool trans_a, bool trans_b,
         Activation activation = Activation::kNone)
      : alpha_(alpha), beta_(beta), trans_a_(trans_a), trans_b_(trans_b), activation_(activation) {}

  std::unique_ptr<Op> WithActivation(Activation activation) const override {
    return std::make_unique<GemmOp>(alpha_, beta_, trans_a_, trans_b_, activation);
  }

  absl::Status Infer(std::span<const TensorMeta* const> in,
                     std::span<TensorMeta> out) const override {
    for (size_t i = 0; i < in.size(); ++i) {
      if (in[i] == nullptr) continue;
      auto s = CheckType(in[i], i, {DataType::kFloat});
      if (!s.ok()) return s;
    }
    const Shape& a = in[0]->shape;
    const Shape& b = in[1]->shape;
    if (a.size() != 2 || b.size() != 2) {
      return absl::InvalidArgumentError(
          absl::StrCat("A ", ShapeToString(a), " and B ", ShapeToString(b), " must be matrices"));
    }
    const int64_t m = trans_a_ ? a[1] : a[0], k = trans_a_ ? a[0] : a[1];
    const int64_t kb = trans_b_ ? b[1] : b[0], n = trans_b_ ? b[0] : b[1];
    if (k != kb) {
      return absl::InvalidArgumentError(
          absl::StrCat("A ", ShapeToString(a), " and B ", ShapeToString(b),
                       " do not multiply with transA=", trans_a_, " transB=", trans_b_));
    }
    const Shape y{m, n};
    if (in.size() > 2 && in[2] != nullptr) {
      const Shape& c = in[2]->shape;
      auto bc = BroadcastShapes(c, y);
      if (c.size() > 2 || !bc.ok() || *bc != y) {
        return absl::InvalidArgumentError(
            absl::StrCat("C ", ShapeToString(c), " does not broadcast to ", ShapeToString(y)));
      }
    }
    out[0].dtype = DataType::kFloat;
    out[0].shape = y;
    return CheckBlasDims({m, n, k});
  }

  absl::Status Run(const ExecContext& ctx, std::span<const Tensor* const> in,
                   std::span<Tensor* const> out) const override {
    const Tensor& a = *in[0];
    const Tensor& b = *in[1];
    Tensor* y = out[0];
    const int64_t m = y->dim(0), n = y->dim(1);
    const int64_t k = trans_a_ ? a.dim(0) : a.dim(1);
    float* py = y->mutable_data<float>().data();
    float beta = 0.0f;
    if (in.size() > 2 && in[2] != nullptr && beta_ != 0.0f) {
      const Tensor& c = *in[2];
      BroadcastCopy(ctx.pool(), c.bytes().data(), c.shape(), y->mutable_bytes().data(), y->shape(),
                    sizeof(float));
      beta = beta_;
    }
    if (m == 1 && PackedGemmAvailable()) {
      // A single row (a classifier layer): read B once instead of OpenBLAS
      // packing it all first. op(A)'s row is A's row, or A's column when
      // transposed (A is then k x 1: contiguous as well).
      Gemv(ctx.pool(), trans_b_, n, k, alpha_, a.data<float>().data(), b.data<float>().data(),
           b.dim(1), beta, py);
    } else {
      Sgemm(ctx.pool(), trans_a_, trans_b_, m, n, k, alpha_, a.data<float>().data(), a.dim(1),
            b.data<float>().data(), b.dim(1), beta, py, n);
    }
    if (activation_ == Activation::kRelu) ReluRows(ctx.pool(), py, m, n, n);
    return absl::OkStatus();
  }

 private:
  const float alpha_, beta_;
  const bool trans_a_, trans_b_;
  const Activation activation_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Op>> CreateMatMul(const OpConfig&, AttributeReader& attrs) {
  auto s = attrs.Finish();
  if (!s.ok()) return s;
  return std::unique_ptr<Op>(new MatMulOp());
}

absl::StatusOr<std::unique_ptr<Op>> CreateGemm(const OpConfig& config, AttributeReader& attrs) {
  auto alpha = attrs.Float("alpha", 1.0f);
  auto beta = attrs.Float("beta", 1.0f);
  auto trans_a = attrs.Int("transA", 0);
  auto trans_b = attrs.Int("transB", 0);
  for (const absl::Status& s :
       {alpha.status(), beta.status(), trans_a.status(), trans_b.status()}) {
    if (!s.ok()) return s;
  }
  if (config.opset < 11 && (config.num_inputs() < 3 || !config.has_input[2])) {
    return absl::InvalidArgumentError(
        absl::StrCat("input C is required before opset 11 (model has opset ", config.opset, ")"));
  }
  auto s = attrs.Finish();
  if (!s.ok()) return s;
  return std::unique_ptr<Op>(new GemmOp(*alpha, *beta, *trans_a != 0, *trans_b != 0));
}

}  // namespace strongroom::worker::onnx::ops
