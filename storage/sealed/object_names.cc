#include "storage/sealed/object_names.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace strongroom::storage::sealed {
namespace {

// Long values are cut in messages; they are names, never secrets.
std::string Shown(absl::string_view v) {
  if (v.size() <= 80) return std::string(v);
  return absl::StrCat(v.substr(0, 77), "...");
}

absl::Status Invalid(absl::string_view field, absl::string_view value, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": '", Shown(value), "' ", why));
}

bool IsIdChar(char c, bool first) {
  if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return true;
  return !first && (c == '-' || c == '_');
}

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-' || c == '/';
}

absl::Status ValidateId(absl::string_view id, absl::string_view field, absl::string_view what) {
  if (id.empty() || id.size() > 63) {
    return Invalid(field, id, absl::StrCat("is not a valid ", what, " (1..63 characters)"));
  }
  for (size_t i = 0; i < id.size(); ++i) {
    if (!IsIdChar(id[i], i == 0)) {
      return Invalid(field, id,
                     absl::StrCat("is not a valid ", what, " ([a-z0-9][a-z0-9_-]{0,62})"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateDatasetId(absl::string_view id, absl::string_view field) {
  return ValidateId(id, field, "dataset id");
}

absl::Status ValidatePolicyId(absl::string_view id, absl::string_view field) {
  return ValidateId(id, field, "policy id");
}

absl::Status ValidateKeyName(absl::string_view name, absl::string_view field) {
  if (!absl::StartsWith(name, "keys/")) return Invalid(field, name, "is not keys/{key}");
  return ValidateId(name.substr(5), field, "key id");
}

absl::Status ValidateObjectName(absl::string_view name, absl::string_view field) {
  if (name.empty()) return Invalid(field, name, "is empty");
  if (name.size() > kMaxObjectNameSize) {
    return Invalid(field, name,
                   absl::StrCat("is ", name.size(), " bytes, more than ", kMaxObjectNameSize));
  }
  for (char c : name) {
    if (!IsNameChar(c)) {
      return Invalid(field, name, "may only hold letters, digits and . _ - /");
    }
  }
  for (absl::string_view part : absl::StrSplit(name, '/')) {
    if (part.empty() || part == "." || part == "..") {
      return Invalid(field, name, "has an empty, '.' or '..' path segment");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateObjectPrefix(absl::string_view prefix, absl::string_view field) {
  if (prefix.size() > kMaxObjectNameSize) {
    return Invalid(field, prefix,
                   absl::StrCat("is ", prefix.size(), " bytes, more than ", kMaxObjectNameSize));
  }
  for (char c : prefix) {
    if (!IsNameChar(c)) return Invalid(field, prefix, "may only hold letters, digits and . _ - /");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ParseDatasetName(absl::string_view name, absl::string_view field) {
  absl::string_view id = name;
  absl::ConsumePrefix(&id, "datasets/");
  if (absl::Status s = ValidateDatasetId(id, field); !s.ok()) return s;
  return std::string(id);
}

std::string DatasetResourceName(absl::string_view id) { return absl::StrCat("datasets/", id); }

absl::StatusOr<ObjectPath> ParseObjectPath(absl::string_view path, absl::string_view field) {
  const size_t slash = path.find('/');
  if (slash == absl::string_view::npos) {
    return Invalid(field, path, "is not DATASET/NAME[@VERSION]");
  }
  ObjectPath out;
  absl::string_view dataset = path.substr(0, slash);
  absl::string_view rest = path.substr(slash + 1);
  if (absl::Status s = ValidateDatasetId(dataset, field); !s.ok()) return s;
  out.dataset = std::string(dataset);
  const size_t at = rest.rfind('@');
  if (at != absl::string_view::npos) {
    absl::string_view v = rest.substr(at + 1);
    // Digits only, no leading zero (SimpleAtoi alone also takes a sign,
    // spaces and "007"): one spelling per version.
    const bool canonical =
        !v.empty() && v.size() <= 19 && v[0] != '0' &&
        std::all_of(v.begin(), v.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
    if (!canonical || !absl::SimpleAtoi(v, &out.version) || out.version == 0 ||
        out.version > static_cast<uint64_t>(INT64_MAX)) {
      return Invalid(field, path, "has a version that is not a positive integer");
    }
    rest = rest.substr(0, at);
  }
  if (absl::Status s = ValidateObjectName(rest, field); !s.ok()) return s;
  out.name = std::string(rest);
  return out;
}

}  // namespace strongroom::storage::sealed
