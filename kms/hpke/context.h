// HPKE encryption contexts (RFC 9180 Section 5.2 and 5.3), made by the
// Setup* functions in kms/hpke/hpke.h.
//
// A SenderContext seals messages in order and a RecipientContext opens them
// in the same order: message i uses nonce base_nonce XOR I2OSP(i, Nn). The
// sequence number advances only on success, so a refused Open can be retried
// with the right ciphertext. After 2^64 - 1 messages the context refuses
// (ResourceExhausted); set up a new one.
//
// Both contexts can Export secrets (exporter_context, length <= 255 * Nh).
// An export-only suite (AEAD 0xFFFF) refuses Seal/Open with
// FailedPrecondition.
//
// Errors: Open of a ciphertext that does not authenticate is
// InvalidArgument with the fixed message "hpke: ciphertext does not
// authenticate", whatever the cause (key, enc, info, psk, aad, sequence or
// the bytes); a ciphertext shorter than the tag is InvalidArgument naming
// "ciphertext".
//
// Ownership and thread-safety: move-only; thread-compatible (Seal/Open
// mutate the sequence number and the cipher state; Export is const). The key,
// base nonce and exporter secret live in SecretBytes and in OpenSSL's cipher
// context, and are wiped when the context is destroyed.
#ifndef STRONGROOM_KMS_HPKE_CONTEXT_H_
#define STRONGROOM_KMS_HPKE_CONTEXT_H_

#include <cstdint>
#include <optional>
#include <span>

#include "absl/status/statusor.h"
#include "base/bytes.h"
#include "base/secret_bytes.h"
#include "kms/hpke/aead_cipher.h"
#include "kms/hpke/suite.h"

namespace strongroom::kms::hpke {

namespace internal {
struct ContextAccess;

// What both roles share: the keyed AEAD, base nonce, exporter secret and
// sequence number.
class ContextState {
 public:
  ContextState(Suite suite, std::optional<AeadCipher> aead, SecretBytes base_nonce,
               SecretBytes exporter_secret)
      : suite_(suite),
        aead_(std::move(aead)),
        base_nonce_(std::move(base_nonce)),
        exporter_secret_(std::move(exporter_secret)) {}

  const Suite& suite() const { return suite_; }
  uint64_t seq() const { return seq_; }
  void set_seq(uint64_t seq) { seq_ = seq; }

  absl::StatusOr<Bytes> Seal(std::span<const uint8_t> aad, std::span<const uint8_t> plaintext);
  absl::StatusOr<SecretBytes> Open(std::span<const uint8_t> aad,
                                   std::span<const uint8_t> ciphertext);
  absl::StatusOr<SecretBytes> Export(std::span<const uint8_t> exporter_context,
                                     size_t length) const;

 private:
  // OK when an AEAD is set and the sequence number is not exhausted.
  absl::Status CheckCanProcess(absl::string_view operation) const;
  void ComputeNonce(uint8_t* nonce) const;

  Suite suite_;
  std::optional<AeadCipher> aead_;  // empty for export-only suites
  SecretBytes base_nonce_;
  SecretBytes exporter_secret_;
  uint64_t seq_ = 0;
};
}  // namespace internal

class SenderContext {
 public:
  SenderContext(SenderContext&&) = default;
  SenderContext& operator=(SenderContext&&) = default;

  // The encapsulated key to send to the recipient (Nenc bytes).
  const Bytes& enc() const { return enc_; }
  const Suite& suite() const { return state_.suite(); }
  // The sequence number of the next Seal.
  uint64_t sequence_number() const { return state_.seq(); }

  // ciphertext || tag for the next sequence number.
  absl::StatusOr<Bytes> Seal(std::span<const uint8_t> aad, std::span<const uint8_t> plaintext) {
    return state_.Seal(aad, plaintext);
  }
  absl::StatusOr<SecretBytes> Export(std::span<const uint8_t> exporter_context,
                                     size_t length) const {
    return state_.Export(exporter_context, length);
  }

  // Tests only: jump to a sequence number (to test the message limit).
  void SetSequenceNumberForTesting(uint64_t seq) { state_.set_seq(seq); }

 private:
  friend struct internal::ContextAccess;
  SenderContext(internal::ContextState state, Bytes enc)
      : state_(std::move(state)), enc_(std::move(enc)) {}

  internal::ContextState state_;
  Bytes enc_;
};

class RecipientContext {
 public:
  RecipientContext(RecipientContext&&) = default;
  RecipientContext& operator=(RecipientContext&&) = default;

  const Suite& suite() const { return state_.suite(); }
  // The sequence number of the next Open.
  uint64_t sequence_number() const { return state_.seq(); }

  absl::StatusOr<SecretBytes> Open(std::span<const uint8_t> aad,
                                   std::span<const uint8_t> ciphertext) {
    return state_.Open(aad, ciphertext);
  }
  absl::StatusOr<SecretBytes> Export(std::span<const uint8_t> exporter_context,
                                     size_t length) const {
    return state_.Export(exporter_context, length);
  }

  // Tests only: jump to a sequence number (to test the message limit).
  void SetSequenceNumberForTesting(uint64_t seq) { state_.set_seq(seq); }

 private:
  friend struct internal::ContextAccess;
  explicit RecipientContext(internal::ContextState state) : state_(std::move(state)) {}

  internal::ContextState state_;
};

}  // namespace strongroom::kms::hpke

#endif  // STRONGROOM_KMS_HPKE_CONTEXT_H_
