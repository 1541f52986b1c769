// The individual checks TpmVerifier runs on a parsed quote, separated so
// each can be read (and tested) on its own. Internal to attest_tpm.
// Free functions; thread-safe. Errors start with "tpm quote: ".
#ifndef STRONGROOM_ATTEST_TPM_QUOTE_CHECKS_H_
#define STRONGROOM_ATTEST_TPM_QUOTE_CHECKS_H_

#include <openssl/evp.h>

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "attest/tpm/ak_signature.h"
#include "attest/tpm/quote_bundle.h"
#include "attest/tpm/quote_bundle_internal.h"
#include "attest/tpm/tpm_structures.h"

namespace strongroom::attest::tpm_checks {

// "rsa" or "ecc" for an RSA or EC key; InvalidArgument otherwise.
absl::StatusOr<std::string> KeyAlgName(EVP_PKEY* key);

// SHA-256 of the DER SubjectPublicKeyInfo, lowercase hex.
std::string SpkiSha256Hex(EVP_PKEY* key);

// Every public key in `pem` (one or more "PUBLIC KEY" blocks).
absl::StatusOr<std::vector<std::shared_ptr<EVP_PKEY>>> ParsePublicKeysPem(
    absl::string_view pem, absl::string_view field);

// The AK's public area must describe a restricted signing key: anything
// else could sign a forged TPMS_ATTEST. PermissionDenied when not.
absl::Status CheckAkAttributes(const TpmtPublic& ak);

// The signature scheme against the AK (type, and the scheme fixed in its
// public area when there is one; no SHA-1; RSA of 2048 bits or more), then
// the signature over `quote`. InvalidArgument for a key that is neither RSA
// nor EC, PermissionDenied for everything else.
absl::Status VerifyQuoteSignature(const tpm_internal::AkSignatureChecker& ak,
                                  const TpmtPublic* ak_public,
                                  const TpmtSignature& sig,
                                  std::span<const uint8_t> quote);

// Recomputes pcrDigest = H_hash(selected PCR values in selection order) from
// `pcrs`. InvalidArgument when a selected PCR is missing, PermissionDenied
// on mismatch. On success, `unused` gets "pcrs.<bank>.<n>" for each supplied
// PCR that the quote does not select.
absl::Status CheckPcrDigest(const TpmsAttest& attest, const TpmPcrValues& pcrs,
                            uint16_t hash_alg,
                            std::vector<std::string>* unused);
// The same over the verifier's flat PCR store (quote_bundle_internal.h).
absl::Status CheckPcrDigest(const TpmsAttest& attest,
                            const tpm_internal::FlatPcrs& pcrs,
                            uint16_t hash_alg,
                            std::vector<std::string>* unused);

// How qualifiedSigner relates to the AK: "name", "<hierarchy>-primary"
// (endorsement, owner, platform, null), "ek-child" (a child of `ek`), or
// nullopt when none of those. PermissionDenied when its name algorithm is
// not the AK's.
absl::StatusOr<std::optional<std::string>> MatchQualifiedSigner(
    std::span<const uint8_t> qualified_signer, const TpmtPublic& ak,
    const TpmtPublic* ek);

}  // namespace strongroom::attest::tpm_checks

#endif  // STRONGROOM_ATTEST_TPM_QUOTE_CHECKS_H_
