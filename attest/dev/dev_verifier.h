// DevVerifier: checks development evidence (attest/dev/dev_evidence.h) made
// by a DevAttester. Off unless the server config enables it; even then it
// accepts only keys listed in the options. It establishes that a holder of a
// trusted software key vouched for the claims, nothing about hardware.
//
// Verify() checks, in order:
//   evidence type is dev                               -> InvalidArgument
//   the verifier is enabled                            -> FailedPrecondition
//   envelope parses (format, base64url, key_id shape)  -> InvalidArgument
//   key_id names a trusted key                         -> PermissionDenied
//   signature (ECDSA P-256, SHA-256 over the body bytes) -> PermissionDenied
//   body parses strictly                               -> InvalidArgument
//   body.report_data == ctx.expected_report_data (exact, when set)
//                                                      -> PermissionDenied
//   body.issued_at <= ctx.at + max_clock_skew (60 s)   -> PermissionDenied
//   with max_age set: body.issued_at >= ctx.at - max_age -> PermissionDenied
// Claims: dev.measurement, dev.report_data (hex), dev.debug, dev.svn,
// dev.issued_at, dev.key_id, dev.claims.<name>. Trust: instance_identity 2
// (a trusted key signed it), configuration 32 when debug; hardware is never
// claimed, and every appraisal carries a warning saying so.
//
// Thread-safe after Create(): keys are parsed once and only read.
#ifndef STRONGROOM_ATTEST_DEV_DEV_VERIFIER_H_
#define STRONGROOM_ATTEST_DEV_DEV_VERIFIER_H_

#include <openssl/evp.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "attest/verifier.h"

namespace strongroom::attest {

struct DevVerifierOptions {
  // PEM SubjectPublicKeyInfo of each accepted signer (EC P-256).
  std::vector<std::string> trusted_public_keys_pem;
  bool enabled = false;  // development evidence is refused unless enabled
  absl::Duration max_clock_skew = absl::Seconds(60);
  absl::Duration max_age = absl::ZeroDuration();  // zero: not checked
};

class DevVerifier : public Verifier {
 public:
  // InvalidArgument for a key that does not parse or is not P-256, for a
  // negative skew or age, and for an enabled verifier with no keys.
  static absl::StatusOr<std::unique_ptr<DevVerifier>> Create(
      DevVerifierOptions options);

  EvidenceType type() const override { return EvidenceType::kDev; }
  absl::StatusOr<Appraisal> Verify(const Evidence& evidence,
                                   const VerifyContext& ctx) const override;

 private:
  DevVerifier(DevVerifierOptions options,
              std::map<std::string, std::shared_ptr<EVP_PKEY>> keys)
      : options_(std::move(options)), keys_(std::move(keys)) {}

  const DevVerifierOptions options_;
  const std::map<std::string, std::shared_ptr<EVP_PKEY>> keys_;  // by key_id
};

}  // namespace strongroom::attest

#endif  // STRONGROOM_ATTEST_DEV_DEV_VERIFIER_H_
