// Checkpoint signers for tests: a software P-256 key (OpenSSL) and a wrapper
// that forwards to another signer and fails or corrupts on demand.
#ifndef STRONGROOM_TESTS_KMS_AUDIT_SOFTWARE_SIGNER_H_
#define STRONGROOM_TESTS_KMS_AUDIT_SOFTWARE_SIGNER_H_

#include <atomic>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "kms/audit/checkpoint_signer.h"

namespace strongroom::kms::testing {

// A P-256 key generated in process memory. Tests only: production signs with
// HsmCheckpointSigner. Thread-safe.
class SoftwareCheckpointSigner final : public CheckpointSigner {
 public:
  static absl::StatusOr<std::unique_ptr<SoftwareCheckpointSigner>> Generate();
  ~SoftwareCheckpointSigner() override;

  absl::StatusOr<Bytes> Sign(std::span<const uint8_t> msg) override;
  std::string KeyId() const override { return key_id_; }
  std::string PublicKeyPem() const override { return pem_; }
  int signatures() const { return signatures_.load(); }

 private:
  SoftwareCheckpointSigner(EVP_PKEY* key, std::string key_id, std::string pem)
      : key_(key), key_id_(std::move(key_id)), pem_(std::move(pem)) {}
  EVP_PKEY* key_;
  std::string key_id_;
  std::string pem_;
  std::atomic<int> signatures_{0};
};

// Forwards to `inner`; while fail() is set Sign returns Unavailable, while
// corrupt() is set it returns a signature with one bit flipped.
class FaultySigner final : public CheckpointSigner {
 public:
  explicit FaultySigner(CheckpointSigner& inner) : inner_(inner) {}
  absl::StatusOr<Bytes> Sign(std::span<const uint8_t> msg) override;
  std::string KeyId() const override { return inner_.KeyId(); }
  std::string PublicKeyPem() const override { return inner_.PublicKeyPem(); }
  void set_fail(bool v) { fail_ = v; }
  void set_corrupt(bool v) { corrupt_ = v; }

 private:
  CheckpointSigner& inner_;
  std::atomic<bool> fail_{false};
  std::atomic<bool> corrupt_{false};
};

}  // namespace strongroom::kms::testing

#endif  // STRONGROOM_TESTS_KMS_AUDIT_SOFTWARE_SIGNER_H_
