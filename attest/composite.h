// Composite appraisal: several pieces of evidence presented together (e.g. a
// CPU TEE report plus a GPU report) are each verified by the verifier for
// their type and appraised as one: the claims are merged (names are
// prefixed by TEE, so they cannot collide), the submodule appraisals are kept
// for the EAR, and the overall status is OverallTier of the submodules (none outranks affirming).
// One policy then evaluates the merged claims.
//
// VerifierSet owns one verifier per evidence type; thread-safe for
// concurrent Appraise calls once built (verifiers are thread-safe).
#ifndef STRONGROOM_ATTEST_COMPOSITE_H_
#define STRONGROOM_ATTEST_COMPOSITE_H_

#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "attest/appraisal.h"
#include "attest/verifier.h"
#include "nlohmann/json_fwd.hpp"

namespace strongroom::attest {

struct CompositeAppraisal {
  std::vector<Appraisal> submodules;  // in evidence order
  Claims claims;                      // merged
  std::vector<std::string> warnings;  // "<tee>: <warning>"
  TrustTier status() const;
  // The EAR payload (draft-ietf-rats-ear): eat_profile, iat, ear.verifier-id,
  // submods{tee: {ear.status, ear.trustworthiness-vector}}. Claims are not
  // included here; callers add what they disclose.
  nlohmann::json ToEar(absl::string_view verifier_id, absl::Time iat) const;
};

class VerifierSet {
 public:
  // Later verifiers of the same type replace earlier ones.
  void Add(std::unique_ptr<Verifier> verifier);
  bool Has(EvidenceType type) const { return verifiers_.count(type) > 0; }
  const Verifier* Find(EvidenceType type) const;

  // Verifies one piece of evidence with the verifier for its type.
  // FailedPrecondition when no verifier for that type is configured.
  absl::StatusOr<Appraisal> Verify(const Evidence& evidence,
                                   const VerifyContext& ctx) const;

  // Verifies each evidence[i] under contexts[i] (same size, 1..8 items, at
  // most one of each type). The first failure is returned, prefixed with
  // the evidence index and type.
  absl::StatusOr<CompositeAppraisal> Appraise(
      std::span<const Evidence> evidence,
      std::span<const VerifyContext> contexts) const;

 private:
  std::map<EvidenceType, std::unique_ptr<Verifier>> verifiers_;
};

}  // namespace strongroom::attest

#endif  // STRONGROOM_ATTEST_COMPOSITE_H_
