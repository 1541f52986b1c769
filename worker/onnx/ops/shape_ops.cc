// Data movement and constants: Flatten, Reshape (0, -1, allowzero),
// Transpose, Concat, Unsqueeze (axes attribute before opset 13, input from
// 13), Constant, ConstantOfShape. These move elements of any supported type.
#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "worker/onnx/ops/factories.h"
#include "worker/onnx/ops/kernel_util.h"

namespace strongroom::worker::onnx::ops {
namespace {

absl::Status CopyInput(const Tensor& in, Tensor* out) {
  if (in.byte_size() > 0)
    std::memcpy(out->mutable_bytes().data(), in.bytes().data(), in.byte_size());
  return absl::OkStatus();
}

// The int64 vector a shape-like input holds, or InvalidArgument.
absl::StatusOr<std::vector<int64_t>> ShapeInput(const Tensor& t, absl::string_view what) {
  if (t.dtype() != DataType::kInt64 || t.rank() > 1) {
    return absl::InvalidArgumentError(absl::StrCat(what, " must be a 1-D INT64 tensor, got ",
                                                   DataTypeName(t.dtype()), " ",
                                                   ShapeToString(t.shape())));
  }
  auto v = t.data<int64_t>();
  return std::vector<int64_t>(v.begin(), v.end());
}

class FlattenOp final : public Op {
 public:
  explicit FlattenOp(int64_t axis) : axis_(axis) {}
  absl::Status Infer(std::span<const TensorMeta* const> in,
                     std::span<TensorMeta> out) const override {
    const Shape& x = in[0]->shape;
    const int64_t r = static_cast<int64_t>(x.size());
    if (axis_ < -r || axis_ > r) {
      return absl::InvalidArgumentError(
          absl::StrCat("attribute 'axis'=", axis_, " is out of range for rank ", r));
    }
    const size_t axis = static_cast<size_t>(axis_ < 0 ? axis_ + r : axis_);
    out[0].dtype = in[0]->dtype;
    out[0].shape = {Product(x, 0, axis), Product(x, axis, x.size())};
    return absl::OkStatus();
  }
  absl::Status Run(const ExecContext&, std::span<const Tensor* const> in,
                   std::span<Tensor* const> out) const override {
    return CopyInput(*in[0], out[0]);
  }

 private:
  const int64_t axis_;
};

class ReshapeOp final : public Op {
 public:
  explicit ReshapeOp(bool allow_zero) : allow_zero_(allow_zero) {}
  absl::Status Infer(std::span<const TensorMeta* const> in,
                     std::span<TensorMeta> out) const override {
    auto s = CheckType(in[1], 1, {DataType::kInt64});
    if (!s.ok()) return s;
    if (in[1]->value == nullptr) return MarkUnknown(out);
    auto requested = ShapeInput(*in[1]->value, "shape");
    if (!requested.ok()) return requested.status();
    const Shape& x = in[0]->shape;
    Shape shape = *requested;
    int infer_at = -1;
    bool has_zero = false;
    for (size_t i = 0; i < shape.size(); ++i) {
      if (shape[i] == -1) {
        if (infer_at >= 0) return absl::InvalidArgumentError("shape has more than one -1");
        infer_at = static_cast<int>(i);
      } else if (shape[i] == 0) {
        has_zero = true;
        if (!allow_zero_) {
          if (i >= x.size()) {
            return absl::InvalidArgumentError(absl::StrCat(
                "shape[", i, "]=0 copies a dim that input ", ShapeToString(x), " lacks"));
          }
          shape[i] = x[i];
        }
      } else if (shape[i] < -1) {
        return absl::InvalidArgumentError(absl::StrCat("shape[", i, "]=", shape[i], " is invalid"));
      }
    }
    if (allow_zero_ && has_zero && infer_at >= 0) {
      return absl::InvalidArgumentError("shape has both 0 and -1 with allowzero=1");
    }
    const int64_t total = Product(x, 0, x.size());
    Shape known = shape;
    if (infer_at >= 0) known[static_cast<size_t>(infer_at)] = 1;
    auto n = CheckedNumElements(known, ElementSize(in[0]->dtype), "shape");
    if (!n.ok()) return n.status();
    if (infer_at >= 0) {
      if (*n == 0 || total % *n != 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("cannot reshape ", ShapeToString(x), " to ", ShapeToString(*requested)));
      }
      shape[static_cast<size_t>(infer_at)] = total / *n;
    } else if (*n != total) {
      return absl::InvalidArgumentError(absl::StrCat("cannot reshape ", ShapeToString(x), " (",
                                                     total, " elements) to ",
                                                     ShapeToString(*requested)));
    }
    out[0].dtype = in[0]->dtype;
    out[0].shape = std::move(shape);
    return absl::OkStatus();
  }
  absl::Status Run(const ExecContext&, std::span<const Tensor* const> in,
                   std::span<Tensor* const> out) const override {
    return CopyInput(*in[0], out[0]);
  }

 private:
  const bool allow_zero_;
};

template <typename T>
void TransposeTyped(ThreadPool* pool, const T* x, T* y, const Shape& out_shape,
                    const std::vector<int64_t>& in_strides) {
  const size_t r = out_shape.size();
  const int64_t inner = r == 0 ? 1 : out_shape[r - 1];
  const int64_t step = r == 0 ? 0 : in_strides[r - 1];
  const int64_t rows = r == 0 ? 1 : Product(out_shape, 0, r - 1);
  pool->ParallelFor(rows, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(1, inner)),
                    [&](int64_t r0, int64_t r1) {
                      for (int64_t row = r0; row < r1; ++row) {
                        int64_t off = 0, rem = row;
                        for (size_t k = r == 0 ? 0 : r - 1; k-- > 0;) {
                          off += (rem % out_shape[k]) * in_strides[k];
                          rem /= out_shape[k];
                        }
                        T* dst = y + row * inner;
                        for (int64_t j = 0; j < inner; ++j) dst[j] = x[off + j * step];
                      }
                    });
}

class TransposeOp final : public Op {
 public:
  explicit TransposeOp(std::vector<int64_t> perm) : perm_(std::move(perm)) {}
  absl::Status Infer(std::span<const TensorMeta* const> in,
                     std::span<TensorMeta> out) const override {
    const Shape& x = in[0]->shape;
    std::vector<int64_t> perm = Perm(x.size());
    std::vector<bool> seen(x.size(), false);
    if (perm.size() != x.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("attribute 'perm' has ", perm.size(), " entries for rank ", x.size()));
    }
    out[0].shape.clear();
    for (int64_t p : perm) {
      if (p < 0 || p >= static_cast<int64_t>(x.size()) || seen[static_cast<size_t>(p)]) {
        return absl::InvalidArgumentError(
            absl::StrCat("attribute 'perm'=[", absl::StrJoin(perm, ","), "] is not a permutation"));
      }
      seen[static_cast<size_t>(p)] = true;
      out[0].shape.push_back(x[static_cast<size_t>(p)]);
    }
    out[0].dtype = in[0]->dtype;
    return absl::OkStatus();
  }
  absl::Status Run(const ExecContext& ctx, std::span<const Tensor* const> in,
                   std::span<Tensor* const> out) const override {
    const Tensor& x = *in[0];
    const std::vector<int64_t> perm = Perm(x.shape().size());
    std::vector<int64_t> strides(x.shape().size());
    int64_t s = 1;
    for (size_t i = x.shape().size(); i-- > 0;) {
      strides[i] = s;
      s *= x.shape()[i];
    }
    std::vector<int64_t> in_strides;
    for (int64_t p : perm) in_strides.push_back(strides[static_cast<size_t>(p)]);
    const Shape& ys = out[0]->shape();
    switch (ElementSize(x.dtype())) {
      case 1:
        TransposeTyped(ctx.pool(), x.bytes().data(), out[0]->mutable_bytes().data(), ys,
                       in_strides);
        break;
      case 4:
        TransposeTyped(ctx.pool(), reinterpret_cast<const uint32_t*>(x.bytes().data()),
                       reinterpret_cast<uint32_t*>(out[0]->mutable_bytes().data()), ys, in_strides);
        break;
      case 8:
        TransposeTyped(ctx.pool(), reinterpret_cast<const uint64_t*>(x.bytes().data()),
                       reinterpret_cast<uint64_t*>(out[0]->mutable_bytes().data()), ys, in_strides);
        break;
      default:
        return absl::InvalidArgumentError("unsupported element size");
    }
    return absl::OkStatus();
  }

 private:
  std::vector<int64_t> Perm(size_t rank) const {
    if (!perm_.empty()) return perm_;
    std::vector<int64_t> p(rank);
    for (size_t i = 0; i < rank; ++i) p[i] = static_cast<int64_t>(rank - 1 - i);
    return p;
  }
  const std::vector<int64_t> perm_;
};

class ConcatOp final : public Op {
 public:
  explicit ConcatOp(int64_t axis) : axis_(axis) {}
  absl::Status Infer(std::span<const TensorMeta* const> in,
                     std::span<TensorMeta> out) const override {
    const Shape& first = in[0]->shape;
    auto axis = NormalizeAxis(axis_, static_cast<int64_t>(first.size()), "attribute 'axis'");
    if (!axis.ok()) return axis.status();
    Shape shape = first;
    shape[*axis] = 0;
    for (size_t i = 0; i < in.size(); ++i) {
      if (in[i] == nullptr)
        return absl::InvalidArgumentError(absl::StrCat("input ", i, " is empty"));
      const Shape& s = in[i]->shape;
      bool ok = in[i]->dtype == in[0]->dtype && s.size() == first.size();
      for (size_t d = 0; ok && d < s.size(); ++d) {
        ok = static_cast<int64_t>(d) == *axis || s[d] == first[d];
      }
      if (!ok) {
        return absl::InvalidArgumentError(
            absl::StrCat("input ", i, " (", DataTypeName(in[i]->dtype), " ", ShapeToString(s),
                         ") does not concatenate with input 0 (", DataTypeName(in[0]->dtype), " ",
                         ShapeToString(first), ") on axis ", *axis));
      }
      shape[*axis] += s[*axis];
    }
    out[0].dtype = in[0]->dtype;
    out[0].shape = std::move(shape);
    return absl::OkStatus();
  }
  absl::Status Run(const ExecContext&, std::span<const Tensor* const> in,
                   std::span<Tensor* const> out) const override {
    Tensor* y = out[0];
    const size_t axis = static_cast<size_t>(axis_ < 0 ? axis_ + y->rank() : axis_);
    const size_t elem = ElementSize(y->dtype());
    const int64_t outer = Product(y->shape(), 0, axis);
    const size_t out_row = static_cast<size_t>(Product(y->shape(), axis, y->shape().size())) * elem;
    size_t offset = 0;
    for (const Tensor* x : in) {
      const size_t row = static_cast<size_t>(Product(x->shape(), axis, x->shape().size())) * elem;
      for (int64_t o = 0; row > 0 && o < outer; ++o) {
        std::memcpy(y->mutable_bytes().data() + static_cast<size_t>(o) * out_row + offset,
                    x->bytes().data() + static_cast<size_t>(o) * row, row);
      }
      offset += row;
    }
    return absl::OkStatus();
  }

 private:
  const int64_t axis_;
};

class UnsqueezeOp final : public Op {
 public:
  explicit UnsqueezeOp(std::vector<int64_t> axes) : axes_(std::move(axes)) {}
  absl::Status Infer(std::span<const TensorMeta* const> in,
                     std::span<TensorMeta> out) const override {
    std::vector<int64_t> axes = axes_;
    if (in.size() > 1 && in[1] != nullptr) {
      auto s = CheckType(in[1], 1, {DataType::kInt64});
      if (!s.ok()) return s;
      if (in[1]->value == nullptr) return MarkUnknown(out);
      auto v = ShapeInput(*in[1]->value, "axes");
      if (!v.ok()) return v.status();
      axes = *v;
    } else if (axes.empty()) {
      return absl::InvalidArgumentError("no axes given");
    }
    const Shape& x = in[0]->shape;
    const int64_t rank = static_cast<int64_t>(x.size() + axes.size());
    std::vector<bool> inserted(static_cast<size_t>(rank), false);
    for (int64_t a : axes) {
      auto n = NormalizeAxis(a, rank, "axis");
      if (!n.ok()) return n.status();
      if (inserted[static_cast<size_t>(*n)]) {
        return absl::InvalidArgumentError(absl::StrCat("axis ", a, " appears twice"));
      }
      inserted[static_cast<size_t>(*n)] = true;
    }
    out[0].shape.clear();
    size_t next = 0;
    for (int64_t i = 0; i < rank; ++i) {
      out[0].shape.push_back(inserted[static_cast<size_t>(i)] ? 1 : x[next++]);
    }
    out[0].dtype = in[0]->dtype;
    return absl::OkStatus();
  }
  absl::Status Run(const ExecContext&, std::span<const Tensor* const> in,
                   std::span<Tensor* const> out) const override {
    return CopyInput(*in[0], out[0]);
  }

 private:
  const std::vector<int64_t> axes_;
};

class ConstantOp final : public Op {
 public:
  explicit ConstantOp(std::shared_ptr<const Tensor> value) : value_(std::move(value)) {}
  absl::Status Infer(std::span<const TensorMeta* const>, std::span<TensorMeta> out) const override {
    out[0].dtype = value_->dtype();
    out[0].shape = value_->shape();
    out[0].value = value_.get();
    return absl::OkStatus();
  }
  absl::Status Run(const ExecContext&, std::span<const Tensor* const>,
                   std::span<Tensor* const> out) const override {
    return CopyInput(*value_, out[0]);
  }

 private:
  const std::shared_ptr<const Tensor> value_;
};

class ConstantOfShapeOp final : public Op {
 public:
  explicit ConstantOfShapeOp(std::shared_ptr<const Tensor> value) : value_(std::move(value)) {}
  absl::Status Infer(std::span<const TensorMeta* const> in,
                     std::span<TensorMeta> out) const override {
    auto s = CheckType(in[0], 0, {DataType::kInt64});
    if (!s.ok()) return s;
    if (in[0]->value == nullptr) return MarkUnknown(out);
    auto shape = ShapeInput(*in[0]->value, "input");
    if (!shape.ok()) return shape.status();
    auto n = CheckedNumElements(*shape, ElementSize(value_->dtype()), "input");
    if (!n.ok()) return n.status();
    out[0].dtype = value_->dtype();
    out[0].shape = *std::move(shape);
    return absl::OkStatus();
  }
  absl::Status Run(const ExecContext& ctx, std::span<const Tensor* const>,
                   std::span<Tensor* const> out) const override {
    Tensor* y = out[0];
    switch (ElementSize(y->dtype())) {
      case 1:
        Fill<uint8_t>(ctx, y);
        break;
      case 4:
        Fill<uint32_t>(ctx, y);
        break;
      case 8:
        Fill<uint64_t>(ctx, y);
        break;
      default:
        return absl::InvalidArgumentError("unsupported element size");
    }
    return absl::OkStatus();
  }

 private:
  // Fills by bit pattern, so one instantiation per element size serves
  // every type.
  template <typename Bits>
  void Fill(const ExecContext& ctx, Tensor* y) const {
    Bits v;
    std::memcpy(&v, value_->bytes().data(), sizeof(v));
    Bits* p = reinterpret_cast<Bits*>(y->mutable_bytes().data());
    ctx.pool()->ParallelFor(y->num_elements(), kElementwiseGrain * 4,
                            [&](int64_t i0, int64_t i1) { std::fill(p + i0, p + i1, v); });
  }

  const std::shared_ptr<const Tensor> value_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Op>> CreateFlatten(const OpConfig&, AttributeReader& attrs) {
  auto axis = attrs.Int("axis", 1);
  if (!axis.ok()) return axis.status();
  auto s = attrs.Finish();
  if (!s.ok()) return s;
  return std::unique_ptr<Op>(new FlattenOp(*axis));
}

absl::StatusOr<std::unique_ptr<Op>> CreateReshape(const OpConfig& config, AttributeReader& attrs) {
  int64_t allow_zero = 0;
  if (config.opset >= 14) {
    auto a = attrs.Int("allowzero", 0);
    if (!a.ok()) return a.status();
    if (*a != 0 && *a != 1) return UnsupportedAttribute("allowzero", *a);
    allow_zero = *a;
  }
  auto s = attrs.Finish();
  if (!s.ok()) return s;
  return std::unique_ptr<Op>(new ReshapeOp(allow_zero == 1));
}

absl::StatusOr<std::unique_ptr<Op>> CreateTranspose(const OpConfig&, AttributeReader& attrs) {
  auto perm = attrs.Ints("perm");
  if (!perm.ok()) return perm.status();
  auto s = attrs.Finish();
  if (!s.ok()) return s;
  return std::unique_ptr<Op>(new TransposeOp(*std::move(perm)));
}

absl::StatusOr<std::unique_ptr<Op>> CreateConcat(const OpConfig&, AttributeReader& attrs) {
  if (!attrs.Has("axis")) return absl::InvalidArgumentError("attribute 'axis' is required");
  auto axis = attrs.Int("axis", 0);
  if (!axis.ok()) return axis.status();
  auto s = attrs.Finish();
  if (!s.ok()) return s;
  return std::unique_ptr<Op>(new ConcatOp(*axis));
}

absl::StatusOr<std::unique_ptr<Op>> CreateUnsqueeze(const OpConfig& config,
                                                    AttributeReader& attrs) {
  std::vector<int64_t> axes;
  if (config.opset < 13) {
    auto a = attrs.Ints("axes");
    if (!a.ok()) return a.status();
    if (a->empty())
      return absl::InvalidArgumentError("attribute 'axes' is required before opset 13");
    if (config.num_inputs() > 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("takes one input before opset 13, got ", config.num_inputs()));
    }
    axes = *a;
  } else if (config.num_inputs() < 2 || !config.has_input[1]) {
    return absl::InvalidArgumentError("input 'axes' is required from opset 13");
  }
  auto s = attrs.Finish();
  if (!s.ok()) return s;
  return std::unique_ptr<Op>(new UnsqueezeOp(std::move(axes)));
}

absl::StatusOr<std::unique_ptr<Op>> CreateConstant(const OpConfig&, AttributeReader& attrs) {
  std::shared_ptr<const Tensor> value;
  int given = 0;
  auto tensor = attrs.TensorValue("value");
  if (!tensor.ok()) return tensor.status();
  if (*tensor != nullptr) {
    value = *tensor;
    ++given;
  }
  auto make = [&](absl::StatusOr<Tensor> t) -> absl::Status {
    if (!t.ok()) return t.status();
    value = std::make_shared<const Tensor>(*std::move(t));
    ++given;
    return absl::OkStatus();
  };
  if (attrs.Has("value_float")) {
    auto f = attrs.Float("value_float", 0);
    if (!f.ok()) return f.status();
    auto s = make(Tensor::FromFloats({}, std::vector<float>{*f}));
    if (!s.ok()) return s;
  }
  if (attrs.Has("value_floats")) {
    auto f = attrs.Floats("value_floats");
    if (!f.ok()) return f.status();
    auto s = make(Tensor::FromFloats({static_cast<int64_t>(f->size())}, *f));
    if (!s.ok()) return s;
  }
  if (attrs.Has("value_int")) {
    auto i = attrs.Int("value_int", 0);
    if (!i.ok()) return i.status();
    auto s = make(Tensor::FromInt64s({}, std::vector<int64_t>{*i}));
    if (!s.ok()) return s;
  }
  if (attrs.Has("value_ints")) {
    auto i = attrs.Ints("value_ints");
    if (!i.ok()) return i.status();
    auto s = make(Tensor::FromInt64s({static_cast<int64_t>(i->size())}, *i));
    if (!s.ok()) return s;
  }
  auto s = attrs.Finish();
  if (!s.ok()) return s;
  if (given != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("needs exactly one value attribute, has ", given));
  }
  return std::unique_ptr<Op>(new ConstantOp(std::move(value)));
}

absl::StatusOr<std::unique_ptr<Op>> CreateConstantOfShape(const OpConfig&, AttributeReader& attrs) {
  auto value = attrs.TensorValue("value");
  if (!value.ok()) return value.status();
  std::shared_ptr<const Tensor> v = *value;
  if (v == nullptr) {
    auto zero = Tensor::FromFloats({1}, std::vector<float>{0.0f});
    if (!zero.ok()) return zero.status();
    v = std::make_shared<const Tensor>(*std::move(zero));
  } else if (v->num_elements() != 1) {
    return absl::InvalidArgumentError(absl::StrCat("attribute 'value' has ", v->num_elements(),
                                                   " elements; exactly one is needed"));
  }
  auto s = attrs.Finish();
  if (!s.ok()) return s;
  return std::unique_ptr<Op>(new ConstantOfShapeOp(std::move(v)));
}

}  // namespace strongroom::worker::onnx::ops
