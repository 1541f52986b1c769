#include "kms/hpke/hpke_for_testing.h"

#include "kms/hpke/hpke_internal.h"

namespace strongroom::kms::hpke {

absl::StatusOr<SenderContext> SetupSenderWithIkmEForTesting(
    const Suite& suite, Mode mode, const PublicKey& pkR, std::span<const uint8_t> info,
    const SecretBytes& ikmE, const SecretBytes& psk, std::span<const uint8_t> psk_id,
    const PrivateKey* skS) {
  auto ephemeral = DeriveKeyPair(suite.kem(), ikmE);
  if (!ephemeral.ok()) return ephemeral.status();
  return internal::SetupSender(suite, mode, pkR, info, psk, psk_id, skS, &ephemeral->private_key);
}

}  // namespace strongroom::kms::hpke
