// FOR KNOWN-ANSWER TESTS ONLY: HPKE sender setup with a caller-chosen
// ephemeral key, so that enc and every ciphertext are reproducible from a
// test vector's ikmE. Lives in the separate `kms_hpke_testing` library so
// that production code linking only `kms_hpke` cannot reach it.
//
// Never use this outside tests: HPKE's security needs a fresh random
// ephemeral key per setup, and reusing ikmE reuses the key, the enc and,
// with the same recipient and info, the AEAD key and nonces.
//
// Errors and thread-safety: as the Setup*S functions in kms/hpke/hpke.h.
#ifndef STRONGROOM_KMS_HPKE_HPKE_FOR_TESTING_H_
#define STRONGROOM_KMS_HPKE_HPKE_FOR_TESTING_H_

#include <span>

#include "absl/status/statusor.h"
#include "base/secret_bytes.h"
#include "kms/hpke/context.h"
#include "kms/hpke/keys.h"
#include "kms/hpke/suite.h"

namespace strongroom::kms::hpke {

// SetupS for any mode with skE, pkE = DeriveKeyPair(ikmE). psk / psk_id
// empty outside the PSK modes; skS non-null exactly in the auth modes.
absl::StatusOr<SenderContext> SetupSenderWithIkmEForTesting(
    const Suite& suite, Mode mode, const PublicKey& pkR, std::span<const uint8_t> info,
    const SecretBytes& ikmE, const SecretBytes& psk, std::span<const uint8_t> psk_id,
    const PrivateKey* skS);

}  // namespace strongroom::kms::hpke

#endif  // STRONGROOM_KMS_HPKE_HPKE_FOR_TESTING_H_
