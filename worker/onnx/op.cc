#include "worker/onnx/op.h"

#include <algorithm>
#include <climits>

#include "absl/strings/str_cat.h"
#include "worker/onnx/ops/factories.h"

namespace strongroom::worker::onnx {
namespace {

constexpr int kMany = INT_MAX;

// min/max inputs, min/max outputs, oldest opset with these semantics.
constexpr OpSchema kOps[] = {
    {"Add", 2, 2, 1, 1, 7, ops::CreateAdd},
    {"ArgMax", 1, 1, 1, 1, 1, ops::CreateArgMax},
    {"AveragePool", 1, 1, 1, 1, 7, ops::CreateAveragePool},
    {"BatchNormalization", 5, 5, 1, 5, 7, ops::CreateBatchNormalization},
    {"Concat", 1, kMany, 1, 1, 4, ops::CreateConcat},
    {"Constant", 0, 0, 1, 1, 1, ops::CreateConstant},
    {"ConstantOfShape", 1, 1, 1, 1, 9, ops::CreateConstantOfShape},
    {"Conv", 2, 3, 1, 1, 1, ops::CreateConv},
    {"Div", 2, 2, 1, 1, 7, ops::CreateDiv},
    {"Dropout", 1, 3, 1, 2, 7, ops::CreateDropout},
    {"Flatten", 1, 1, 1, 1, 1, ops::CreateFlatten},
    {"Gelu", 1, 1, 1, 1, 20, ops::CreateGelu},
    {"Gemm", 2, 3, 1, 1, 7, ops::CreateGemm},
    {"GlobalAveragePool", 1, 1, 1, 1, 1, ops::CreateGlobalAveragePool},
    {"Identity", 1, 1, 1, 1, 1, ops::CreateIdentity},
    {"LRN", 1, 1, 1, 1, 1, ops::CreateLRN},
    {"LayerNormalization", 2, 3, 1, 3, 17, ops::CreateLayerNormalization},
    {"LogSoftmax", 1, 1, 1, 1, 1, ops::CreateLogSoftmax},
    {"MatMul", 2, 2, 1, 1, 1, ops::CreateMatMul},
    {"MaxPool", 1, 1, 1, 1, 1, ops::CreateMaxPool},
    {"Mul", 2, 2, 1, 1, 7, ops::CreateMul},
    {"Relu", 1, 1, 1, 1, 6, ops::CreateRelu},
    {"Reshape", 2, 2, 1, 1, 5, ops::CreateReshape},
    {"Sigmoid", 1, 1, 1, 1, 6, ops::CreateSigmoid},
    {"Softmax", 1, 1, 1, 1, 1, ops::CreateSoftmax},
    {"Sub", 2, 2, 1, 1, 7, ops::CreateSub},
    {"Sum", 1, kMany, 1, 1, 8, ops::CreateSum},
    {"Tanh", 1, 1, 1, 1, 6, ops::CreateTanh},
    {"Transpose", 1, 1, 1, 1, 1, ops::CreateTranspose},
    {"Unsqueeze", 1, 2, 1, 1, 1, ops::CreateUnsqueeze},
};

}  // namespace

const OpSchema* FindOp(absl::string_view op_type) {
  for (const OpSchema& s : kOps) {
    if (op_type == s.op_type) return &s;
  }
  return nullptr;
}

std::vector<std::string> SupportedOps() {
  std::vector<std::string> out;
  for (const OpSchema& s : kOps) out.emplace_back(s.op_type);
  std::sort(out.begin(), out.end());
  return out;
}

float* ExecContext::ScratchFloats(size_t count) const {
  const size_t bytes = count * sizeof(float);
  if (scratch_->capacity() < bytes) *scratch_ = AlignedBuffer(bytes);
  return reinterpret_cast<float*>(scratch_->data());
}

absl::Status CheckType(const TensorMeta* meta, size_t index, std::initializer_list<DataType> ok) {
  for (DataType t : ok) {
    if (meta->dtype == t) return absl::OkStatus();
  }
  std::string expected;
  for (DataType t : ok) absl::StrAppend(&expected, expected.empty() ? "" : " or ", DataTypeName(t));
  return absl::InvalidArgumentError(absl::StrCat(
      "input ", index, " has type ", DataTypeName(meta->dtype), "; expected ", expected));
}

absl::StatusOr<int64_t> NormalizeAxis(int64_t axis, int64_t rank, absl::string_view what) {
  if (axis < -rank || axis >= rank) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, "=", axis, " is out of range for rank ", rank));
  }
  return axis < 0 ? axis + rank : axis;
}

absl::StatusOr<Shape> BroadcastShapes(const Shape& a, const Shape& b) {
  const size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1) {
      return absl::InvalidArgumentError(absl::StrCat("shapes ", ShapeToString(a), " and ",
                                                     ShapeToString(b), " do not broadcast"));
    }
    out[i] = da == 1 ? db : da;
  }
  return out;
}

int64_t Product(const Shape& shape, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end && i < shape.size(); ++i) p *= shape[i];
  return p;
}

absl::Status MarkUnknown(std::span<TensorMeta> outputs) {
  for (TensorMeta& m : outputs) {
    m.known = false;
    m.value = nullptr;
  }
  return absl::OkStatus();
}

}  // namespace strongroom::worker::onnx
