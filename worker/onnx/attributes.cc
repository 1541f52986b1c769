#include "worker/onnx/attributes.h"

#include "absl/strings/str_cat.h"

namespace strongroom::worker::onnx {

absl::string_view AttributeTypeName(AttributeType type) {
  static constexpr const char* kNames[] = {
      "UNDEFINED",      "FLOAT",      "INT",        "STRING",  "TENSOR", "GRAPH",
      "FLOATS",         "INTS",       "STRINGS",    "TENSORS", "GRAPHS", "SPARSE_TENSOR",
      "SPARSE_TENSORS", "TYPE_PROTO", "TYPE_PROTOS"};
  const auto i = static_cast<size_t>(type);
  return i < sizeof(kNames) / sizeof(kNames[0]) ? kNames[i] : "UNKNOWN";
}

std::string Node::Label() const {
  if (name.empty()) return absl::StrCat("node #", index, " (", op_type, ")");
  return absl::StrCat("node '", name, "' (", op_type, ")");
}

AttributeReader::AttributeReader(const std::vector<Attribute>& attributes)
    : attributes_(attributes) {}

bool AttributeReader::Has(absl::string_view name) const {
  for (const Attribute& a : attributes_) {
    if (a.name == name) return true;
  }
  return false;
}

absl::StatusOr<const Attribute*> AttributeReader::Find(absl::string_view name, AttributeType type) {
  for (const Attribute& a : attributes_) {
    if (a.name != name) continue;
    read_.insert(a.name);
    if (a.type != type) {
      return absl::InvalidArgumentError(absl::StrCat("attribute '", name, "' has type ",
                                                     AttributeTypeName(a.type), ", expected ",
                                                     AttributeTypeName(type)));
    }
    return &a;
  }
  return nullptr;
}

absl::StatusOr<int64_t> AttributeReader::Int(absl::string_view name, int64_t default_value) {
  auto a = Find(name, AttributeType::kInt);
  if (!a.ok()) return a.status();
  return *a == nullptr ? default_value : (*a)->i;
}

absl::StatusOr<float> AttributeReader::Float(absl::string_view name, float default_value) {
  auto a = Find(name, AttributeType::kFloat);
  if (!a.ok()) return a.status();
  return *a == nullptr ? default_value : (*a)->f;
}

absl::StatusOr<std::string> AttributeReader::String(absl::string_view name,
                                                    absl::string_view default_value) {
  auto a = Find(name, AttributeType::kString);
  if (!a.ok()) return a.status();
  return *a == nullptr ? std::string(default_value) : (*a)->s;
}

absl::StatusOr<std::vector<int64_t>> AttributeReader::Ints(absl::string_view name) {
  auto a = Find(name, AttributeType::kInts);
  if (!a.ok()) return a.status();
  return *a == nullptr ? std::vector<int64_t>{} : (*a)->ints;
}

absl::StatusOr<std::vector<float>> AttributeReader::Floats(absl::string_view name) {
  auto a = Find(name, AttributeType::kFloats);
  if (!a.ok()) return a.status();
  return *a == nullptr ? std::vector<float>{} : (*a)->floats;
}

absl::StatusOr<std::shared_ptr<const Tensor>> AttributeReader::TensorValue(absl::string_view name) {
  auto a = Find(name, AttributeType::kTensor);
  if (!a.ok()) return a.status();
  return *a == nullptr ? nullptr : (*a)->t;
}

void AttributeReader::Ignore(absl::string_view name) { read_.insert(std::string(name)); }

absl::Status AttributeReader::Finish() const {
  for (const Attribute& a : attributes_) {
    if (read_.count(a.name) == 0) {
      return absl::InvalidArgumentError(absl::StrCat("attribute '", a.name, "' is not supported"));
    }
  }
  return absl::OkStatus();
}

absl::Status UnsupportedAttribute(absl::string_view name, absl::string_view value) {
  return absl::InvalidArgumentError(
      absl::StrCat("attribute '", name, "'='", value, "' is not supported"));
}

absl::Status UnsupportedAttribute(absl::string_view name, int64_t value) {
  return absl::InvalidArgumentError(
      absl::StrCat("attribute '", name, "'=", value, " is not supported"));
}

}  // namespace strongroom::worker::onnx
