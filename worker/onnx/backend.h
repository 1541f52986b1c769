// Internal: the seam for non-CPU devices. A Session with a device backend
// asks it, node by node, whether it runs that node; nodes it declines run on
// the CPU kernels. Tensors stay in host memory between nodes; a backend
// moves what it needs to and from its device (and may cache constants
// there).
#ifndef STRONGROOM_WORKER_ONNX_BACKEND_H_
#define STRONGROOM_WORKER_ONNX_BACKEND_H_

#include <memory>
#include <span>

#include "absl/status/statusor.h"
#include "worker/onnx/graph.h"
#include "worker/onnx/op.h"
#include "worker/onnx/session.h"

namespace strongroom::worker::onnx {

class Backend {
 public:
  virtual ~Backend() = default;
  virtual bool Handles(const Node& node) const = 0;
  // Like Op::Run (outputs are already shaped by the CPU kernel's Infer).
  // `constant[i]`: input i is an initializer or folded constant, whose
  // storage stays put for the Session's life (a backend may cache it).
  virtual absl::Status Run(const Node& node, const ExecContext& ctx,
                           std::span<const Tensor* const> inputs, std::span<const bool> constant,
                           std::span<Tensor* const> outputs) = 0;
};

using BackendFactory = absl::StatusOr<std::unique_ptr<Backend>> (*)();

// Makes `device` available to Sessions. Device backends live in their own
// libraries (worker_onnx_cuda) so that binaries which do not want them do
// not load their runtimes; a binary that links one registers it at startup.
void RegisterDeviceBackend(Device device, BackendFactory factory);

// The backend for `device` (not kCpu): Unimplemented when none is
// registered; the factory's error (FailedPrecondition when the device is
// not present).
absl::StatusOr<std::unique_ptr<Backend>> CreateDeviceBackend(Device device);

}  // namespace strongroom::worker::onnx

#endif  // STRONGROOM_WORKER_ONNX_BACKEND_H_
