// Tensor: a dense, row-major, typed N-dimensional array, the unit the ONNX
// runtime passes between operators and to and from its callers.
//
// Tensors may hold confidential data (model weights, user inputs): their
// storage is 64-byte aligned and wiped before it is freed, and nothing in the
// runtime logs or formats tensor contents (errors name shapes and types only).
//
// A Tensor owns its storage; copies are deep. Thread-compatible.
#ifndef STRONGROOM_WORKER_ONNX_TENSOR_H_
#define STRONGROOM_WORKER_ONNX_TENSOR_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "worker/onnx/check.h"
#include "worker/onnx/data_type.h"

namespace onnx {
class TensorProto;
}  // namespace onnx

namespace strongroom::worker::onnx {

using Shape = std::vector<int64_t>;

// No tensor may exceed this many bytes, whatever the options say: it keeps
// every size computation far from overflow.
inline constexpr int64_t kMaxTensorBytes = int64_t{1} << 40;

// "[1,3,224,224]"; "[]" for a scalar; unknown (negative) dims print as "?".
std::string ShapeToString(std::span<const int64_t> shape);

// The element count of `shape`, or InvalidArgument naming `field` when a dim
// is negative or the count (times `element_size` bytes) exceeds
// kMaxTensorBytes.
absl::StatusOr<int64_t> CheckedNumElements(std::span<const int64_t> shape, size_t element_size,
                                           absl::string_view field);

// Storage: 64-byte aligned, wiped on release. Move-only.
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(size_t bytes);  // zero-filled
  AlignedBuffer(AlignedBuffer&& other) noexcept;
  AlignedBuffer& operator=(AlignedBuffer&& other) noexcept;
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  ~AlignedBuffer();

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t capacity() const { return capacity_; }

 private:
  void Release();
  uint8_t* data_ = nullptr;
  size_t capacity_ = 0;
};

class Tensor {
 public:
  // An empty FLOAT tensor of shape [0].
  Tensor();
  // Zero-filled. InvalidArgument for negative dims or an oversized tensor.
  static absl::StatusOr<Tensor> Create(DataType type, Shape shape);
  // Copies `values`; InvalidArgument when their count is not the shape's.
  static absl::StatusOr<Tensor> FromFloats(Shape shape, std::span<const float> values);
  static absl::StatusOr<Tensor> FromInt64s(Shape shape, std::span<const int64_t> values);

  // Parses a serialized ONNX TensorProto (as in the backend tests'
  // input_N.pb files). Strict: InvalidArgument naming `field` and the
  // TensorProto field at fault for malformed bytes, unsupported or unknown
  // element types, negative or overflowing dims, data whose size disagrees
  // with the dims, both raw_data and a typed field set, external data or
  // segments, out-of-range values for narrow types.
  static absl::StatusOr<Tensor> FromTensorProto(std::span<const uint8_t> serialized,
                                                absl::string_view field);
  static absl::StatusOr<Tensor> FromTensorProto(const ::onnx::TensorProto& proto,
                                                absl::string_view field);
  // Fills `proto` (name, dims, data_type, little-endian raw_data).
  void ToTensorProto(absl::string_view name, ::onnx::TensorProto* proto) const;
  // The serialized TensorProto.
  std::string SerializeAsTensorProto(absl::string_view name) const;

  Tensor(const Tensor& other);
  Tensor& operator=(const Tensor& other);
  Tensor(Tensor&&) noexcept = default;
  Tensor& operator=(Tensor&&) noexcept = default;

  DataType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t rank() const { return static_cast<int64_t>(shape_.size()); }
  int64_t dim(int64_t i) const { return shape_[static_cast<size_t>(i)]; }
  int64_t num_elements() const { return num_elements_; }
  size_t byte_size() const { return static_cast<size_t>(num_elements_) * ElementSize(dtype_); }

  std::span<const uint8_t> bytes() const { return {buffer_.data(), byte_size()}; }
  std::span<uint8_t> mutable_bytes() { return {buffer_.data(), byte_size()}; }

  // REQUIRES: DataTypeOf<T>() == dtype().
  template <typename T>
  std::span<const T> data() const {
    ONNX_CHECK(DataTypeOf<T>() == dtype_);
    return {reinterpret_cast<const T*>(buffer_.data()), static_cast<size_t>(num_elements_)};
  }
  template <typename T>
  std::span<T> mutable_data() {
    ONNX_CHECK(DataTypeOf<T>() == dtype_);
    return {reinterpret_cast<T*>(buffer_.data()), static_cast<size_t>(num_elements_)};
  }

  // Re-types and re-shapes in place, keeping the storage when it is large
  // enough (contents are then unspecified; fresh storage is zero-filled).
  // REQUIRES: the shape was validated (CheckedNumElements).
  void Reset(DataType type, std::span<const int64_t> shape);
  // Gives up the storage (for a buffer pool) and becomes an empty tensor;
  // Adopt() hands one back before a Reset.
  AlignedBuffer TakeBuffer();
  void AdoptBuffer(AlignedBuffer buffer);

 private:
  DataType dtype_ = DataType::kFloat;
  Shape shape_;
  int64_t num_elements_ = 0;
  AlignedBuffer buffer_;
};

}  // namespace strongroom::worker::onnx

#endif  // STRONGROOM_WORKER_ONNX_TENSOR_H_
