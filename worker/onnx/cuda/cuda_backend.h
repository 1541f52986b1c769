// The CUDA backend of the ONNX runtime (library worker_onnx_cuda).
//
// It runs the GEMM-heavy nodes (Conv via an im2col kernel + cuBLAS SGEMM,
// Gemm, MatMul) on GPU 0; every other node runs on the CPU kernels.
// Tensors live in host memory between nodes: the backend uploads a node's
// inputs, runs it and downloads its output, caching constant inputs
// (weights, biases) on the device for the Session's life. Device buffers are
// zeroed before they are freed.
//
// A binary that links worker_onnx_cuda calls RegisterCudaBackend() once at
// startup; Session::Create with Device::kCuda then fails with
// FailedPrecondition "device cuda: no CUDA device (...)" on machines without
// a usable GPU, and Internal naming the CUDA / cuBLAS call on device errors.
// A backend instance belongs to one Session (whose Runs are serialized).
#ifndef STRONGROOM_WORKER_ONNX_CUDA_CUDA_BACKEND_H_
#define STRONGROOM_WORKER_ONNX_CUDA_CUDA_BACKEND_H_

#include <memory>

#include "absl/status/statusor.h"
#include "worker/onnx/backend.h"

namespace strongroom::worker::onnx {

void RegisterCudaBackend();

// The factory RegisterCudaBackend() installs.
absl::StatusOr<std::unique_ptr<Backend>> CreateCudaBackend();

}  // namespace strongroom::worker::onnx

#endif  // STRONGROOM_WORKER_ONNX_CUDA_CUDA_BACKEND_H_
