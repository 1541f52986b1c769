// Internal to kms/hpke: the RFC 9180 key schedule (Section 5.1), from the
// KEM shared secret to the AEAD key, base nonce and exporter secret.
//
// Errors: InvalidArgument naming "psk" / "psk_id" when they do not fit the
// mode (VerifyPSKInputs; this library also requires a PSK of at least 32
// bytes, RFC 9180 5.1.1 "MUST have at least 32 bytes of entropy"); Internal
// for OpenSSL failures. Thread-safe.
#ifndef STRONGROOM_KMS_HPKE_KEY_SCHEDULE_H_
#define STRONGROOM_KMS_HPKE_KEY_SCHEDULE_H_

#include <cstdint>
#include <span>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/bytes.h"
#include "base/secret_bytes.h"
#include "kms/hpke/suite.h"

namespace strongroom::kms::hpke::internal {

inline constexpr size_t kMinPskSize = 32;

struct KeyScheduleOutput {
  Bytes key_schedule_context;  // mode || psk_id_hash || info_hash
  SecretBytes secret;
  SecretBytes key;         // Nk bytes; empty for export-only
  SecretBytes base_nonce;  // Nn bytes; empty for export-only
  SecretBytes exporter_secret;
};

// VerifyPSKInputs: psk and psk_id both set for the PSK modes, both empty for
// the others.
absl::Status VerifyPskInputs(Mode mode, const SecretBytes& psk, std::span<const uint8_t> psk_id);

absl::StatusOr<KeyScheduleOutput> KeySchedule(const Suite& suite, Mode mode,
                                              const SecretBytes& shared_secret,
                                              std::span<const uint8_t> info, const SecretBytes& psk,
                                              std::span<const uint8_t> psk_id);

}  // namespace strongroom::kms::hpke::internal

#endif  // STRONGROOM_KMS_HPKE_KEY_SCHEDULE_H_
