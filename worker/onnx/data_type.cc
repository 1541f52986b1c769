#include "worker/onnx/data_type.h"

#include "absl/strings/str_cat.h"

namespace strongroom::worker::onnx {

size_t ElementSize(DataType type) {
  switch (type) {
    case DataType::kFloat:
    case DataType::kInt32:
      return 4;
    case DataType::kUint8:
    case DataType::kInt8:
    case DataType::kBool:
      return 1;
    case DataType::kInt64:
      return 8;
    case DataType::kUndefined:
      break;
  }
  return 0;
}

absl::string_view DataTypeName(DataType type) {
  switch (type) {
    case DataType::kFloat:
      return "FLOAT";
    case DataType::kUint8:
      return "UINT8";
    case DataType::kInt8:
      return "INT8";
    case DataType::kInt32:
      return "INT32";
    case DataType::kInt64:
      return "INT64";
    case DataType::kBool:
      return "BOOL";
    case DataType::kUndefined:
      break;
  }
  return "UNDEFINED";
}

std::string OnnxTypeCodeName(int32_t code) {
  // TensorProto.DataType in the ONNX IR specification.
  static constexpr const char* kNames[] = {
      "UNDEFINED",      "FLOAT",      "UINT8",          "INT8",       "UINT16",   "INT16",
      "INT32",          "INT64",      "STRING",         "BOOL",       "FLOAT16",  "DOUBLE",
      "UINT32",         "UINT64",     "COMPLEX64",      "COMPLEX128", "BFLOAT16", "FLOAT8E4M3FN",
      "FLOAT8E4M3FNUZ", "FLOAT8E5M2", "FLOAT8E5M2FNUZ", "UINT4",      "INT4",     "FLOAT4E2M1"};
  if (code >= 0 && code < static_cast<int32_t>(sizeof(kNames) / sizeof(kNames[0]))) {
    return kNames[code];
  }
  return absl::StrCat("type code ", code);
}

absl::StatusOr<DataType> DataTypeFromOnnx(int32_t code, absl::string_view field) {
  switch (code) {
    case 1:
    case 2:
    case 3:
    case 6:
    case 7:
    case 9:
      return static_cast<DataType>(code);
    default:
      break;
  }
  return absl::InvalidArgumentError(absl::StrCat(field, ": element type ", OnnxTypeCodeName(code),
                                                 " (", code, ") is not supported"));
}

}  // namespace strongroom::worker::onnx
