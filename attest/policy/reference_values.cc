#include "attest/policy/reference_values.h"

#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "attest/policy/strict_json.h"
#include "nlohmann/json.hpp"

namespace strongroom::attest {
namespace {

using nlohmann::json;

absl::Status Invalid(absl::string_view path, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", why));
}

absl::Status ExpectType(const json& v, absl::string_view path, bool ok,
                        absl::string_view expected) {
  if (ok) return absl::OkStatus();
  return Invalid(
      path, absl::StrCat("expected ", expected, ", got ", JsonTypeName(v)));
}

absl::Status ValidateValue(absl::string_view value, absl::string_view path) {
  if (value.empty()) return Invalid(path, "empty string");
  if (value.size() > kMaxReferenceValueLength) {
    return Invalid(
        path, absl::StrCat("value is ", value.size(), " bytes, the limit is ",
                           kMaxReferenceValueLength));
  }
  for (char c : value) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      return Invalid(
          path, absl::StrCat("control character in ", QuoteForMessage(value)));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateReferenceValueSetName(absl::string_view name,
                                           absl::string_view field) {
  bool ok = !name.empty() && name.size() <= 63 &&
            (absl::ascii_islower(static_cast<unsigned char>(name[0])) ||
             absl::ascii_isdigit(static_cast<unsigned char>(name[0])));
  for (char c : name) {
    const unsigned char u = static_cast<unsigned char>(c);
    ok = ok && (absl::ascii_islower(u) || absl::ascii_isdigit(u) || c == '.' ||
                c == '_' || c == '-');
  }
  if (ok) return absl::OkStatus();
  return Invalid(
      field,
      absl::StrCat("invalid reference-value set name ", QuoteForMessage(name),
                   " (1 to 63 of [a-z0-9._-], starting with a "
                   "letter or digit)"));
}

absl::Status ValidateReferenceValueSet(const ReferenceValueSet& set) {
  if (absl::Status s = ValidateReferenceValueSetName(set.name, "$.name");
      !s.ok()) {
    return s;
  }
  if (set.version < 0) {
    return Invalid("$.version", absl::StrCat("negative version ", set.version));
  }
  if (set.values.empty()) return Invalid("$.values", "empty list");
  if (set.values.size() > kMaxReferenceValues) {
    return Invalid("$.values",
                   absl::StrCat(set.values.size(), " values, the limit is ",
                                kMaxReferenceValues));
  }
  std::set<absl::string_view> seen;
  for (size_t i = 0; i < set.values.size(); ++i) {
    const std::string path = JsonPathIndex("$.values", i);
    if (absl::Status s = ValidateValue(set.values[i], path); !s.ok()) return s;
    if (!seen.insert(set.values[i]).second) {
      return Invalid(path, absl::StrCat("duplicate value ",
                                        QuoteForMessage(set.values[i])));
    }
  }
  if (set.expires_at == absl::InfinitePast()) {
    return Invalid("$.expiresAt", "expiry in the infinite past");
  }
  return absl::OkStatus();
}

absl::StatusOr<ReferenceValueSet> ParseReferenceValueSet(
    absl::string_view text) {
  absl::StatusOr<json> doc = ParseStrictJson(
      text, StrictJsonLimits{.max_bytes = kMaxReferenceValueSetBytes,
                             .max_depth = 4});
  if (!doc.ok()) return doc.status();
  if (absl::Status s = ExpectType(*doc, "$", doc->is_object(), "an object");
      !s.ok()) {
    return s;
  }
  ReferenceValueSet set;
  bool has_name = false, has_values = false;
  for (const auto& [key, v] : doc->items()) {
    const std::string path = JsonPathKey("$", key);
    if (key == "name") {
      if (absl::Status s = ExpectType(v, path, v.is_string(), "a string");
          !s.ok()) {
        return s;
      }
      set.name = v.get<std::string>();
      has_name = true;
    } else if (key == "version") {
      std::optional<int64_t> n = JsonInt64(v);
      if (!n.has_value()) {
        return Invalid(
            path, absl::StrCat("expected an integer, got ", JsonTypeName(v)));
      }
      if (*n < 1) {
        return Invalid(path, absl::StrCat("version must be >= 1, got ", *n));
      }
      set.version = *n;
    } else if (key == "description") {
      if (absl::Status s = ExpectType(v, path, v.is_string(), "a string");
          !s.ok()) {
        return s;
      }
      set.description = v.get<std::string>();
    } else if (key == "expiresAt") {
      if (absl::Status s =
              ExpectType(v, path, v.is_string(), "an RFC 3339 time string");
          !s.ok()) {
        return s;
      }
      std::string err;
      if (!absl::ParseTime(absl::RFC3339_full, v.get<std::string>(),
                           &set.expires_at, &err) ||
          set.expires_at == absl::InfinitePast() ||
          set.expires_at == absl::InfiniteFuture()) {
        return Invalid(path, absl::StrCat("invalid RFC 3339 time ",
                                          QuoteForMessage(v.get<std::string>()),
                                          err.empty() ? "" : ": ", err));
      }
    } else if (key == "values") {
      if (absl::Status s = ExpectType(v, path, v.is_array(), "a list");
          !s.ok()) {
        return s;
      }
      for (size_t i = 0; i < v.size(); ++i) {
        if (absl::Status s = ExpectType(v[i], JsonPathIndex(path, i),
                                        v[i].is_string(), "a string");
            !s.ok()) {
          return s;
        }
        set.values.push_back(v[i].get<std::string>());
      }
      has_values = true;
    } else {
      return Invalid(path,
                     "unknown key (expected one of name, version, "
                     "description, expiresAt, values)");
    }
  }
  if (!has_name) return Invalid("$.name", "required");
  if (!has_values) return Invalid("$.values", "required");
  if (absl::Status s = ValidateReferenceValueSet(set); !s.ok()) return s;
  return set;
}

std::string ReferenceValueSetToJson(const ReferenceValueSet& set) {
  json j = json::object();
  j["name"] = set.name;
  if (set.version > 0) j["version"] = set.version;  // 0: not yet stored
  j["values"] = set.values;
  if (!set.description.empty()) j["description"] = set.description;
  if (set.expires_at != absl::InfiniteFuture()) {
    j["expiresAt"] = FormatTimeForMessage(set.expires_at);
  }
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

absl::StatusOr<int64_t> InMemoryReferenceValues::Put(ReferenceValueSet set) {
  if (absl::Status s = ValidateReferenceValueSet(set); !s.ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sets_.find(set.name);
  const int64_t current = it == sets_.end() ? 0 : it->second.version;
  if (set.version == 0) {
    set.version = current + 1;
  } else if (set.version <= current) {
    return absl::FailedPreconditionError(absl::StrCat(
        "reference-value set ", QuoteForMessage(set.name), ": version ",
        set.version, " is not after the current ", current));
  }
  const int64_t version = set.version;
  std::string name = set.name;
  sets_.insert_or_assign(std::move(name), std::move(set));
  return version;
}

absl::Status InMemoryReferenceValues::Remove(absl::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sets_.find(name);
  if (it == sets_.end()) {
    return absl::NotFoundError(absl::StrCat(
        "reference-value set ", QuoteForMessage(name), " not found"));
  }
  sets_.erase(it);
  return absl::OkStatus();
}

absl::StatusOr<ReferenceValueSet> InMemoryReferenceValues::Resolve(
    absl::string_view name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sets_.find(name);
  if (it == sets_.end()) {
    return absl::NotFoundError(absl::StrCat(
        "reference-value set ", QuoteForMessage(name), " not found"));
  }
  return it->second;
}

}  // namespace strongroom::attest
