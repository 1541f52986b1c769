// BatchNormalization (inference, and training-mode statistics from opset
// 14), LayerNormalization (opset 17, stash_type float) and LRN.
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "worker/onnx/ops/factories.h"
#include "worker/onnx/ops/kernel_util.h"

namespace strongroom::worker::onnx::ops {
namespace {

class BatchNormOp final : public Op {
 public:
  BatchNormOp(float epsilon, float momentum, bool training)
      : epsilon_(epsilon), momentum_(momentum), training_(training) {}

  absl::Status Infer(std::span<const TensorMeta* const> in,
                     std::span<TensorMeta> out) const override {
    for (size_t i = 0; i < in.size(); ++i) {
      auto s = CheckType(in[i], i, {DataType::kFloat});
      if (!s.ok()) return s;
    }
    const Shape& x = in[0]->shape;
    if (x.size() < 2) {
      return absl::InvalidArgumentError(
          absl::StrCat("input X ", ShapeToString(x), " needs N and C dims"));
    }
    for (size_t i = 1; i < 5; ++i) {
      if (in[i]->shape != Shape{x[1]}) {
        return absl::InvalidArgumentError(
            absl::StrCat("input ", i, " ", ShapeToString(in[i]->shape), " should be [", x[1], "]"));
      }
    }
    out[0].dtype = DataType::kFloat;
    out[0].shape = x;
    for (size_t i = 1; i < out.size(); ++i) {
      out[i].dtype = DataType::kFloat;
      out[i].shape = {x[1]};
    }
    return absl::OkStatus();
  }

  absl::Status Run(const ExecContext& ctx, std::span<const Tensor* const> in,
                   std::span<Tensor* const> out) const override {
    const Tensor& x = *in[0];
    const int64_t n = x.dim(0), c = x.dim(1);
    const int64_t size = Product(x.shape(), 2, x.shape().size());
    const float* px = x.data<float>().data();
    const float* scale = in[1]->data<float>().data();
    const float* bias = in[2]->data<float>().data();
    std::vector<float> mean(in[3]->data<float>().begin(), in[3]->data<float>().end());
    std::vector<float> var(in[4]->data<float>().begin(), in[4]->data<float>().end());
    if (training_) {
      // Statistics of this batch (population variance), and the running
      // averages updated with them.
      const double count = static_cast<double>(n * size);
      for (int64_t ch = 0; ch < c; ++ch) {
        double sum = 0, sq = 0;
        for (int64_t img = 0; img < n; ++img) {
          const float* p = px + (img * c + ch) * size;
          for (int64_t i = 0; i < size; ++i) sum += p[i];
        }
        const double mu = count > 0 ? sum / count : 0;
        for (int64_t img = 0; img < n; ++img) {
          const float* p = px + (img * c + ch) * size;
          for (int64_t i = 0; i < size; ++i) sq += (p[i] - mu) * (p[i] - mu);
        }
        const float batch_mean = static_cast<float>(mu);
        const float batch_var = static_cast<float>(count > 0 ? sq / count : 0);
        if (out.size() > 1 && out[1] != nullptr) {
          out[1]->mutable_data<float>()[ch] = mean[ch] * momentum_ + batch_mean * (1 - momentum_);
        }
        if (out.size() > 2 && out[2] != nullptr) {
          out[2]->mutable_data<float>()[ch] = var[ch] * momentum_ + batch_var * (1 - momentum_);
        }
        mean[ch] = batch_mean;
        var[ch] = batch_var;
      }
    }
    float* py = out[0]->mutable_data<float>().data();
    ctx.pool()->ParallelFor(n * c,
                            std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(1, size)),
                            [&](int64_t r0, int64_t r1) {
                              for (int64_t r = r0; r < r1; ++r) {
                                const int64_t ch = r % c;
                                const float a = scale[ch] / std::sqrt(var[ch] + epsilon_);
                                const float b = bias[ch] - mean[ch] * a;
                                const float* src = px + r * size;
                                float* dst = py + r * size;
                                for (int64_t i = 0; i < size; ++i) dst[i] = src[i] * a + b;
                              }
                            });
    // Copies of the model's statistics (or of this batch's): wiped like a
    // Tensor's buffer before they are freed.
    explicit_bzero(mean.data(), mean.size() * sizeof(float));
    explicit_bzero(var.data(), var.size() * sizeof(float));
    return absl::OkStatus();
  }

 private:
  const float epsilon_, momentum_;
  const bool training_;
};

class LayerNormOp final : public Op {
 public:
  LayerNormOp(int64_t axis, float epsilon) : axis_(axis), epsilon_(epsilon) {}

  absl::Status Infer(std::span<const TensorMeta* const> in,
                     std::span<TensorMeta> out) const override {
    for (size_t i = 0; i < in.size(); ++i) {
      if (in[i] == nullptr) continue;
      auto s = CheckType(in[i], i, {DataType::kFloat});
      if (!s.ok()) return s;
    }
    const Shape& x = in[0]->shape;
    auto axis = NormalizeAxis(axis_, static_cast<int64_t>(x.size()), "attribute 'axis'");
    if (!axis.ok()) return axis.status();
    const Shape normalized(x.begin() + *axis, x.end());
    for (size_t i = 1; i < in.size(); ++i) {
      if (in[i] == nullptr) continue;
      auto b = BroadcastShapes(in[i]->shape, normalized);
      if (!b.ok() || *b != normalized) {
        return absl::InvalidArgumentError(
            absl::StrCat("input ", i, " ", ShapeToString(in[i]->shape), " does not broadcast to ",
                         ShapeToString(normalized)));
      }
    }
    out[0].dtype = DataType::kFloat;
    out[0].shape = x;
    Shape stats = x;
    std::fill(stats.begin() + *axis, stats.end(), 1);
    for (size_t i = 1; i < out.size(); ++i) {
      out[i].dtype = DataType::kFloat;
      out[i].shape = stats;
    }
    return absl::OkStatus();
  }

  absl::Status Run(const ExecContext& ctx, std::span<const Tensor* const> in,
                   std::span<Tensor* const> out) const override {
    const Tensor& x = *in[0];
    const int64_t axis = axis_ < 0 ? axis_ + x.rank() : axis_;
    const int64_t rows = Product(x.shape(), 0, static_cast<size_t>(axis));
    const int64_t inner = Product(x.shape(), static_cast<size_t>(axis), x.shape().size());
    const Shape normalized(x.shape().begin() + axis, x.shape().end());
    // Scale and bias broadcast to the normalized shape, side by side.
    float* params = ctx.ScratchFloats(static_cast<size_t>(2 * inner));
    BroadcastCopy(ctx.pool(), in[1]->bytes().data(), in[1]->shape(),
                  reinterpret_cast<uint8_t*>(params), normalized, sizeof(float));
    if (in.size() > 2 && in[2] != nullptr) {
      BroadcastCopy(ctx.pool(), in[2]->bytes().data(), in[2]->shape(),
                    reinterpret_cast<uint8_t*>(params + inner), normalized, sizeof(float));
    } else {
      std::fill(params + inner, params + 2 * inner, 0.0f);
    }
    const float* px = x.data<float>().data();
    float* py = out[0]->mutable_data<float>().data();
    float* pmean =
        out.size() > 1 && out[1] != nullptr ? out[1]->mutable_data<float>().data() : nullptr;
    float* pinv =
        out.size() > 2 && out[2] != nullptr ? out[2]->mutable_data<float>().data() : nullptr;
    ctx.pool()->ParallelFor(
        rows, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(1, inner)),
        [&](int64_t r0, int64_t r1) {
          for (int64_t r = r0; r < r1; ++r) {
            const float* src = px + r * inner;
            float* dst = py + r * inner;
            double sum = 0;
            for (int64_t i = 0; i < inner; ++i) sum += src[i];
            const double mean = inner > 0 ? sum / static_cast<double>(inner) : 0;
            double sq = 0;
            for (int64_t i = 0; i < inner; ++i) sq += (src[i] - mean) * (src[i] - mean);
            const double var = inner > 0 ? sq / static_cast<double>(inner) : 0;
            const float inv = static_cast<float>(1.0 / std::sqrt(var + epsilon_));
            const float m = static_cast<float>(mean);
            for (int64_t i = 0; i < inner; ++i) {
              dst[i] = (src[i] - m) * inv * params[i] + params[inner + i];
            }
            if (pmean != nullptr) pmean[r] = m;
            if (pinv != nullptr) pinv[r] = inv;
          }
        });
    return absl::OkStatus();
  }

 private:
  const int64_t axis_;
  const float epsilon_;
};

class LrnOp final : public Op {
 public:
  LrnOp(float alpha, float beta, float bias, int64_t size)
      : alpha_(alpha), beta_(beta), bias_(bias), size_(size) {}

  absl::Status Infer(std::span<const TensorMeta* const> in,
                     std::span<TensorMeta> out) const override {
    auto s = CheckType(in[0], 0, {DataType::kFloat});
    if (!s.ok()) return s;
    if (in[0]->shape.size() < 2) {
      return absl::InvalidArgumentError(
          absl::StrCat("input X ", ShapeToString(in[0]->shape), " needs N and C dims"));
    }
    return SameAsInput(in, out);
  }

  absl::Status Run(const ExecContext& ctx, std::span<const Tensor* const> in,
                   std::span<Tensor* const> out) const override {
    const Tensor& x = *in[0];
    const int64_t n = x.dim(0), c = x.dim(1);
    const int64_t size = Product(x.shape(), 2, x.shape().size());
    const int64_t before = (size_ - 1) / 2, after = size_ - 1 - before;
    const float* px = x.data<float>().data();
    float* py = out[0]->mutable_data<float>().data();
    const float scale = alpha_ / static_cast<float>(size_);
    ctx.pool()->ParallelFor(
        n * c, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(1, size * size_)),
        [&](int64_t r0, int64_t r1) {
          for (int64_t r = r0; r < r1; ++r) {
            const int64_t img = r / c, ch = r % c;
            const int64_t lo = std::max<int64_t>(0, ch - before);
            const int64_t hi = std::min<int64_t>(c - 1, ch + after);
            for (int64_t i = 0; i < size; ++i) {
              float sq = 0;
              for (int64_t k = lo; k <= hi; ++k) {
                const float v = px[(img * c + k) * size + i];
                sq += v * v;
              }
              py[r * size + i] = px[r * size + i] / std::pow(bias_ + scale * sq, beta_);
            }
          }
        });
    return absl::OkStatus();
  }

 private:
  const float alpha_, beta_, bias_;
  const int64_t size_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Op>> CreateBatchNormalization(const OpConfig& config,
                                                             AttributeReader& attrs) {
  auto epsilon = attrs.Float("epsilon", 1e-5f);
  auto momentum = attrs.Float("momentum", 0.9f);
  if (!epsilon.ok()) return epsilon.status();
  if (!momentum.ok()) return momentum.status();
  if (config.opset < 9) {
    auto spatial = attrs.Int("spatial", 1);
    if (!spatial.ok()) return spatial.status();
    if (*spatial != 1) return UnsupportedAttribute("spatial", *spatial);
  }
  int64_t training = 0;
  if (config.opset >= 14) {
    auto t = attrs.Int("training_mode", 0);
    if (!t.ok()) return t.status();
    if (*t != 0 && *t != 1) return UnsupportedAttribute("training_mode", *t);
    training = *t;
  }
  const size_t max_outputs = training ? 3 : 1;
  for (size_t i = max_outputs; i < config.num_outputs(); ++i) {
    if (config.has_output[i]) {
      return absl::InvalidArgumentError(
          absl::StrCat("output ", i, " (training statistics) is not supported",
                       config.opset >= 14 ? " without training_mode=1" : " before opset 14"));
    }
  }
  auto s = attrs.Finish();
  if (!s.ok()) return s;
  return std::unique_ptr<Op>(new BatchNormOp(*epsilon, *momentum, training == 1));
}

absl::StatusOr<std::unique_ptr<Op>> CreateLayerNormalization(const OpConfig&,
                                                             AttributeReader& attrs) {
  auto axis = attrs.Int("axis", -1);
  auto epsilon = attrs.Float("epsilon", 1e-5f);
  auto stash = attrs.Int("stash_type", 1);
  if (!axis.ok()) return axis.status();
  if (!epsilon.ok()) return epsilon.status();
  if (!stash.ok()) return stash.status();
  if (*stash != 1) return UnsupportedAttribute("stash_type", *stash);
  auto s = attrs.Finish();
  if (!s.ok()) return s;
  return std::unique_ptr<Op>(new LayerNormOp(*axis, *epsilon));
}

absl::StatusOr<std::unique_ptr<Op>> CreateLRN(const OpConfig&, AttributeReader& attrs) {
  auto alpha = attrs.Float("alpha", 1e-4f);
  auto beta = attrs.Float("beta", 0.75f);
  auto bias = attrs.Float("bias", 1.0f);
  auto size = attrs.Int("size", 0);
  for (const absl::Status& s : {alpha.status(), beta.status(), bias.status(), size.status()}) {
    if (!s.ok()) return s;
  }
  if (!attrs.Has("size")) return absl::InvalidArgumentError("attribute 'size' is required");
  if (*size < 1 || *size > (int64_t{1} << 20)) return UnsupportedAttribute("size", *size);
  auto s = attrs.Finish();
  if (!s.ok()) return s;
  return std::unique_ptr<Op>(new LrnOp(*alpha, *beta, *bias, *size));
}

}  // namespace strongroom::worker::onnx::ops
