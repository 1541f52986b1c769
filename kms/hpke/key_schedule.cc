#include "kms/hpke/key_schedule.h"

#include "absl/strings/str_cat.h"
#include "kms/hpke/hkdf.h"

namespace strongroom::kms::hpke::internal {

absl::Status VerifyPskInputs(Mode mode, const SecretBytes& psk, std::span<const uint8_t> psk_id) {
  const bool psk_mode = mode == Mode::kPsk || mode == Mode::kAuthPsk;
  if (mode != Mode::kBase && mode != Mode::kPsk && mode != Mode::kAuth && mode != Mode::kAuthPsk) {
    return absl::InvalidArgumentError(
        absl::StrCat("mode: unknown HPKE mode ", static_cast<int>(mode)));
  }
  if (psk.empty() != psk_id.empty()) {
    return absl::InvalidArgumentError(psk.empty() ? "psk: empty while psk_id is set"
                                                  : "psk_id: empty while psk is set");
  }
  if (psk_mode && psk.empty()) {
    return absl::InvalidArgumentError("psk: required (with psk_id) in the PSK modes");
  }
  if (!psk_mode && !psk.empty()) {
    return absl::InvalidArgumentError("psk: only allowed in the PSK modes");
  }
  if (psk_mode && psk.size() < kMinPskSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("psk: ", psk.size(), " bytes, at least ", kMinPskSize, " are required"));
  }
  return absl::OkStatus();
}

absl::StatusOr<KeyScheduleOutput> KeySchedule(const Suite& suite, Mode mode,
                                              const SecretBytes& shared_secret,
                                              std::span<const uint8_t> info, const SecretBytes& psk,
                                              std::span<const uint8_t> psk_id) {
  if (absl::Status s = VerifyPskInputs(mode, psk, psk_id); !s.ok()) return s;
  const Hkdf& kdf = suite.kdf_impl();
  const std::span<const uint8_t> suite_id = suite.suite_id();

  // The hashes of public inputs; SecretBytes only because Extract returns it.
  auto psk_id_hash = LabeledExtract(kdf, suite_id, {}, "psk_id_hash", psk_id);
  if (!psk_id_hash.ok()) return psk_id_hash.status();
  auto info_hash = LabeledExtract(kdf, suite_id, {}, "info_hash", info);
  if (!info_hash.ok()) return info_hash.status();

  KeyScheduleOutput out;
  out.key_schedule_context.reserve(1 + psk_id_hash->size() + info_hash->size());
  out.key_schedule_context.push_back(static_cast<uint8_t>(mode));
  for (const SecretBytes* hash : {&*psk_id_hash, &*info_hash}) {
    out.key_schedule_context.insert(out.key_schedule_context.end(), hash->Reveal().begin(),
                                    hash->Reveal().end());
  }

  auto secret = LabeledExtract(kdf, suite_id, shared_secret.Reveal(), "secret", psk.Reveal());
  if (!secret.ok()) return secret.status();
  out.secret = *std::move(secret);
  const std::span<const uint8_t> prk = out.secret.Reveal();
  if (!suite.export_only()) {
    auto key = LabeledExpand(kdf, suite_id, prk, "key", out.key_schedule_context, suite.key_size());
    if (!key.ok()) return key.status();
    out.key = *std::move(key);
    auto base_nonce = LabeledExpand(kdf, suite_id, prk, "base_nonce", out.key_schedule_context,
                                    suite.nonce_size());
    if (!base_nonce.ok()) return base_nonce.status();
    out.base_nonce = *std::move(base_nonce);
  }
  auto exporter_secret =
      LabeledExpand(kdf, suite_id, prk, "exp", out.key_schedule_context, suite.hash_size());
  if (!exporter_secret.ok()) return exporter_secret.status();
  out.exporter_secret = *std::move(exporter_secret);
  return out;
}

}  // namespace strongroom::kms::hpke::internal
