// TpmVerifier: appraises a TPM 2.0 quote bundle (attest/tpm/quote_bundle.h,
// docs/attestation-tpm.md) signed by an attestation key (AK).
//
// Verify() checks, in order:
//   1. the bundle and the TPM structures inside it parse strictly;
//   2. the AK: its public key comes from "ak_public" and/or the first
//      certificate in Evidence.certificates (both present: they must be the
//      same key); an "ak_public" must be a restricted signing key;
//   3. the quote signature over the TPMS_ATTEST bytes under the AK (RSASSA
//      or RSAPSS for an RSA AK, ECDSA for an ECC AK; SHA-256/384/512; a
//      scheme fixed in the AK's public area must be the one used);
//   4. AK trust: either the AK's public key is one of the configured trusted
//      AK keys (pinned, or produced by TpmEnrollment after credential
//      activation), or its certificate chains at ctx.at to a configured AK
//      CA root (pinned by SPKI SHA-256) through the evidence's and the
//      configured intermediates;
//   5. qualifiedSigner: reported as matching the AK's Name, its Qualified
//      Name as a primary key of a hierarchy, or as a child of "ek_public";
//      a different name algorithm is refused; anything else is a warning
//      (the parent chain is not known);
//   6. the nonce: extraData must equal ctx.expected_report_data exactly
//      (when that is unset the appraisal carries a warning);
//   7. the PCRs: every selected PCR must be supplied and H(selected values in
//      selection order) must equal pcrDigest, with the signature's hash.
//
// Claims: tpm.pcrs.<bank>.<n>, tpm.nonce, tpm.ak.name (with ak_public),
// tpm.ak.alg, tpm.ak.spki_sha256, tpm.ak.trust, tpm.ak.qualified_name,
// tpm.ak.qualified_name_check, tpm.firmware_version, tpm.clock.ms,
// tpm.clock.safe, tpm.reset_count, tpm.restart_count, tpm.quote.hash.
// Trust vector: instance_identity, hardware and executables 2 (the PCRs are
// measured; whether they are approved is for the policy to decide).
//
// Errors follow attest/verifier.h: InvalidArgument for malformed input
// (including a selected PCR that is not supplied), PermissionDenied for a bad
// signature, an untrusted AK, a wrong nonce or a PCR digest mismatch,
// FailedPrecondition when there is no AK at all. Messages start with
// "tpm quote: ".
//
// Caching (attest/tpm/ak_cache.h): what depends only on the AK (its parsed
// public area, EVP_PKEY, SPKI hash, Name, whether it is a configured key),
// the parsed ek_public, the qualifiedSigner match, parsed evidence
// certificates and verified AK chains (with the time window they hold in)
// are kept per verifier, by the exact bytes they come from (or their
// canonical base64 text, or the cached objects they were computed from),
// and only on success. The trust configuration
// is fixed at Create(), so a changed configuration is a new verifier with
// empty caches. Thread-safe after Create(); the caches are internally
// synchronized.
#ifndef STRONGROOM_ATTEST_TPM_TPM_VERIFIER_H_
#define STRONGROOM_ATTEST_TPM_TPM_VERIFIER_H_

#include <openssl/evp.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "attest/tpm/ak_cache.h"
#include "attest/verifier.h"
#include "attest/x509.h"

namespace strongroom::attest {

namespace tpm_internal {
struct FlatPcrs;  // quote_bundle_internal.h
}  // namespace tpm_internal

struct TpmVerifierOptions {
  // AK public keys trusted as they are (SubjectPublicKeyInfo PEM; several
  // keys may be concatenated): pinned AKs, or TpmEnrollment's output.
  std::vector<std::string> trusted_ak_public_keys_pem;
  // Self-signed CA roots (PEM) under which an AK certificate must chain;
  // each root is pinned by its SPKI SHA-256.
  std::vector<std::string> ak_ca_roots_pem;
  // Intermediate CA certificates (PEM) offered to chain building besides
  // the ones that come with the evidence.
  std::vector<std::string> ak_ca_intermediates_pem;
  // Entries per cache (AKs, qualifiedSigner matches, certificate texts,
  // verified chains); a full cache is emptied. 0 disables caching.
  size_t cache_capacity = 1024;
};

class TpmVerifier : public Verifier {
 public:
  // InvalidArgument when a configured key or certificate does not parse or
  // a root is not self-signed. No trust configured at all is allowed: such a
  // verifier refuses every quote as coming from an untrusted AK.
  static absl::StatusOr<std::unique_ptr<TpmVerifier>> Create(
      TpmVerifierOptions options);

  EvidenceType type() const override { return EvidenceType::kTpm; }
  absl::StatusOr<Appraisal> Verify(const Evidence& evidence,
                                   const VerifyContext& ctx) const override;

  // Entries in each cache now (for tests and diagnostics).
  struct CacheStats {
    size_t aks = 0;
    size_t ek_publics = 0;
    size_t qualified_signers = 0;
    size_t certificates = 0;
    size_t chains = 0;
  };
  CacheStats cache_stats() const;

 private:
  TpmVerifier(std::vector<std::shared_ptr<EVP_PKEY>> trusted_keys,
              std::vector<Certificate> roots,
              std::vector<Certificate> intermediates, size_t cache_capacity)
      : trusted_keys_(std::move(trusted_keys)),
        roots_(std::move(roots)),
        intermediates_(std::move(intermediates)),
        caches_(std::make_unique<tpm_internal::TpmVerifierCaches>(
            cache_capacity)),
        memo_enabled_(cache_capacity > 0) {}

  // A bundle as Verify reads it: the TPM structures' bytes, the PCRs, and
  // each public area either found in its cache or as bytes to parse (and to
  // cache under the given key on success).
  struct QuoteInput {
    std::span<const uint8_t> quote;
    std::span<const uint8_t> signature;
    const tpm_internal::FlatPcrs* pcrs = nullptr;
    // Found in the thread's memo or the caches (owned by the memo).
    const tpm_internal::AkFacts* ak = nullptr;
    std::span<const uint8_t> ak_public;  // else these; empty: none
    const std::string* ak_key = nullptr;
    const TpmtPublic* ek = nullptr;  // found likewise
    std::span<const uint8_t> ek_public;    // else these; empty: none
    const std::string* ek_key = nullptr;
  };
  // Verify() after the bundle is read.
  absl::StatusOr<Appraisal> VerifyQuote(const Evidence& evidence,
                                        const VerifyContext& ctx,
                                        QuoteInput in) const;

  // The AK from ak_public (cached under `cache_key` on success) or else from
  // the first presented certificate (cached).
  absl::StatusOr<std::shared_ptr<const tpm_internal::AkFacts>> AkFromPublic(
      std::span<const uint8_t> ak_public, const std::string& cache_key) const;
  absl::StatusOr<std::shared_ptr<const tpm_internal::AkFacts>> AkFromCertificate(
      const Certificate& cert) const;
  bool IsTrustedKey(EVP_PKEY* key) const;
  // Evidence.certificates, parsed (cached by text).
  absl::StatusOr<std::vector<Certificate>> PresentedCertificates(
      const Evidence& evidence) const;
  // The AK certificate chain to a pinned root at `at` (cached with its
  // validity window). PermissionDenied when it does not verify.
  absl::Status CheckAkChain(const std::vector<Certificate>& presented,
                            absl::Time at) const;

  const std::vector<std::shared_ptr<EVP_PKEY>> trusted_keys_;
  const std::vector<Certificate> roots_;
  const std::vector<Certificate> intermediates_;
  const std::unique_ptr<tpm_internal::TpmVerifierCaches> caches_;
  // Whether Verify may reuse what this thread last found in the caches
  // (tpm_verifier.cc, ThreadMemo): only when there are caches.
  const bool memo_enabled_;
  // Names this verifier in threads' memos (never reused, unlike an address).
  const uint64_t id_ = NextId();
  static uint64_t NextId();
};

}  // namespace strongroom::attest

#endif  // STRONGROOM_ATTEST_TPM_TPM_VERIFIER_H_
