// Validation of clause JSON into the Clause tree (see clause.h and
// docs/policy.md for the language).
#include <algorithm>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "attest/evidence.h"
#include "attest/policy/clause.h"
#include "attest/policy/strict_json.h"

namespace strongroom::attest::policy_internal {
namespace {

using nlohmann::json;

constexpr int kMaxClauseDepth = 64;
constexpr size_t kMaxClaimPathLength = 256;
constexpr char kOperatorList[] =
    "equals, notEquals, in, gte, lte, startsWith, exists";

absl::Status Invalid(absl::string_view path, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", why));
}

std::optional<Op> OperatorNamed(absl::string_view key) {
  if (key == "equals") return Op::kEquals;
  if (key == "notEquals") return Op::kNotEquals;
  if (key == "in") return Op::kIn;
  if (key == "gte") return Op::kGte;
  if (key == "lte") return Op::kLte;
  if (key == "startsWith") return Op::kStartsWith;
  if (key == "exists") return Op::kExists;
  return std::nullopt;
}

bool IsHexDigits(absl::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return absl::ascii_isxdigit(static_cast<unsigned char>(c));
  });
}

// Scalars a claim can hold: boolean, int64, string.
absl::StatusOr<Literal> ParseScalar(const json& v, const std::string& path) {
  Literal lit;
  if (v.is_boolean()) {
    lit.value = v.get<bool>();
  } else if (v.is_string()) {
    std::string s = v.get<std::string>();
    if (IsHexDigits(s)) lit.folded = absl::AsciiStrToLower(s);
    lit.value = std::move(s);
  } else if (std::optional<int64_t> n = JsonInt64(v); n.has_value()) {
    lit.value = *n;
  } else if (v.is_number_integer()) {
    return Invalid(path, absl::StrCat("integer ", v.dump(),
                                      " is out of the signed 64-bit range"));
  } else {
    return Invalid(path,
                   absl::StrCat("expected a boolean, integer or string, got ",
                                JsonTypeName(v)));
  }
  return lit;
}

absl::StatusOr<Literal> ParseInteger(const json& v, const std::string& path) {
  if (std::optional<int64_t> n = JsonInt64(v); n.has_value()) {
    return Literal{.value = *n};
  }
  if (v.is_number_integer()) {
    return Invalid(path, absl::StrCat("integer ", v.dump(),
                                      " is out of the signed 64-bit range"));
  }
  return Invalid(path,
                 absl::StrCat("expected an integer, got ", JsonTypeName(v)));
}

absl::Status ParseIn(const json& v, const std::string& path, Clause* clause,
                     ClauseFacts* facts) {
  if (v.is_object()) {
    for (const auto& [key, value] : v.items()) {
      if (key != "referenceValues") {
        return Invalid(JsonPathKey(path, key),
                       "unknown key (expected referenceValues)");
      }
    }
    if (v.empty()) {
      return Invalid(path,
                     "empty object (expected {\"referenceValues\": name})");
    }
    const json& name = v["referenceValues"];
    const std::string name_path = JsonPathKey(path, "referenceValues");
    if (!name.is_string()) {
      return Invalid(name_path, absl::StrCat("expected a string, got ",
                                             JsonTypeName(name)));
    }
    clause->reference_set = name.get<std::string>();
    if (absl::Status s =
            ValidateReferenceValueSetName(clause->reference_set, name_path);
        !s.ok()) {
      return s;
    }
    auto& sets = facts->reference_sets;
    if (std::find(sets.begin(), sets.end(), clause->reference_set) ==
        sets.end()) {
      sets.push_back(clause->reference_set);
    }
    return absl::OkStatus();
  }
  if (!v.is_array()) {
    return Invalid(path,
                   absl::StrCat("expected a list or {\"referenceValues\": "
                                "name}, got ",
                                JsonTypeName(v)));
  }
  if (v.empty()) return Invalid(path, "empty list");
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string item_path = JsonPathIndex(path, i);
    absl::StatusOr<Literal> lit = ParseScalar(v[i], item_path);
    if (!lit.ok()) return lit.status();
    if (i > 0 && lit->value.index() != clause->in_list[0].value.index()) {
      return Invalid(item_path, absl::StrCat("expected ", JsonTypeName(v[0]),
                                             " like the first element, got ",
                                             JsonTypeName(v[i])));
    }
    clause->in_list.push_back(*std::move(lit));
  }
  return absl::OkStatus();
}

absl::Status ParseOperand(const json& v, const std::string& path,
                          Clause* clause, ClauseFacts* facts) {
  switch (clause->op) {
    case Op::kEquals:
    case Op::kNotEquals: {
      absl::StatusOr<Literal> lit = ParseScalar(v, path);
      if (!lit.ok()) return lit.status();
      clause->operand = *std::move(lit);
      return absl::OkStatus();
    }
    case Op::kIn:
      return ParseIn(v, path, clause, facts);
    case Op::kGte:
    case Op::kLte: {
      absl::StatusOr<Literal> lit = ParseInteger(v, path);
      if (!lit.ok()) return lit.status();
      clause->operand = *std::move(lit);
      return absl::OkStatus();
    }
    case Op::kStartsWith: {
      if (!v.is_string()) {
        return Invalid(
            path, absl::StrCat("expected a string, got ", JsonTypeName(v)));
      }
      if (v.get<std::string>().empty()) {
        return Invalid(path, "empty prefix (it would match every string)");
      }
      absl::StatusOr<Literal> lit = ParseScalar(v, path);
      if (!lit.ok()) return lit.status();
      clause->operand = *std::move(lit);
      return absl::OkStatus();
    }
    case Op::kExists:
      if (!v.is_boolean()) {
        return Invalid(
            path, absl::StrCat("expected a boolean, got ", JsonTypeName(v)));
      }
      clause->operand.value = v.get<bool>();
      return absl::OkStatus();
  }
  return Invalid(path, "unknown operator");
}

absl::StatusOr<std::vector<Clause>> ParseList(const json& v,
                                              const std::string& path,
                                              int depth, ClauseFacts* facts) {
  if (!v.is_array()) {
    return Invalid(path, absl::StrCat("expected a list of clauses, got ",
                                      JsonTypeName(v)));
  }
  if (v.empty()) return Invalid(path, "empty list");
  std::vector<Clause> out;
  out.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    absl::StatusOr<Clause> c =
        ParseClause(v[i], JsonPathIndex(path, i), depth + 1, facts);
    if (!c.ok()) return c.status();
    out.push_back(*std::move(c));
  }
  return out;
}

}  // namespace

absl::Status ValidateClaimPath(const json& v, const std::string& path) {
  if (!v.is_string()) {
    return Invalid(path,
                   absl::StrCat("expected a string, got ", JsonTypeName(v)));
  }
  const std::string claim = v.get<std::string>();
  bool ok = !claim.empty() && claim.size() <= kMaxClaimPathLength;
  std::vector<absl::string_view> segments = absl::StrSplit(claim, '.');
  ok = ok && segments.size() >= 2;
  for (absl::string_view seg : segments) {
    ok = ok && !seg.empty() && std::all_of(seg.begin(), seg.end(), [](char c) {
           const unsigned char u = static_cast<unsigned char>(c);
           return absl::ascii_islower(u) || absl::ascii_isdigit(u) || c == '_';
         });
  }
  if (!ok) {
    return Invalid(path,
                   absl::StrCat("invalid claim path ", QuoteForMessage(claim),
                                " (two or more segments of [a-z0-9_] joined by "
                                "dots, at most ",
                                kMaxClaimPathLength, " characters)"));
  }
  if (!ParseEvidenceType(segments[0]).ok()) {
    return Invalid(path, absl::StrCat("claim path ", QuoteForMessage(claim),
                                      " does not start with an evidence type "
                                      "(snp, tdx, tpm, nvidia, dev)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Clause> ParseClause(const json& v, const std::string& path,
                                   int depth, ClauseFacts* facts) {
  if (depth > kMaxClauseDepth) {
    return Invalid(path, absl::StrCat("clauses nested deeper than ",
                                      kMaxClauseDepth, " levels"));
  }
  if (!v.is_object()) {
    return Invalid(
        path, absl::StrCat("expected a clause object, got ", JsonTypeName(v)));
  }
  if (v.empty()) {
    return Invalid(path,
                   "empty clause (expected one of allOf, anyOf, not, "
                   "claim)");
  }
  std::vector<std::string> forms;  // allOf / anyOf / not / claim present
  std::vector<std::string> ops;
  for (const auto& [key, value] : v.items()) {
    if (key == "allOf" || key == "anyOf" || key == "not" || key == "claim") {
      forms.push_back(key);
    } else if (OperatorNamed(key).has_value()) {
      ops.push_back(key);
    } else {
      return Invalid(JsonPathKey(path, key),
                     absl::StrCat("unknown key (expected allOf, anyOf, not, "
                                  "or claim with one of ",
                                  kOperatorList, ")"));
    }
  }
  if (forms.empty()) {
    return Invalid(
        path, absl::StrCat("operator \"", ops[0], "\" without a \"claim\""));
  }
  if (forms.size() > 1) {
    return Invalid(path, absl::StrCat("a clause has exactly one of allOf, "
                                      "anyOf, not, claim; got ",
                                      absl::StrJoin(forms, " and ")));
  }
  Clause clause;
  clause.path = path;
  const std::string& form = forms[0];
  const std::string form_path = JsonPathKey(path, form);
  if (form != "claim") {
    if (!ops.empty()) {
      return Invalid(JsonPathKey(path, ops[0]),
                     absl::StrCat("operator next to ", form,
                                  "; operators belong in claim clauses"));
    }
    if (form == "not") {
      clause.kind = ClauseKind::kNot;
      absl::StatusOr<Clause> inner =
          ParseClause(v[form], form_path, depth + 1, facts);
      if (!inner.ok()) return inner.status();
      clause.children.push_back(*std::move(inner));
      return clause;
    }
    clause.kind = form == "allOf" ? ClauseKind::kAllOf : ClauseKind::kAnyOf;
    absl::StatusOr<std::vector<Clause>> list =
        ParseList(v[form], form_path, depth, facts);
    if (!list.ok()) return list.status();
    clause.children = *std::move(list);
    return clause;
  }
  clause.kind = ClauseKind::kClaim;
  if (absl::Status s = ValidateClaimPath(v["claim"], form_path); !s.ok()) {
    return s;
  }
  clause.claim = v["claim"].get<std::string>();
  if (clause.claim.rfind("dev.", 0) == 0) facts->names_dev_claim = true;
  if (ops.empty()) {
    return Invalid(
        path,
        absl::StrCat("clause on claim ", QuoteForMessage(clause.claim),
                     " has no operator (expected one of ", kOperatorList, ")"));
  }
  if (ops.size() > 1) {
    return Invalid(path, absl::StrCat("clause has ", ops.size(), " operators (",
                                      absl::StrJoin(ops, ", "),
                                      "); exactly one is allowed"));
  }
  clause.op = *OperatorNamed(ops[0]);
  if (absl::Status s =
          ParseOperand(v[ops[0]], JsonPathKey(path, ops[0]), &clause, facts);
      !s.ok()) {
    return s;
  }
  return clause;
}

}  // namespace strongroom::attest::policy_internal
