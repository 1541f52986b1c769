// The runtime's own form of an ONNX graph, built by Model::Load from the
// ModelProto (which is then wiped and dropped): nodes in topological order,
// values numbered densely, attributes decoded. Immutable once built.
#ifndef STRONGROOM_WORKER_ONNX_GRAPH_H_
#define STRONGROOM_WORKER_ONNX_GRAPH_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "worker/onnx/data_type.h"
#include "worker/onnx/tensor.h"

namespace strongroom::worker::onnx {

// AttributeProto.AttributeType numbering.
enum class AttributeType : int32_t {
  kUndefined = 0,
  kFloat = 1,
  kInt = 2,
  kString = 3,
  kTensor = 4,
  kGraph = 5,
  kFloats = 6,
  kInts = 7,
  kStrings = 8,
  kTensors = 9,
  kGraphs = 10,
  kSparseTensor = 11,
  kSparseTensors = 12,
  kTypeProto = 13,
  kTypeProtos = 14,
};

absl::string_view AttributeTypeName(AttributeType type);

struct Attribute {
  std::string name;
  AttributeType type = AttributeType::kUndefined;
  float f = 0;
  int64_t i = 0;
  std::string s;
  std::shared_ptr<const Tensor> t;
  std::vector<float> floats;
  std::vector<int64_t> ints;
  std::vector<std::string> strings;
};

// A graph input or output as declared (ValueInfoProto). Unknown or symbolic
// dims are -1 (with the symbol, if any, in dim_params).
struct ValueInfo {
  std::string name;
  DataType dtype = DataType::kUndefined;
  bool has_shape = false;
  Shape shape;
  std::vector<std::string> dim_params;
};

struct Node {
  int index = 0;  // position in the ModelProto
  std::string name;
  std::string op_type;
  std::vector<int> inputs;   // value ids; -1: optional input left out
  std::vector<int> outputs;  // value ids; -1: optional output not wanted
  std::vector<Attribute> attributes;

  // "node 'conv1' (Conv)", or "node #3 (Conv)" when unnamed: the prefix of
  // every error about this node.
  std::string Label() const;
};

}  // namespace strongroom::worker::onnx

#endif  // STRONGROOM_WORKER_ONNX_GRAPH_H_
