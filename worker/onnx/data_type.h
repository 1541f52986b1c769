// Element types the ONNX runtime handles, numbered as ONNX's
// TensorProto.DataType so the codes can be stored and compared directly.
//
// Arithmetic kernels are float32 (and int64 where shapes and indices need
// it); data-movement kernels (Reshape, Transpose, Concat, ...) move any of
// these types by element size.
#ifndef STRONGROOM_WORKER_ONNX_DATA_TYPE_H_
#define STRONGROOM_WORKER_ONNX_DATA_TYPE_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace strongroom::worker::onnx {

enum class DataType : int32_t {
  kUndefined = 0,
  kFloat = 1,
  kUint8 = 2,
  kInt8 = 3,
  kInt32 = 6,
  kInt64 = 7,
  kBool = 9,
};

// Bytes per element; 0 for kUndefined.
size_t ElementSize(DataType type);

// ONNX's spelling: "FLOAT", "INT64", ...; "UNDEFINED" for kUndefined.
absl::string_view DataTypeName(DataType type);

// The name of any TensorProto.DataType code, supported or not ("DOUBLE",
// "STRING", ...), or the number for codes ONNX does not define.
std::string OnnxTypeCodeName(int32_t code);

// The DataType for an ONNX element type code, or InvalidArgument
// "<field>: element type DOUBLE (11) is not supported".
absl::StatusOr<DataType> DataTypeFromOnnx(int32_t code, absl::string_view field);

// C++ type to DataType.
template <typename T>
constexpr DataType DataTypeOf();
template <>
constexpr DataType DataTypeOf<float>() {
  return DataType::kFloat;
}
template <>
constexpr DataType DataTypeOf<uint8_t>() {
  return DataType::kUint8;
}
template <>
constexpr DataType DataTypeOf<int8_t>() {
  return DataType::kInt8;
}
template <>
constexpr DataType DataTypeOf<int32_t>() {
  return DataType::kInt32;
}
template <>
constexpr DataType DataTypeOf<int64_t>() {
  return DataType::kInt64;
}
template <>
constexpr DataType DataTypeOf<bool>() {
  return DataType::kBool;
}

}  // namespace strongroom::worker::onnx

#endif  // STRONGROOM_WORKER_ONNX_DATA_TYPE_H_
