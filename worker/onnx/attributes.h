// AttributeReader: typed, validated access to a node's attributes for the
// operator factories. Every read marks the attribute as understood; after
// construction the factory calls Finish(), which refuses any attribute the
// operator did not read ("attribute 'foo' is not supported"), so a model
// never runs with an attribute silently ignored.
//
// Errors are InvalidArgument without the node prefix (the loader adds it).
#ifndef STRONGROOM_WORKER_ONNX_ATTRIBUTES_H_
#define STRONGROOM_WORKER_ONNX_ATTRIBUTES_H_

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "worker/onnx/graph.h"

namespace strongroom::worker::onnx {

class AttributeReader {
 public:
  explicit AttributeReader(const std::vector<Attribute>& attributes);

  bool Has(absl::string_view name) const;
  absl::StatusOr<int64_t> Int(absl::string_view name, int64_t default_value);
  absl::StatusOr<float> Float(absl::string_view name, float default_value);
  absl::StatusOr<std::string> String(absl::string_view name, absl::string_view default_value);
  // Empty when absent.
  absl::StatusOr<std::vector<int64_t>> Ints(absl::string_view name);
  absl::StatusOr<std::vector<float>> Floats(absl::string_view name);
  // nullptr when absent.
  absl::StatusOr<std::shared_ptr<const Tensor>> TensorValue(absl::string_view name);
  // Marks an attribute understood without reading it (ones that have no
  // effect at inference, such as BatchNormalization's momentum).
  void Ignore(absl::string_view name);

  // InvalidArgument naming the first attribute no read touched.
  absl::Status Finish() const;

 private:
  absl::StatusOr<const Attribute*> Find(absl::string_view name, AttributeType type);

  const std::vector<Attribute>& attributes_;
  std::set<std::string, std::less<>> read_;
};

// "attribute 'auto_pad'='SAME_LOWER' is not supported" and friends.
absl::Status UnsupportedAttribute(absl::string_view name, absl::string_view value);
absl::Status UnsupportedAttribute(absl::string_view name, int64_t value);

}  // namespace strongroom::worker::onnx

#endif  // STRONGROOM_WORKER_ONNX_ATTRIBUTES_H_
