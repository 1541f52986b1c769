// Release policies: JSON documents that say which attested workloads may
// receive a key, evaluated against the flat normalized claims of one or
// several verifiers (composite evidence such as SNP + NVIDIA GPU). The
// language, its error messages and examples are in docs/policy.md:
//
//   {"version": 1,
//    "tee": ["snp"],
//    "minStatus": "affirming",
//    "require": {"allOf": [
//      {"claim": "snp.measurement",
//       "in": {"referenceValues": "approved-snp-measurements"}},
//      {"claim": "snp.policy.debug", "equals": false}]}}
//
// Policy is an immutable value type (cheap to copy: the parsed tree is
// shared); Evaluate() is const, has no side effects besides calling the
// resolver, and may run on many threads at once. Parse() refuses invalid
// documents with InvalidArgument whose message starts with the JSON path
// at fault ("$.require.allOf[2].gte: expected an integer, got string").
// Evaluate() never fails: every problem is a deny with a reason.
#ifndef STRONGROOM_ATTEST_POLICY_POLICY_H_
#define STRONGROOM_ATTEST_POLICY_POLICY_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "attest/appraisal.h"
#include "attest/claims.h"
#include "attest/policy/reference_values.h"

namespace strongroom::attest {

namespace policy_internal {
struct Clause;
}

// What the caller knows about the evidence besides its claims.
struct EvaluationContext {
  // Evidence types that were verified ("snp", "nvidia", ...). A type also
  // counts as present when some claim name starts with "<type>.".
  std::vector<std::string> evidence_types;
  // The overall EAR status of the evidence (see FromAppraisals).
  TrustTier status = TrustTier::kNone;

  // evidence_types from each appraisal's tee; status contraindicated if
  // any appraisal is, else none if any is none (or there are none), else
  // warning if any is, else affirming.
  static EvaluationContext FromAppraisals(
      std::span<const Appraisal> appraisals);
};

struct PolicyDecision {
  bool allow = false;
  // On deny: the JSON path of the deciding clause ("$.require.allOf[1]"),
  // or "$" / "$.tee[i]" / "$.minStatus" for the document-level checks.
  std::string failed_path;
  // On deny: "<failed_path>: <why>", e.g. "$.require.allOf[1]:
  // snp.policy.debug is true, expected false". Empty on allow.
  std::string reason;
  // Every reference-value set the evaluation resolved (name, version), in
  // first-use order, on allow and deny alike; a token issued on this
  // decision is stale when any of them changes.
  std::vector<std::pair<std::string, int64_t>> consulted_sets;
};

class Policy {
 public:
  static constexpr size_t kMaxBytes = 64 * 1024;
  static constexpr int kMaxDepth = 32;  // nested JSON objects and arrays

  static absl::StatusOr<Policy> Parse(absl::string_view json);

  // Decides in this order, stopping at the first deny:
  //  1. development evidence (any "dev.*" claim, or "dev" among the
  //     context's evidence types) is refused unless the policy names dev in
  //     "tee" or in a claim path;
  //  2. contraindicated evidence is refused; "minStatus" is checked;
  //  3. each type in "tee" must be present;
  //  4. "require" must match. Absent claims, type mismatches and missing
  //     or expired reference-value sets fail their clause (and stay failed
  //     under "not").
  PolicyDecision Evaluate(const Claims& claims,
                          const ReferenceValueResolver& resolver,
                          absl::Time now,
                          const EvaluationContext& context) const;

  // Names of the reference-value sets the policy refers to, unique, in
  // document order.
  const std::vector<std::string>& ReferencedSets() const {
    return referenced_sets_;
  }
  // Lowercase hex SHA-256 of ToJson(): equal for documents that differ
  // only in whitespace or key order.
  const std::string& Digest() const { return digest_; }
  // Canonical JSON: keys sorted, no insignificant whitespace.
  const std::string& ToJson() const { return canonical_; }

  const std::string& description() const { return description_; }
  const std::vector<std::string>& required_tees() const { return tees_; }
  std::optional<TrustTier> min_status() const { return min_status_; }
  bool accepts_development_evidence() const { return accepts_dev_; }

 private:
  Policy() = default;

  std::shared_ptr<const policy_internal::Clause> require_;
  std::vector<std::string> tees_;
  std::optional<TrustTier> min_status_;
  std::string description_;
  std::vector<std::string> referenced_sets_;
  bool accepts_dev_ = false;
  std::string canonical_;
  std::string digest_;
};

}  // namespace strongroom::attest

#endif  // STRONGROOM_ATTEST_POLICY_POLICY_H_
