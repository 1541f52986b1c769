// The device-side element-wise, normalization, pooling and data-movement
// operators, and the dispatch of every operator the CUDA backend runs.
#include "worker/onnx/cuda/cuda_ops.h"

#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "worker/onnx/attributes.h"
#include "worker/onnx/cuda/cuda_kernels.h"
#include "worker/onnx/op.h"
#include "worker/onnx/ops/kernel_util.h"
#include "worker/onnx/ops/window.h"

namespace strongroom::worker::onnx::cuda {
namespace {

bool IsAny(const std::string& op, std::initializer_list<const char*> names) {
  for (const char* n : names) {
    if (op == n) return true;
  }
  return false;
}

// Output j is wanted by the graph (Node::outputs has -1 for left-out ones).
bool Wanted(const Node& node, size_t j) { return j < node.outputs.size() && node.outputs[j] >= 0; }

}  // namespace

BroadcastGeometry Geometry(const Shape& out, const Shape& a, const Shape* b) {
  BroadcastGeometry g;
  g.rank = static_cast<int>(out.size());
  const std::vector<int64_t> sa = ops::BroadcastStrides(a, out);
  const std::vector<int64_t> sb = b != nullptr ? ops::BroadcastStrides(*b, out) : sa;
  for (size_t d = 0; d < out.size(); ++d) {
    g.dims[d] = out[d];
    g.a_strides[d] = sa[d];
    g.b_strides[d] = sb[d];
  }
  if (g.rank == 0) {  // a scalar: one element
    g.rank = 1;
    g.dims[0] = 1;
  }
  return g;
}

namespace {

absl::Status RunBinary(DeviceContext& dc, BinaryOp op, const OpArgs& a) {
  ASSIGN_OR_RETURN(auto x, dc.InputAs<float>(a, 0));
  ASSIGN_OR_RETURN(auto z, dc.InputAs<float>(a, 1));
  ASSIGN_OR_RETURN(auto y, dc.Output(a, 0));
  const Tensor& out = *a.out[0];
  const BroadcastGeometry g = Geometry(out.shape(), a.in[0]->shape(), &a.in[1]->shape());
  SR_CUDA_RETURN_IF_ERROR(LaunchBinary(op, x, z, y, g, out.num_elements(), dc.stream()));
  return absl::OkStatus();
}

// Sum of one or more inputs: y = in0 (+ in1), then y += in_k.
absl::Status RunSum(DeviceContext& dc, const OpArgs& a) {
  ASSIGN_OR_RETURN(auto y, dc.Output(a, 0));
  const Tensor& out = *a.out[0];
  ASSIGN_OR_RETURN(auto first, dc.InputAs<float>(a, 0));
  if (a.in.size() == 1) {
    const BroadcastGeometry g = Geometry(out.shape(), a.in[0]->shape(), nullptr);
    SR_CUDA_RETURN_IF_ERROR(
        LaunchBinary(BinaryOp::kCopyA, first, nullptr, y, g, out.num_elements(), dc.stream()));
    return absl::OkStatus();
  }
  for (size_t i = 1; i < a.in.size(); ++i) {
    ASSIGN_OR_RETURN(auto next, dc.InputAs<float>(a, i));
    const bool start = i == 1;
    const BroadcastGeometry g =
        Geometry(out.shape(), start ? a.in[0]->shape() : out.shape(), &a.in[i]->shape());
    SR_CUDA_RETURN_IF_ERROR(LaunchBinary(BinaryOp::kAdd, start ? first : y, next, y, g,
                                         out.num_elements(), dc.stream()));
  }
  return absl::OkStatus();
}

absl::Status RunRelu(DeviceContext& dc, const OpArgs& a) {
  ASSIGN_OR_RETURN(auto x, dc.InputAs<float>(a, 0));
  ASSIGN_OR_RETURN(auto y, dc.Output(a, 0));
  SR_CUDA_RETURN_IF_ERROR(LaunchRelu(x, y, a.out[0]->num_elements(), dc.stream()));
  return absl::OkStatus();
}

absl::Status RunBatchNorm(DeviceContext& dc, const Node& node, const OpArgs& a) {
  AttributeReader attrs(node.attributes);
  ASSIGN_OR_RETURN(auto epsilon, attrs.Float("epsilon", 1e-5f));
  const float* p[5];
  for (size_t i = 0; i < 5; ++i) {
    ASSIGN_OR_RETURN(auto d, dc.InputAs<float>(a, i));
    p[i] = d;
  }
  ASSIGN_OR_RETURN(auto y, dc.Output(a, 0));
  const Tensor& x = *a.in[0];
  const int64_t size = Product(x.shape(), 2, x.shape().size());
  SR_CUDA_RETURN_IF_ERROR(LaunchBatchNorm(p[0], p[1], p[2], p[3], p[4], epsilon, y, x.dim(0),
                                          x.dim(1), size, dc.stream()));
  return absl::OkStatus();
}

absl::Status RunPool(DeviceContext& dc, const Node& node, const OpArgs& a, bool max) {
  AttributeReader attrs(node.attributes);
  ASSIGN_OR_RETURN(auto window, ops::ReadWindowAttrs(attrs, true, true, true));
  const Tensor& x = *a.in[0];
  ASSIGN_OR_RETURN(auto win,
                   ops::ResolveWindow(window, Shape(x.shape().begin() + 2, x.shape().end()), {}));
  auto axis = [](const ops::AxisWindow& w) {
    return PoolAxis{w.in, w.kernel, w.stride, w.dilation, w.pad_begin, w.pad_end, w.out};
  };
  PoolGeometry g;
  g.planes = x.dim(0) * x.dim(1);
  g.y = win.size() == 1 ? PoolAxis{1, 1, 1, 1, 0, 0, 1} : axis(win[0]);
  g.x = axis(win.back());
  g.max = max;
  ASSIGN_OR_RETURN(const int64_t include_pad, attrs.Int("count_include_pad", 0));
  g.count_include_pad = !max && include_pad == 1;
  ASSIGN_OR_RETURN(auto dx, dc.InputAs<float>(a, 0));
  ASSIGN_OR_RETURN(auto y, dc.Output(a, 0));
  SR_CUDA_RETURN_IF_ERROR(LaunchPool(dx, y, g, dc.stream()));
  return absl::OkStatus();
}

absl::Status RunGlobalAverage(DeviceContext& dc, const OpArgs& a) {
  const Tensor& x = *a.in[0];
  ASSIGN_OR_RETURN(auto dx, dc.InputAs<float>(a, 0));
  ASSIGN_OR_RETURN(auto y, dc.Output(a, 0));
  SR_CUDA_RETURN_IF_ERROR(LaunchGlobalAverage(
      dx, y, x.dim(0) * x.dim(1), Product(x.shape(), 2, x.shape().size()), dc.stream()));
  return absl::OkStatus();
}

// Pitches at or past this go row by row (2-D copies have a pitch limit).
constexpr size_t kMaxPitch = size_t{1} << 30;

// Concat of any element type: one strided copy per input.
absl::Status RunConcat(DeviceContext& dc, const Node& node, const OpArgs& a) {
  const Tensor& out = *a.out[0];
  AttributeReader attrs(node.attributes);
  ASSIGN_OR_RETURN(int64_t axis, attrs.Int("axis", 0));
  if (axis < 0) axis += out.rank();
  ASSIGN_OR_RETURN(auto dy, dc.OutputBytes(a, 0));
  const size_t element = ElementSize(out.dtype());
  const int64_t outer = Product(out.shape(), 0, static_cast<size_t>(axis));
  const int64_t inner = Product(out.shape(), static_cast<size_t>(axis) + 1, out.shape().size());
  const size_t out_row = static_cast<size_t>(out.dim(axis) * inner) * element;
  size_t offset = 0;
  for (size_t i = 0; i < a.in.size(); ++i) {
    const size_t row = static_cast<size_t>(a.in[i]->dim(axis) * inner) * element;
    if (row > 0 && outer > 0) {
      ASSIGN_OR_RETURN(auto src, dc.Input(a, i));
      char* dst = static_cast<char*>(dy) + offset;
      const char* from = static_cast<const char*>(src);
      if (outer == 1 || out_row >= kMaxPitch) {  // one copy per row
        for (int64_t o = 0; o < outer; ++o) {
          SR_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(dst + o * out_row, from + o * row, row,
                                                  cudaMemcpyDeviceToDevice, dc.stream()));
        }
      } else {
        SR_CUDA_RETURN_IF_ERROR(cudaMemcpy2DAsync(dst, out_row, from, row, row,
                                                  static_cast<size_t>(outer),
                                                  cudaMemcpyDeviceToDevice, dc.stream()));
      }
    }
    offset += row;
  }
  return absl::OkStatus();
}

// Identity, and Dropout at inference: a device copy. Dropout's mask, when
// wanted, is all true: it is written on the host (the backend does not hold
// it, so its host tensor is current; a device reader uploads it).
absl::Status RunCopy(DeviceContext& dc, const OpArgs& a) {
  if (a.out.size() > 1 && a.out[1] != nullptr && a.out_ids[1] >= 0) {
    Tensor& mask = *a.out[1];
    if (mask.dtype() == DataType::kFloat) {
      for (float& v : mask.mutable_data<float>()) v = 1.0f;
    } else {  // BOOL (opset 10+): one byte of value 1 per element, as the CPU kernel
      std::memset(mask.mutable_bytes().data(), 0, mask.byte_size());
      for (size_t i = 0; i < mask.byte_size(); i += ElementSize(mask.dtype())) {
        mask.mutable_bytes()[i] = 1;
      }
    }
  }
  ASSIGN_OR_RETURN(auto src, dc.Input(a, 0));
  ASSIGN_OR_RETURN(auto dy, dc.OutputBytes(a, 0));
  if (a.out[0]->byte_size() > 0) {
    SR_CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(dy, src, a.out[0]->byte_size(), cudaMemcpyDeviceToDevice, dc.stream()));
  }
  return absl::OkStatus();
}

}  // namespace

bool DeviceRuns(const Node& node, std::span<const Tensor* const> in) {
  const std::string& op = node.op_type;
  const bool any_type = IsAny(op, {"Concat", "Identity", "Dropout"});
  for (const Tensor* t : in) {
    if (t == nullptr) continue;
    if (!any_type && t->dtype() != DataType::kFloat) return false;
    if (t->rank() > kMaxRank) return false;
  }
  if (in.empty() || in[0] == nullptr) return false;
  if (IsAny(op, {"Conv", "Gemm", "MatMul", "Relu", "Add", "Sub", "Mul", "Div", "Sum", "Concat",
                 "Identity", "GlobalAveragePool"})) {
    if (op == "Conv") return in[0]->rank() == 3 || in[0]->rank() == 4;
    return true;
  }
  if (op == "BatchNormalization") {
    // A training_mode that is not 0 (or not an int) stays with the CPU kernel.
    AttributeReader attrs(node.attributes);
    return attrs.Int("training_mode", 0).value_or(1) == 0 && !Wanted(node, 1) && !Wanted(node, 2) &&
           in.size() == 5 && in[0]->rank() >= 2;
  }
  if (op == "MaxPool" || op == "AveragePool") {
    return !Wanted(node, 1) && (in[0]->rank() == 3 || in[0]->rank() == 4);
  }
  if (op == "Dropout") {
    // A training_mode input stays with the CPU kernel (which refuses true).
    return in.size() < 3 || in[2] == nullptr;
  }
  return false;
}

absl::Status RunOnDevice(DeviceContext& dc, const Node& node, const OpArgs& a) {
  const std::string& op = node.op_type;
  if (op == "Conv") return RunConv(dc, node, a);
  if (op == "Gemm") return RunGemm(dc, node, a);
  if (op == "MatMul") return RunMatMul(dc, a);
  if (op == "Relu") return RunRelu(dc, a);
  if (op == "Add") return RunBinary(dc, BinaryOp::kAdd, a);
  if (op == "Sub") return RunBinary(dc, BinaryOp::kSub, a);
  if (op == "Mul") return RunBinary(dc, BinaryOp::kMul, a);
  if (op == "Div") return RunBinary(dc, BinaryOp::kDiv, a);
  if (op == "Sum") return RunSum(dc, a);
  if (op == "BatchNormalization") return RunBatchNorm(dc, node, a);
  if (op == "MaxPool") return RunPool(dc, node, a, true);
  if (op == "AveragePool") return RunPool(dc, node, a, false);
  if (op == "GlobalAveragePool") return RunGlobalAverage(dc, a);
  if (op == "Concat") return RunConcat(dc, node, a);
  if (op == "Identity" || op == "Dropout") return RunCopy(dc, a);
  return absl::InternalError(absl::StrCat("cuda: no device kernel for ", op));
}

}  // namespace strongroom::worker::onnx::cuda
