#include "bench/infer_models.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <set>

#include "absl/strings/str_cat.h"
#include "base/bytes.h"
#include "base/file.h"
#include "base/status_macros.h"

namespace strongroom::bench {
namespace {

using worker::onnx::DataType;
using worker::onnx::ElementSize;
using worker::onnx::Shape;
using worker::onnx::Tensor;
using Clock = std::chrono::steady_clock;

absl::StatusOr<Tensor> ReadTensor(const std::string& path) {
  ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path, "tensor"));
  return Tensor::FromTensorProto(AsBytes(bytes), path);
}

// What ONNX's backend runner feeds models without stored inputs.
absl::StatusOr<Tensor> RunnerInput(const Shape& shape) {
  ASSIGN_OR_RETURN(Tensor t, Tensor::Create(DataType::kFloat, shape));
  std::span<float> v = t.mutable_data<float>();
  const double n = static_cast<double>(v.size());
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(static_cast<double>(i) / n);
  return t;
}

// See InferModel::weight_bytes: the constants that nodes left to run read.
int64_t WeightBytes(const worker::onnx::Model& model) {
  const auto& m = *model.data();
  std::vector<bool> constant(m.num_values(), false);
  for (size_t v = 0; v < m.num_values(); ++v) constant[v] = m.constants[v] != nullptr;
  std::set<int> read;
  for (const worker::onnx::Node& node : m.nodes) {
    bool all_constant = true;
    for (int v : node.inputs) all_constant &= v < 0 || constant[static_cast<size_t>(v)];
    if (all_constant) {
      for (int v : node.outputs) {
        if (v >= 0) constant[static_cast<size_t>(v)] = true;
      }
      continue;
    }
    for (int v : node.inputs) {
      if (v >= 0 && constant[static_cast<size_t>(v)]) read.insert(v);
    }
  }
  int64_t bytes = 0;
  for (int v : read) {
    const auto& meta = m.metas[static_cast<size_t>(v)];
    if (m.constants[static_cast<size_t>(v)] != nullptr) {
      bytes += static_cast<int64_t>(m.constants[static_cast<size_t>(v)]->byte_size());
    } else if (meta.known) {
      int64_t n = 1;
      for (int64_t d : meta.shape) n *= d;
      bytes += n * static_cast<int64_t>(ElementSize(meta.dtype));
    }
  }
  return bytes;
}

}  // namespace

const std::vector<std::string>& InferModelNames() {
  static const auto* names =
      new std::vector<std::string>{"mnist-8", "squeezenet", "resnet50", "vgg19"};
  return *names;
}

absl::StatusOr<InferModel> LoadInferModel(const std::string& vectors_dir, const std::string& name) {
  const auto& names = InferModelNames();
  if (std::find(names.begin(), names.end(), name) == names.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("model '", name, "': not one of mnist-8, squeezenet, resnet50, vgg19"));
  }
  InferModel m;
  m.name = name;
  const std::string dir = absl::StrCat(vectors_dir, "/onnx-models/");
  const bool mnist = name == "mnist-8";
  m.path = mnist ? absl::StrCat(dir, "mnist-8/model.onnx")
                 : absl::StrCat(dir, "onnx-light/light_", name, ".onnx");
  ASSIGN_OR_RETURN(m.bytes, ReadFileToString(m.path, "model"));
  const Clock::time_point t0 = Clock::now();
  absl::StatusOr<worker::onnx::Model> model = worker::onnx::Model::Load(AsBytes(m.bytes));
  m.load_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  if (!model.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(m.path, ": ", model.status().message()));
  }
  m.model = *std::move(model);
  if (m.model->inputs().size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(m.path, ": ", m.model->inputs().size(), " inputs, the bench feeds one"));
  }
  const worker::onnx::ValueInfo& in = m.model->inputs()[0];
  m.input_name = in.name;
  if (mnist) {
    ASSIGN_OR_RETURN(m.input, ReadTensor(absl::StrCat(dir, "mnist-8/test_data_set_0/input_0.pb")));
    ASSIGN_OR_RETURN(m.reference,
                     ReadTensor(absl::StrCat(dir, "mnist-8/test_data_set_0/output_0.pb")));
  } else {
    Shape shape = in.shape;
    for (int64_t& d : shape) d = d < 0 ? 1 : d;  // the runner's rule for unknown dims
    ASSIGN_OR_RETURN(m.input, RunnerInput(shape));
    ASSIGN_OR_RETURN(m.reference,
                     ReadTensor(absl::StrCat(dir, "onnx-light/light_", name, "_output_0.pb")));
  }
  m.weight_bytes = WeightBytes(*m.model);
  return m;
}

absl::StatusOr<Tensor> BatchedInput(const InferModel& m, int batch) {
  const worker::onnx::ValueInfo& in = m.model->inputs()[0];
  if (batch == 1) return m.input;
  if (in.shape.empty() || in.shape[0] >= 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("input '", in.name,
                     "' has a fixed batch dimension: ", worker::onnx::ShapeToString(in.shape)));
  }
  Shape shape = m.input.shape();
  shape[0] *= batch;
  ASSIGN_OR_RETURN(Tensor t, Tensor::Create(m.input.dtype(), shape));
  const std::span<const uint8_t> one = m.input.bytes();
  std::span<uint8_t> all = t.mutable_bytes();
  for (int b = 0; b < batch; ++b) std::memcpy(all.data() + b * one.size(), one.data(), one.size());
  return t;
}

}  // namespace strongroom::bench
