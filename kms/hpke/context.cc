#include "kms/hpke/context.h"

#include <openssl/crypto.h>

#include <limits>

#include "absl/strings/str_cat.h"
#include "kms/hpke/hkdf.h"

namespace strongroom::kms::hpke::internal {
namespace {

constexpr size_t kMaxNonceSize = 12;

}  // namespace

absl::Status ContextState::CheckCanProcess(absl::string_view operation) const {
  if (!aead_.has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat("hpke: ", operation, " is not available with the export-only AEAD"));
  }
  // RFC 9180 5.2 stops at 2^(8*Nn) - 1; a 64-bit counter stops earlier.
  if (seq_ == std::numeric_limits<uint64_t>::max()) {
    return absl::ResourceExhaustedError(
        "hpke: message limit of this context reached; set up a new context");
  }
  return absl::OkStatus();
}

void ContextState::ComputeNonce(uint8_t* nonce) const {
  const size_t n = base_nonce_.size();
  std::span<const uint8_t> base = base_nonce_.Reveal();
  for (size_t i = 0; i < n; ++i) nonce[i] = base[i];
  // XOR I2OSP(seq, Nn): the low 8 bytes carry the 64-bit counter.
  for (size_t i = 0; i < 8 && i < n; ++i) {
    nonce[n - 1 - i] ^= static_cast<uint8_t>(seq_ >> (8 * i));
  }
}

absl::StatusOr<Bytes> ContextState::Seal(std::span<const uint8_t> aad,
                                         std::span<const uint8_t> plaintext) {
  if (absl::Status s = CheckCanProcess("Seal"); !s.ok()) return s;
  uint8_t nonce[kMaxNonceSize];
  ComputeNonce(nonce);
  auto sealed = aead_->Seal(std::span<const uint8_t>(nonce, base_nonce_.size()), aad, plaintext);
  OPENSSL_cleanse(nonce, sizeof(nonce));
  if (sealed.ok()) ++seq_;
  return sealed;
}

absl::StatusOr<SecretBytes> ContextState::Open(std::span<const uint8_t> aad,
                                               std::span<const uint8_t> ciphertext) {
  if (absl::Status s = CheckCanProcess("Open"); !s.ok()) return s;
  uint8_t nonce[kMaxNonceSize];
  ComputeNonce(nonce);
  auto opened = aead_->Open(std::span<const uint8_t>(nonce, base_nonce_.size()), aad, ciphertext);
  OPENSSL_cleanse(nonce, sizeof(nonce));
  if (opened.ok()) ++seq_;
  return opened;
}

absl::StatusOr<SecretBytes> ContextState::Export(std::span<const uint8_t> exporter_context,
                                                 size_t length) const {
  return LabeledExpand(suite_.kdf_impl(), suite_.suite_id(), exporter_secret_.Reveal(), "sec",
                       exporter_context, length, "length");
}

}  // namespace strongroom::kms::hpke::internal
