#include "worker/onnx/model.h"

#include <climits>
#include <cstring>
#include <deque>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "onnx/onnx_pb.h"
#include "worker/onnx/tensor_proto_util.h"

namespace strongroom::worker::onnx {
namespace {

constexpr int64_t kMinIrVersion = 3;
constexpr int64_t kMaxIrVersion = 13;
constexpr int64_t kMinOpset = 7;
constexpr int64_t kMaxOpset = 25;

absl::Status Invalid(absl::string_view a, absl::string_view b = "", absl::string_view c = "",
                     absl::string_view d = "") {
  return absl::InvalidArgumentError(absl::StrCat(a, b, c, d));
}

// Wipes tensor payloads of `model` when it goes out of scope, whatever path
// Load leaves by.
class PayloadWiper {
 public:
  explicit PayloadWiper(::onnx::ModelProto* model) : model_(model) {}
  ~PayloadWiper() { WipeModelPayloads(model_); }

 private:
  ::onnx::ModelProto* model_;
};

absl::StatusOr<ValueInfo> ParseValueInfo(const ::onnx::ValueInfoProto& v, absl::string_view field,
                                         bool require_type) {
  ValueInfo info;
  info.name = v.name();
  const std::string where = absl::StrCat(field, " '", v.name(), "'");
  if (v.name().empty()) return Invalid(field, ": empty name");
  if (!v.has_type()) {
    if (require_type) return Invalid(where, ": no type");
    return info;
  }
  if (!v.type().has_tensor_type()) {
    return Invalid(where, ": only tensor types are supported");
  }
  const auto& tt = v.type().tensor_type();
  if (tt.elem_type() != 0 || require_type) {
    auto dtype = DataTypeFromOnnx(tt.elem_type(), absl::StrCat(where, ".elem_type"));
    if (!dtype.ok()) return dtype.status();
    info.dtype = *dtype;
  }
  if (tt.has_shape()) {
    info.has_shape = true;
    for (int i = 0; i < tt.shape().dim_size(); ++i) {
      const auto& d = tt.shape().dim(i);
      if (d.has_dim_value()) {
        if (d.dim_value() < 0) {
          return Invalid(where, absl::StrCat(".shape.dim[", i, "]=", d.dim_value()),
                         " is negative");
        }
        info.shape.push_back(d.dim_value());
      } else {
        info.shape.push_back(-1);
      }
      info.dim_params.push_back(d.dim_param());
    }
    auto n = CheckedNumElements(
        [&] {
          Shape s = info.shape;
          for (int64_t& x : s) x = std::max<int64_t>(x, 0);
          return s;
        }(),
        std::max<size_t>(1, ElementSize(info.dtype)), absl::StrCat(where, ".shape"));
    if (!n.ok()) return n.status();
  }
  return info;
}

absl::StatusOr<Attribute> ParseAttribute(const ::onnx::AttributeProto& a) {
  Attribute out;
  out.name = a.name();
  if (a.name().empty()) return Invalid("attribute with an empty name");
  if (!a.ref_attr_name().empty()) {
    return Invalid("attribute '", a.name(), "' refers to a function attribute; not supported");
  }
  auto type = static_cast<AttributeType>(a.type());
  if (type == AttributeType::kUndefined) {
    // IR 1 and 2 models may leave the type implicit.
    type = a.has_f()              ? AttributeType::kFloat
           : a.has_i()            ? AttributeType::kInt
           : a.has_s()            ? AttributeType::kString
           : a.has_t()            ? AttributeType::kTensor
           : a.floats_size() > 0  ? AttributeType::kFloats
           : a.ints_size() > 0    ? AttributeType::kInts
           : a.strings_size() > 0 ? AttributeType::kStrings
                                  : AttributeType::kUndefined;
  }
  out.type = type;
  switch (type) {
    case AttributeType::kFloat:
      out.f = a.f();
      break;
    case AttributeType::kInt:
      out.i = a.i();
      break;
    case AttributeType::kString:
      out.s = a.s();
      break;
    case AttributeType::kTensor: {
      auto t = Tensor::FromTensorProto(a.t(), absl::StrCat("attribute '", a.name(), "'"));
      if (!t.ok()) return t.status();
      out.t = std::make_shared<const Tensor>(*std::move(t));
      break;
    }
    case AttributeType::kFloats:
      out.floats.assign(a.floats().begin(), a.floats().end());
      break;
    case AttributeType::kInts:
      out.ints.assign(a.ints().begin(), a.ints().end());
      break;
    case AttributeType::kStrings:
      out.strings.assign(a.strings().begin(), a.strings().end());
      break;
    default:
      return Invalid("attribute '", a.name(), "' of type ",
                     absl::StrCat(AttributeTypeName(type), " is not supported"));
  }
  return out;
}

// Type and shape inference over the whole graph in topological order.
absl::Status InferStatic(internal::ModelData& m) {
  m.metas.assign(m.num_values(), TensorMeta{});
  for (TensorMeta& meta : m.metas) meta.known = false;
  for (size_t v = 0; v < m.num_values(); ++v) {
    if (const Tensor* t = m.constants[v]; t != nullptr) {
      m.metas[v] = TensorMeta{t->dtype(), t->shape(), true, t};
    }
  }
  for (size_t i = 0; i < m.inputs.size(); ++i) {
    const ValueInfo& in = m.inputs[i];
    bool known = in.has_shape;
    for (int64_t d : in.shape) known &= d >= 0;
    m.metas[static_cast<size_t>(m.input_ids[i])] = TensorMeta{in.dtype, in.shape, known, nullptr};
  }
  std::vector<const TensorMeta*> in;
  std::vector<TensorMeta> out;
  for (size_t k = 0; k < m.nodes.size(); ++k) {
    const Node& node = m.nodes[k];
    in.clear();
    bool known = true;
    for (int v : node.inputs) {
      const TensorMeta* meta = v < 0 ? nullptr : &m.metas[static_cast<size_t>(v)];
      if (meta != nullptr && !meta->known) known = false;
      in.push_back(meta);
    }
    out.assign(node.outputs.size(), TensorMeta{});
    if (!known) {
      (void)MarkUnknown(out);
    } else {
      absl::Status s = m.ops[k]->Infer(in, out);
      if (!s.ok()) return NodeError(node, s);
    }
    for (size_t j = 0; j < node.outputs.size(); ++j) {
      if (out[j].known) {
        auto n = CheckedNumElements(out[j].shape, ElementSize(out[j].dtype),
                                    absl::StrCat("output ", j, " ", ShapeToString(out[j].shape)));
        if (!n.ok()) return NodeError(node, n.status());
      }
      if (node.outputs[j] >= 0) m.metas[static_cast<size_t>(node.outputs[j])] = out[j];
    }
  }
  for (size_t i = 0; i < m.outputs.size(); ++i) {
    ValueInfo& o = m.outputs[i];
    const TensorMeta& meta = m.metas[static_cast<size_t>(m.output_ids[i])];
    if (!meta.known) continue;
    if (o.dtype != DataType::kUndefined && o.dtype != meta.dtype) {
      return Invalid(
          "graph output '", o.name, "' is declared ",
          absl::StrCat(DataTypeName(o.dtype), " but computed as ", DataTypeName(meta.dtype)));
    }
    o.dtype = meta.dtype;
    if (!o.has_shape) {
      o.has_shape = true;
      o.shape = meta.shape;
      o.dim_params.assign(meta.shape.size(), "");
    }
  }
  // Values depend on run-time data from here on; static contents were
  // only for inference.
  for (TensorMeta& meta : m.metas) meta.value = nullptr;
  return absl::OkStatus();
}

}  // namespace

absl::Status NodeError(const Node& node, const absl::Status& s) {
  return absl::Status(s.code(), absl::StrCat(node.Label(), ": ", s.message()));
}

namespace {

void WipeString(std::string* s) {
  if (!s->empty()) explicit_bzero(s->data(), s->size());
}

void WipeSparse(::onnx::SparseTensorProto* t) {
  if (t->has_values()) WipeTensorPayload(t->mutable_values());
  if (t->has_indices()) WipeTensorPayload(t->mutable_indices());
}

void WipeGraph(::onnx::GraphProto* g);

void WipeNodes(google::protobuf::RepeatedPtrField<::onnx::NodeProto>* nodes) {
  for (auto& n : *nodes) {
    for (auto& a : *n.mutable_attribute()) {
      if (a.has_t()) WipeTensorPayload(a.mutable_t());
      for (auto& t : *a.mutable_tensors()) WipeTensorPayload(&t);
      if (a.has_sparse_tensor()) WipeSparse(a.mutable_sparse_tensor());
      for (auto& t : *a.mutable_sparse_tensors()) WipeSparse(&t);
      if (a.has_g()) WipeGraph(a.mutable_g());
      for (auto& sub : *a.mutable_graphs()) WipeGraph(&sub);
      // Plain values too (a Constant's value_floats / value_ints).
      if (a.floats_size() > 0) {
        explicit_bzero(a.mutable_floats()->mutable_data(), sizeof(float) * a.floats_size());
      }
      if (a.ints_size() > 0) {
        explicit_bzero(a.mutable_ints()->mutable_data(), sizeof(int64_t) * a.ints_size());
      }
      if (a.has_s()) WipeString(a.mutable_s());
      for (auto& s : *a.mutable_strings()) WipeString(&s);
    }
  }
}

void WipeGraph(::onnx::GraphProto* g) {
  for (auto& t : *g->mutable_initializer()) WipeTensorPayload(&t);
  for (auto& t : *g->mutable_sparse_initializer()) WipeSparse(&t);
  WipeNodes(g->mutable_node());
}

}  // namespace

void WipeModelPayloads(::onnx::ModelProto* model) {
  if (model->has_graph()) WipeGraph(model->mutable_graph());
  for (auto& info : *model->mutable_training_info()) {
    if (info.has_initialization()) WipeGraph(info.mutable_initialization());
    if (info.has_algorithm()) WipeGraph(info.mutable_algorithm());
  }
  for (auto& f : *model->mutable_functions()) WipeNodes(f.mutable_node());
}

absl::StatusOr<Model> Model::Load(std::span<const uint8_t> bytes) {
  if (bytes.size() > static_cast<size_t>(INT_MAX)) {
    return Invalid("model: ", absl::StrCat(bytes.size()), " bytes exceeds protobuf's 2 GiB limit");
  }
  auto proto = std::make_unique<::onnx::ModelProto>();
  PayloadWiper wiper(proto.get());
  if (!proto->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Invalid("model: not a valid ONNX ModelProto (", absl::StrCat(bytes.size(), " bytes)"));
  }
  auto m = std::make_shared<internal::ModelData>();
  m->ir_version = proto->ir_version();
  if (m->ir_version < kMinIrVersion || m->ir_version > kMaxIrVersion) {
    return Invalid("model.ir_version: ", absl::StrCat(m->ir_version),
                   absl::StrCat(" is not supported (", kMinIrVersion, "..", kMaxIrVersion, ")"));
  }
  m->opset = -1;
  for (const auto& op : proto->opset_import()) {
    if (!op.domain().empty() && op.domain() != "ai.onnx") continue;
    // "" and "ai.onnx" are the same domain: two versions of it are ambiguous.
    if (m->opset >= 0 && op.version() != m->opset) {
      return Invalid("model.opset_import: the ai.onnx opset is given twice (",
                     absl::StrCat(m->opset, " and ", op.version(), ")"));
    }
    m->opset = op.version();
  }
  if (m->opset < 0) return Invalid("model.opset_import: no ai.onnx opset");
  if (m->opset < kMinOpset || m->opset > kMaxOpset) {
    return Invalid("model.opset_import: ai.onnx opset ", absl::StrCat(m->opset),
                   absl::StrCat(" is not supported (", kMinOpset, "..", kMaxOpset, ")"));
  }
  m->producer_name = proto->producer_name();
  if (!proto->has_graph()) return Invalid("model.graph: missing");
  const ::onnx::GraphProto& g = proto->graph();
  m->graph_name = g.name();
  if (g.sparse_initializer_size() > 0) {
    return Invalid("graph.sparse_initializer: sparse initializers are not supported");
  }

  // Value ids. `producer` records what defines each value, for the SSA check.
  std::map<std::string, int, std::less<>> ids;
  std::vector<std::string> producer;
  auto define = [&](const std::string& name, const std::string& by) -> absl::StatusOr<int> {
    auto [it, inserted] = ids.emplace(name, static_cast<int>(m->value_names.size()));
    if (!inserted) {
      return Invalid("value '", name, "' is defined twice: by ",
                     absl::StrCat(producer[static_cast<size_t>(it->second)], " and by ", by));
    }
    m->value_names.push_back(name);
    producer.push_back(by);
    m->constants.push_back(nullptr);
    return it->second;
  };

  for (int i = 0; i < g.initializer_size(); ++i) {
    const auto& init = g.initializer(i);
    const std::string field = absl::StrCat("graph.initializer[", i, "] '", init.name(), "'");
    if (init.name().empty()) return Invalid(field, ": empty name");
    auto t = Tensor::FromTensorProto(init, field);
    if (!t.ok()) return t.status();
    auto id = define(init.name(), field);
    if (!id.ok()) return id.status();
    m->initializers.push_back(std::make_unique<Tensor>(*std::move(t)));
    m->constants[static_cast<size_t>(*id)] = m->initializers.back().get();
  }
  for (int i = 0; i < g.input_size(); ++i) {
    const std::string field = absl::StrCat("graph.input[", i, "]");
    auto info = ParseValueInfo(g.input(i), field, /*require_type=*/true);
    if (!info.ok()) return info.status();
    if (auto it = ids.find(info->name); it != ids.end()) {
      if (m->constants[static_cast<size_t>(it->second)] != nullptr &&
          producer[static_cast<size_t>(it->second)].rfind("graph.initializer", 0) == 0) {
        // An initializer's declaration (required before IR 4): a constant.
        producer[static_cast<size_t>(it->second)] = field;
        continue;
      }
    }
    auto id = define(info->name, absl::StrCat(field, " '", info->name, "'"));
    if (!id.ok()) return id.status();
    m->inputs.push_back(*std::move(info));
    m->input_ids.push_back(*id);
  }

  // Nodes: decode, define their outputs, build their kernels.
  const int num_nodes = g.node_size();
  std::vector<Node> nodes(static_cast<size_t>(num_nodes));
  std::vector<std::unique_ptr<Op>> ops(static_cast<size_t>(num_nodes));
  for (int k = 0; k < num_nodes; ++k) {
    const auto& np = g.node(k);
    Node& node = nodes[static_cast<size_t>(k)];
    node.index = k;
    node.name = np.name();
    node.op_type = np.op_type();
    if (!np.domain().empty() && np.domain() != "ai.onnx") {
      return NodeError(node, Invalid("domain '", np.domain(), "' is not supported"));
    }
    const OpSchema* schema = FindOp(np.op_type());
    if (schema == nullptr) {
      return NodeError(node, Invalid("operator '", np.op_type(), "' is not supported"));
    }
    if (m->opset < schema->since_opset) {
      return NodeError(
          node, Invalid(absl::StrCat("opset ", m->opset, " is older than ", schema->since_opset,
                                     ", the oldest this kernel implements")));
    }
    if (np.input_size() < schema->min_inputs || np.input_size() > schema->max_inputs ||
        np.output_size() < schema->min_outputs || np.output_size() > schema->max_outputs) {
      return NodeError(
          node,
          Invalid(absl::StrCat(
              "has ", np.input_size(), " inputs and ", np.output_size(),
              " outputs; supported: ", schema->min_inputs, "..",
              schema->max_inputs == INT_MAX ? std::string("n") : absl::StrCat(schema->max_inputs),
              " inputs, ", schema->min_outputs, "..", schema->max_outputs, " outputs")));
    }
    OpConfig config;
    config.opset = static_cast<int>(m->opset);
    for (int i = 0; i < np.input_size(); ++i) {
      config.has_input.push_back(!np.input(i).empty());
      if (i < schema->min_inputs && np.input(i).empty()) {
        return NodeError(node, Invalid(absl::StrCat("required input ", i, " is empty")));
      }
      // A variadic op's inputs are all values: none may be left out.
      if (schema->max_inputs == INT_MAX && np.input(i).empty()) {
        return NodeError(node, Invalid(absl::StrCat("input ", i, " is empty")));
      }
    }
    for (int j = 0; j < np.output_size(); ++j) config.has_output.push_back(!np.output(j).empty());
    for (const auto& ap : np.attribute()) {
      auto a = ParseAttribute(ap);
      if (!a.ok()) return NodeError(node, a.status());
      for (const Attribute& seen : node.attributes) {
        if (seen.name == a->name) {
          return NodeError(node, Invalid("attribute '", a->name, "' appears twice"));
        }
      }
      node.attributes.push_back(*std::move(a));
    }
    AttributeReader reader(node.attributes);
    auto op = schema->create(config, reader);
    if (!op.ok()) return NodeError(node, op.status());
    ops[static_cast<size_t>(k)] = *std::move(op);
    for (int j = 0; j < np.output_size(); ++j) {
      if (np.output(j).empty()) {
        if (j == 0) return NodeError(node, Invalid("output 0 has no name"));
        node.outputs.push_back(-1);
        continue;
      }
      auto id = define(np.output(j), node.Label());
      if (!id.ok()) return NodeError(node, id.status());
      node.outputs.push_back(*id);
    }
  }
  // Inputs resolve against every definition, wherever in the list it is.
  for (int k = 0; k < num_nodes; ++k) {
    Node& node = nodes[static_cast<size_t>(k)];
    for (const std::string& name : g.node(k).input()) {
      if (name.empty()) {
        node.inputs.push_back(-1);
        continue;
      }
      auto it = ids.find(name);
      if (it == ids.end()) {
        return NodeError(
            node,
            Invalid("input '", name, "' is not produced by any node, initializer or graph input"));
      }
      node.inputs.push_back(it->second);
    }
  }

  // Kahn's algorithm, keeping the file's order among ready nodes.
  std::vector<int> producing_node(m->num_values(), -1);
  for (const Node& node : nodes) {
    for (int v : node.outputs) {
      if (v >= 0) producing_node[static_cast<size_t>(v)] = node.index;
    }
  }
  std::vector<int> pending(static_cast<size_t>(num_nodes), 0);
  std::vector<std::vector<int>> consumers(static_cast<size_t>(num_nodes));
  for (const Node& node : nodes) {
    for (int v : node.inputs) {
      if (v < 0) continue;
      const int p = producing_node[static_cast<size_t>(v)];
      if (p < 0) continue;
      ++pending[static_cast<size_t>(node.index)];
      consumers[static_cast<size_t>(p)].push_back(node.index);
    }
  }
  std::deque<int> ready;
  for (int k = 0; k < num_nodes; ++k) {
    if (pending[static_cast<size_t>(k)] == 0) ready.push_back(k);
  }
  std::vector<int> order;
  while (!ready.empty()) {
    const int k = ready.front();
    ready.pop_front();
    order.push_back(k);
    for (int c : consumers[static_cast<size_t>(k)]) {
      if (--pending[static_cast<size_t>(c)] == 0) ready.push_back(c);
    }
  }
  if (order.size() != static_cast<size_t>(num_nodes)) {
    for (int k = 0; k < num_nodes; ++k) {
      if (pending[static_cast<size_t>(k)] > 0) {
        return NodeError(nodes[static_cast<size_t>(k)],
                         Invalid("is part of a cycle (its inputs depend on its own outputs)"));
      }
    }
  }
  for (int k : order) {
    m->nodes.push_back(std::move(nodes[static_cast<size_t>(k)]));
    m->ops.push_back(std::move(ops[static_cast<size_t>(k)]));
  }

  for (int i = 0; i < g.output_size(); ++i) {
    const std::string field = absl::StrCat("graph.output[", i, "]");
    auto info = ParseValueInfo(g.output(i), field, /*require_type=*/false);
    if (!info.ok()) return info.status();
    auto it = ids.find(info->name);
    if (it == ids.end()) {
      return Invalid(field, " '", info->name, "' is not produced by any node or input");
    }
    m->outputs.push_back(*std::move(info));
    m->output_ids.push_back(it->second);
  }
  if (m->outputs.empty()) return Invalid("graph.output: the graph has no outputs");

  auto s = InferStatic(*m);
  if (!s.ok()) return s;
  return Model(std::move(m));
}

}  // namespace strongroom::worker::onnx
