// The CUDA backend of the ONNX runtime (library worker_onnx_cuda).
//
// On GPU 0 it runs Conv (im2col kernel + cuBLAS SGEMM), Gemm, MatMul, Relu,
// Add, Sub, Mul, Div, Sum (broadcasting), BatchNormalization (inference),
// MaxPool, AveragePool, GlobalAveragePool, Concat, Identity and Dropout
// (inference), in float32 (Concat / Identity / Dropout any type); every
// other node, and any node with inputs these kernels do not cover, runs on
// the CPU kernels. Values stay on the device between device nodes; a value
// crosses to the host only when a CPU node reads it or it is a graph
// output, and from the host when a device node reads a value the CPU made.
// Constant inputs (weights, biases, folded constants) are uploaded once and
// cached for the Session's life. Device buffers are pooled between values
// and runs and zeroed before they are freed.
//
// A binary that links worker_onnx_cuda calls RegisterCudaBackend() once at
// startup; Session::Create with Device::kCuda then fails with
// FailedPrecondition "device cuda: no CUDA device (...)" on machines without
// a usable GPU, and a run fails with Internal naming the CUDA / cuBLAS call
// on device errors. A backend instance belongs to one Session (whose Runs
// are serialized).
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
