// Internal: the seam for non-CPU devices. A Session with a device backend
// asks it, node by node, whether it runs that node; nodes it declines run on
// the CPU kernels. Every value has a host Tensor (shaped by the CPU
// kernels' Infer); a backend may keep a value it produced on its device
// only, and the Session asks for the host copy (Sync) before a CPU kernel
// reads it and for the graph's outputs. So a chain of device nodes passes
// its activations on the device, and only the values the CPU reads cross.
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
  // Whether the backend runs `node` on `inputs` (their types and shapes are
  // current; the data of a value the backend holds may be stale on the
  // host).
  virtual bool Handles(const Node& node, std::span<const Tensor* const> inputs) const = 0;
  // A Session run starts. `synchronous`: finish each node's device work
  // before Run returns (for per-node profiles).
  virtual void BeginRun(bool synchronous) = 0;
  // Like Op::Run (outputs are already shaped by the CPU kernel's Infer).
  // `input_ids` / `output_ids`: the values' ids (-1: absent or unwanted).
  // `constant[i]`: input i is an initializer or folded constant, whose
  // storage stays put for the Session's life (a backend may cache it).
  // Outputs may be left on the device: their host tensors are current only
  // after Sync.
  virtual absl::Status Run(const Node& node, const ExecContext& ctx,
                           std::span<const Tensor* const> inputs, std::span<const int> input_ids,
                           std::span<const bool> constant, std::span<Tensor* const> outputs,
                           std::span<const int> output_ids) = 0;
  // Makes `host`, value `id`'s host tensor, current when the backend holds
  // a newer copy (a no-op otherwise). Reports device errors of earlier
  // nodes too.
  virtual absl::Status Sync(int id, Tensor* host) = 0;
  // Value `id` has no more readers in this run (its device copy may go).
  virtual void Release(int id) = 0;
  // The run is over (or failed): everything held for it is released.
  // Returns the first device error not reported yet.
  virtual absl::Status EndRun() = 0;
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
