// Op: one node's kernel, built once per node by its operator's factory
// (which decodes and validates the attributes) and then shared, immutable,
// by every Session that runs the model. Factories are found by op type in
// the registry (OpRegistry / FindOp).
//
// The loader and Session call:
//   Infer(): output element types and shapes from the inputs' (and from
//            the contents of inputs whose values a shape depends on, such as
//            Reshape's shape; TensorMeta::value is null when that content
//            is not known yet, and Infer then reports the outputs unknown);
//   Run():   the computation, into outputs already shaped as Infer said.
// Errors are InvalidArgument without the node prefix; callers add
// Node::Label(). Kernels never log or format tensor contents.
//
// Thread-safety: Infer and Run are const and may be called concurrently
// from different Sessions.
#ifndef STRONGROOM_WORKER_ONNX_OP_H_
#define STRONGROOM_WORKER_ONNX_OP_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "worker/onnx/attributes.h"
#include "worker/onnx/tensor.h"
#include "worker/onnx/thread_pool.h"

namespace strongroom::worker::onnx {

struct TensorMeta {
  DataType dtype = DataType::kUndefined;
  Shape shape;
  bool known = true;              // false: dtype/shape not known before run time
  const Tensor* value = nullptr;  // the contents, when known
};

// What a kernel may use while it runs.
class ExecContext {
 public:
  ExecContext(ThreadPool* pool, AlignedBuffer* scratch) : pool_(pool), scratch_(scratch) {}
  ThreadPool* pool() const { return pool_; }
  // A workspace of at least `count` floats, valid until the next call.
  float* ScratchFloats(size_t count) const;

 private:
  ThreadPool* pool_;
  AlignedBuffer* scratch_;
};

// An activation a kernel can apply to its own output while it is still in
// cache, in place of a separate node (see fusion.h).
enum class Activation { kNone, kRelu };

class Op {
 public:
  virtual ~Op() = default;
  // `inputs` has one entry per node input (null for an absent optional
  // one); `outputs` one per node output, to fill.
  virtual absl::Status Infer(std::span<const TensorMeta* const> inputs,
                             std::span<TensorMeta> outputs) const = 0;
  // `outputs` entries are null for outputs the graph does not use.
  virtual absl::Status Run(const ExecContext& ctx, std::span<const Tensor* const> inputs,
                           std::span<Tensor* const> outputs) const = 0;
  // A kernel computing `activation` of this one's output 0 (same inputs,
  // same Infer), or null when this kernel has no such epilogue. Kernels
  // that have one: Conv, Gemm, float Add and Sum (kRelu).
  virtual std::unique_ptr<Op> WithActivation(Activation activation) const { return nullptr; }
  // A kernel computing `activation`(this one's output 0 + R), R an extra
  // last input of the output's shape (a residual connection), or null.
  // Conv has one.
  virtual std::unique_ptr<Op> WithResidual(Activation activation) const { return nullptr; }
  // A kernel specialized for the inputs that are session constants
  // (`constants[i]`: input i's value, or null when it is not constant), such
  // as Conv with its weights packed once, or null when this kernel has
  // nothing to prepare. Called at Session::Create on CPU sessions; the
  // tensors outlive the returned op. The op must still accept other inputs
  // (it compares what it gets with what it prepared).
  virtual std::unique_ptr<Op> WithConstants(std::span<const Tensor* const> constants) const {
    return nullptr;
  }
  // Whether RunIntoChannels works for this kernel (Conv without a fused
  // residual): the planner then lets a Concat on axis 1 of such outputs
  // have each kernel write its part of the concatenation in place (fusion.h).
  virtual bool WritesChannelSlices() const { return false; }
  // Runs like Run but writes output 0 into channels [channel_offset,
  // channel_offset + C) of every image of `out`, C being the channels Run
  // would produce (set in `*channels`). `out` has the shape Run's output
  // would have except in dimension 1, which is at least channel_offset + C;
  // the kernel writes nothing else there.
  virtual absl::Status RunIntoChannels(const ExecContext& ctx,
                                       std::span<const Tensor* const> inputs, Tensor* out,
                                       int64_t channel_offset, int64_t* channels) const {
    return absl::UnimplementedError("this kernel cannot write a channel slice");
  }
};

// What a factory knows of its node besides the attributes.
struct OpConfig {
  int opset = 0;                 // the model's ai.onnx opset
  std::vector<bool> has_input;   // per declared input: present?
  std::vector<bool> has_output;  // per declared output: wanted?
  size_t num_inputs() const { return has_input.size(); }
  size_t num_outputs() const { return has_output.size(); }
};

using OpFactory = absl::StatusOr<std::unique_ptr<Op>> (*)(const OpConfig& config,
                                                          AttributeReader& attrs);

struct OpSchema {
  const char* op_type;
  int min_inputs;  // leading inputs that must be present
  int max_inputs;
  int min_outputs;
  int max_outputs;
  int since_opset;  // oldest ai.onnx opset whose semantics this kernel has
  OpFactory create;
};

// The registered operator, or nullptr.
const OpSchema* FindOp(absl::string_view op_type);
// Every registered op type, sorted (for docs and errors).
std::vector<std::string> SupportedOps();

// Helpers shared by the kernels.

// InvalidArgument "input 1 has type INT64; expected FLOAT".
absl::Status CheckType(const TensorMeta* meta, size_t index, std::initializer_list<DataType> ok);
// Normalizes a possibly negative axis against `rank` (allowed range
// [-rank, rank-1]), or InvalidArgument naming `what`.
absl::StatusOr<int64_t> NormalizeAxis(int64_t axis, int64_t rank, absl::string_view what);
// numpy broadcasting of two shapes.
absl::StatusOr<Shape> BroadcastShapes(const Shape& a, const Shape& b);
// Product of shape[begin, end).
int64_t Product(const Shape& shape, size_t begin, size_t end);
// Sets every output to "unknown until run time"; returns OK.
absl::Status MarkUnknown(std::span<TensorMeta> outputs);

}  // namespace strongroom::worker::onnx

#endif  // STRONGROOM_WORKER_ONNX_OP_H_
