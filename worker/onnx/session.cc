#include "worker/onnx/session.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "worker/onnx/backend.h"
#include "worker/onnx/gemm.h"

namespace strongroom::worker::onnx {
namespace {

using Clock = std::chrono::steady_clock;

absl::Duration Since(Clock::time_point start) { return absl::FromChrono(Clock::now() - start); }

// Runs `op` unless every output has no values: then there is nothing to
// compute, and a kernel sizing its scratch from the other dimensions of an
// empty tensor could ask for far too much.
absl::Status RunKernel(const Op& op, const ExecContext& ctx, std::span<const Tensor* const> in,
                       std::span<Tensor* const> out) {
  bool all_empty = !out.empty();
  for (const Tensor* t : out) all_empty = all_empty && (t == nullptr || t->num_elements() == 0);
  return all_empty ? absl::OkStatus() : op.Run(ctx, in, out);
}

}  // namespace

absl::StatusOr<Device> ParseDevice(absl::string_view name) {
  if (name == "cpu") return Device::kCpu;
  if (name == "cuda") return Device::kCuda;
  return absl::InvalidArgumentError(absl::StrCat("device '", name, "' is not cpu or cuda"));
}

absl::string_view DeviceName(Device device) { return device == Device::kCuda ? "cuda" : "cpu"; }

std::vector<std::pair<std::string, absl::Duration>> RunProfile::ByOpType() const {
  std::map<std::string, absl::Duration> sums;
  for (const NodeTiming& t : nodes) {
    sums[t.on_device ? t.op_type + " [device]" : t.op_type] += t.time;
  }
  std::vector<std::pair<std::string, absl::Duration>> out(sums.begin(), sums.end());
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.second > b.second; });
  return out;
}

absl::Status CheckInputFits(const ValueInfo& info, const Tensor& t, size_t index) {
  bool ok = t.dtype() == info.dtype;
  if (info.has_shape) {
    ok &= t.shape().size() == info.shape.size();
    for (size_t d = 0; ok && d < info.shape.size(); ++d) {
      ok = info.shape[d] < 0 || info.shape[d] == t.shape()[d];
    }
  }
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("input ", index, " '", info.name, "': got ", DataTypeName(t.dtype()), " ",
                   ShapeToString(t.shape()), ", the model wants ", DataTypeName(info.dtype), " ",
                   info.has_shape ? ShapeToString(info.shape) : "of any shape"));
}

Session::Session(std::shared_ptr<const internal::ModelData> model, const SessionOptions& options)
    : model_(std::move(model)), options_(options) {}

Session::~Session() = default;

int Session::num_threads() const { return pool_->num_threads(); }

absl::StatusOr<std::unique_ptr<Session>> Session::Create(const Model& model,
                                                         const SessionOptions& options) {
  if (options.threads < 0 || options.threads > 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat("threads=", options.threads, " is out of range"));
  }
  if (options.max_tensor_bytes <= 0) {
    return absl::InvalidArgumentError("max_tensor_bytes must be positive");
  }
  std::unique_ptr<Session> s(new Session(model.data(), options));
  if (options.device != Device::kCpu) {
    auto backend = CreateDeviceBackend(options.device);
    if (!backend.ok()) return backend.status();
    s->backend_ = *std::move(backend);
  }
  const int threads = options.threads > 0
                          ? options.threads
                          : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  s->pool_ = std::make_unique<ThreadPool>(threads);
  // Our pool provides the parallelism; OpenBLAS's own threads would
  // compete with it for the same cores.
  static std::once_flag blas_once;
  std::call_once(blas_once, [] { SetBlasThreads(1); });

  const internal::ModelData& m = *s->model_;
  s->folded_.resize(m.num_values());
  s->slots_.resize(m.num_values());
  s->run_node_.assign(m.nodes.size(), true);
  if (options.fold_constants) {
    auto st = s->FoldConstants();
    if (!st.ok()) return st;
  }
  // Device backends are handed nodes as the model has them: no fusion.
  const bool fuse = options.fuse_operators && s->backend_ == nullptr;
  Session* self = s.get();
  auto plan = internal::PlanExecution(
      m, s->run_node_,
      [&](int v) -> const Tensor* {
        const size_t id = static_cast<size_t>(v);
        return m.constants[id] != nullptr ? m.constants[id] : self->folded_[id].get();
      },
      fuse);
  if (!plan.ok()) return plan.status();
  s->plan_ = *std::move(plan);
  const size_t num_values = s->plan_.num_values();
  s->constants_.assign(num_values, nullptr);
  for (size_t v = 0; v < m.num_values(); ++v) {
    s->constants_[v] = m.constants[v] != nullptr ? m.constants[v] : s->folded_[v].get();
  }
  for (size_t i = 0; i < s->plan_.constants.size(); ++i) {
    s->constants_[s->plan_.first_new_value + i] = s->plan_.constants[i].get();
  }
  if (s->backend_ == nullptr) {
    // Kernels that prepare their constant inputs once (Conv packs its weights).
    std::vector<const Tensor*> step_constants;
    for (internal::PlanStep& step : s->plan_.steps) {
      step_constants.clear();
      for (int v : step.inputs) {
        step_constants.push_back(v < 0 ? nullptr : s->constants_[static_cast<size_t>(v)]);
      }
      std::unique_ptr<Op> prepared = step.op->WithConstants(step_constants);
      if (prepared == nullptr) continue;
      step.op = prepared.get();
      s->plan_.ops.push_back(std::move(prepared));
    }
  }
  s->slots_.resize(num_values);
  s->uses_.assign(num_values, 0);
  for (const internal::PlanStep& step : s->plan_.steps) {
    for (int v : step.inputs) {
      if (v >= 0) ++s->uses_[static_cast<size_t>(v)];
    }
  }
  for (int v : m.output_ids) ++s->uses_[static_cast<size_t>(v)];
  s->infer_cache_.resize(s->plan_.steps.size());
  return s;
}

size_t Session::pooled_buffers() const {
  std::lock_guard<std::mutex> lock(mu_);
  return free_buffers_.size();
}

uint64_t Session::buffer_allocations() const {
  std::lock_guard<std::mutex> lock(mu_);
  return buffer_allocations_;
}

absl::Status Session::InferStep(size_t s, std::span<const Tensor* const> in,
                                std::span<const uint8_t> from_data, InferCache** out) {
  const internal::PlanStep& step = plan_.steps[s];
  InferCache& cache = infer_cache_[s];
  *out = &cache;
  bool cacheable = true;
  bool shaped_by_data = false;
  for (uint8_t b : from_data) shaped_by_data = shaped_by_data || b != 0;
  bool hit = cache.valid && cache.in_types.size() == in.size();
  for (size_t i = 0; i < in.size(); ++i) {
    const Tensor* t = in[i];
    const int v = step.inputs[i];
    if (IsRunInteger(t, v)) cacheable = false;  // it may carry a shape (Reshape)
    if (hit) {
      hit = t == nullptr ? cache.in_types[i] == DataType::kUndefined
                         : cache.in_types[i] == t->dtype() && cache.in_shapes[i] == t->shape();
    }
  }
  if (cacheable && hit) return absl::OkStatus();

  const Node& node = model_->nodes[step.node];
  std::vector<TensorMeta> in_meta(in.size());
  std::vector<const TensorMeta*> in_meta_ptr(in.size(), nullptr);
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == nullptr) continue;
    in_meta[i] = TensorMeta{in[i]->dtype(), in[i]->shape(), true, in[i]};
    in_meta_ptr[i] = &in_meta[i];
  }
  cache.valid = false;
  cache.out_meta.assign(step.outputs.size(), TensorMeta{});
  // With an integer input from this run (the case that is not cached), the
  // operator may have read its contents (Reshape's shape, Unsqueeze's axes,
  // ConstantOfShape's dims) and its error, or an output shape, may repeat
  // them: those are the run's data, so the error then names the node, the
  // input shapes and the kind of failure only. The same holds downstream:
  // an input whose shape such a node made (from_data) carries those values
  // in its shape, which is then withheld too.
  const auto fail = [&](const absl::Status& st, absl::string_view safe = "") {
    if (cacheable && !shaped_by_data) return NodeError(node, st);
    if (!safe.empty()) return NodeError(node, absl::Status(st.code(), safe));
    std::string shapes;
    for (size_t i = 0; i < in.size(); ++i) {
      absl::StrAppend(&shapes, i == 0 ? "" : ", ",
                      in[i] == nullptr    ? "(none)"
                      : from_data[i] != 0 ? "(withheld)"
                                          : ShapeToString(in[i]->shape()));
    }
    return NodeError(
        node, absl::Status(st.code(),
                           absl::StrCat(cacheable ? "the shapes of its inputs ("
                                                  : "the values of its integer inputs (shapes ",
                                        shapes,
                                        ") do not fit the operator; details are "
                                        "withheld because they come from the run's "
                                        "data")));
  };
  if (auto st = step.op->Infer(in_meta_ptr, cache.out_meta); !st.ok()) return fail(st);
  cache.out_bytes.assign(step.outputs.size(), 0);
  for (size_t j = 0; j < step.outputs.size(); ++j) {
    TensorMeta& meta = cache.out_meta[j];
    meta.value = nullptr;  // contents are the run's, not known here
    auto n = CheckedNumElements(meta.shape, ElementSize(meta.dtype), "output");
    if (!n.ok()) return fail(n.status());
    const int64_t bytes = *n * static_cast<int64_t>(ElementSize(meta.dtype));
    if (bytes > options_.max_tensor_bytes) {
      return fail(
          absl::ResourceExhaustedError(absl::StrCat("output ", j, " ", ShapeToString(meta.shape),
                                                    " exceeds max_tensor_bytes ",
                                                    options_.max_tensor_bytes)),
          absl::StrCat("output ", j, " exceeds max_tensor_bytes ", options_.max_tensor_bytes,
                       " (its shape comes from the run's data and is not shown)"));
    }
    cache.out_bytes[j] = static_cast<size_t>(bytes);
  }
  if (cacheable) {
    cache.in_types.resize(in.size());
    cache.in_shapes.resize(in.size());
    for (size_t i = 0; i < in.size(); ++i) {
      cache.in_types[i] = in[i] == nullptr ? DataType::kUndefined : in[i]->dtype();
      if (in[i] != nullptr) cache.in_shapes[i] = in[i]->shape();
    }
    cache.valid = true;
  }
  return absl::OkStatus();
}

absl::Status Session::FoldConstants() {
  const internal::ModelData& m = *model_;
  std::vector<bool> constant(m.num_values(), false);
  for (size_t v = 0; v < m.num_values(); ++v) constant[v] = m.constants[v] != nullptr;
  ExecContext ctx(pool_.get(), &scratch_);
  std::vector<TensorMeta> in_meta;
  std::vector<const TensorMeta*> in_meta_ptr;
  std::vector<const Tensor*> in;
  std::vector<TensorMeta> out_meta;
  std::vector<std::unique_ptr<Tensor>> out;
  std::vector<Tensor*> out_ptr;
  // Folded values live as long as the session: their total, not only each
  // one, is bounded (a few bytes of model could otherwise fold into many
  // tensors of the per-tensor limit each).
  int64_t folded_bytes = 0;
  for (size_t k = 0; k < m.nodes.size(); ++k) {
    const Node& node = m.nodes[k];
    bool all_constant = true;
    for (int v : node.inputs) all_constant &= v < 0 || constant[static_cast<size_t>(v)];
    if (!all_constant) continue;
    in_meta.clear();
    in.clear();
    for (int v : node.inputs) {
      const Tensor* t = v < 0 ? nullptr
                        : m.constants[static_cast<size_t>(v)] != nullptr
                            ? m.constants[static_cast<size_t>(v)]
                            : folded_[static_cast<size_t>(v)].get();
      in.push_back(t);
      in_meta.push_back(t == nullptr ? TensorMeta{} : TensorMeta{t->dtype(), t->shape(), true, t});
    }
    in_meta_ptr.clear();
    for (size_t i = 0; i < in.size(); ++i)
      in_meta_ptr.push_back(in[i] == nullptr ? nullptr : &in_meta[i]);
    out_meta.assign(node.outputs.size(), TensorMeta{});
    if (auto s = m.ops[k]->Infer(in_meta_ptr, out_meta); !s.ok()) return NodeError(node, s);
    out.clear();
    out_ptr.clear();
    for (const TensorMeta& meta : out_meta) {
      auto n = CheckedNumElements(meta.shape, ElementSize(meta.dtype), "output");
      if (!n.ok()) return NodeError(node, n.status());
      if (*n * static_cast<int64_t>(ElementSize(meta.dtype)) > options_.max_tensor_bytes) {
        return NodeError(node, absl::ResourceExhaustedError(absl::StrCat(
                                   "output ", ShapeToString(meta.shape),
                                   " exceeds max_tensor_bytes ", options_.max_tensor_bytes)));
      }
      folded_bytes += *n * static_cast<int64_t>(ElementSize(meta.dtype));
      if (folded_bytes > options_.max_tensor_bytes) {
        return NodeError(node,
                         absl::ResourceExhaustedError(absl::StrCat(
                             "constant-folded values reach ", folded_bytes,
                             " bytes in all, over max_tensor_bytes ", options_.max_tensor_bytes)));
      }
      out.push_back(std::make_unique<Tensor>());
      out.back()->Reset(meta.dtype, meta.shape);
      out_ptr.push_back(out.back().get());
    }
    if (auto s = RunKernel(*m.ops[k], ctx, in, out_ptr); !s.ok()) return NodeError(node, s);
    for (size_t j = 0; j < node.outputs.size(); ++j) {
      const int v = node.outputs[j];
      if (v < 0) continue;
      folded_[static_cast<size_t>(v)] = std::move(out[j]);
      constant[static_cast<size_t>(v)] = true;
    }
    run_node_[k] = false;
    ++folded_nodes_;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Tensor>> Session::Run(const std::vector<Tensor>& inputs,
                                                 RunProfile* profile) {
  std::lock_guard<std::mutex> lock(mu_);
  const internal::ModelData& m = *model_;
  const Clock::time_point run_start = Clock::now();
  if (profile != nullptr) *profile = RunProfile{};
  if (inputs.size() != m.inputs.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the model takes ", m.inputs.size(), " inputs, got ", inputs.size()));
  }
  const size_t num_values = constants_.size();
  std::vector<const Tensor*> value(constants_);
  for (size_t i = 0; i < inputs.size(); ++i) {
    const ValueInfo& info = m.inputs[i];
    const Tensor& t = inputs[i];
    RETURN_IF_ERROR(CheckInputFits(info, t, i));
    if (static_cast<int64_t>(t.byte_size()) > options_.max_tensor_bytes) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "input ", i, " '", info.name, "' exceeds max_tensor_bytes ", options_.max_tensor_bytes));
    }
    value[static_cast<size_t>(m.input_ids[i])] = &t;
  }

  std::vector<int> uses = uses_;
  auto release = [&](int v) {
    Tensor& slot = slots_[static_cast<size_t>(v)];
    if (value[static_cast<size_t>(v)] == &slot) free_buffers_.push_back(slot.TakeBuffer());
    if (backend_ != nullptr) backend_->Release(v);
  };
  // The host copy of value v, when a device backend may hold a newer one
  // (only values the Session computed into its slots).
  auto sync = [&](int v) -> absl::Status {
    Tensor& slot = slots_[static_cast<size_t>(v)];
    if (backend_ == nullptr || value[static_cast<size_t>(v)] != &slot) return absl::OkStatus();
    return backend_->Sync(v, &slot);
  };
  if (backend_ != nullptr) backend_->BeginRun(profile != nullptr);
  auto acquire = [&](Tensor* t, size_t bytes) {
    // Best fit among the free buffers; otherwise a fresh one.
    size_t best = free_buffers_.size();
    for (size_t i = 0; i < free_buffers_.size(); ++i) {
      if (free_buffers_[i].capacity() >= bytes &&
          (best == free_buffers_.size() ||
           free_buffers_[i].capacity() < free_buffers_[best].capacity())) {
        best = i;
      }
    }
    if (best < free_buffers_.size()) {
      t->AdoptBuffer(std::move(free_buffers_[best]));
      free_buffers_.erase(free_buffers_.begin() + static_cast<std::ptrdiff_t>(best));
    } else if (bytes > 0) {
      ++buffer_allocations_;  // Reset allocates
    }
  };

  ExecContext ctx(pool_.get(), &scratch_);
  // Values whose shape may carry the values of the run's integer data: the
  // outputs of a node that read such data (an integer input that is not a
  // constant), and everything computed from them.
  std::vector<bool> from_data(num_values, false);
  std::vector<uint8_t> in_from_data;
  std::vector<const Tensor*> in;
  std::vector<Tensor*> out;
  std::vector<Tensor> unwanted;  // outputs no one reads
  absl::Status status;
  for (size_t k = 0; k < plan_.steps.size() && status.ok(); ++k) {
    const internal::PlanStep& step = plan_.steps[k];
    const Node& node = m.nodes[step.node];
    in.clear();
    for (int v : step.inputs) in.push_back(v < 0 ? nullptr : value[static_cast<size_t>(v)]);
    // Infer may read an integer input's data (Reshape's shape): a value a
    // device node made must be on the host first.
    for (size_t i = 0; i < in.size() && backend_ != nullptr && status.ok(); ++i) {
      if (in[i] != nullptr && in[i]->dtype() != DataType::kFloat) status = sync(step.inputs[i]);
    }
    if (!status.ok()) {
      status = NodeError(node, status);
      break;
    }
    in_from_data.assign(in.size(), 0);
    bool data_dependent = false;
    bool data_shaped = false;
    for (size_t i = 0; i < in.size(); ++i) {
      const int v = step.inputs[i];
      const bool shaped = v >= 0 && from_data[static_cast<size_t>(v)];
      in_from_data[i] = shaped ? 1 : 0;
      data_shaped = data_shaped || shaped;
      data_dependent = data_dependent || shaped || IsRunInteger(in[i], v);
    }
    InferCache* meta = nullptr;
    status = InferStep(k, in, in_from_data, &meta);
    if (!status.ok()) break;
    for (int v : step.outputs) {
      if (v >= 0) from_data[static_cast<size_t>(v)] = data_dependent;
    }
    out.clear();
    unwanted.resize(step.outputs.size());
    for (size_t j = 0; j < step.outputs.size(); ++j) {
      const int v = step.outputs[j];
      Tensor* t = v < 0 ? &unwanted[j] : &slots_[static_cast<size_t>(v)];
      if (v >= 0) {
        acquire(t, meta->out_bytes[j]);
        value[static_cast<size_t>(v)] = t;
      }
      t->Reset(meta->out_meta[j].dtype, meta->out_meta[j].shape);
      out.push_back(t);
    }
    const Clock::time_point start = profile != nullptr ? Clock::now() : Clock::time_point();
    absl::Status s;
    // Device backends take operators of at most 16 inputs (the rest run here).
    const bool on_device = backend_ != nullptr && in.size() <= 16 && backend_->Handles(node, in);
    if (on_device) {
      bool constant[16] = {};
      for (size_t i = 0; i < step.inputs.size() && i < 16; ++i) {
        const int v = step.inputs[i];
        constant[i] = v >= 0 && constants_[static_cast<size_t>(v)] != nullptr;
      }
      s = backend_->Run(node, ctx, in, step.inputs, std::span<const bool>(constant, in.size()), out,
                        step.outputs);
    } else {
      for (int v : step.inputs) {
        if (v >= 0 && s.ok()) s = sync(v);
      }
      if (s.ok()) s = RunKernel(*step.op, ctx, in, out);
    }
    if (!s.ok()) {
      // A kernel's message may quote its inputs' shapes: when one of them
      // came from the run's integer data, only the kind of failure is told.
      status = data_shaped
                   ? NodeError(node, absl::Status(s.code(),
                                                  "the operator failed on values that come from "
                                                  "the run's data; details are withheld"))
                   : NodeError(node, s);
      break;
    }
    if (profile != nullptr) {
      profile->nodes.push_back(NodeTiming{node.Label(), step.op_type, Since(start), on_device});
    }
    for (int v : step.inputs) {
      if (v >= 0 && --uses[static_cast<size_t>(v)] == 0) release(v);
    }
    for (int v : step.outputs) {
      if (v >= 0 && uses[static_cast<size_t>(v)] == 0) release(v);
    }
  }

  if (backend_ != nullptr) {
    for (size_t i = 0; i < m.output_ids.size() && status.ok(); ++i) {
      status = sync(m.output_ids[i]);
    }
    const absl::Status end = backend_->EndRun();
    if (status.ok()) status = end;
  }
  std::vector<Tensor> results;
  results.reserve(m.output_ids.size());
  if (status.ok()) {
    for (size_t i = 0; i < m.output_ids.size(); ++i) {
      const int v = m.output_ids[i];
      Tensor& slot = slots_[static_cast<size_t>(v)];
      if (value[static_cast<size_t>(v)] == &slot && --uses[static_cast<size_t>(v)] == 0) {
        results.push_back(std::move(slot));  // its buffer leaves the pool with it
        slot = Tensor();
        value[static_cast<size_t>(v)] = nullptr;
      } else {
        results.push_back(*value[static_cast<size_t>(v)]);
      }
    }
  }
  // Whatever is still held (an error path) goes back to the pool. Slots
  // released during the run still satisfy value[v] == &slots_[v] but hold
  // no storage: pooling their empty buffers would grow the pool by one
  // entry per released value on every run, and acquire() scans it all.
  for (size_t v = 0; v < num_values; ++v) {
    if (value[v] != &slots_[v]) continue;
    AlignedBuffer buffer = slots_[v].TakeBuffer();
    if (buffer.capacity() > 0) free_buffers_.push_back(std::move(buffer));
  }
  if (!status.ok()) return status;
  if (profile != nullptr) profile->total = Since(run_start);
  return results;
}

}  // namespace strongroom::worker::onnx
