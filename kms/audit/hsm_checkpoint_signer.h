// HsmCheckpointSigner: signs audit checkpoints and export trailers with a
// persistent, non-extractable P-256 key pair in the HSM.
//
// Create() finds the pair by label (private and public objects carry the same
// CKA_LABEL and CKA_ID) or, when neither exists, generates it as persistent
// token objects, so the same key signs across restarts. A half-present pair
// (one object without the other, or objects with different CKA_IDs) is
// FailedPrecondition: the operator must resolve it, never a silent new key.
//
// Every signature is checked with the public key in software before it is
// returned, so a faulty token cannot put an invalid signature in the log.
//
// Thread-safe (Hsm is). The Hsm must outlive the signer.
#ifndef STRONGROOM_KMS_AUDIT_HSM_CHECKPOINT_SIGNER_H_
#define STRONGROOM_KMS_AUDIT_HSM_CHECKPOINT_SIGNER_H_

#include <memory>
#include <span>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/secret_bytes.h"
#include "kms/audit/checkpoint_signer.h"
#include "kms/pkcs11/hsm.h"
#include "kms/pkcs11/key_handle.h"

namespace strongroom::kms {

class HsmCheckpointSigner final : public CheckpointSigner {
 public:
  static constexpr absl::string_view kDefaultLabel = "strongroom-audit-checkpoint";

  // Errors are the Hsm's (naming the PKCS#11 call) or FailedPrecondition as above.
  static absl::StatusOr<std::unique_ptr<HsmCheckpointSigner>> Create(
      pkcs11::Hsm& hsm, absl::string_view label = kDefaultLabel);

  absl::StatusOr<Bytes> Sign(std::span<const uint8_t> msg) override;
  std::string KeyId() const override { return public_key_.key_id(); }
  std::string PublicKeyPem() const override { return public_key_.pem(); }

  const pkcs11::KeyHandle& private_key() const { return private_key_; }

 private:
  HsmCheckpointSigner(pkcs11::Hsm& hsm, pkcs11::KeyHandle private_key,
                      CheckpointVerifyKey public_key)
      : hsm_(hsm), private_key_(std::move(private_key)), public_key_(std::move(public_key)) {}

  pkcs11::Hsm& hsm_;
  const pkcs11::KeyHandle private_key_;
  const CheckpointVerifyKey public_key_;
};

// The audit log's head MAC key (AuditOptions::head_mac_key), 32 bytes, the
// same across restarts: the AES-256-GCM encryption of 32 zero bytes under a
// persistent, non-extractable AES key in the HSM found by `label` (made on
// first use), with a fixed IV and AAD. The key is used for nothing else, so
// the fixed IV never meets a second plaintext. Someone with the database
// but without the HSM cannot compute it.
inline constexpr absl::string_view kAuditHeadMacKeyLabel = "strongroom-audit-head-mac";
absl::StatusOr<SecretBytes> DeriveAuditHeadMacKey(pkcs11::Hsm& hsm,
                                                  absl::string_view label = kAuditHeadMacKeyLabel);

}  // namespace strongroom::kms

#endif  // STRONGROOM_KMS_AUDIT_HSM_CHECKPOINT_SIGNER_H_
