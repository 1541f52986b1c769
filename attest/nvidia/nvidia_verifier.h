// Verifier for NVIDIA Hopper (H100) confidential-computing GPU evidence: the
// SPDM GET_MEASUREMENTS request + signed MEASUREMENTS response the driver
// returns (attest/nvidia/spdm_report.h), plus the GPU's device certificate
// chain. See docs/attestation-nvidia.md for the format and every check.
//
// Verify() checks, in order:
//   1. the payload parses (binary or hex text)          -> InvalidArgument
//   2. Evidence.certificates is present                 -> FailedPrecondition
//   3. the chain (any order) leads from the one leaf to a root whose SPKI
//      SHA-256 is pinned (default: NVIDIA Device Identity CA), every
//      certificate valid at ctx.at                      -> PermissionDenied
//   4. the report signature (ECDSA P-384, SHA-384) verifies under the leaf
//                                                       -> PermissionDenied
//   5. ctx.expected_report_data (32 B), when set, equals the REQUEST nonce:
//      the nonce the relying party chose and sent to the GPU. The response
//      nonce is the GPU's own randomness and proves nothing about freshness.
//                                                       -> PermissionDenied
//   6. the opaque FWID equals the FWID in the leaf's DICE extension
//      (2.23.133.5.4.1), when both are present          -> PermissionDenied
// and returns an Appraisal with instance_identity = 2, hardware = 2; with
// golden measurements configured, executables = 2 when every configured
// index matches and 33 (warning) otherwise.
//
// Claims: nvidia.spdm_version ("1.1"), nvidia.nonce (request nonce, hex),
// nvidia.response_nonce, nvidia.slot_id, nvidia.measurements.<index> (hex
// value), nvidia.opaque.<name> (opaque_data.h), nvidia.device_cert.subject,
// nvidia.device_cert.fingerprint (SHA-256 of the leaf DER),
// nvidia.device_cert.fwid.
//
// Not checked: certificate revocation (NVIDIA publishes it by OCSP, which an
// offline verifier cannot reach) and RIM signatures; golden values are the
// operator's to supply.
//
// Thread-safe: Verify may be called concurrently. Verified chains are cached
// (base/bounded_cache.h: mutex-guarded, emptied when full) by the set of certificate fingerprints together
// with the time window in which every certificate of the chain is valid; a
// cached chain is used only when ctx.at falls inside that window. Parsed
// certificates are cached as well (same kind of cache and bound), keyed by
// SHA-256 of each Evidence.certificates element: parsing is a pure function
// of those bytes and, under OpenSSL 3.0, costs several times the report's
// signature check for a five-certificate chain. Failures are not cached.
#ifndef STRONGROOM_ATTEST_NVIDIA_NVIDIA_VERIFIER_H_
#define STRONGROOM_ATTEST_NVIDIA_NVIDIA_VERIFIER_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "attest/verifier.h"
#include "attest/x509.h"
#include "base/bounded_cache.h"

namespace strongroom::attest {

// SHA-256 of the SubjectPublicKeyInfo of "NVIDIA Device Identity CA"
// (nvtrust verifier_device_root.pem), the root of every GPU device chain.
inline constexpr absl::string_view kNvidiaDeviceIdentityRootSpkiSha256 =
    "a90c4eb5acfd3e3d03a25db6a26b84f720ad0503196c627c21ddd48dd85b06a4";

struct NvidiaVerifierOptions {
  // Acceptable roots by SPKI SHA-256 (lowercase hex). Must not be empty.
  std::vector<std::string> pinned_root_spki_sha256 = {
      std::string(kNvidiaDeviceIdentityRootSpkiSha256)};
  // PEM certificates (typically the device root) added to the pool that
  // chains are built from, so evidence may leave the root out.
  std::string extra_certificates_pem;
  // Optional golden values, measurement index -> lowercase hex value (e.g.
  // taken from NVIDIA's driver and VBIOS RIMs).
  std::map<int, std::string> golden_measurements;
  // Verified chains kept; the cache is cleared when it fills. The same
  // bound applies to parsed certificate texts.
  size_t chain_cache_size = 256;
};

class NvidiaVerifier : public Verifier {
 public:
  // InvalidArgument for malformed options (pins, PEM, golden values).
  static absl::StatusOr<std::unique_ptr<NvidiaVerifier>> Create(
      NvidiaVerifierOptions options);

  EvidenceType type() const override { return EvidenceType::kNvidia; }
  absl::StatusOr<Appraisal> Verify(const Evidence& evidence,
                                   const VerifyContext& ctx) const override;

 private:
  struct CachedChain {
    std::vector<Certificate> chain;
    absl::Time valid_from;   // latest notBefore in the chain
    absl::Time valid_until;  // earliest notAfter in the chain
  };

  NvidiaVerifier(NvidiaVerifierOptions options,
                 std::vector<Certificate> extra_certificates)
      : options_(std::move(options)),
        extra_certificates_(std::move(extra_certificates)),
        chain_cache_(options_.chain_cache_size),
        parsed_(options_.chain_cache_size) {}

  // The verified chain (leaf first) for the evidence's certificates.
  absl::StatusOr<std::vector<Certificate>> VerifiedChain(
      const Evidence& evidence, absl::Time at) const;
  // ParseCertificates(text, field) through parsed_.
  absl::StatusOr<std::vector<Certificate>> ParseCached(
      absl::string_view text, absl::string_view field) const;

  const NvidiaVerifierOptions options_;
  const std::vector<Certificate> extra_certificates_;
  // Concatenated fingerprints of the evidence's certificates -> chain.
  mutable BoundedCache<CachedChain> chain_cache_;
  // SHA-256 (hex) of a certificates element -> its certificates.
  mutable BoundedCache<std::vector<Certificate>> parsed_;
};

}  // namespace strongroom::attest

#endif  // STRONGROOM_ATTEST_NVIDIA_NVIDIA_VERIFIER_H_
