// CheckpointSigner: the key that signs audit checkpoints and export trailers,
// and CheckpointVerifyKey: its public half, as auditors and VerifyExport use it.
//
// Algorithm: ECDSA on P-256 over SHA-256 of the message, DER signatures. A
// key's id is the lowercase hex SHA-256 of its DER SubjectPublicKeyInfo, so an
// id can be recomputed from the PEM and never has to be trusted on its own.
//
// Thread-safety: CheckpointSigner implementations must allow concurrent Sign()
// calls (AuditLog signs checkpoints and export trailers from different
// threads). CheckpointVerifyKey is an immutable, copyable value.
#ifndef STRONGROOM_KMS_AUDIT_CHECKPOINT_SIGNER_H_
#define STRONGROOM_KMS_AUDIT_CHECKPOINT_SIGNER_H_

#include <memory>
#include <span>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/bytes.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace strongroom::kms {

class CheckpointSigner {
 public:
  virtual ~CheckpointSigner() = default;
  // A DER ECDSA P-256 signature over SHA-256(msg). Errors name the cause,
  // never key material.
  virtual absl::StatusOr<Bytes> Sign(std::span<const uint8_t> msg) = 0;
  // Lowercase hex SHA-256 of the public key's DER SubjectPublicKeyInfo.
  virtual std::string KeyId() const = 0;
  // "-----BEGIN PUBLIC KEY-----" PEM of the public key.
  virtual std::string PublicKeyPem() const = 0;
};

class CheckpointVerifyKey {
 public:
  // InvalidArgument when `pem` is not one PEM SubjectPublicKeyInfo of a P-256 key.
  static absl::StatusOr<CheckpointVerifyKey> FromPem(absl::string_view pem);
  // From an uncompressed SEC1 point (0x04 || X || Y) on P-256.
  static absl::StatusOr<CheckpointVerifyKey> FromPoint(std::span<const uint8_t> point);

  const std::string& key_id() const { return key_id_; }
  // The canonical PEM encoding (what KeyId() and exports use).
  const std::string& pem() const { return pem_; }
  // OK when `der_signature` is a valid signature of `msg` by this key;
  // InvalidArgument otherwise.
  absl::Status Verify(std::span<const uint8_t> msg,
                      std::span<const uint8_t> der_signature) const;

 private:
  CheckpointVerifyKey(std::shared_ptr<EVP_PKEY> key, std::string key_id, std::string pem)
      : key_(std::move(key)), key_id_(std::move(key_id)), pem_(std::move(pem)) {}
  static absl::StatusOr<CheckpointVerifyKey> FromKey(EVP_PKEY* key);  // takes ownership

  std::shared_ptr<EVP_PKEY> key_;
  std::string key_id_;
  std::string pem_;
};

}  // namespace strongroom::kms

#endif  // STRONGROOM_KMS_AUDIT_CHECKPOINT_SIGNER_H_
