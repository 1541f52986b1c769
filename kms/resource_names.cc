#include "kms/resource_names.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace strongroom::kms {

absl::Status ValidateKeyId(absl::string_view id, absl::string_view field) {
  bool ok = !id.empty() && id.size() <= 63;
  for (size_t i = 0; ok && i < id.size(); ++i) {
    char c = id[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    ok = alnum || (i > 0 && (c == '-' || c == '_'));
  }
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      field, ": key id '", id.substr(0, 80), "' must match [a-z0-9][a-z0-9_-]{0,62}"));
}

absl::StatusOr<std::string> ParseKeyName(absl::string_view name, absl::string_view field) {
  if (!absl::StartsWith(name, "keys/")) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": '", name.substr(0, 80), "' is not of the form keys/{key}"));
  }
  absl::string_view id = name.substr(5);
  if (absl::Status s = ValidateKeyId(id, field); !s.ok()) return s;
  return std::string(id);
}

absl::StatusOr<VersionName> ParseVersionName(absl::string_view name, absl::string_view field) {
  size_t pos = name.find("/versions/");
  if (!absl::StartsWith(name, "keys/") || pos == absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": '", name.substr(0, 80), "' is not of the form keys/{key}/versions/{n}"));
  }
  VersionName v;
  absl::string_view id = name.substr(5, pos - 5);
  if (absl::Status s = ValidateKeyId(id, field); !s.ok()) return s;
  v.key_id = std::string(id);
  absl::string_view number = name.substr(pos + 10);
  if (!absl::SimpleAtoi(number, &v.version) || v.version == 0 ||
      absl::StrCat(v.version) != number) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": version '", number.substr(0, 20), "' is not a positive integer"));
  }
  return v;
}

absl::StatusOr<VersionName> ParseKeyOrVersionName(absl::string_view name, absl::string_view field) {
  if (absl::StrContains(name, "/versions/")) return ParseVersionName(name, field);
  VersionName v;
  ASSIGN_OR_RETURN(v.key_id, ParseKeyName(name, field));
  return v;
}

std::string KeyName(absl::string_view key_id) { return absl::StrCat("keys/", key_id); }

std::string VersionResourceName(absl::string_view key_id, uint32_t version) {
  return absl::StrCat("keys/", key_id, "/versions/", version);
}

}  // namespace strongroom::kms
