// Softmax and LogSoftmax (before opset 13: over the input flattened to 2-D
// at `axis`, default 1; from 13: along `axis`, default -1) and ArgMax.
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "worker/onnx/ops/factories.h"
#include "worker/onnx/ops/kernel_util.h"

namespace strongroom::worker::onnx::ops {
namespace {

class SoftmaxOp final : public Op {
 public:
  SoftmaxOp(int64_t axis, bool flatten, bool log) : axis_(axis), flatten_(flatten), log_(log) {}

  absl::Status Infer(std::span<const TensorMeta* const> in,
                     std::span<TensorMeta> out) const override {
    auto s = CheckType(in[0], 0, {DataType::kFloat});
    if (!s.ok()) return s;
    auto axis = NormalizeAxis(axis_, std::max<int64_t>(1, in[0]->shape.size()), "attribute 'axis'");
    if (!axis.ok()) return axis.status();
    return SameAsInput(in, out);
  }

  absl::Status Run(const ExecContext& ctx, std::span<const Tensor* const> in,
                   std::span<Tensor* const> out) const override {
    const Tensor& x = *in[0];
    const size_t rank = x.shape().size();
    const size_t axis =
        static_cast<size_t>(axis_ < 0 ? axis_ + std::max<int64_t>(1, x.rank()) : axis_);
    // Softmax over `len` elements spaced `inner` apart, `outer` times.
    int64_t outer, len, inner;
    if (flatten_) {
      outer = Product(x.shape(), 0, axis);
      len = Product(x.shape(), axis, rank);
      inner = 1;
    } else {
      outer = Product(x.shape(), 0, axis);
      len = rank == 0 ? 1 : x.dim(static_cast<int64_t>(axis));
      inner = Product(x.shape(), axis + 1, rank);
    }
    const float* px = x.data<float>().data();
    float* py = out[0]->mutable_data<float>().data();
    ctx.pool()->ParallelFor(outer * inner, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, len)),
                            [&](int64_t r0, int64_t r1) {
                              for (int64_t r = r0; r < r1; ++r) {
                                const int64_t base = (r / inner) * len * inner + r % inner;
                                const float* src = px + base;
                                float* dst = py + base;
                                float mx = -std::numeric_limits<float>::infinity();
                                for (int64_t i = 0; i < len; ++i) mx = std::max(mx, src[i * inner]);
                                double sum = 0;
                                for (int64_t i = 0; i < len; ++i) {
                                  const float e = std::exp(src[i * inner] - mx);
                                  if (!log_) dst[i * inner] = e;
                                  sum += e;
                                }
                                if (log_) {
                                  const float shift = mx + static_cast<float>(std::log(sum));
                                  for (int64_t i = 0; i < len; ++i)
                                    dst[i * inner] = src[i * inner] - shift;
                                } else {
                                  const float inv = static_cast<float>(1.0 / sum);
                                  for (int64_t i = 0; i < len; ++i) dst[i * inner] *= inv;
                                }
                              }
                            });
    return absl::OkStatus();
  }

 private:
  const int64_t axis_;
  const bool flatten_, log_;
};

class ArgMaxOp final : public Op {
 public:
  ArgMaxOp(int64_t axis, bool keepdims, bool last)
      : axis_(axis), keepdims_(keepdims), last_(last) {}

  absl::Status Infer(std::span<const TensorMeta* const> in,
                     std::span<TensorMeta> out) const override {
    auto s = CheckType(in[0], 0, {DataType::kFloat, DataType::kInt64, DataType::kInt32});
    if (!s.ok()) return s;
    const Shape& x = in[0]->shape;
    auto axis = NormalizeAxis(axis_, static_cast<int64_t>(x.size()), "attribute 'axis'");
    if (!axis.ok()) return axis.status();
    if (x[*axis] == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("ArgMax over an empty axis of ", ShapeToString(x)));
    }
    out[0].dtype = DataType::kInt64;
    out[0].shape = x;
    if (keepdims_) {
      out[0].shape[*axis] = 1;
    } else {
      out[0].shape.erase(out[0].shape.begin() + *axis);
    }
    return absl::OkStatus();
  }

  absl::Status Run(const ExecContext& ctx, std::span<const Tensor* const> in,
                   std::span<Tensor* const> out) const override {
    switch (in[0]->dtype()) {
      case DataType::kFloat:
        return Typed<float>(*in[0], out[0]);
      case DataType::kInt64:
        return Typed<int64_t>(*in[0], out[0]);
      case DataType::kInt32:
        return Typed<int32_t>(*in[0], out[0]);
      default:
        return absl::InvalidArgumentError("unsupported element type");
    }
  }

 private:
  template <typename T>
  absl::Status Typed(const Tensor& x, Tensor* y) const {
    const size_t axis = static_cast<size_t>(axis_ < 0 ? axis_ + x.rank() : axis_);
    const int64_t outer = Product(x.shape(), 0, axis);
    const int64_t len = x.dim(static_cast<int64_t>(axis));
    const int64_t inner = Product(x.shape(), axis + 1, x.shape().size());
    const T* px = x.data<T>().data();
    int64_t* py = y->mutable_data<int64_t>().data();
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t r = 0; r < inner; ++r) {
        const T* src = px + o * len * inner + r;
        int64_t best = 0;
        for (int64_t i = 1; i < len; ++i) {
          const T v = src[i * inner], b = src[best * inner];
          if (v > b || (last_ && v == b)) best = i;
        }
        py[o * inner + r] = best;
      }
    }
    return absl::OkStatus();
  }

  const int64_t axis_;
  const bool keepdims_, last_;
};

absl::StatusOr<std::unique_ptr<Op>> CreateSoftmaxLike(const OpConfig& config,
                                                      AttributeReader& attrs, bool log) {
  const bool flatten = config.opset < 13;
  auto axis = attrs.Int("axis", flatten ? 1 : -1);
  if (!axis.ok()) return axis.status();
  auto s = attrs.Finish();
  if (!s.ok()) return s;
  return std::unique_ptr<Op>(new SoftmaxOp(*axis, flatten, log));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Op>> CreateSoftmax(const OpConfig& config, AttributeReader& attrs) {
  return CreateSoftmaxLike(config, attrs, false);
}

absl::StatusOr<std::unique_ptr<Op>> CreateLogSoftmax(const OpConfig& config,
                                                     AttributeReader& attrs) {
  return CreateSoftmaxLike(config, attrs, true);
}

absl::StatusOr<std::unique_ptr<Op>> CreateArgMax(const OpConfig& config, AttributeReader& attrs) {
  auto axis = attrs.Int("axis", 0);
  auto keepdims = attrs.Int("keepdims", 1);
  if (!axis.ok()) return axis.status();
  if (!keepdims.ok()) return keepdims.status();
  if (*keepdims != 0 && *keepdims != 1) return UnsupportedAttribute("keepdims", *keepdims);
  int64_t last = 0;
  if (config.opset >= 12) {
    auto l = attrs.Int("select_last_index", 0);
    if (!l.ok()) return l.status();
    if (*l != 0 && *l != 1) return UnsupportedAttribute("select_last_index", *l);
    last = *l;
  }
  auto s = attrs.Finish();
  if (!s.ok()) return s;
  return std::unique_ptr<Op>(new ArgMaxOp(*axis, *keepdims == 1, last == 1));
}

}  // namespace strongroom::worker::onnx::ops
