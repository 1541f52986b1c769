// Parsing and formatting of resource names: "keys/{key}" and
// "keys/{key}/versions/{n}". Key ids match [a-z0-9][a-z0-9_-]{0,62}.
// Errors are InvalidArgument naming `field` and the value.
#ifndef STRONGROOM_KMS_RESOURCE_NAMES_H_
#define STRONGROOM_KMS_RESOURCE_NAMES_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace strongroom::kms {

struct VersionName {
  std::string key_id;
  uint32_t version = 0;
};

absl::Status ValidateKeyId(absl::string_view id, absl::string_view field);
absl::StatusOr<std::string> ParseKeyName(absl::string_view name, absl::string_view field);
absl::StatusOr<VersionName> ParseVersionName(absl::string_view name, absl::string_view field);
// keys/{key} (version 0: the primary) or keys/{key}/versions/{n}.
absl::StatusOr<VersionName> ParseKeyOrVersionName(absl::string_view name, absl::string_view field);
std::string KeyName(absl::string_view key_id);
std::string VersionResourceName(absl::string_view key_id, uint32_t version);

}  // namespace strongroom::kms

#endif  // STRONGROOM_KMS_RESOURCE_NAMES_H_
