#include "worker/onnx/fusion.h"

#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "worker/onnx/channel_concat.h"

namespace strongroom::worker::onnx::internal {
namespace {

bool IsFloatVector(const Tensor* t, int64_t n) {
  return t != nullptr && t->dtype() == DataType::kFloat && t->rank() == 1 && t->dim(0) == n;
}

const Attribute* FindAttribute(const Node& node, absl::string_view name) {
  for (const Attribute& a : node.attributes) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

// Who reads each value: the count of reads by running nodes plus graph
// outputs, and the (last) reading node.
struct Readers {
  std::vector<int> count;
  std::vector<int> node;
};

Readers FindReaders(const ModelData& m, const std::vector<bool>& run_node) {
  Readers r;
  r.count.assign(m.num_values(), 0);
  r.node.assign(m.num_values(), -1);
  for (size_t k = 0; k < m.nodes.size(); ++k) {
    if (!run_node[k]) continue;
    for (int v : m.nodes[k].inputs) {
      if (v < 0) continue;
      ++r.count[static_cast<size_t>(v)];
      r.node[static_cast<size_t>(v)] = static_cast<int>(k);
    }
  }
  for (int v : m.output_ids) ++r.count[static_cast<size_t>(v)];
  return r;
}

// A convolution's weights and bias while links fold into them; the
// originals until a fold replaces them.
struct ConvParams {
  int64_t m = 0;  // output channels
  const Tensor* w = nullptr;
  const Tensor* b = nullptr;  // null: no bias
  std::unique_ptr<Tensor> new_w, new_b;
  bool changed = false;

  absl::Status EnsureOwnBias() {
    if (new_b != nullptr) return absl::OkStatus();
    auto t = Tensor::Create(DataType::kFloat, {m});
    if (!t.ok()) return t.status();
    new_b = std::make_unique<Tensor>(*std::move(t));
    if (b != nullptr) {
      std::copy(b->data<float>().begin(), b->data<float>().end(),
                new_b->mutable_data<float>().begin());
    }
    b = new_b.get();
    return absl::OkStatus();
  }
};

// Conv -> BatchNormalization(inference): y = (conv(x) - mean) * a + bias
// with a = scale / sqrt(var + eps), so W' = W * a and B' = (B - mean) * a + bias
// per output channel. False (and nothing changed) when the node does not
// qualify.
absl::StatusOr<bool> FoldBatchNorm(const Node& bn,
                                   const std::function<const Tensor*(int)>& constant,
                                   ConvParams& p) {
  if (bn.inputs.size() != 5) return false;
  for (size_t j = 1; j < bn.outputs.size(); ++j) {
    if (bn.outputs[j] >= 0) return false;  // training statistics wanted
  }
  if (const Attribute* t = FindAttribute(bn, "training_mode"); t != nullptr && t->i != 0) {
    return false;
  }
  const Tensor* params[4];
  for (size_t i = 0; i < 4; ++i) {
    params[i] = bn.inputs[i + 1] < 0 ? nullptr : constant(bn.inputs[i + 1]);
    if (!IsFloatVector(params[i], p.m)) return false;
  }
  float epsilon = 1e-5f;
  if (const Attribute* e = FindAttribute(bn, "epsilon"); e != nullptr) epsilon = e->f;
  const std::span<const float> scale = params[0]->data<float>(), bias = params[1]->data<float>(),
                               mean = params[2]->data<float>(), var = params[3]->data<float>();

  if (auto s = p.EnsureOwnBias(); !s.ok()) return s;
  if (p.new_w == nullptr) p.new_w = std::make_unique<Tensor>(*p.w);
  p.w = p.new_w.get();
  const int64_t per_channel = p.m == 0 ? 0 : p.new_w->num_elements() / p.m;
  float* pw = p.new_w->mutable_data<float>().data();
  float* pb = p.new_b->mutable_data<float>().data();
  for (int64_t c = 0; c < p.m; ++c) {
    // The BatchNormalization kernel's own scale, so the fold rounds alike.
    const float a = scale[c] / std::sqrt(var[c] + epsilon);
    for (int64_t i = 0; i < per_channel; ++i) {
      pw[c * per_channel + i] =
          static_cast<float>(static_cast<double>(pw[c * per_channel + i]) * a);
    }
    pb[c] = static_cast<float>((static_cast<double>(pb[c]) - mean[c]) * a + bias[c]);
  }
  p.changed = true;
  return true;
}

// Conv -> Add(conv output, c) with a constant c that broadcasts per output
// channel ([M,1,1], [1,M,1,1], [1], ...): c joins the bias.
absl::StatusOr<bool> FoldAddBias(const Node& add, int conv_out,
                                 const std::function<const Tensor*(int)>& constant, ConvParams& p) {
  if (add.inputs.size() != 2) return false;
  const int other = add.inputs[0] == conv_out ? add.inputs[1] : add.inputs[0];
  if (other == conv_out || other < 0) return false;
  const Tensor* c = constant(other);
  if (c == nullptr || c->dtype() != DataType::kFloat) return false;
  const int64_t rank = p.w->rank();  // the convolution output's rank
  if (c->rank() > rank) return false;
  bool per_channel = false;
  for (int64_t d = 0; d < c->rank(); ++d) {
    const int64_t axis = rank - c->rank() + d;  // right-aligned
    const int64_t n = c->dim(d);
    if (n == 1) continue;
    if (axis != 1 || n != p.m) return false;
    per_channel = true;
  }
  if (auto s = p.EnsureOwnBias(); !s.ok()) return s;
  float* pb = p.new_b->mutable_data<float>().data();
  const std::span<const float> pc = c->data<float>();
  for (int64_t k = 0; k < p.m; ++k) pb[k] += pc[per_channel ? k : 0];
  p.changed = true;
  return true;
}

class Planner {
 public:
  Planner(const ModelData& m, const std::vector<bool>& run_node,
          const std::function<const Tensor*(int)>& constant)
      : m_(m), run_node_(run_node), constant_(constant), readers_(FindReaders(m, run_node)) {
    absorbed_.assign(m.nodes.size(), false);
    producer_.assign(m.num_values(), -1);
    for (size_t k = 0; k < m.nodes.size(); ++k) {
      for (int v : m.nodes[k].outputs) {
        if (v >= 0) producer_[static_cast<size_t>(v)] = static_cast<int>(k);
      }
    }
    plan_.first_new_value = m.num_values();
  }

  absl::StatusOr<ExecutionPlan> Build(bool fuse) {
    for (size_t k = 0; k < m_.nodes.size(); ++k) {
      if (!run_node_[k] || absorbed_[k]) continue;
      const Node& node = m_.nodes[k];
      PlanStep step{k, m_.ops[k].get(), node.inputs, node.outputs, node.op_type, 0};
      if (fuse) {
        if (auto s = Fuse(step); !s.ok()) return NodeError(node, s);
      }
      plan_.steps.push_back(std::move(step));
    }
    if (fuse) {
      FuseChannelConcats();
      ElideIdentities();
    }
    return std::move(plan_);
  }

 private:
  // The node that alone reads `v` (not a graph output), or null.
  const Node* SoleReader(int v, absl::string_view op_type) const {
    if (v < 0 || readers_.count[static_cast<size_t>(v)] != 1) return nullptr;
    const int k = readers_.node[static_cast<size_t>(v)];
    if (k < 0 || absorbed_[static_cast<size_t>(k)]) return nullptr;
    const Node& n = m_.nodes[static_cast<size_t>(k)];
    return n.op_type == op_type ? &n : nullptr;
  }

  void Absorb(PlanStep& step, const Node& node) {
    absorbed_[static_cast<size_t>(&node - m_.nodes.data())] = true;
    step.outputs = node.outputs;
    absl::StrAppend(&step.op_type, "+", node.op_type);
    ++step.fused;
    ++plan_.fused_nodes;
  }

  int AddConstant(std::unique_ptr<Tensor> t) {
    plan_.constants.push_back(std::move(t));
    return static_cast<int>(plan_.first_new_value + plan_.constants.size() - 1);
  }

  absl::Status Fuse(PlanStep& step) {
    const Node& node = m_.nodes[step.node];
    const bool conv = node.op_type == "Conv";
    if (conv) {
      auto s = FoldIntoConv(step);
      if (!s.ok()) return s;
      if (FuseResidual(step)) return absl::OkStatus();
    }
    if (!conv && node.op_type != "Gemm" && node.op_type != "Add" && node.op_type != "Sum") {
      return absl::OkStatus();
    }
    if (step.outputs.size() != 1) return absl::OkStatus();
    const Node* relu = SoleReader(step.outputs[0], "Relu");
    if (relu == nullptr) return absl::OkStatus();
    std::unique_ptr<Op> op = step.op->WithActivation(Activation::kRelu);
    if (op == nullptr) return absl::OkStatus();
    step.op = op.get();
    plan_.ops.push_back(std::move(op));
    Absorb(step, *relu);
    return absl::OkStatus();
  }

  // Conv -> Add|Sum(conv output, R) [-> Relu], R a value of the output's
  // static shape computed before the Conv runs (a residual connection): the
  // convolution accumulates onto R. True when fused.
  bool FuseResidual(PlanStep& step) {
    if (step.outputs.size() != 1) return false;
    const int out = step.outputs[0];
    const Node* add = SoleReader(out, "Add");
    if (add == nullptr) add = SoleReader(out, "Sum");
    if (add == nullptr || add->inputs.size() != 2) return false;
    const int other = add->inputs[0] == out ? add->inputs[1] : add->inputs[0];
    if (other < 0 || other == out) return false;
    const TensorMeta& mo = m_.metas[static_cast<size_t>(out)];
    const TensorMeta& mr = m_.metas[static_cast<size_t>(other)];
    if (!mo.known || !mr.known || mr.dtype != DataType::kFloat || mr.shape != mo.shape) {
      return false;
    }
    const int producer = producer_[static_cast<size_t>(other)];
    if (constant_(other) == nullptr && producer >= static_cast<int>(step.node)) {
      return false;  // not computed yet when the Conv runs
    }
    const Node* relu = SoleReader(add->outputs[0], "Relu");
    std::unique_ptr<Op> op =
        step.op->WithResidual(relu != nullptr ? Activation::kRelu : Activation::kNone);
    if (op == nullptr) return false;
    step.op = op.get();
    plan_.ops.push_back(std::move(op));
    step.inputs.resize(3, -1);
    step.inputs.push_back(other);
    Absorb(step, *add);
    if (relu != nullptr) Absorb(step, *relu);
    return true;
  }

  // Concat(axis 1) whose every input is read by the Concat alone and is the
  // one output of an earlier step whose kernel writes channel slices (a
  // Conv chain without a residual): one step, at the Concat's place, runs
  // those kernels straight into the concatenation; their steps go.
  void FuseChannelConcats() {
    std::vector<int> step_of(m_.num_values(), -1);
    for (size_t k = 0; k < plan_.steps.size(); ++k) {
      for (int v : plan_.steps[k].outputs) {
        if (v >= 0) step_of[static_cast<size_t>(v)] = static_cast<int>(k);
      }
    }
    std::vector<bool> removed(plan_.steps.size(), false);
    for (PlanStep& step : plan_.steps) {
      const Node& node = m_.nodes[step.node];
      if (node.op_type != "Concat" || step.fused != 0 || step.outputs.size() != 1 ||
          step.inputs.size() < 2) {
        continue;
      }
      const Attribute* axis = FindAttribute(node, "axis");
      const TensorMeta& mo = m_.metas[static_cast<size_t>(node.inputs[0])];
      if (axis == nullptr ||
          !(axis->i == 1 || (mo.known && axis->i == 1 - static_cast<int64_t>(mo.shape.size())))) {
        continue;
      }
      std::vector<size_t> producers;
      for (int v : step.inputs) {
        if (v < 0 || readers_.count[static_cast<size_t>(v)] != 1) break;
        const int k = step_of[static_cast<size_t>(v)];
        if (k < 0 || removed[static_cast<size_t>(k)]) break;
        const PlanStep& p = plan_.steps[static_cast<size_t>(k)];
        if (p.outputs.size() != 1 || !p.op->WritesChannelSlices()) break;
        producers.push_back(static_cast<size_t>(k));
      }
      if (producers.size() != step.inputs.size()) continue;
      std::vector<ChannelConcatPart> parts;
      std::vector<int> inputs;
      std::string op_type = "Concat(";
      size_t fused = 0;
      for (size_t i = 0; i < producers.size(); ++i) {
        const PlanStep& p = plan_.steps[producers[i]];
        parts.push_back({p.op, p.inputs.size(), m_.nodes[p.node].Label()});
        inputs.insert(inputs.end(), p.inputs.begin(), p.inputs.end());
        absl::StrAppend(&op_type, i == 0 ? "" : ",", p.op_type);
        fused += p.fused + 1;
        removed[producers[i]] = true;
      }
      std::unique_ptr<Op> op = MakeChannelConcat(std::move(parts));
      step.op = op.get();
      plan_.ops.push_back(std::move(op));
      step.inputs = std::move(inputs);
      step.op_type = op_type + ")";
      step.fused = fused;
      plan_.fused_nodes += producers.size();  // their chains were counted already
    }
    EraseSteps(removed);
  }

  // Drops the steps marked in `removed`, keeping the others' order.
  void EraseSteps(const std::vector<bool>& removed) {
    size_t kept = 0;
    for (size_t k = 0; k < plan_.steps.size(); ++k) {
      if (removed[k]) continue;
      if (kept != k) plan_.steps[kept] = std::move(plan_.steps[k]);
      ++kept;
    }
    plan_.steps.resize(kept);
  }

  // Identity, and Dropout at inference (no mask read, a constant or no
  // ratio, a constant false or no training_mode), whose output is not a
  // graph output: no step; readers read the input instead.
  bool Elidable(const PlanStep& step) const {
    const Node& node = m_.nodes[step.node];
    const bool identity = node.op_type == "Identity";
    if ((!identity && node.op_type != "Dropout") || step.fused != 0 || step.outputs.empty() ||
        step.outputs[0] < 0 || step.inputs.empty() || step.inputs[0] < 0) {
      return false;
    }
    // Dropout's mask may be named, but nothing may read it (nor may it be a
    // graph output: readers_ counts those too).
    for (size_t j = 1; j < step.outputs.size(); ++j) {
      const int v = step.outputs[j];
      if (v >= 0 && readers_.count[static_cast<size_t>(v)] != 0) return false;
    }
    for (int v : m_.output_ids) {
      if (v == step.outputs[0]) return false;
    }
    if (step.inputs.size() > 1 && step.inputs[1] >= 0) {
      const Tensor* ratio = constant_(step.inputs[1]);
      if (ratio == nullptr || ratio->dtype() != DataType::kFloat) return false;
    }
    if (step.inputs.size() > 2 && step.inputs[2] >= 0) {
      const Tensor* training = constant_(step.inputs[2]);
      if (training == nullptr || training->dtype() != DataType::kBool) return false;
      for (bool t : training->data<bool>()) {
        if (t) return false;
      }
    }
    return true;
  }

  void ElideIdentities() {
    std::vector<int> alias(plan_.num_values());
    for (size_t v = 0; v < alias.size(); ++v) alias[v] = static_cast<int>(v);
    std::vector<bool> removed(plan_.steps.size(), false);
    for (size_t k = 0; k < plan_.steps.size(); ++k) {
      PlanStep& step = plan_.steps[k];
      for (int& v : step.inputs) {
        if (v >= 0) v = alias[static_cast<size_t>(v)];
      }
      if (Elidable(step)) {
        alias[static_cast<size_t>(step.outputs[0])] = step.inputs[0];
        removed[k] = true;
      }
    }
    EraseSteps(removed);
  }

  // Conv -> (BatchNormalization | Add)*: folds into new weights and bias.
  absl::Status FoldIntoConv(PlanStep& step) {
    if (step.inputs.size() < 2 || step.outputs.size() != 1) return absl::OkStatus();
    ConvParams p;
    p.w = constant_(step.inputs[1]);
    if (p.w == nullptr || p.w->dtype() != DataType::kFloat || p.w->rank() < 3) {
      return absl::OkStatus();
    }
    p.m = p.w->dim(0);
    if (step.inputs.size() > 2 && step.inputs[2] >= 0) {
      p.b = constant_(step.inputs[2]);
      if (!IsFloatVector(p.b, p.m)) return absl::OkStatus();
    }
    for (;;) {
      const int out = step.outputs[0];
      const Node* next = SoleReader(out, "BatchNormalization");
      absl::StatusOr<bool> folded = false;
      if (next != nullptr && next->inputs[0] == out) {
        folded = FoldBatchNorm(*next, constant_, p);
      } else if ((next = SoleReader(out, "Add")) != nullptr) {
        folded = FoldAddBias(*next, out, constant_, p);
      }
      if (!folded.ok()) return folded.status();
      if (!*folded) break;
      Absorb(step, *next);
    }
    if (!p.changed) return absl::OkStatus();
    step.inputs.resize(3);
    if (p.new_w != nullptr) step.inputs[1] = AddConstant(std::move(p.new_w));
    step.inputs[2] = AddConstant(std::move(p.new_b));
    return absl::OkStatus();
  }

  const ModelData& m_;
  const std::vector<bool>& run_node_;
  const std::function<const Tensor*(int)>& constant_;
  const Readers readers_;
  std::vector<bool> absorbed_;
  std::vector<int> producer_;  // by value id: the producing node's position, -1 for none
  ExecutionPlan plan_;
};

}  // namespace

absl::StatusOr<ExecutionPlan> PlanExecution(const ModelData& m, const std::vector<bool>& run_node,
                                            const std::function<const Tensor*(int)>& constant,
                                            bool fuse) {
  return Planner(m, run_node, constant).Build(fuse);
}

}  // namespace strongroom::worker::onnx::internal
