// Internal to kms/hpke: the AEADs of RFC 9180 (AES-128-GCM, AES-256-GCM,
// ChaCha20-Poly1305) over OpenSSL's EVP_CIPHER, 12-byte nonces, 16-byte tags,
// output ciphertext || tag.
//
// AeadAlgorithm has static lifetime (AeadAlgorithm::Get) and holds the
// fetched cipher. AeadCipher holds one EVP_CIPHER_CTX with the key schedule
// already expanded; Seal/Open only set the nonce, so an HPKE context pays
// for key setup once, not per message. OpenSSL wipes the expanded key when
// the context is freed.
//
// Thread-safety: AeadAlgorithm is immutable and thread-safe. AeadCipher is
// thread-compatible (Seal/Open mutate the cipher context).
//
// Errors: InvalidArgument for a wrong key or nonce size (naming the field),
// for a ciphertext shorter than the tag, and, with the fixed message
// kAeadOpenFailure, for a tag that does not verify.
#ifndef STRONGROOM_KMS_HPKE_AEAD_CIPHER_H_
#define STRONGROOM_KMS_HPKE_AEAD_CIPHER_H_

#include <openssl/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "absl/status/statusor.h"
#include "base/bytes.h"
#include "base/secret_bytes.h"
#include "kms/hpke/openssl_util.h"
#include "kms/hpke/suite.h"

namespace strongroom::kms::hpke::internal {

// The one message for every authentication failure, whatever the cause
// (wrong key, nonce, aad or a modified ciphertext or tag).
inline constexpr char kAeadOpenFailure[] = "hpke: ciphertext does not authenticate";

class AeadAlgorithm {
 public:
  // InvalidArgument for kExportOnly or an unknown id; Unavailable when
  // OpenSSL lacks the cipher.
  static absl::StatusOr<const AeadAlgorithm*> Get(Aead aead);

  AeadAlgorithm(const AeadAlgorithm&) = delete;
  AeadAlgorithm& operator=(const AeadAlgorithm&) = delete;

  Aead id() const { return id_; }
  size_t key_size() const { return key_size_; }
  size_t nonce_size() const { return 12; }
  size_t tag_size() const { return 16; }
  const EVP_CIPHER* cipher() const { return cipher_; }

 private:
  AeadAlgorithm(Aead id, const EVP_CIPHER* cipher, size_t key_size)
      : id_(id), cipher_(cipher), key_size_(key_size) {}

  Aead id_;
  const EVP_CIPHER* cipher_;  // fetched once, never freed
  size_t key_size_;
};

class AeadCipher {
 public:
  static absl::StatusOr<AeadCipher> Create(const AeadAlgorithm& algorithm,
                                           std::span<const uint8_t> key);

  AeadCipher(AeadCipher&&) = default;
  AeadCipher& operator=(AeadCipher&&) = default;

  const AeadAlgorithm& algorithm() const { return *algorithm_; }

  absl::StatusOr<Bytes> Seal(std::span<const uint8_t> nonce, std::span<const uint8_t> aad,
                             std::span<const uint8_t> plaintext);
  absl::StatusOr<SecretBytes> Open(std::span<const uint8_t> nonce, std::span<const uint8_t> aad,
                                   std::span<const uint8_t> ciphertext);

 private:
  AeadCipher(const AeadAlgorithm* algorithm, OsslPtr<EVP_CIPHER_CTX> ctx)
      : algorithm_(algorithm), ctx_(std::move(ctx)) {}

  const AeadAlgorithm* algorithm_;
  OsslPtr<EVP_CIPHER_CTX> ctx_;
};

}  // namespace strongroom::kms::hpke::internal

#endif  // STRONGROOM_KMS_HPKE_AEAD_CIPHER_H_
