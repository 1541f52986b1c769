// Evaluation of the Clause tree against normalized claims (see clause.h and
// docs/policy.md for the semantics). Never throws; every failure becomes a
// ClauseResult with a reason.
#include <variant>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "attest/policy/clause.h"
#include "attest/policy/strict_json.h"

namespace strongroom::attest::policy_internal {
namespace {

constexpr size_t kListShown = 8;

std::string Show(const ClaimValue& v) {
  if (const bool* b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  if (const int64_t* n = std::get_if<int64_t>(&v)) return absl::StrCat(*n);
  return QuoteForMessage(std::get<std::string>(v), 128);
}

absl::string_view TypeNoun(const ClaimValue& v) {
  if (std::holds_alternative<bool>(v)) return "a boolean";
  if (std::holds_alternative<int64_t>(v)) return "an integer";
  return "a string";
}

std::string ShowList(const std::vector<Literal>& list) {
  std::vector<std::string> shown;
  for (size_t i = 0; i < list.size() && i < kListShown; ++i) {
    shown.push_back(Show(list[i].value));
  }
  std::string out = absl::StrCat("[", absl::StrJoin(shown, ", "));
  if (list.size() > kListShown) {
    absl::StrAppend(&out, ", ... (", list.size() - kListShown, " more)");
  }
  return absl::StrCat(out, "]");
}

bool IsHexDigits(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// Literal and claim have the same alternative. Strings made of hex digits
// also match in their lowercase form, since byte claims are lowercase hex.
bool Equal(const ClaimValue& claim, const Literal& lit) {
  if (claim == lit.value) return true;
  const std::string* s = std::get_if<std::string>(&claim);
  return s != nullptr && !lit.folded.empty() && *s == lit.folded;
}

bool StartsWith(const std::string& claim, const Literal& lit) {
  return absl::StartsWith(claim, std::get<std::string>(lit.value)) ||
         (!lit.folded.empty() && absl::StartsWith(claim, lit.folded));
}

bool MatchesSetValue(const std::string& claim, const std::string& value) {
  if (claim == value) return true;
  return IsHexDigits(value) && claim == absl::AsciiStrToLower(value);
}

}  // namespace

ClauseResult ClauseEvaluator::Evaluate(const Clause& clause) {
  switch (clause.kind) {
    case ClauseKind::kAllOf: {
      for (const Clause& child : clause.children) {
        ClauseResult r = Evaluate(child);
        // The innermost failing clause names the problem best.
        if (r.outcome != Outcome::kMatch) return r;
      }
      return {Outcome::kMatch, clause.path,
              absl::StrCat("all ", clause.children.size(),
                           " allOf clauses matched")};
    }
    case ClauseKind::kAnyOf: {
      std::vector<std::string> failures;
      bool undecided = false;
      for (const Clause& child : clause.children) {
        ClauseResult r = Evaluate(child);
        if (r.outcome == Outcome::kMatch) return r;
        undecided = undecided || r.outcome == Outcome::kUndecided;
        failures.push_back(absl::StrCat(r.path, ": ", r.detail));
      }
      return {undecided ? Outcome::kUndecided : Outcome::kNoMatch, clause.path,
              absl::StrCat("none of the ", clause.children.size(),
                           " anyOf alternatives matched (",
                           absl::StrJoin(failures, "; "), ")")};
    }
    case ClauseKind::kNot: {
      ClauseResult r = Evaluate(clause.children[0]);
      const std::string inner = absl::StrCat(r.path, ": ", r.detail);
      switch (r.outcome) {
        case Outcome::kMatch:
          return {Outcome::kNoMatch, clause.path,
                  absl::StrCat("the negated clause matched (", inner, ")")};
        case Outcome::kNoMatch:
          return {
              Outcome::kMatch, clause.path,
              absl::StrCat("the negated clause did not match (", inner, ")")};
        case Outcome::kUndecided:
          // Absence or a type mismatch never turns into a match.
          return r;
      }
      return r;
    }
    case ClauseKind::kClaim:
      return EvaluateClaim(clause);
  }
  return {Outcome::kUndecided, clause.path, "unknown clause kind"};
}

ClauseResult ClauseEvaluator::EvaluateClaim(const Clause& c) {
  auto result = [&](Outcome o, std::string detail) {
    return ClauseResult{o, c.path, std::move(detail)};
  };
  const ClaimValue* v = claims_.Find(c.claim);
  if (c.op == Op::kExists) {
    const bool want = std::get<bool>(c.operand.value);
    if (v == nullptr) {
      return result(want ? Outcome::kNoMatch : Outcome::kMatch,
                    absl::StrCat("claim ", c.claim, " absent"));
    }
    return want ? result(Outcome::kMatch,
                         absl::StrCat("claim ", c.claim, " present"))
                : result(Outcome::kNoMatch,
                         absl::StrCat("claim ", c.claim, " is present (",
                                      Show(*v), "), expected it absent"));
  }
  if (v == nullptr) {
    return result(Outcome::kUndecided,
                  absl::StrCat("claim ", c.claim, " absent"));
  }
  const std::string is = absl::StrCat(c.claim, " is ", Show(*v));
  auto mismatch = [&](absl::string_view expected) {
    return result(Outcome::kUndecided,
                  absl::StrCat(c.claim, " is ", TypeNoun(*v), " (", Show(*v),
                               "), expected ", expected));
  };
  const ClaimValue& want = c.op == Op::kIn && c.reference_set.empty()
                               ? c.in_list[0].value
                               : c.operand.value;
  switch (c.op) {
    case Op::kEquals:
    case Op::kNotEquals: {
      if (v->index() != want.index()) return mismatch(TypeNoun(want));
      const bool eq = Equal(*v, c.operand);
      if (c.op == Op::kEquals) {
        return eq ? result(Outcome::kMatch, is)
                  : result(Outcome::kNoMatch,
                           absl::StrCat(is, ", expected ", Show(want)));
      }
      return eq ? result(Outcome::kNoMatch,
                         absl::StrCat(is, ", expected a value other than ",
                                      Show(want)))
                : result(Outcome::kMatch,
                         absl::StrCat(is, ", not ", Show(want)));
    }
    case Op::kIn: {
      if (!c.reference_set.empty()) {
        const std::string* s = std::get_if<std::string>(v);
        if (s == nullptr) {
          return mismatch(absl::StrCat("a string (reference-value set ",
                                       QuoteForMessage(c.reference_set), ")"));
        }
        return EvaluateReferenceSet(c, *s);
      }
      if (v->index() != want.index()) return mismatch(TypeNoun(want));
      for (const Literal& lit : c.in_list) {
        if (Equal(*v, lit)) {
          return result(Outcome::kMatch,
                        absl::StrCat(is, ", one of ", ShowList(c.in_list)));
        }
      }
      return result(Outcome::kNoMatch, absl::StrCat(is, ", expected one of ",
                                                    ShowList(c.in_list)));
    }
    case Op::kGte:
    case Op::kLte: {
      const int64_t* n = std::get_if<int64_t>(v);
      if (n == nullptr) return mismatch("an integer");
      const int64_t bound = std::get<int64_t>(want);
      const bool gte = c.op == Op::kGte;
      const bool ok = gte ? *n >= bound : *n <= bound;
      const absl::string_view rel = gte ? "at least " : "at most ";
      return ok ? result(Outcome::kMatch, absl::StrCat(is, ", ", rel, bound))
                : result(Outcome::kNoMatch,
                         absl::StrCat(is, ", expected ", rel, bound));
    }
    case Op::kStartsWith: {
      const std::string* s = std::get_if<std::string>(v);
      if (s == nullptr) return mismatch("a string");
      return StartsWith(*s, c.operand)
                 ? result(Outcome::kMatch,
                          absl::StrCat(is, ", starts with ", Show(want)))
                 : result(Outcome::kNoMatch,
                          absl::StrCat(is, ", expected a value starting with ",
                                       Show(want)));
    }
    case Op::kExists:
      break;  // handled above
  }
  return result(Outcome::kUndecided, "unknown operator");
}

ClauseResult ClauseEvaluator::EvaluateReferenceSet(const Clause& c,
                                                   const std::string& value) {
  const std::string quoted = QuoteForMessage(c.reference_set);
  const absl::StatusOr<ReferenceValueSet>& set = Resolve(c.reference_set);
  if (!set.ok()) {
    if (absl::IsNotFound(set.status())) {
      return {Outcome::kUndecided, c.path,
              absl::StrCat("reference-value set ", quoted, " not found")};
    }
    return {Outcome::kUndecided, c.path,
            absl::StrCat("reference-value set ", quoted,
                         " could not be resolved: ", set.status().message())};
  }
  const std::string which =
      absl::StrCat("reference-value set ", quoted, " version ", set->version);
  if (set->ExpiredAt(now_)) {
    return {Outcome::kUndecided, c.path,
            absl::StrCat(which, " expired at ",
                         FormatTimeForMessage(set->expires_at))};
  }
  const std::string is =
      absl::StrCat(c.claim, " is ", QuoteForMessage(value, 128));
  for (const std::string& candidate : set->values) {
    if (MatchesSetValue(value, candidate)) {
      return {Outcome::kMatch, c.path, absl::StrCat(is, ", in ", which)};
    }
  }
  return {Outcome::kNoMatch, c.path, absl::StrCat(is, ", not in ", which)};
}

const absl::StatusOr<ReferenceValueSet>& ClauseEvaluator::Resolve(
    const std::string& name) {
  auto it = resolved_.find(name);
  if (it != resolved_.end()) return it->second;
  absl::StatusOr<ReferenceValueSet> set = resolver_.Resolve(name);
  if (set.ok() && set->name != name) {
    set = absl::InternalError(
        absl::StrCat("resolver returned set ", QuoteForMessage(set->name)));
  }
  if (set.ok()) consulted_.emplace_back(name, set->version);
  return resolved_.emplace(name, std::move(set)).first->second;
}

}  // namespace strongroom::attest::policy_internal
