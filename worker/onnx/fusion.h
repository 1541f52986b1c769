// Internal: the execution plan a Session runs, and the CPU graph rewrites
// (operator fusion) applied while building it at Session::Create.
//
// Without fusion the plan is one step per node that constant folding left
// to run. With fusion (CPU sessions with SessionOptions::fuse_operators),
// chains that start at a Conv, a Gemm, an Add or a Sum collapse into one
// step:
//
//   Conv -> BatchNormalization (inference)  the normalization is folded into
//                                           the convolution's weights and bias
//   Conv -> Add(constant per-channel bias)  the constant joins the bias
//   Conv -> Add|Sum(R)                      a residual R of the output's
//                                           static shape, computed before the
//                                           Conv: the GEMM accumulates onto it
//   Conv | Gemm | Add | Sum -> Relu         the kernel applies Relu to its
//                                           output as it writes it
//
// (Conv -> BN/bias links may repeat; the residual and Relu end a chain.)
// Then a Concat on axis 1 whose inputs are each the output of such a Conv
// chain (without a residual) and read by nothing else becomes one step,
// "Concat(Conv+Relu,Conv+Relu)", that runs the chains' kernels each into
// its channels of the concatenation (channel_concat.h): SqueezeNet's fire
// modules, Inception's branches. Identity, and Dropout at inference, whose
// output is not a graph output, take no step: their readers read the input.
// A link is taken
// only when the intermediate value has exactly one consumer and is not a
// graph output, and, for weight folding, when the weights, bias and
// normalization parameters are constants (initializers or folded values)
// of the expected shapes. Folded weights are new constants owned by the
// plan, numbered after the model's values; the model's own tensors are
// never modified. Folding changes rounding (the products are formed in
// double, then stored as float), well inside the ONNX tests' tolerances.
//
// Device backends see nodes, not plans: a Session with a device backend
// plans without fusion.
//
// Thread-compatible; the plan is immutable once built.
#ifndef STRONGROOM_WORKER_ONNX_FUSION_H_
#define STRONGROOM_WORKER_ONNX_FUSION_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "worker/onnx/model.h"
#include "worker/onnx/op.h"
#include "worker/onnx/tensor.h"

namespace strongroom::worker::onnx::internal {

struct PlanStep {
  size_t node = 0;  // ModelData::nodes position of the chain's first node
  const Op* op = nullptr;
  std::vector<int> inputs;   // value ids; -1 for an absent optional input
  std::vector<int> outputs;  // value ids; -1 for an unwanted output
  std::string op_type;       // "Conv", or a fused chain: "Conv+BatchNormalization+Sum+Relu"
  size_t fused = 0;          // nodes absorbed beyond the first
};

struct ExecutionPlan {
  std::vector<PlanStep> steps;
  std::vector<std::unique_ptr<Op>> ops;  // the fused kernels steps point to
  // Constants the rewrites made, value ids first_new_value, +1, ...
  size_t first_new_value = 0;
  std::vector<std::unique_ptr<Tensor>> constants;
  size_t fused_nodes = 0;  // nodes absorbed into other steps
  size_t num_values() const { return first_new_value + constants.size(); }
};

// `run_node[k]`: node k still runs (constant folding left it). `constant(v)`:
// value v's tensor when it is an initializer or a folded constant, else
// null. A chain that does not qualify is left as separate steps, never an
// error; the only errors are from allocating folded weights (InvalidArgument
// naming the node, for a tensor past kMaxTensorBytes).
absl::StatusOr<ExecutionPlan> PlanExecution(const ModelData& m, const std::vector<bool>& run_node,
                                            const std::function<const Tensor*(int)>& constant,
                                            bool fuse);

}  // namespace strongroom::worker::onnx::internal

#endif  // STRONGROOM_WORKER_ONNX_FUSION_H_
