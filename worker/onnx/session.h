// Session: runs a Model on a device with its own threads and memory.
//
// Create() picks the backend (SessionOptions::device), starts the thread
// pool, folds the model's constant subgraphs (nodes whose inputs are all
// initializers or constants, such as ConstantOfShape weights) into tensors
// once and, on the CPU, fuses operator chains (Conv+BatchNormalization+Relu
// and others, fusion.h). Run() executes the resulting steps in topological
// order, inferring each step's output shape from its actual inputs (cached
// while the input shapes repeat), taking output storage from a buffer pool
// that is reused across runs and recycling each intermediate as soon as its
// last consumer has run.
//
// Errors: InvalidArgument for inputs that do not match the model (count,
// type, rank, static dims) and for shape errors found at run time, naming
// the input or the node; ResourceExhausted when a tensor would exceed
// SessionOptions::max_tensor_bytes; FailedPrecondition / Unimplemented for
// a device that is not there or not built. Tensor contents never appear in
// errors.
//
// Thread-safety: Run() may be called from several threads; calls on one
// Session are serialized (create one Session per concurrent stream). The
// Session keeps the model's compiled graph alive; the Model object itself
// may be destroyed.
#ifndef STRONGROOM_WORKER_ONNX_SESSION_H_
#define STRONGROOM_WORKER_ONNX_SESSION_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "worker/onnx/fusion.h"
#include "worker/onnx/model.h"
#include "worker/onnx/tensor.h"
#include "worker/onnx/thread_pool.h"

namespace strongroom::worker::onnx {

enum class Device { kCpu, kCuda };

// "cpu" | "cuda".
absl::StatusOr<Device> ParseDevice(absl::string_view name);
absl::string_view DeviceName(Device device);

// Whether tensor `t` fits model input `info` (input number `index`): the same
// data type, and with a declared shape the same rank and every fixed
// dimension. InvalidArgument naming both otherwise. Session::Run checks this;
// a caller can check earlier, before paying for a session.
absl::Status CheckInputFits(const ValueInfo& info, const Tensor& t, size_t index);
// Whether this binary has the CUDA backend (worker_onnx_cuda, registered
// with RegisterCudaBackend() from worker/onnx/cuda/cuda_backend.h).
bool CudaBackendBuilt();

struct SessionOptions {
  Device device = Device::kCpu;
  // Kernel threads, the caller's included; 0: one per hardware thread.
  int threads = 0;
  // No single tensor (input, intermediate, output) may be larger.
  int64_t max_tensor_bytes = int64_t{16} << 30;
  // Precompute constant subgraphs at Create (off: recompute every Run).
  bool fold_constants = true;
  // CPU only: fuse Conv with following BatchNormalization / bias Add (into
  // its weights) and Relu, and Gemm or Add with a following Relu (see
  // fusion.h). Ignored with a device backend, which runs nodes as they are.
  bool fuse_operators = true;
};

// Per-node wall time of one Run, in execution order.
struct NodeTiming {
  std::string name;  // Node::Label()
  std::string op_type;
  absl::Duration time;
  bool on_device = false;  // run by the device backend, not the CPU kernels
};
struct RunProfile {
  std::vector<NodeTiming> nodes;
  absl::Duration total;
  // Sum of node times by op type ("Conv", or "Conv [device]" for nodes the
  // device backend ran), largest first.
  std::vector<std::pair<std::string, absl::Duration>> ByOpType() const;
};

class Backend;  // session.cc / cuda/

class Session {
 public:
  static absl::StatusOr<std::unique_ptr<Session>> Create(const Model& model,
                                                         const SessionOptions& options);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Runs the model on `inputs` (one per Model::inputs(), in that order) and
  // returns one tensor per Model::outputs(). With `profile`, records each
  // node's time.
  absl::StatusOr<std::vector<Tensor>> Run(const std::vector<Tensor>& inputs,
                                          RunProfile* profile = nullptr);

  const SessionOptions& options() const { return options_; }
  int num_threads() const;
  // Nodes folded into constants at Create.
  size_t folded_nodes() const { return folded_nodes_; }
  // Nodes fused into another node's kernel at Create (fuse_operators).
  size_t fused_nodes() const { return plan_.fused_nodes; }

  // Observability of the buffer pool (for tests): buffers waiting in it
  // between runs, and fresh allocations the Session has made for values
  // (outputs leave with the results, so a steady state allocates about one
  // buffer per graph output per run and the pool stays the same size).
  size_t pooled_buffers() const;
  uint64_t buffer_allocations() const;

 private:
  // Per plan step: the output metas inferred for the last input shapes.
  struct InferCache {
    bool valid = false;
    std::vector<DataType> in_types;
    std::vector<Shape> in_shapes;
    std::vector<TensorMeta> out_meta;
    std::vector<size_t> out_bytes;
  };

  Session(std::shared_ptr<const internal::ModelData> model, const SessionOptions& options);
  absl::Status FoldConstants();
  // The outputs' metas and byte sizes for `step` on `in` (from the cache
  // when the inputs' types and shapes are those of the last run and every
  // input that is not a constant is FLOAT, so no shape depends on data).
  // `from_data[i]`: input i's shape may come from the values of the run's
  // integer data (a Reshape or ConstantOfShape upstream); errors then
  // withhold it.
  absl::Status InferStep(size_t s, std::span<const Tensor* const> in,
                         std::span<const uint8_t> from_data, InferCache** out);
  // Whether input `t` (value `v`) is integer data of this run, not a
  // constant: an operator may read it as a shape or axes (Reshape), so what
  // it makes depends on the run's values.
  bool IsRunInteger(const Tensor* t, int v) const {
    return t != nullptr && t->dtype() != DataType::kFloat &&
           constants_[static_cast<size_t>(v)] == nullptr;
  }

  const std::shared_ptr<const internal::ModelData> model_;
  const SessionOptions options_;
  std::unique_ptr<ThreadPool> pool_;
  std::unique_ptr<Backend> backend_;  // non-null for non-CPU devices

  internal::ExecutionPlan plan_;  // what Run executes, built at Create

  mutable std::mutex mu_;  // serializes Run; guards everything below
  // By value id (the model's, then the plan's new constants): folded
  // constants (owned or the plan's) and the per-run intermediates.
  std::vector<const Tensor*> constants_;
  std::vector<std::unique_ptr<Tensor>> folded_;
  std::vector<Tensor> slots_;
  std::vector<bool> run_node_;  // by node position: not folded away
  std::vector<int> uses_;       // by value id: consumers + graph-output uses
  std::vector<InferCache> infer_cache_;  // by plan step
  std::vector<AlignedBuffer> free_buffers_;
  uint64_t buffer_allocations_ = 0;
  AlignedBuffer scratch_;
  size_t folded_nodes_ = 0;
};

}  // namespace strongroom::worker::onnx

#endif  // STRONGROOM_WORKER_ONNX_SESSION_H_
