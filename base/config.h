// ConfigNode: validated access to a YAML configuration document.
//
// Every accessor names the full dotted path of the field at fault in its error
// (e.g. "config field 'hsm.pin_file': expected a string, got a sequence"), so a
// bad config file is fixed from the message alone. AllowOnly() rejects unknown
// keys, so typos never pass silently.
//
// A ConfigNode is an immutable view; copies share the underlying document.
// Thread-compatible.
#ifndef STRONGROOM_BASE_CONFIG_H_
#define STRONGROOM_BASE_CONFIG_H_

#include "absl/strings/string_view.h"
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include <yaml-cpp/yaml.h>

namespace strongroom {

class ConfigNode {
 public:
  // Loads and parses a YAML file; a parse error names the file, line and column.
  static absl::StatusOr<ConfigNode> LoadFile(const std::string& path);
  static absl::StatusOr<ConfigNode> Parse(absl::string_view text,
                                          absl::string_view source = "config");

  // Dotted path of this node ("" for the root).
  const std::string& path() const { return path_; }
  bool Has(absl::string_view key) const;
  // InvalidArgument when `key` is present with no value (`key:`).
  absl::Status CheckNotEmpty(absl::string_view key) const;

  absl::StatusOr<std::string> GetString(absl::string_view key) const;
  absl::StatusOr<std::string> GetString(absl::string_view key,
                                        absl::string_view fallback) const;
  absl::StatusOr<int64_t> GetInt(absl::string_view key, int64_t fallback,
                                 int64_t min, int64_t max) const;
  absl::StatusOr<bool> GetBool(absl::string_view key, bool fallback) const;
  // Durations such as "90s", "5m", "12h", "30d" (Go-style units plus "d").
  absl::StatusOr<absl::Duration> GetDuration(absl::string_view key,
                                             absl::Duration fallback) const;
  absl::StatusOr<std::vector<std::string>> GetStringList(absl::string_view key) const;
  // A mapping child; a missing key yields an empty mapping.
  absl::StatusOr<ConfigNode> GetSection(absl::string_view key) const;
  // A sequence of mappings; a missing key yields an empty list.
  absl::StatusOr<std::vector<ConfigNode>> GetList(absl::string_view key) const;
  // Keys of this mapping, in document order.
  std::vector<std::string> Keys() const;

  // InvalidArgument naming the first key of this mapping not in `allowed`.
  absl::Status AllowOnly(std::initializer_list<absl::string_view> allowed) const;

 private:
  ConfigNode(YAML::Node node, std::string path, std::string source)
      : node_(std::move(node)), path_(std::move(path)), source_(std::move(source)) {}
  std::string FieldPath(absl::string_view key) const;
  absl::Status FieldError(absl::string_view key, absl::string_view what) const;

  YAML::Node node_;
  std::string path_;
  std::string source_;
};

}  // namespace strongroom

#endif  // STRONGROOM_BASE_CONFIG_H_
