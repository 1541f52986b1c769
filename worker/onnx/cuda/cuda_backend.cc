#include "worker/onnx/cuda/cuda_backend.h"

#include <memory>

#include "worker/onnx/cuda/cuda_device.h"
#include "worker/onnx/cuda/cuda_ops.h"

namespace strongroom::worker::onnx {
namespace {

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(std::unique_ptr<cuda::DeviceContext> dc) : dc_(std::move(dc)) {}

  bool Handles(const Node& node, std::span<const Tensor* const> inputs) const override {
    return cuda::DeviceRuns(node, inputs);
  }

  void BeginRun(bool synchronous) override { dc_->BeginRun(synchronous); }

  absl::Status Run(const Node& node, const ExecContext&, std::span<const Tensor* const> in,
                   std::span<const int> in_ids, std::span<const bool> constant,
                   std::span<Tensor* const> out, std::span<const int> out_ids) override {
    const cuda::OpArgs args{in, in_ids, constant, out, out_ids};
    if (auto s = cuda::RunOnDevice(*dc_, node, args); !s.ok()) return s;
    return dc_->AfterNode();
  }

  absl::Status Sync(int id, Tensor* host) override { return dc_->Sync(id, host); }
  void Release(int id) override { dc_->Release(id); }
  absl::Status EndRun() override { return dc_->EndRun(); }

 private:
  std::unique_ptr<cuda::DeviceContext> dc_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Backend>> CreateCudaBackend() {
  auto dc = cuda::DeviceContext::Create();
  if (!dc.ok()) return dc.status();
  return std::unique_ptr<Backend>(new CudaBackend(*std::move(dc)));
}

void RegisterCudaBackend() { RegisterDeviceBackend(Device::kCuda, CreateCudaBackend); }

}  // namespace strongroom::worker::onnx
