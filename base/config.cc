#include "base/config.h"

#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/file.h"
#include "base/status_macros.h"

namespace strongroom {
namespace {

const char* KindName(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null: return "null";
    case YAML::NodeType::Scalar: return "a scalar";
    case YAML::NodeType::Sequence: return "a sequence";
    case YAML::NodeType::Map: return "a mapping";
    default: return "nothing";
  }
}

// yaml-cpp keeps both entries of a key given twice in one mapping and
// lookups see only one of them: refuse the document instead, naming the
// key's path and the line of its second occurrence.
absl::Status CheckNoRepeatedKeys(const YAML::Node& n, const std::string& path,
                                 absl::string_view source) {
  if (n.IsMap()) {
    std::set<std::string> seen;
    for (const auto& entry : n) {
      if (!entry.first.IsScalar()) {
        return absl::InvalidArgumentError(absl::StrCat(
            source, ": config field '", path.empty() ? "(top level)" : path, "': a key at line ",
            entry.first.Mark().line + 1, " is ", KindName(entry.first), ", not a name"));
      }
      const std::string key = entry.first.Scalar();
      const std::string field = path.empty() ? key : absl::StrCat(path, ".", key);
      if (entry.first.IsScalar() && !seen.insert(key).second) {
        return absl::InvalidArgumentError(absl::StrCat(source, ": config field '", field,
                                                       "': given twice (again at line ",
                                                       entry.first.Mark().line + 1, ")"));
      }
      RETURN_IF_ERROR(CheckNoRepeatedKeys(entry.second, field, source));
    }
  } else if (n.IsSequence()) {
    for (size_t i = 0; i < n.size(); ++i) {
      RETURN_IF_ERROR(CheckNoRepeatedKeys(n[i], absl::StrCat(path, "[", i, "]"), source));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ConfigNode> ConfigNode::LoadFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(path, "config"));
  return Parse(text, path);
}

absl::StatusOr<ConfigNode> ConfigNode::Parse(absl::string_view text,
                                             absl::string_view source) {
  YAML::Node root;
  try {
    // One document: what follows a "---" would otherwise be ignored.
    std::vector<YAML::Node> documents = YAML::LoadAll(std::string(text));
    if (documents.size() > 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": ", documents.size(), " YAML documents (separated by ---); one expected"));
    }
    if (!documents.empty()) root = documents[0];
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": YAML syntax error at line ", e.mark.line + 1, ", column ",
        e.mark.column + 1, ": ", e.msg));
  }
  if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  if (!root.IsMap()) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": the document must be a mapping, got ", KindName(root)));
  }
  RETURN_IF_ERROR(CheckNoRepeatedKeys(root, "", source));
  return ConfigNode(root, "", std::string(source));
}

std::string ConfigNode::FieldPath(absl::string_view key) const {
  return path_.empty() ? std::string(key) : absl::StrCat(path_, ".", key);
}

absl::Status ConfigNode::FieldError(absl::string_view key, absl::string_view what) const {
  return absl::InvalidArgumentError(
      absl::StrCat(source_, ": config field '", FieldPath(key), "': ", what));
}

bool ConfigNode::Has(absl::string_view key) const {
  return node_.IsMap() && node_[std::string(key)].IsDefined() &&
         !node_[std::string(key)].IsNull();
}

absl::Status ConfigNode::CheckNotEmpty(absl::string_view key) const {
  // `key:` with nothing after it is a mistake more often than a request for
  // the default: say so rather than take the default.
  if (node_.IsMap() && node_[std::string(key)].IsDefined() && node_[std::string(key)].IsNull()) {
    return FieldError(key, "has no value (leave the field out for its default)");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ConfigNode::GetString(absl::string_view key) const {
  RETURN_IF_ERROR(CheckNotEmpty(key));
  if (!Has(key)) return FieldError(key, "is required");
  const YAML::Node n = node_[std::string(key)];
  if (n.IsScalar() && n.Scalar().empty()) return FieldError(key, "is empty");
  return GetString(key, "");
}

absl::StatusOr<std::string> ConfigNode::GetString(absl::string_view key,
                                                  absl::string_view fallback) const {
  RETURN_IF_ERROR(CheckNotEmpty(key));
  if (!Has(key)) return std::string(fallback);
  YAML::Node n = node_[std::string(key)];
  if (!n.IsScalar()) {
    return FieldError(key, absl::StrCat("expected a string, got ", KindName(n)));
  }
  // An optional field written as "" (often a template variable that was not
  // set) is not a request for its default: the default is what leaving the
  // field out asks for.
  if (n.Scalar().empty()) {
    return FieldError(key, "is empty (leave the field out for its default)");
  }
  return n.Scalar();
}

absl::StatusOr<int64_t> ConfigNode::GetInt(absl::string_view key, int64_t fallback,
                                           int64_t min, int64_t max) const {
  RETURN_IF_ERROR(CheckNotEmpty(key));
  if (!Has(key)) return fallback;
  YAML::Node n = node_[std::string(key)];
  int64_t v = 0;
  if (!n.IsScalar() || !absl::SimpleAtoi(n.Scalar(), &v)) {
    return FieldError(key, absl::StrCat("expected an integer, got '",
                                        n.IsScalar() ? n.Scalar() : KindName(n), "'"));
  }
  if (v < min || v > max) {
    return FieldError(key, absl::StrCat("value ", v, " is outside [", min, ", ", max, "]"));
  }
  return v;
}

absl::StatusOr<bool> ConfigNode::GetBool(absl::string_view key, bool fallback) const {
  RETURN_IF_ERROR(CheckNotEmpty(key));
  if (!Has(key)) return fallback;
  YAML::Node n = node_[std::string(key)];
  if (n.IsScalar()) {
    const std::string& s = n.Scalar();
    if (s == "true" || s == "yes" || s == "on") return true;
    if (s == "false" || s == "no" || s == "off") return false;
  }
  return FieldError(key, absl::StrCat("expected true or false, got '",
                                      n.IsScalar() ? n.Scalar() : KindName(n), "'"));
}

absl::StatusOr<absl::Duration> ConfigNode::GetDuration(absl::string_view key,
                                                       absl::Duration fallback) const {
  RETURN_IF_ERROR(CheckNotEmpty(key));
  if (!Has(key)) return fallback;
  YAML::Node n = node_[std::string(key)];
  if (!n.IsScalar()) {
    return FieldError(key, absl::StrCat("expected a duration, got ", KindName(n)));
  }
  std::string s = n.Scalar();
  absl::Duration d;
  int64_t days = 0;
  constexpr int64_t kMaxDays = 100 * 366;  // no setting means more than a century
  if (s.size() > 1 && s.back() == 'd' && absl::SimpleAtoi(s.substr(0, s.size() - 1), &days)) {
    if (days > kMaxDays || days < -kMaxDays) {
      return FieldError(key, absl::StrCat("duration '", s, "' is longer than 100 years"));
    }
    d = absl::Hours(24 * days);
  } else if (!absl::ParseDuration(s, &d)) {
    return FieldError(key, absl::StrCat("'", s, "' is not a duration (e.g. 90s, 5m, 12h, 30d)"));
  }
  if (d < absl::ZeroDuration()) {
    return FieldError(key, absl::StrCat("duration '", s, "' is negative"));
  }
  if (d > absl::Hours(24 * kMaxDays)) {  // "inf" parses too
    return FieldError(key, absl::StrCat("duration '", s, "' is longer than 100 years"));
  }
  return d;
}

absl::StatusOr<std::vector<std::string>> ConfigNode::GetStringList(
    absl::string_view key) const {
  RETURN_IF_ERROR(CheckNotEmpty(key));
  std::vector<std::string> out;
  if (!Has(key)) return out;
  YAML::Node n = node_[std::string(key)];
  if (!n.IsSequence()) {
    return FieldError(key, absl::StrCat("expected a list of strings, got ", KindName(n)));
  }
  for (size_t i = 0; i < n.size(); ++i) {
    if (!n[i].IsScalar()) {
      return FieldError(absl::StrCat(key, "[", i, "]"),
                        absl::StrCat("expected a string, got ", KindName(n[i])));
    }
    out.push_back(n[i].Scalar());
  }
  return out;
}

absl::StatusOr<ConfigNode> ConfigNode::GetSection(absl::string_view key) const {
  RETURN_IF_ERROR(CheckNotEmpty(key));
  if (!Has(key)) {
    return ConfigNode(YAML::Node(YAML::NodeType::Map), FieldPath(key), source_);
  }
  YAML::Node n = node_[std::string(key)];
  if (!n.IsMap()) {
    return FieldError(key, absl::StrCat("expected a mapping, got ", KindName(n)));
  }
  return ConfigNode(n, FieldPath(key), source_);
}

absl::StatusOr<std::vector<ConfigNode>> ConfigNode::GetList(absl::string_view key) const {
  RETURN_IF_ERROR(CheckNotEmpty(key));
  std::vector<ConfigNode> out;
  if (!Has(key)) return out;
  YAML::Node n = node_[std::string(key)];
  if (!n.IsSequence()) {
    return FieldError(key, absl::StrCat("expected a list, got ", KindName(n)));
  }
  for (size_t i = 0; i < n.size(); ++i) {
    std::string item = absl::StrCat(key, "[", i, "]");
    if (!n[i].IsMap()) {
      return FieldError(item, absl::StrCat("expected a mapping, got ", KindName(n[i])));
    }
    out.push_back(ConfigNode(n[i], FieldPath(item), source_));
  }
  return out;
}

std::vector<std::string> ConfigNode::Keys() const {
  std::vector<std::string> keys;
  if (!node_.IsMap()) return keys;
  for (const auto& kv : node_) keys.push_back(kv.first.as<std::string>());
  return keys;
}

absl::Status ConfigNode::AllowOnly(std::initializer_list<absl::string_view> allowed) const {
  for (const std::string& k : Keys()) {
    bool known = false;
    for (absl::string_view a : allowed) known = known || a == k;
    if (!known) {
      std::string list;
      for (absl::string_view a : allowed) absl::StrAppend(&list, list.empty() ? "" : ", ", a);
      return FieldError(k, absl::StrCat("unknown field (allowed here: ", list, ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace strongroom
