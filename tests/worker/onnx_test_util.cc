#include "tests/worker/onnx_test_util.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "absl/strings/match.h"
#include "base/bytes.h"
#include "base/file.h"

namespace strongroom::worker::onnx::testing {

std::string VectorPath(absl::string_view rel) {
  // The environment overrides the configured folder (deploy/gpu-check.sh runs
  // these tests on a machine where the vectors sit elsewhere).
  const char* dir = std::getenv("STRONGROOM_VECTORS_DIR");
  return std::string(dir != nullptr && *dir != '\0' ? dir : STRONGROOM_VECTORS_DIR) + "/" +
         std::string(rel);
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  return ReadFileToString(path, "test file");
}

absl::StatusOr<Tensor> ReadTensorFile(const std::string& path) {
  auto bytes = ReadFile(path);
  if (!bytes.ok()) return bytes.status();
  return Tensor::FromTensorProto(AsBytes(*bytes), path);
}

std::vector<std::string> ListDir(const std::string& dir, absl::string_view prefix) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (absl::StartsWith(name, prefix)) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

absl::StatusOr<std::vector<Tensor>> RunOnce(absl::string_view model_bytes,
                                            const std::vector<Tensor>& inputs, int threads) {
  auto model = Model::Load(AsBytes(model_bytes));
  if (!model.ok()) return model.status();
  SessionOptions options;
  options.threads = threads;
  auto session = Session::Create(*model, options);
  if (!session.ok()) return session.status();
  return (*session)->Run(inputs);
}

GraphBuilder::GraphBuilder(int64_t opset, int64_t ir_version) {
  model_.set_ir_version(ir_version);
  auto* op = model_.add_opset_import();
  op->set_domain("");
  op->set_version(opset);
  model_.mutable_graph()->set_name("test");
}

GraphBuilder& GraphBuilder::Input(const std::string& name, DataType type, const Shape& shape) {
  auto* in = model_.mutable_graph()->add_input();
  in->set_name(name);
  auto* tt = in->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(static_cast<int32_t>(type));
  auto* s = tt->mutable_shape();
  for (int64_t d : shape) {
    if (d >= 0) {
      s->add_dim()->set_dim_value(d);
    } else {
      s->add_dim()->set_dim_param("N");
    }
  }
  return *this;
}

GraphBuilder& GraphBuilder::Output(const std::string& name, DataType type) {
  auto* out = model_.mutable_graph()->add_output();
  out->set_name(name);
  if (type != DataType::kUndefined) {
    out->mutable_type()->mutable_tensor_type()->set_elem_type(static_cast<int32_t>(type));
  }
  return *this;
}

GraphBuilder& GraphBuilder::Initializer(const std::string& name, const Tensor& value) {
  value.ToTensorProto(name, model_.mutable_graph()->add_initializer());
  return *this;
}

::onnx::NodeProto* GraphBuilder::Node(const std::string& op_type,
                                      const std::vector<std::string>& inputs,
                                      const std::vector<std::string>& outputs,
                                      const std::string& name) {
  auto* n = model_.mutable_graph()->add_node();
  n->set_op_type(op_type);
  n->set_name(name);
  for (const auto& i : inputs) n->add_input(i);
  for (const auto& o : outputs) n->add_output(o);
  return n;
}

absl::StatusOr<Model> GraphBuilder::Load() const {
  const std::string bytes = Serialize();
  return Model::Load(AsBytes(bytes));
}

void SetAttr(::onnx::NodeProto* node, const std::string& name, int64_t value) {
  auto* a = node->add_attribute();
  a->set_name(name);
  a->set_type(::onnx::AttributeProto::INT);
  a->set_i(value);
}

void SetAttr(::onnx::NodeProto* node, const std::string& name, float value) {
  auto* a = node->add_attribute();
  a->set_name(name);
  a->set_type(::onnx::AttributeProto::FLOAT);
  a->set_f(value);
}

void SetAttr(::onnx::NodeProto* node, const std::string& name, const std::string& value) {
  auto* a = node->add_attribute();
  a->set_name(name);
  a->set_type(::onnx::AttributeProto::STRING);
  a->set_s(value);
}

void SetAttr(::onnx::NodeProto* node, const std::string& name, const std::vector<int64_t>& value) {
  auto* a = node->add_attribute();
  a->set_name(name);
  a->set_type(::onnx::AttributeProto::INTS);
  for (int64_t v : value) a->add_ints(v);
}

void SetAttr(::onnx::NodeProto* node, const std::string& name, const Tensor& value) {
  auto* a = node->add_attribute();
  a->set_name(name);
  a->set_type(::onnx::AttributeProto::TENSOR);
  value.ToTensorProto("", a->mutable_t());
}

Tensor Floats(const Shape& shape, const std::vector<float>& values) {
  auto t = Tensor::FromFloats(shape, values);
  ONNX_CHECK(t.ok());
  return *std::move(t);
}

Tensor Int64s(const Shape& shape, const std::vector<int64_t>& values) {
  auto t = Tensor::FromInt64s(shape, values);
  ONNX_CHECK(t.ok());
  return *std::move(t);
}

Tensor RandomFloats(const Shape& shape, uint32_t seed) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  std::vector<float> v(static_cast<size_t>(n));
  uint32_t x = seed * 2654435761u + 1;
  for (float& f : v) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    f = static_cast<float>(x % 20000) / 10000.0f - 1.0f;
  }
  return Floats(shape, v);
}

}  // namespace strongroom::worker::onnx::testing
