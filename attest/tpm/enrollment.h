// TpmEnrollment: the relying party's side of AK enrollment by credential
// activation (as Keylime's registrar does it). An AK becomes trusted only
// after it has proved that it lives in the same TPM as an endorsement key
// whose certificate chains to a configured EK CA:
//
//   Begin(ek cert, AK public)  verifies the EK certificate chain (pinned EK
//                              CA roots, at the clock's time), checks the
//                              AK's attributes (fixedTPM, fixedParent,
//                              sensitiveDataOrigin, restricted, sign, not
//                              decrypt; SHA-256+ nameAlg; RSA >= 2048 or ECC
//                              P-256/P-384) and runs TPM2_MakeCredential in
//                              software for a fresh random secret bound to
//                              the AK's Name;
//   (client)                   TPM2_ActivateCredential(AK, EK) on the TPM;
//   Finish(id, secret)         compares the returned secret in constant time
//                              and, on a match, returns the enrolled AK
//                              (its public key PEM goes into
//                              TpmVerifierOptions.trusted_ak_public_keys_pem).
//
// A challenge is single-use (any Finish consumes it) and expires after
// challenge_ttl. Thread-safe: pending challenges are guarded by a mutex.
// Errors: InvalidArgument for malformed input, PermissionDenied for an EK
// chain that does not verify, an unacceptable AK or a wrong secret,
// NotFound for an unknown, used or expired challenge.
#ifndef STRONGROOM_ATTEST_TPM_ENROLLMENT_H_
#define STRONGROOM_ATTEST_TPM_ENROLLMENT_H_

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "attest/tpm/tpm_structures.h"
#include "attest/x509.h"
#include "base/bytes.h"
#include "base/clock.h"
#include "base/secret_bytes.h"

namespace strongroom::attest {

struct TpmEnrollmentOptions {
  // Self-signed EK CA roots (PEM), pinned by SPKI SHA-256; at least one.
  std::vector<std::string> ek_ca_roots_pem;
  // EK CA intermediates (PEM) offered to chain building.
  std::vector<std::string> ek_ca_intermediates_pem;
  absl::Duration challenge_ttl = absl::Minutes(5);
  size_t max_pending = 10000;
  const Clock* clock = nullptr;  // default: SystemClock::Default()
};

struct TpmEnrollmentRequest {
  std::string ek_certificate;           // PEM or DER
  std::vector<std::string> ek_chain;    // optional intermediates (PEM/DER)
  // Optional EK public area (TPMT_PUBLIC or TPM2B_PUBLIC); it must carry
  // the certificate's key. Without it the TCG EK template for the
  // certificate's key type is assumed: RSA and ECC P-256 with SHA-256 and
  // AES-128-CFB (L-1, L-2), ECC P-384 with SHA-384 and AES-256-CFB (H-3).
  Bytes ek_public;
  Bytes ak_public;  // TPMT_PUBLIC or TPM2B_PUBLIC
};

struct TpmCredentialChallenge {
  std::string id;          // opaque, for Finish()
  Bytes credential_blob;   // TPM2B_ID_OBJECT, for TPM2_ActivateCredential
  Bytes encrypted_secret;  // TPM2B_ENCRYPTED_SECRET
  Bytes ak_name;           // the Name the credential is bound to
};

struct EnrolledAk {
  std::string ak_public_pem;  // SubjectPublicKeyInfo PEM
  Bytes ak_public;            // TPMT_PUBLIC
  Bytes ak_name;
  std::string ek_certificate_sha256;  // DER fingerprint, lowercase hex
};

class TpmEnrollment {
 public:
  static absl::StatusOr<std::unique_ptr<TpmEnrollment>> Create(
      TpmEnrollmentOptions options);

  absl::StatusOr<TpmCredentialChallenge> Begin(
      const TpmEnrollmentRequest& request);
  absl::StatusOr<EnrolledAk> Finish(absl::string_view challenge_id,
                                    const SecretBytes& activated_secret);

  size_t pending() const;

 private:
  struct Pending {
    SecretBytes secret;
    EnrolledAk ak;
    absl::Time expires;
  };

  TpmEnrollment(TpmEnrollmentOptions options, std::vector<Certificate> roots,
                std::vector<Certificate> intermediates, const Clock* clock)
      : options_(std::move(options)),
        roots_(std::move(roots)),
        intermediates_(std::move(intermediates)),
        clock_(clock) {}

  absl::StatusOr<TpmtPublic> CheckEk(const TpmEnrollmentRequest& request,
                                     std::string* fingerprint) const;
  void DropExpiredLocked(absl::Time now);

  const TpmEnrollmentOptions options_;
  const std::vector<Certificate> roots_;
  const std::vector<Certificate> intermediates_;
  const Clock* clock_;
  mutable std::mutex mu_;
  std::map<std::string, Pending, std::less<>> pending_;  // guarded by mu_
};

// The AK checks Begin() applies, on their own (PermissionDenied naming the
// attribute or parameter at fault).
absl::Status CheckEnrollableAk(const TpmtPublic& ak);

}  // namespace strongroom::attest

#endif  // STRONGROOM_ATTEST_TPM_ENROLLMENT_H_
