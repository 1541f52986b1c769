#include "worker/onnx/cuda/cuda_device.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace strongroom::worker::onnx::cuda {

absl::Status CudaError(const char* call, cudaError_t e) {
  return absl::InternalError(absl::StrCat("cuda: ", call, ": ", cudaGetErrorString(e)));
}

absl::Status BlasError(const char* call, cublasStatus_t s) {
  return absl::InternalError(absl::StrCat("cublas: ", call, ": status ", static_cast<int>(s)));
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& o) noexcept
    : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
  if (this != &o) {
    Free();
    ptr_ = std::exchange(o.ptr_, nullptr);
    bytes_ = std::exchange(o.bytes_, 0);
  }
  return *this;
}

DeviceBuffer::~DeviceBuffer() { Free(); }

absl::Status DeviceBuffer::Reserve(size_t bytes) {
  if (bytes <= bytes_) return absl::OkStatus();
  Free();
  void* p = nullptr;
  SR_CUDA_RETURN_IF_ERROR(cudaMalloc(&p, bytes));
  ptr_ = p;
  bytes_ = bytes;
  return absl::OkStatus();
}

void DeviceBuffer::Free() {
  if (ptr_ != nullptr) {
    // Work still queued on any stream may read the buffer: let it finish,
    // then zero the memory before it goes back to the driver.
    cudaDeviceSynchronize();
    cudaMemset(ptr_, 0, bytes_);
    cudaDeviceSynchronize();
    cudaFree(ptr_);
  }
  ptr_ = nullptr;
  bytes_ = 0;
}

absl::StatusOr<std::unique_ptr<DeviceContext>> DeviceContext::Create() {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("device cuda: no CUDA device (",
                     e != cudaSuccess ? cudaGetErrorString(e) : "0 devices", ")"));
  }
  SR_CUDA_RETURN_IF_ERROR(cudaSetDevice(0));
  cudaStream_t stream;
  SR_CUDA_RETURN_IF_ERROR(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  cublasHandle_t blas;
  if (cublasStatus_t s = cublasCreate(&blas); s != CUBLAS_STATUS_SUCCESS) {
    cudaStreamDestroy(stream);
    return BlasError("cublasCreate", s);
  }
  // FP32 results as on the CPU: no TF32 tensor-core shortcuts.
  cublasSetMathMode(blas, CUBLAS_DEFAULT_MATH);
  cublasSetStream(blas, stream);
  return std::unique_ptr<DeviceContext>(new DeviceContext(stream, blas));
}

DeviceContext::~DeviceContext() {
  cudaStreamSynchronize(stream_);
  values_.clear();
  transient_.clear();
  free_.clear();
  constants_.clear();
  columns_ = DeviceBuffer();
  cublasDestroy(blas_);
  cudaStreamDestroy(stream_);
}

absl::StatusOr<DeviceBuffer> DeviceContext::Acquire(size_t bytes) {
  bytes = std::max<size_t>(bytes, 4);
  // Best fit among the pooled buffers; a fresh one otherwise. Reuse is safe
  // without waiting: all work is ordered on the one stream.
  size_t best = free_.size();
  for (size_t i = 0; i < free_.size(); ++i) {
    if (free_[i].capacity() >= bytes &&
        (best == free_.size() || free_[i].capacity() < free_[best].capacity())) {
      best = i;
    }
  }
  if (best < free_.size()) {
    DeviceBuffer b = std::move(free_[best]);
    free_.erase(free_.begin() + static_cast<std::ptrdiff_t>(best));
    return b;
  }
  DeviceBuffer b;
  RETURN_IF_ERROR(b.Reserve(bytes));
  return b;
}

void DeviceContext::Recycle(DeviceBuffer buffer) {
  if (buffer.capacity() > 0) free_.push_back(std::move(buffer));
}

absl::StatusOr<const void*> DeviceContext::Input(const OpArgs& a, size_t i) {
  const Tensor& t = *a.in[i];
  if (a.constant[i]) {
    auto it = constants_.find(&t);
    if (it != constants_.end()) return static_cast<const void*>(it->second.get());
    DeviceBuffer b;
    RETURN_IF_ERROR(b.Reserve(std::max<size_t>(t.byte_size(), 4)));
    if (t.byte_size() > 0) {
      SR_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(b.get(), t.bytes().data(), t.byte_size(),
                                              cudaMemcpyHostToDevice, stream_));
    }
    return static_cast<const void*>(constants_.emplace(&t, std::move(b)).first->second.get());
  }
  const int id = a.in_ids[i];
  auto it = values_.find(id);
  if (it != values_.end()) return static_cast<const void*>(it->second.buffer.get());
  ASSIGN_OR_RETURN(DeviceBuffer b, Acquire(t.byte_size()));
  // The host memory may be reused after this call: wait for the copy.
  if (t.byte_size() > 0) {
    SR_CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(b.get(), t.bytes().data(), t.byte_size(), cudaMemcpyHostToDevice, stream_));
    SR_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_));
  }
  Held& held = values_[id];
  held.buffer = std::move(b);
  held.host_current = true;
  return static_cast<const void*>(held.buffer.get());
}

absl::StatusOr<void*> DeviceContext::OutputBytes(const OpArgs& a, size_t j) {
  ASSIGN_OR_RETURN(DeviceBuffer b, Acquire(a.out[j]->byte_size()));
  const int id = a.out_ids[j];
  if (id < 0) {
    transient_.push_back(std::move(b));
    return transient_.back().get();
  }
  Held& held = values_[id];
  Recycle(std::move(held.buffer));
  held.buffer = std::move(b);
  held.host_current = false;
  return held.buffer.get();
}

absl::StatusOr<float*> DeviceContext::Output(const OpArgs& a, size_t j) {
  ASSIGN_OR_RETURN(void* p, OutputBytes(a, j));
  return static_cast<float*>(p);
}

absl::StatusOr<float*> DeviceContext::Columns(size_t bytes) {
  RETURN_IF_ERROR(columns_.Reserve(std::max<size_t>(bytes, 4)));
  return static_cast<float*>(columns_.get());
}

absl::Status DeviceContext::AfterNode() {
  SR_CUDA_RETURN_IF_ERROR(cudaGetLastError());
  if (synchronous_) SR_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_));
  return absl::OkStatus();
}

absl::Status DeviceContext::Sync(int id, Tensor* host) {
  auto it = values_.find(id);
  if (it == values_.end() || it->second.host_current) return absl::OkStatus();
  if (host->byte_size() > 0) {
    SR_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(host->mutable_bytes().data(), it->second.buffer.get(),
                                            host->byte_size(), cudaMemcpyDeviceToHost, stream_));
  }
  // Also where nothing was copied: earlier nodes' errors surface here.
  SR_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_));
  it->second.host_current = true;
  return absl::OkStatus();
}

void DeviceContext::Release(int id) {
  auto it = values_.find(id);
  if (it == values_.end()) return;
  Recycle(std::move(it->second.buffer));
  values_.erase(it);
}

absl::Status DeviceContext::EndRun() {
  const cudaError_t e = cudaStreamSynchronize(stream_);
  for (auto& [id, held] : values_) Recycle(std::move(held.buffer));
  values_.clear();
  for (DeviceBuffer& b : transient_) Recycle(std::move(b));
  transient_.clear();
  if (e != cudaSuccess) return CudaError("cudaStreamSynchronize", e);
  return absl::OkStatus();
}

}  // namespace strongroom::worker::onnx::cuda
