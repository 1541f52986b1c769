// Internal to attest/policy: the parsed clause tree of a release policy,
// its validation from JSON, and its evaluation against claims. Policy
// (policy.h) is the public face; include this only from attest/policy and
// its tests.
//
// A Clause is immutable after parsing and safe to evaluate from many
// threads; a ClauseEvaluator is single-use and not thread-safe.
#ifndef STRONGROOM_ATTEST_POLICY_CLAUSE_H_
#define STRONGROOM_ATTEST_POLICY_CLAUSE_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "attest/claims.h"
#include "attest/policy/reference_values.h"
#include "nlohmann/json.hpp"

namespace strongroom::attest::policy_internal {

enum class ClauseKind { kAllOf, kAnyOf, kNot, kClaim };
enum class Op { kEquals, kNotEquals, kIn, kGte, kLte, kStartsWith, kExists };

// A policy literal. For strings made only of hex digits, `folded` is the
// lowercase form that is compared with lowercase-hex claims.
struct Literal {
  ClaimValue value;
  std::string folded;
};

struct Clause {
  ClauseKind kind = ClauseKind::kClaim;
  std::string path;              // JSON path of this clause's object
  std::vector<Clause> children;  // allOf / anyOf: >= 1; not: exactly 1
  // kClaim only:
  std::string claim;
  Op op = Op::kExists;
  Literal operand;               // every op but kIn
  std::vector<Literal> in_list;  // kIn with a literal list
  std::string reference_set;     // kIn with {"referenceValues": name}
};

// What a parse learned besides the tree.
struct ClauseFacts {
  std::vector<std::string> reference_sets;  // unique, first-use order
  bool names_dev_claim = false;             // some claim path is "dev.*"
};

// Validates `v` (found at `path`) as a clause. InvalidArgument naming the
// path on any error. `depth` guards recursion (the JSON parser has already
// bounded nesting; this is a second line).
absl::StatusOr<Clause> ParseClause(const nlohmann::json& v,
                                   const std::string& path, int depth,
                                   ClauseFacts* facts);

// OK when `claim` is a dotted claim path whose first segment names an
// evidence type ("snp.measurement"); InvalidArgument naming `path` if not.
absl::Status ValidateClaimPath(const nlohmann::json& v,
                               const std::string& path);

enum class Outcome {
  kMatch,
  kNoMatch,
  // Cannot be decided (claim absent or of another type, reference set
  // missing or expired). Fails like kNoMatch, but `not` keeps it failing.
  kUndecided,
};

struct ClauseResult {
  Outcome outcome = Outcome::kNoMatch;
  std::string path;    // the deciding clause
  std::string detail;  // why, without the path
};

class ClauseEvaluator {
 public:
  ClauseEvaluator(const Claims& claims, const ReferenceValueResolver& resolver,
                  absl::Time now)
      : claims_(claims), resolver_(resolver), now_(now) {}

  ClauseResult Evaluate(const Clause& clause);

  // (name, version) of every set resolved so far, in first-use order.
  const std::vector<std::pair<std::string, int64_t>>& consulted() const {
    return consulted_;
  }

 private:
  ClauseResult EvaluateClaim(const Clause& clause);
  ClauseResult EvaluateReferenceSet(const Clause& clause,
                                    const std::string& value);
  const absl::StatusOr<ReferenceValueSet>& Resolve(const std::string& name);

  const Claims& claims_;
  const ReferenceValueResolver& resolver_;
  absl::Time now_;
  std::map<std::string, absl::StatusOr<ReferenceValueSet>> resolved_;
  std::vector<std::pair<std::string, int64_t>> consulted_;
};

}  // namespace strongroom::attest::policy_internal

#endif  // STRONGROOM_ATTEST_POLICY_CLAUSE_H_
