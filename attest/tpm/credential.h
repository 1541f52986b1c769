// TPM2_MakeCredential in software (TPM 2.0 Part 1, "Credential Protection"
// and "Protected Storage"; Part 3, TPM2_MakeCredential), as a relying party
// runs it to prove that an attestation key lives in the same TPM as an
// endorsement key:
//
//   seed               random, nameAlg-digest-sized (RSA EK), or from ECDH
//                      with an ephemeral key + KDFe (ECC EK)
//   secret             RSA-OAEP(EK, seed, nameAlg, label "IDENTITY\0"), or
//                      the ephemeral public point (ECC)
//   symKey             KDFa(nameAlg, seed, "STORAGE", Name(AK), -, EK sym bits)
//   encIdentity        AES-CFB(symKey, IV 0, TPM2B(credential))
//   HMACkey            KDFa(nameAlg, seed, "INTEGRITY", -, -, digest bits)
//   credentialBlob     TPM2B_ID_OBJECT(TPM2B(HMAC(HMACkey, encIdentity ||
//                      Name(AK))) || encIdentity)
//
// Only a TPM holding the EK's private key can recover the seed, and it
// releases the credential (TPM2_ActivateCredential) only for a loaded object
// whose Name is the one bound in. Free functions; thread-safe. Secrets stay in
// SecretBytes; errors never include them.
#ifndef STRONGROOM_ATTEST_TPM_CREDENTIAL_H_
#define STRONGROOM_ATTEST_TPM_CREDENTIAL_H_

#include <cstdint>
#include <span>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "attest/tpm/tpm_structures.h"
#include "base/bytes.h"
#include "base/secret_bytes.h"

namespace strongroom::attest {

// KDFa (Part 1, "Key Derivation Function", SP 800-108 counter mode with
// HMAC-hash): HMAC(key, [i]32 || label || 0x00 || contextU || contextV ||
// [bits]32) for i = 1.., truncated to `bits` (a multiple of 8).
absl::StatusOr<SecretBytes> TpmKdfa(uint16_t hash_alg,
                                    std::span<const uint8_t> key,
                                    absl::string_view label,
                                    std::span<const uint8_t> context_u,
                                    std::span<const uint8_t> context_v,
                                    size_t bits);

// KDFe (Part 1, SP 800-56A concatenation KDF): H([i]32 || Z || label ||
// 0x00 || partyUInfo || partyVInfo) for i = 1.., truncated to `bits`.
absl::StatusOr<SecretBytes> TpmKdfe(uint16_t hash_alg,
                                    std::span<const uint8_t> z,
                                    absl::string_view label,
                                    std::span<const uint8_t> party_u,
                                    std::span<const uint8_t> party_v,
                                    size_t bits);

struct TpmMadeCredential {
  Bytes credential_blob;   // TPM2B_ID_OBJECT, with its size prefix
  Bytes encrypted_secret;  // TPM2B_ENCRYPTED_SECRET, with its size prefix
};

// `ek` must be a restricted decryption key with an AES-CFB symmetric
// definition (the TCG EK templates), RSA 2048..4096 or ECC P-256/P-384;
// `credential` at most the EK nameAlg's digest size (and not empty);
// `object_name` the AK's Name. InvalidArgument otherwise.
absl::StatusOr<TpmMadeCredential> TpmMakeCredential(
    const TpmtPublic& ek, std::span<const uint8_t> object_name,
    const SecretBytes& credential);

}  // namespace strongroom::attest

#endif  // STRONGROOM_ATTEST_TPM_CREDENTIAL_H_
