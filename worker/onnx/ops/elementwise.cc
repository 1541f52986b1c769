// Element-wise operators: Add, Sub, Mul, Div (numpy broadcasting), Sum,
// Relu, Sigmoid, Tanh, Gelu, Identity, Dropout (inference).
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "worker/onnx/ops/factories.h"
#include "worker/onnx/ops/kernel_util.h"

namespace strongroom::worker::onnx::ops {
namespace {

enum class Arith { kAdd, kSub, kMul, kDiv };

template <typename T>
absl::Status ArithTyped(Arith kind, ThreadPool* pool, const Tensor& a, const Tensor& b,
                        Tensor* out) {
  const T* pa = a.data<T>().data();
  const T* pb = b.data<T>().data();
  T* po = out->mutable_data<T>().data();
  switch (kind) {
    case Arith::kAdd:
      BroadcastBinary(pool, pa, a.shape(), pb, b.shape(), po, out->shape(),
                      [](T x, T y) { return x + y; });
      break;
    case Arith::kSub:
      BroadcastBinary(pool, pa, a.shape(), pb, b.shape(), po, out->shape(),
                      [](T x, T y) { return x - y; });
      break;
    case Arith::kMul:
      BroadcastBinary(pool, pa, a.shape(), pb, b.shape(), po, out->shape(),
                      [](T x, T y) { return x * y; });
      break;
    case Arith::kDiv:
      if constexpr (std::is_integral_v<T>) {
        for (T v : b.data<T>()) {
          if (v == 0) return absl::InvalidArgumentError("integer division by zero");
        }
        for (size_t i = 0; i < b.data<T>().size(); ++i) {
          if (b.data<T>()[i] == -1) {
            // INT_MIN / -1 overflows; numpy wraps, we refuse.
            for (T x : a.data<T>()) {
              if (x == std::numeric_limits<T>::min()) {
                return absl::InvalidArgumentError("integer division overflows");
              }
            }
            break;
          }
        }
      }
      BroadcastBinary(pool, pa, a.shape(), pb, b.shape(), po, out->shape(),
                      [](T x, T y) { return x / y; });
      break;
  }
  return absl::OkStatus();
}

absl::Status RunArith(Arith kind, ThreadPool* pool, const Tensor& a, const Tensor& b, Tensor* out) {
  switch (a.dtype()) {
    case DataType::kFloat:
      return ArithTyped<float>(kind, pool, a, b, out);
    case DataType::kInt64:
      return ArithTyped<int64_t>(kind, pool, a, b, out);
    case DataType::kInt32:
      return ArithTyped<int32_t>(kind, pool, a, b, out);
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("element type ", DataTypeName(a.dtype()), " is not supported"));
  }
}

absl::Status InferArith(std::span<const TensorMeta* const> in, std::span<TensorMeta> out) {
  for (size_t i = 0; i < in.size(); ++i) {
    auto s = CheckType(in[i], i, {DataType::kFloat, DataType::kInt64, DataType::kInt32});
    if (!s.ok()) return s;
    if (in[i]->dtype != in[0]->dtype) {
      return absl::InvalidArgumentError(absl::StrCat("input ", i, " has type ",
                                                     DataTypeName(in[i]->dtype), ", input 0 ",
                                                     DataTypeName(in[0]->dtype)));
    }
  }
  Shape shape = in[0]->shape;
  for (size_t i = 1; i < in.size(); ++i) {
    auto s = BroadcastShapes(shape, in[i]->shape);
    if (!s.ok()) return s.status();
    shape = *std::move(s);
  }
  out[0].dtype = in[0]->dtype;
  out[0].shape = std::move(shape);
  return absl::OkStatus();
}

// Relu(a + b) in one pass over float tensors (the Relu kernel's
// expression, so bit-identical to Add then Relu).
void AddRelu(ThreadPool* pool, const Tensor& a, const Tensor& b, Tensor* out) {
  BroadcastBinary(pool, a.data<float>().data(), a.shape(), b.data<float>().data(), b.shape(),
                  out->mutable_data<float>().data(), out->shape(), [](float x, float y) {
                    const float v = x + y;
                    return v > 0 ? v : 0.0f;
                  });
}

class BinaryOp final : public Op {
 public:
  explicit BinaryOp(Arith kind, Activation activation = Activation::kNone)
      : kind_(kind), activation_(activation) {}
  absl::Status Infer(std::span<const TensorMeta* const> in,
                     std::span<TensorMeta> out) const override {
    auto s = InferArith(in, out);
    // As the Relu node this replaces would.
    if (s.ok() && activation_ != Activation::kNone) s = CheckType(&out[0], 0, {DataType::kFloat});
    return s;
  }
  absl::Status Run(const ExecContext& ctx, std::span<const Tensor* const> in,
                   std::span<Tensor* const> out) const override {
    if (activation_ == Activation::kRelu) {
      AddRelu(ctx.pool(), *in[0], *in[1], out[0]);
      return absl::OkStatus();
    }
    return RunArith(kind_, ctx.pool(), *in[0], *in[1], out[0]);
  }
  std::unique_ptr<Op> WithActivation(Activation activation) const override {
    if (kind_ != Arith::kAdd) return nullptr;
    return std::make_unique<BinaryOp>(kind_, activation);
  }

 private:
  const Arith kind_;
  const Activation activation_;
};

class SumOp final : public Op {
 public:
  explicit SumOp(Activation activation = Activation::kNone) : activation_(activation) {}
  absl::Status Infer(std::span<const TensorMeta* const> in,
                     std::span<TensorMeta> out) const override {
    auto s = InferArith(in, out);
    if (s.ok() && activation_ != Activation::kNone) s = CheckType(&out[0], 0, {DataType::kFloat});
    return s;
  }
  std::unique_ptr<Op> WithActivation(Activation activation) const override {
    return std::make_unique<SumOp>(activation);
  }
  absl::Status Run(const ExecContext& ctx, std::span<const Tensor* const> in,
                   std::span<Tensor* const> out) const override {
    Tensor* y = out[0];
    if (activation_ == Activation::kRelu && in.size() == 2) {
      AddRelu(ctx.pool(), *in[0], *in[1], y);
      return absl::OkStatus();
    }
    absl::Status s;
    if (in.size() == 1) {
      if (y->byte_size() > 0)
        std::memcpy(y->mutable_bytes().data(), in[0]->bytes().data(), y->byte_size());
    } else {
      s = RunArith(Arith::kAdd, ctx.pool(), *in[0], *in[1], y);
    }
    // y has the output shape, so it can be the left operand in place.
    for (size_t i = 2; s.ok() && i < in.size(); ++i) {
      s = RunArith(Arith::kAdd, ctx.pool(), *y, *in[i], y);
    }
    if (s.ok() && activation_ == Activation::kRelu) {
      float* p = y->mutable_data<float>().data();
      ParallelMap(ctx.pool(), p, p, y->num_elements(), [](float v) { return v > 0 ? v : 0.0f; });
    }
    return s;
  }

 private:
  const Activation activation_;
};

enum class Unary { kRelu, kSigmoid, kTanh, kGelu, kGeluTanh };

class UnaryOp final : public Op {
 public:
  explicit UnaryOp(Unary kind) : kind_(kind) {}
  absl::Status Infer(std::span<const TensorMeta* const> in,
                     std::span<TensorMeta> out) const override {
    auto s = CheckType(in[0], 0, {DataType::kFloat});
    if (!s.ok()) return s;
    return SameAsInput(in, out);
  }
  absl::Status Run(const ExecContext& ctx, std::span<const Tensor* const> in,
                   std::span<Tensor* const> out) const override {
    const float* x = in[0]->data<float>().data();
    float* y = out[0]->mutable_data<float>().data();
    const int64_t n = in[0]->num_elements();
    switch (kind_) {
      case Unary::kRelu:
        ParallelMap(ctx.pool(), x, y, n, [](float v) { return v > 0 ? v : 0.0f; });
        break;
      case Unary::kSigmoid:
        ParallelMap(ctx.pool(), x, y, n, [](float v) {
          // Never exp of a large positive number.
          if (v >= 0) return 1.0f / (1.0f + std::exp(-v));
          const float e = std::exp(v);
          return e / (1.0f + e);
        });
        break;
      case Unary::kTanh:
        ParallelMap(ctx.pool(), x, y, n, [](float v) { return std::tanh(v); });
        break;
      case Unary::kGelu:
        ParallelMap(ctx.pool(), x, y, n, [](float v) {
          return 0.5f * v * (1.0f + std::erf(v * static_cast<float>(M_SQRT1_2)));
        });
        break;
      case Unary::kGeluTanh:
        ParallelMap(ctx.pool(), x, y, n, [](float v) {
          constexpr float kC = 0.7978845608028654f;  // sqrt(2 / pi)
          return 0.5f * v * (1.0f + std::tanh(kC * (v + 0.044715f * v * v * v)));
        });
        break;
    }
    return absl::OkStatus();
  }

 private:
  const Unary kind_;
};

// Identity, and Dropout at inference (output 1, the mask, is all true).
class CopyOp final : public Op {
 public:
  explicit CopyOp(DataType mask_type = DataType::kUndefined) : mask_type_(mask_type) {}
  absl::Status Infer(std::span<const TensorMeta* const> in,
                     std::span<TensorMeta> out) const override {
    out[0].dtype = in[0]->dtype;
    out[0].shape = in[0]->shape;
    out[0].value = in[0]->value;
    if (out.size() > 1) {
      out[1].dtype = mask_type_ == DataType::kUndefined ? in[0]->dtype : mask_type_;
      out[1].shape = in[0]->shape;
    }
    // Dropout's training_mode input: only inference is supported.
    if (in.size() > 2 && in[2] != nullptr) {
      auto s = CheckType(in[2], 2, {DataType::kBool});
      if (!s.ok()) return s;
    }
    if (in.size() > 1 && in[1] != nullptr) {
      auto s = CheckType(in[1], 1, {DataType::kFloat});
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }
  absl::Status Run(const ExecContext& ctx, std::span<const Tensor* const> in,
                   std::span<Tensor* const> out) const override {
    if (in.size() > 2 && in[2] != nullptr) {
      for (bool training : in[2]->data<bool>()) {
        if (training) return absl::InvalidArgumentError("training_mode=true is not supported");
      }
    }
    if (in[0]->byte_size() > 0) {
      std::memcpy(out[0]->mutable_bytes().data(), in[0]->bytes().data(), in[0]->byte_size());
    }
    if (out.size() > 1 && out[1] != nullptr) {
      Tensor* mask = out[1];
      switch (mask->dtype()) {
        case DataType::kFloat:
          for (float& v : mask->mutable_data<float>()) v = 1.0f;
          break;
        default:
          // BOOL / integer ones: every byte pattern of value 1.
          std::memset(mask->mutable_bytes().data(), 0, mask->byte_size());
          for (size_t i = 0; i < mask->byte_size(); i += ElementSize(mask->dtype())) {
            mask->mutable_bytes()[i] = 1;
          }
          break;
      }
    }
    return absl::OkStatus();
  }

 private:
  const DataType mask_type_;
};

template <typename T, typename... Args>
absl::StatusOr<std::unique_ptr<Op>> Make(AttributeReader& attrs, Args&&... args) {
  auto s = attrs.Finish();
  if (!s.ok()) return s;
  return std::unique_ptr<Op>(new T(std::forward<Args>(args)...));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Op>> CreateAdd(const OpConfig&, AttributeReader& attrs) {
  return Make<BinaryOp>(attrs, Arith::kAdd);
}
absl::StatusOr<std::unique_ptr<Op>> CreateSub(const OpConfig&, AttributeReader& attrs) {
  return Make<BinaryOp>(attrs, Arith::kSub);
}
absl::StatusOr<std::unique_ptr<Op>> CreateMul(const OpConfig&, AttributeReader& attrs) {
  return Make<BinaryOp>(attrs, Arith::kMul);
}
absl::StatusOr<std::unique_ptr<Op>> CreateDiv(const OpConfig&, AttributeReader& attrs) {
  return Make<BinaryOp>(attrs, Arith::kDiv);
}
absl::StatusOr<std::unique_ptr<Op>> CreateSum(const OpConfig&, AttributeReader& attrs) {
  return Make<SumOp>(attrs);
}
absl::StatusOr<std::unique_ptr<Op>> CreateRelu(const OpConfig&, AttributeReader& attrs) {
  return Make<UnaryOp>(attrs, Unary::kRelu);
}
absl::StatusOr<std::unique_ptr<Op>> CreateSigmoid(const OpConfig&, AttributeReader& attrs) {
  return Make<UnaryOp>(attrs, Unary::kSigmoid);
}
absl::StatusOr<std::unique_ptr<Op>> CreateTanh(const OpConfig&, AttributeReader& attrs) {
  return Make<UnaryOp>(attrs, Unary::kTanh);
}
absl::StatusOr<std::unique_ptr<Op>> CreateGelu(const OpConfig&, AttributeReader& attrs) {
  auto approximate = attrs.String("approximate", "none");
  if (!approximate.ok()) return approximate.status();
  if (*approximate != "none" && *approximate != "tanh") {
    return UnsupportedAttribute("approximate", *approximate);
  }
  return Make<UnaryOp>(attrs, *approximate == "tanh" ? Unary::kGeluTanh : Unary::kGelu);
}
absl::StatusOr<std::unique_ptr<Op>> CreateIdentity(const OpConfig&, AttributeReader& attrs) {
  return Make<CopyOp>(attrs);
}
absl::StatusOr<std::unique_ptr<Op>> CreateDropout(const OpConfig& config, AttributeReader& attrs) {
  // The ratio and seed only matter in training; at inference Dropout is the
  // identity. Opset 12 moved ratio and training_mode to inputs.
  if (config.opset < 12) {
    auto ratio = attrs.Float("ratio", 0.5f);
    if (!ratio.ok()) return ratio.status();
    if (config.num_inputs() > 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "opset ", config.opset, " Dropout takes one input, got ", config.num_inputs()));
    }
  } else {
    auto seed = attrs.Int("seed", 0);
    if (!seed.ok()) return seed.status();
  }
  // Opset 10 made the mask BOOL; before, it had the data's type.
  return Make<CopyOp>(attrs, config.opset >= 10 ? DataType::kBool : DataType::kUndefined);
}

}  // namespace strongroom::worker::onnx::ops
