// Model: an ONNX model loaded from its serialized ModelProto, validated and
// compiled into the runtime's graph form. Load() never touches the file
// system: the caller hands the bytes (for the worker, decrypted weights held
// in locked memory), and the parsed protobuf's tensor payloads are wiped
// before Load returns.
//
// Load checks, and refuses with InvalidArgument naming the field or the node
// ("node 'conv1' (Conv): attribute 'auto_pad'='FOO' is not supported"):
// malformed protobuf; IR versions outside 3..13 and ai.onnx opsets outside
// 7..25; initializers whose data disagrees with their dims, absurd or
// overflowing dims, unsupported element types, external data; operators,
// domains, attributes and types the runtime does not implement; node inputs
// nothing produces; values produced twice; cycles; graph outputs nothing
// produces. When every graph input has a static shape it also infers every
// value's type and shape, so shape errors surface here rather than in Run.
//
// Initializers are constants: graph inputs that an initializer backs are not
// runtime inputs (they cannot be overridden). inputs() lists the rest, in
// graph order; Session::Run takes its inputs in that order.
//
// A Model is an immutable value, cheap to copy (the compiled graph is
// shared), and safe to use from several threads and Sessions at once.
#ifndef STRONGROOM_WORKER_ONNX_MODEL_H_
#define STRONGROOM_WORKER_ONNX_MODEL_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "worker/onnx/graph.h"
#include "worker/onnx/op.h"
#include "worker/onnx/tensor.h"

namespace strongroom::worker::onnx {

namespace internal {
// The compiled graph (see model.cc); Session reads it.
struct ModelData {
  int64_t ir_version = 0;
  int64_t opset = 0;
  std::string producer_name;
  std::string graph_name;
  std::vector<std::string> value_names;  // by value id
  std::vector<Node> nodes;               // topological order
  std::vector<std::unique_ptr<Op>> ops;  // parallel to nodes
  std::vector<ValueInfo> inputs, outputs;
  std::vector<int> input_ids, output_ids;
  std::vector<std::unique_ptr<Tensor>> initializers;
  std::vector<const Tensor*> constants;  // by value id: initializer or null
  // Static type and shape inference by value id; `known` false where the
  // graph inputs' symbolic dims (or run-time shape data) leave it open.
  std::vector<TensorMeta> metas;
  size_t num_values() const { return value_names.size(); }
};
}  // namespace internal

class Model {
 public:
  // Parses and validates a serialized ModelProto (see the header comment).
  static absl::StatusOr<Model> Load(std::span<const uint8_t> bytes);

  // Runtime inputs (graph inputs without an initializer), in graph order.
  const std::vector<ValueInfo>& inputs() const { return data_->inputs; }
  // Graph outputs, in graph order, with the declared (or, where none is
  // declared and inference knows it, the inferred) type and shape.
  const std::vector<ValueInfo>& outputs() const { return data_->outputs; }
  int64_t ir_version() const { return data_->ir_version; }
  int64_t opset() const { return data_->opset; }
  const std::string& producer_name() const { return data_->producer_name; }
  // Nodes in execution order.
  const std::vector<Node>& nodes() const { return data_->nodes; }

  const std::shared_ptr<const internal::ModelData>& data() const { return data_; }

 private:
  explicit Model(std::shared_ptr<const internal::ModelData> data) : data_(std::move(data)) {}
  std::shared_ptr<const internal::ModelData> data_;
};

// Prefixes `s`'s message with node.Label() (keeping its code).
absl::Status NodeError(const Node& node, const absl::Status& s);

}  // namespace strongroom::worker::onnx

#endif  // STRONGROOM_WORKER_ONNX_MODEL_H_
