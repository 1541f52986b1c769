// Internal: the CUDA backend's device state: one stream and cuBLAS handle,
// the device copies of a run's values, a pool of device buffers reused
// between values and runs, and the constants cached for the Session's life.
// Device buffers are zeroed before they are freed.
#ifndef STRONGROOM_WORKER_ONNX_CUDA_CUDA_DEVICE_H_
#define STRONGROOM_WORKER_ONNX_CUDA_CUDA_DEVICE_H_

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "base/status_macros.h"
#include "worker/onnx/tensor.h"

namespace strongroom::worker::onnx::cuda {

absl::Status CudaError(const char* call, cudaError_t e);
absl::Status BlasError(const char* call, cublasStatus_t s);

#define SR_CUDA_RETURN_IF_ERROR(call)                                \
  do {                                                               \
    if (cudaError_t e_ = (call); e_ != cudaSuccess) {                \
      return ::strongroom::worker::onnx::cuda::CudaError(#call, e_); \
    }                                                                \
  } while (false)

#define SR_CUBLAS_RETURN_IF_ERROR(call)                              \
  do {                                                               \
    if (cublasStatus_t s_ = (call); s_ != CUBLAS_STATUS_SUCCESS) {   \
      return ::strongroom::worker::onnx::cuda::BlasError(#call, s_); \
    }                                                                \
  } while (false)

// Device memory, zeroed before it is freed. Move-only.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(DeviceBuffer&& o) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept;
  ~DeviceBuffer();

  // At least `bytes` (contents not kept when it grows).
  absl::Status Reserve(size_t bytes);
  void* get() const { return ptr_; }
  size_t capacity() const { return bytes_; }

 private:
  void Free();
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// A node's arguments as the Session passes them (see backend.h).
struct OpArgs {
  std::span<const Tensor* const> in;
  std::span<const int> in_ids;
  std::span<const bool> constant;
  std::span<Tensor* const> out;
  std::span<const int> out_ids;
};

class DeviceContext {
 public:
  // FailedPrecondition "device cuda: no CUDA device (...)" without a GPU.
  static absl::StatusOr<std::unique_ptr<DeviceContext>> Create();
  ~DeviceContext();
  DeviceContext(const DeviceContext&) = delete;
  DeviceContext& operator=(const DeviceContext&) = delete;

  cudaStream_t stream() const { return stream_; }
  cublasHandle_t blas() const { return blas_; }

  // The device copy of input i: the cached constant, the value already on
  // the device, or an upload of the host tensor (kept for the value's later
  // readers in this run).
  absl::StatusOr<const void*> Input(const OpArgs& a, size_t i);
  template <typename T>
  absl::StatusOr<const T*> InputAs(const OpArgs& a, size_t i) {
    ASSIGN_OR_RETURN(const void* p, Input(a, i));
    return static_cast<const T*>(p);
  }
  // A device buffer for output j, held as the value's current copy (its
  // host tensor goes stale); for an unwanted output, scratch for this run.
  absl::StatusOr<float*> Output(const OpArgs& a, size_t j);
  absl::StatusOr<void*> OutputBytes(const OpArgs& a, size_t j);
  // Scratch that stays valid until the next call (im2col columns).
  absl::StatusOr<float*> Columns(size_t bytes);

  void BeginRun(bool synchronous) { synchronous_ = synchronous; }
  // After a node's work is queued: waits for it when synchronous.
  absl::Status AfterNode();
  absl::Status Sync(int id, Tensor* host);
  void Release(int id);
  absl::Status EndRun();

 private:
  struct Held {
    DeviceBuffer buffer;
    bool host_current = false;
  };
  DeviceContext(cudaStream_t stream, cublasHandle_t blas) : stream_(stream), blas_(blas) {}
  absl::StatusOr<DeviceBuffer> Acquire(size_t bytes);
  void Recycle(DeviceBuffer buffer);

  cudaStream_t stream_;
  cublasHandle_t blas_;
  bool synchronous_ = false;
  std::unordered_map<int, Held> values_;
  std::vector<DeviceBuffer> transient_;  // unwanted outputs of this run
  std::vector<DeviceBuffer> free_;
  std::unordered_map<const Tensor*, DeviceBuffer> constants_;
  DeviceBuffer columns_;
};

}  // namespace strongroom::worker::onnx::cuda

#endif  // STRONGROOM_WORKER_ONNX_CUDA_CUDA_DEVICE_H_
