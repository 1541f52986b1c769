#include "worker/onnx/backend.h"

#include <atomic>

#include "absl/strings/str_cat.h"

namespace strongroom::worker::onnx {
namespace {
std::atomic<BackendFactory> cuda_factory{nullptr};
}  // namespace

void RegisterDeviceBackend(Device device, BackendFactory factory) {
  if (device == Device::kCuda) cuda_factory.store(factory);
}

bool CudaBackendBuilt() { return cuda_factory.load() != nullptr; }

absl::StatusOr<std::unique_ptr<Backend>> CreateDeviceBackend(Device device) {
  if (device == Device::kCuda) {
    const BackendFactory factory = cuda_factory.load();
    if (factory == nullptr) {
      return absl::UnimplementedError(
          "device cuda: this binary has no CUDA backend (it is built with nvcc present and "
          "linked as worker_onnx_cuda into strongroom-worker)");
    }
    return factory();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("device ", DeviceName(device), " has no device backend"));
}

}  // namespace strongroom::worker::onnx
