// Test helpers for the ONNX runtime: reading the shared vectors, building
// small ModelProtos in code, running a model once.
#ifndef STRONGROOM_TESTS_WORKER_ONNX_TEST_UTIL_H_
#define STRONGROOM_TESTS_WORKER_ONNX_TEST_UTIL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "onnx/onnx_pb.h"
#include "worker/onnx/model.h"
#include "worker/onnx/session.h"
#include "worker/onnx/tensor.h"

namespace strongroom::worker::onnx::testing {

// STRONGROOM_VECTORS_DIR + "/" + rel; the environment variable of that name,
// when set, replaces the folder configured at build time.
std::string VectorPath(absl::string_view rel);
absl::StatusOr<std::string> ReadFile(const std::string& path);
absl::StatusOr<Tensor> ReadTensorFile(const std::string& path);
// Entries of `dir` starting with `prefix`, sorted by name.
std::vector<std::string> ListDir(const std::string& dir, absl::string_view prefix);

// Loads `model_bytes`, runs it once on `inputs` with `threads` threads.
absl::StatusOr<std::vector<Tensor>> RunOnce(absl::string_view model_bytes,
                                            const std::vector<Tensor>& inputs, int threads = 2);

// Builds a ModelProto in code.
class GraphBuilder {
 public:
  explicit GraphBuilder(int64_t opset, int64_t ir_version = 8);
  GraphBuilder& Input(const std::string& name, DataType type, const Shape& shape);
  GraphBuilder& Output(const std::string& name, DataType type = DataType::kUndefined);
  GraphBuilder& Initializer(const std::string& name, const Tensor& value);
  ::onnx::NodeProto* Node(const std::string& op_type, const std::vector<std::string>& inputs,
                          const std::vector<std::string>& outputs, const std::string& name = "");
  ::onnx::ModelProto& proto() { return model_; }
  std::string Serialize() const { return model_.SerializeAsString(); }
  absl::StatusOr<Model> Load() const;

 private:
  ::onnx::ModelProto model_;
};

void SetAttr(::onnx::NodeProto* node, const std::string& name, int64_t value);
void SetAttr(::onnx::NodeProto* node, const std::string& name, float value);
void SetAttr(::onnx::NodeProto* node, const std::string& name, const std::string& value);
void SetAttr(::onnx::NodeProto* node, const std::string& name, const std::vector<int64_t>& value);
void SetAttr(::onnx::NodeProto* node, const std::string& name, const Tensor& value);

Tensor Floats(const Shape& shape, const std::vector<float>& values);
Tensor Int64s(const Shape& shape, const std::vector<int64_t>& values);
// Deterministic pseudo-random floats in [-1, 1).
Tensor RandomFloats(const Shape& shape, uint32_t seed);

}  // namespace strongroom::worker::onnx::testing

#endif  // STRONGROOM_TESTS_WORKER_ONNX_TEST_UTIL_H_
