// One verifier per evidence type behind a common interface.
//
// Verify() checks authenticity (signatures, certificate chains to pinned
// roots, collateral), freshness (expected report data) and internal
// consistency, and returns the normalized Appraisal. Errors:
//   InvalidArgument    malformed evidence or certificates ("<tee> report:
//                      <field>: <why>")
//   PermissionDenied   authentic-looking but rejected: bad signature, chain
//                      does not verify, wrong nonce, TCB mismatch, revoked
//   FailedPrecondition needed certificate/collateral missing
// Implementations are thread-safe after construction (they may keep a
// mutex-guarded cache of verified chains).
#ifndef STRONGROOM_ATTEST_VERIFIER_H_
#define STRONGROOM_ATTEST_VERIFIER_H_

#include "absl/status/statusor.h"
#include "attest/appraisal.h"
#include "attest/evidence.h"

namespace strongroom::attest {

class Verifier {
 public:
  virtual ~Verifier() = default;
  virtual EvidenceType type() const = 0;
  virtual absl::StatusOr<Appraisal> Verify(const Evidence& evidence,
                                           const VerifyContext& ctx) const = 0;
};

}  // namespace strongroom::attest

#endif  // STRONGROOM_ATTEST_VERIFIER_H_
