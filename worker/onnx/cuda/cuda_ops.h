// Internal: the operators the CUDA backend runs on the device. Each reads
// its inputs through DeviceContext::Input and writes its outputs into
// DeviceContext::Output buffers, queued on the context's stream; the
// outputs' host tensors are left stale (the Session syncs what the CPU
// reads). Inputs are already validated and outputs shaped by the CPU
// kernels' Infer.
#ifndef STRONGROOM_WORKER_ONNX_CUDA_CUDA_OPS_H_
#define STRONGROOM_WORKER_ONNX_CUDA_CUDA_OPS_H_

#include <span>

#include "absl/status/status.h"
#include "worker/onnx/cuda/cuda_device.h"
#include "worker/onnx/cuda/cuda_kernels.h"
#include "worker/onnx/graph.h"
#include "worker/onnx/tensor.h"

namespace strongroom::worker::onnx::cuda {

// Whether RunOnDevice takes `node` with these inputs: float32 tensors (any
// type for Concat, Identity and Dropout), ranks the kernels cover, and no
// wanted output that only the CPU kernel makes (MaxPool's indices,
// BatchNormalization's training statistics). Dropout's all-true mask is
// written on the host.
bool DeviceRuns(const Node& node, std::span<const Tensor* const> inputs);

absl::Status RunOnDevice(DeviceContext& dc, const Node& node, const OpArgs& a);

// The geometry of y = a op b over an output of shape `out` (NumPy
// broadcasting; b may be null: its strides are then a's).
BroadcastGeometry Geometry(const Shape& out, const Shape& a, const Shape* b);

// GEMM-heavy operators (cuda_gemm_ops.cc).
absl::Status RunConv(DeviceContext& dc, const Node& node, const OpArgs& a);
absl::Status RunGemm(DeviceContext& dc, const Node& node, const OpArgs& a);
absl::Status RunMatMul(DeviceContext& dc, const OpArgs& a);

}  // namespace strongroom::worker::onnx::cuda

#endif  // STRONGROOM_WORKER_ONNX_CUDA_CUDA_OPS_H_
