#include "kms/hpke/hpke.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "kms/hpke/aead_cipher.h"
#include "kms/hpke/dhkem.h"
#include "kms/hpke/hpke_internal.h"
#include "kms/hpke/key_schedule.h"

namespace strongroom::kms::hpke {
namespace internal {
namespace {

bool IsAuth(Mode mode) { return mode == Mode::kAuth || mode == Mode::kAuthPsk; }

absl::Status MatchesSuite(const Suite& suite, Kem kem, absl::string_view field) {
  if (kem == suite.kem()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(field, ": key is for ", KemName(kem),
                                                 ", the suite uses ", KemName(suite.kem())));
}

// The sender key (auth modes) is present exactly when the mode needs it.
absl::Status CheckSenderKeyPresence(Mode mode, bool present, absl::string_view field) {
  if (IsAuth(mode) == present) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      field, present ? ": only allowed in the auth modes" : ": required in the auth modes"));
}

absl::StatusOr<ContextState> MakeState(const Suite& suite, KeyScheduleOutput schedule) {
  std::optional<AeadCipher> aead;
  if (!suite.export_only()) {
    auto cipher = AeadCipher::Create(*suite.aead_impl(), schedule.key.Reveal());
    if (!cipher.ok()) return cipher.status();
    aead.emplace(*std::move(cipher));
  }
  return ContextState(suite, std::move(aead), std::move(schedule.base_nonce),
                      std::move(schedule.exporter_secret));
}

}  // namespace

absl::StatusOr<SenderContext> SetupSender(const Suite& suite, Mode mode, const PublicKey& pkR,
                                          std::span<const uint8_t> info, const SecretBytes& psk,
                                          std::span<const uint8_t> psk_id, const PrivateKey* skS,
                                          const PrivateKey* skE) {
  if (absl::Status s = MatchesSuite(suite, pkR.kem(), "recipient_public_key"); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckSenderKeyPresence(mode, skS != nullptr, "sender_private_key");
      !s.ok()) {
    return s;
  }
  if (skS != nullptr) {
    if (absl::Status s = MatchesSuite(suite, skS->kem(), "sender_private_key"); !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = VerifyPskInputs(mode, psk, psk_id); !s.ok()) return s;

  std::optional<PrivateKey> generated;
  if (skE == nullptr) {
    auto pair = GenerateKeyPair(suite.kem());
    if (!pair.ok()) return pair.status();
    generated.emplace(std::move(pair->private_key));
    skE = &*generated;
  } else if (absl::Status s = MatchesSuite(suite, skE->kem(), "ephemeral_key"); !s.ok()) {
    return s;
  }
  auto encap = Encap(pkR, *skE, skS);
  if (!encap.ok()) return encap.status();
  auto schedule = KeySchedule(suite, mode, encap->shared_secret, info, psk, psk_id);
  if (!schedule.ok()) return schedule.status();
  auto state = MakeState(suite, *std::move(schedule));
  if (!state.ok()) return state.status();
  return ContextAccess::MakeSender(*std::move(state), std::move(encap->enc));
}

absl::StatusOr<RecipientContext> SetupRecipient(const Suite& suite, Mode mode,
                                                std::span<const uint8_t> enc, const PrivateKey& skR,
                                                std::span<const uint8_t> info,
                                                const SecretBytes& psk,
                                                std::span<const uint8_t> psk_id,
                                                const PublicKey* pkS) {
  if (absl::Status s = MatchesSuite(suite, skR.kem(), "recipient_private_key"); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckSenderKeyPresence(mode, pkS != nullptr, "sender_public_key"); !s.ok()) {
    return s;
  }
  if (pkS != nullptr) {
    if (absl::Status s = MatchesSuite(suite, pkS->kem(), "sender_public_key"); !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = VerifyPskInputs(mode, psk, psk_id); !s.ok()) return s;
  auto shared_secret = Decap(enc, skR, pkS);
  if (!shared_secret.ok()) return shared_secret.status();
  auto schedule = KeySchedule(suite, mode, *shared_secret, info, psk, psk_id);
  if (!schedule.ok()) return schedule.status();
  auto state = MakeState(suite, *std::move(schedule));
  if (!state.ok()) return state.status();
  return ContextAccess::MakeRecipient(*std::move(state));
}

}  // namespace internal

namespace {
const SecretBytes& NoPsk() {
  static const SecretBytes* empty = new SecretBytes();
  return *empty;
}
}  // namespace

absl::StatusOr<SenderContext> SetupBaseS(const Suite& suite, const PublicKey& pkR,
                                         std::span<const uint8_t> info) {
  return internal::SetupSender(suite, Mode::kBase, pkR, info, NoPsk(), {}, nullptr, nullptr);
}

absl::StatusOr<RecipientContext> SetupBaseR(const Suite& suite, std::span<const uint8_t> enc,
                                            const PrivateKey& skR, std::span<const uint8_t> info) {
  return internal::SetupRecipient(suite, Mode::kBase, enc, skR, info, NoPsk(), {}, nullptr);
}

absl::StatusOr<SenderContext> SetupPskS(const Suite& suite, const PublicKey& pkR,
                                        std::span<const uint8_t> info, const SecretBytes& psk,
                                        std::span<const uint8_t> psk_id) {
  return internal::SetupSender(suite, Mode::kPsk, pkR, info, psk, psk_id, nullptr, nullptr);
}

absl::StatusOr<RecipientContext> SetupPskR(const Suite& suite, std::span<const uint8_t> enc,
                                           const PrivateKey& skR, std::span<const uint8_t> info,
                                           const SecretBytes& psk,
                                           std::span<const uint8_t> psk_id) {
  return internal::SetupRecipient(suite, Mode::kPsk, enc, skR, info, psk, psk_id, nullptr);
}

absl::StatusOr<SenderContext> SetupAuthS(const Suite& suite, const PublicKey& pkR,
                                         std::span<const uint8_t> info, const PrivateKey& skS) {
  return internal::SetupSender(suite, Mode::kAuth, pkR, info, NoPsk(), {}, &skS, nullptr);
}

absl::StatusOr<RecipientContext> SetupAuthR(const Suite& suite, std::span<const uint8_t> enc,
                                            const PrivateKey& skR, std::span<const uint8_t> info,
                                            const PublicKey& pkS) {
  return internal::SetupRecipient(suite, Mode::kAuth, enc, skR, info, NoPsk(), {}, &pkS);
}

absl::StatusOr<SenderContext> SetupAuthPskS(const Suite& suite, const PublicKey& pkR,
                                            std::span<const uint8_t> info, const SecretBytes& psk,
                                            std::span<const uint8_t> psk_id,
                                            const PrivateKey& skS) {
  return internal::SetupSender(suite, Mode::kAuthPsk, pkR, info, psk, psk_id, &skS, nullptr);
}

absl::StatusOr<RecipientContext> SetupAuthPskR(const Suite& suite, std::span<const uint8_t> enc,
                                               const PrivateKey& skR, std::span<const uint8_t> info,
                                               const SecretBytes& psk,
                                               std::span<const uint8_t> psk_id,
                                               const PublicKey& pkS) {
  return internal::SetupRecipient(suite, Mode::kAuthPsk, enc, skR, info, psk, psk_id, &pkS);
}

absl::StatusOr<Sealed> Seal(const Suite& suite, const PublicKey& pkR, std::span<const uint8_t> info,
                            std::span<const uint8_t> aad, std::span<const uint8_t> plaintext) {
  if (suite.export_only()) {
    return absl::FailedPreconditionError("hpke: Seal is not available with the export-only AEAD");
  }
  auto context = SetupBaseS(suite, pkR, info);
  if (!context.ok()) return context.status();
  auto ciphertext = context->Seal(aad, plaintext);
  if (!ciphertext.ok()) return ciphertext.status();
  return Sealed{context->enc(), *std::move(ciphertext)};
}

absl::StatusOr<SecretBytes> Open(const Suite& suite, const PrivateKey& skR,
                                 std::span<const uint8_t> enc, std::span<const uint8_t> info,
                                 std::span<const uint8_t> aad,
                                 std::span<const uint8_t> ciphertext) {
  if (suite.export_only()) {
    return absl::FailedPreconditionError("hpke: Open is not available with the export-only AEAD");
  }
  auto context = SetupBaseR(suite, enc, skR, info);
  if (!context.ok()) return context.status();
  return context->Open(aad, ciphertext);
}

}  // namespace strongroom::kms::hpke
