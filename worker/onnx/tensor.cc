#include "worker/onnx/tensor.h"

#include <bit>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "onnx/onnx_pb.h"
#include "worker/onnx/tensor_proto_util.h"

namespace strongroom::worker::onnx {

static_assert(std::endian::native == std::endian::little,
              "TensorProto raw_data is little-endian; this build copies it as is");

namespace {

constexpr size_t kAlignment = 64;

template <typename Repeated>
void WipeRepeated(Repeated* r) {
  if (r->size() > 0) explicit_bzero(r->mutable_data(), sizeof(*r->mutable_data()) * r->size());
}

// The typed TensorProto field that carries values of `type`.
const char* TypedFieldName(DataType type) {
  switch (type) {
    case DataType::kFloat:
      return "float_data";
    case DataType::kInt64:
      return "int64_data";
    default:
      return "int32_data";
  }
}

}  // namespace

std::string ShapeToString(std::span<const int64_t> shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) out += ",";
    out += shape[i] < 0 ? "?" : absl::StrCat(shape[i]);
  }
  return out + "]";
}

absl::StatusOr<int64_t> CheckedNumElements(std::span<const int64_t> shape, size_t element_size,
                                           absl::string_view field) {
  const int64_t limit =
      kMaxTensorBytes / static_cast<int64_t>(element_size == 0 ? 1 : element_size);
  int64_t n = 1;
  bool zero = false;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": dims[", i, "]=", shape[i], " is negative"));
    }
    if (shape[i] == 0) zero = true;
  }
  // The other dimensions of an empty tensor are bounded as if it were not
  // empty: kernels size buffers and loops from partial products of them.
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 0) continue;
    if (shape[i] > limit / n) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": dims ", ShapeToString(shape),
                                                     " exceed the ", kMaxTensorBytes,
                                                     "-byte tensor limit"));
    }
    n *= shape[i];
  }
  return zero ? 0 : n;
}

AlignedBuffer::AlignedBuffer(size_t bytes) {
  if (bytes == 0) return;
  const size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  data_ = static_cast<uint8_t*>(std::aligned_alloc(kAlignment, rounded));
  ONNX_CHECK(data_ != nullptr);
  std::memset(data_, 0, rounded);
  capacity_ = rounded;
}

AlignedBuffer::AlignedBuffer(AlignedBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), capacity_(std::exchange(other.capacity_, 0)) {}

AlignedBuffer& AlignedBuffer::operator=(AlignedBuffer&& other) noexcept {
  if (this != &other) {
    Release();
    data_ = std::exchange(other.data_, nullptr);
    capacity_ = std::exchange(other.capacity_, 0);
  }
  return *this;
}

AlignedBuffer::~AlignedBuffer() { Release(); }

void AlignedBuffer::Release() {
  if (data_ != nullptr) {
    explicit_bzero(data_, capacity_);
    std::free(data_);
  }
  data_ = nullptr;
  capacity_ = 0;
}

Tensor::Tensor() : shape_{0} {}

absl::StatusOr<Tensor> Tensor::Create(DataType type, Shape shape) {
  if (ElementSize(type) == 0) return absl::InvalidArgumentError("tensor: element type UNDEFINED");
  auto n = CheckedNumElements(shape, ElementSize(type), "tensor");
  if (!n.ok()) return n.status();
  Tensor t;
  t.Reset(type, shape);
  return t;
}

absl::StatusOr<Tensor> Tensor::FromFloats(Shape shape, std::span<const float> values) {
  auto t = Create(DataType::kFloat, std::move(shape));
  if (!t.ok()) return t.status();
  if (static_cast<size_t>(t->num_elements()) != values.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor: ", values.size(), " values for shape ", ShapeToString(t->shape())));
  }
  if (!values.empty()) std::memcpy(t->mutable_bytes().data(), values.data(), t->byte_size());
  return t;
}

absl::StatusOr<Tensor> Tensor::FromInt64s(Shape shape, std::span<const int64_t> values) {
  auto t = Create(DataType::kInt64, std::move(shape));
  if (!t.ok()) return t.status();
  if (static_cast<size_t>(t->num_elements()) != values.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor: ", values.size(), " values for shape ", ShapeToString(t->shape())));
  }
  if (!values.empty()) std::memcpy(t->mutable_bytes().data(), values.data(), t->byte_size());
  return t;
}

Tensor::Tensor(const Tensor& other) { *this = other; }

Tensor& Tensor::operator=(const Tensor& other) {
  if (this == &other) return *this;
  Reset(other.dtype_, other.shape_);
  if (other.byte_size() > 0) std::memcpy(buffer_.data(), other.buffer_.data(), other.byte_size());
  return *this;
}

void Tensor::Reset(DataType type, std::span<const int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  dtype_ = type;
  shape_.assign(shape.begin(), shape.end());
  num_elements_ = n;
  const size_t bytes = byte_size();
  if (bytes > buffer_.capacity()) buffer_ = AlignedBuffer(bytes);
}

AlignedBuffer Tensor::TakeBuffer() {
  shape_ = {0};
  num_elements_ = 0;
  return std::move(buffer_);
}

void Tensor::AdoptBuffer(AlignedBuffer buffer) {
  shape_ = {0};
  num_elements_ = 0;
  buffer_ = std::move(buffer);
}

// --- TensorProto ------------------------------------------------------------

namespace {

// Copies a typed repeated field into `t`, narrowing with a range check.
template <typename Out, typename Repeated>
absl::Status CopyTyped(const Repeated& values, absl::string_view field,
                       absl::string_view proto_field, Tensor* t) {
  auto out = t->mutable_data<Out>();
  for (int i = 0; i < values.size(); ++i) {
    const auto v = values.Get(i);
    if constexpr (std::is_same_v<Out, bool>) {
      if (v != 0 && v != 1) {
        return absl::InvalidArgumentError(
            absl::StrCat(field, ": ", proto_field, "[", i, "] is not a BOOL (0 or 1)"));
      }
    } else if constexpr (std::is_integral_v<Out> && sizeof(Out) < sizeof(v)) {
      if (v < std::numeric_limits<Out>::min() || v > std::numeric_limits<Out>::max()) {
        // The index, never the value: inputs are decrypted data.
        return absl::InvalidArgumentError(absl::StrCat(
            field, ": ", proto_field, "[", i, "] is out of range for ", DataTypeName(t->dtype())));
      }
    }
    out[static_cast<size_t>(i)] = static_cast<Out>(v);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Tensor> Tensor::FromTensorProto(std::span<const uint8_t> serialized,
                                               absl::string_view field) {
  if (serialized.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", serialized.size(), " bytes is too large for a TensorProto"));
  }
  ::onnx::TensorProto proto;
  if (!proto.ParseFromArray(serialized.data(), static_cast<int>(serialized.size()))) {
    WipeTensorPayload(&proto);
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": not a valid TensorProto (", serialized.size(), " bytes)"));
  }
  auto t = FromTensorProto(proto, field);
  WipeTensorPayload(&proto);
  return t;
}

absl::StatusOr<Tensor> Tensor::FromTensorProto(const ::onnx::TensorProto& proto,
                                               absl::string_view field) {
  auto type = DataTypeFromOnnx(proto.data_type(), absl::StrCat(field, ".data_type"));
  if (!type.ok()) return type.status();
  if (proto.has_segment()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".segment: segmented tensors are not supported"));
  }
  if (proto.data_location() != ::onnx::TensorProto::DEFAULT || proto.external_data_size() > 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        field,
        ".data_location: external data is not supported (the model must carry its weights)"));
  }
  if (proto.string_data_size() > 0 || proto.double_data_size() > 0 ||
      proto.uint64_data_size() > 0) {
    const char* which = proto.string_data_size() > 0   ? "string_data"
                        : proto.double_data_size() > 0 ? "double_data"
                                                       : "uint64_data";
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".", which, " is set for a ", DataTypeName(*type), " tensor"));
  }
  Shape shape(proto.dims().begin(), proto.dims().end());
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".dims[", i, "]=", shape[i], " is negative"));
    }
  }
  auto n = CheckedNumElements(shape, ElementSize(*type), absl::StrCat(field, ".dims"));
  if (!n.ok()) return n.status();

  // Exactly one source of data may be set, and its size must match dims.
  struct Source {
    const char* name;
    int64_t count;
    bool allowed;
  };
  const bool int32_carrier = *type == DataType::kUint8 || *type == DataType::kInt8 ||
                             *type == DataType::kInt32 || *type == DataType::kBool;
  const Source typed[] = {
      {"float_data", proto.float_data_size(), *type == DataType::kFloat},
      {"int32_data", proto.int32_data_size(), int32_carrier},
      {"int64_data", proto.int64_data_size(), *type == DataType::kInt64},
  };
  const Source* used = nullptr;
  for (const Source& s : typed) {
    if (s.count == 0) continue;
    if (!s.allowed) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".", s.name, " is set for a ", DataTypeName(*type), " tensor"));
    }
    used = &s;
  }
  if (used != nullptr && proto.has_raw_data()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": both raw_data and ", used->name, " are set"));
  }
  // The data must match the dims before anything is allocated: the dims
  // alone (a few bytes of a hostile model) may claim up to kMaxTensorBytes.
  const size_t need_bytes = static_cast<size_t>(*n) * ElementSize(*type);
  const int64_t count = used == nullptr ? 0 : used->count;
  if (proto.has_raw_data()) {
    if (proto.raw_data().size() != need_bytes) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".raw_data: ", proto.raw_data().size(), " bytes, but dims ",
                       ShapeToString(shape), " of ", DataTypeName(*type), " need ", need_bytes));
    }
  } else if (count != *n) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".", used == nullptr ? TypedFieldName(*type) : used->name, ": ", count,
                     " values, but dims ", ShapeToString(shape), " need ", *n));
  }
  Tensor t;
  t.Reset(*type, shape);
  if (proto.has_raw_data()) {
    if (t.byte_size() > 0) std::memcpy(t.buffer_.data(), proto.raw_data().data(), t.byte_size());
    if (*type == DataType::kBool) {
      for (size_t i = 0; i < t.bytes().size(); ++i) {
        if (t.bytes()[i] > 1) {
          return absl::InvalidArgumentError(
              absl::StrCat(field, ".raw_data[", i, "]: a BOOL byte other than 0 or 1"));
        }
      }
    }
    return t;
  }
  absl::Status s;
  switch (*type) {
    case DataType::kFloat:
      s = CopyTyped<float>(proto.float_data(), field, "float_data", &t);
      break;
    case DataType::kInt64:
      s = CopyTyped<int64_t>(proto.int64_data(), field, "int64_data", &t);
      break;
    case DataType::kInt32:
      s = CopyTyped<int32_t>(proto.int32_data(), field, "int32_data", &t);
      break;
    case DataType::kUint8:
      s = CopyTyped<uint8_t>(proto.int32_data(), field, "int32_data", &t);
      break;
    case DataType::kInt8:
      s = CopyTyped<int8_t>(proto.int32_data(), field, "int32_data", &t);
      break;
    case DataType::kBool:
      s = CopyTyped<bool>(proto.int32_data(), field, "int32_data", &t);
      break;
    case DataType::kUndefined:
      break;
  }
  if (!s.ok()) return s;
  return t;
}

void Tensor::ToTensorProto(absl::string_view name, ::onnx::TensorProto* proto) const {
  proto->Clear();
  proto->set_name(std::string(name));
  proto->set_data_type(static_cast<int32_t>(dtype_));
  for (int64_t d : shape_) proto->add_dims(d);
  proto->set_raw_data(buffer_.data(), byte_size());
}

std::string Tensor::SerializeAsTensorProto(absl::string_view name) const {
  ::onnx::TensorProto proto;
  ToTensorProto(name, &proto);
  std::string out = proto.SerializeAsString();
  WipeTensorPayload(&proto);
  return out;
}

void WipeTensorPayload(::onnx::TensorProto* t) {
  if (t->has_raw_data() && !t->raw_data().empty()) {
    std::string* raw = t->mutable_raw_data();
    explicit_bzero(raw->data(), raw->size());
  }
  WipeRepeated(t->mutable_float_data());
  WipeRepeated(t->mutable_int32_data());
  WipeRepeated(t->mutable_int64_data());
  WipeRepeated(t->mutable_double_data());
  WipeRepeated(t->mutable_uint64_data());
  for (std::string& s : *t->mutable_string_data()) {
    if (!s.empty()) explicit_bzero(s.data(), s.size());
  }
}

}  // namespace strongroom::worker::onnx
