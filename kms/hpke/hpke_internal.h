// Internal to kms/hpke: the one generic sender / recipient setup behind the
// SetupXxxS / SetupXxxR functions, and the access the library needs to the
// contexts' private constructors. Not for use outside kms/hpke (the testing
// entry point is kms/hpke/hpke_for_testing.h).
#ifndef STRONGROOM_KMS_HPKE_HPKE_INTERNAL_H_
#define STRONGROOM_KMS_HPKE_HPKE_INTERNAL_H_

#include <span>

#include "absl/status/statusor.h"
#include "base/secret_bytes.h"
#include "kms/hpke/context.h"
#include "kms/hpke/keys.h"
#include "kms/hpke/suite.h"

namespace strongroom::kms::hpke::internal {

struct ContextAccess {
  static SenderContext MakeSender(ContextState state, Bytes enc) {
    return SenderContext(std::move(state), std::move(enc));
  }
  static RecipientContext MakeRecipient(ContextState state) {
    return RecipientContext(std::move(state));
  }
};

// Sender setup for `mode`. skS is required for the auth modes and must be
// null otherwise; psk / psk_id empty outside the PSK modes. The ephemeral
// key is skE (known-answer tests) or, when null, a fresh GenerateKeyPair().
absl::StatusOr<SenderContext> SetupSender(const Suite& suite, Mode mode, const PublicKey& pkR,
                                          std::span<const uint8_t> info, const SecretBytes& psk,
                                          std::span<const uint8_t> psk_id, const PrivateKey* skS,
                                          const PrivateKey* skE);

// Recipient setup for `mode`; pkS is required for the auth modes.
absl::StatusOr<RecipientContext> SetupRecipient(const Suite& suite, Mode mode,
                                                std::span<const uint8_t> enc, const PrivateKey& skR,
                                                std::span<const uint8_t> info,
                                                const SecretBytes& psk,
                                                std::span<const uint8_t> psk_id,
                                                const PublicKey* pkS);

}  // namespace strongroom::kms::hpke::internal

#endif  // STRONGROOM_KMS_HPKE_HPKE_INTERNAL_H_
