// Internal to kms/hpke: HKDF (RFC 5869) over OpenSSL's HMAC, and RFC 9180's
// LabeledExtract / LabeledExpand (Section 4).
//
// Inputs are taken as lists of spans and fed to HMAC piece by piece, so the
// labeled inputs ("HPKE-v1" || suite_id || label || ikm) are never
// concatenated into a buffer that would hold a secret. Outputs are
// SecretBytes.
//
// An Hkdf object has static lifetime (Hkdf::Get) and holds a fetched HMAC
// context with the digest already set; each call duplicates it, so no name
// lookup happens per call. Thread-safe: calls only read the shared object.
//
// Errors: InvalidArgument when the requested length exceeds 255 * Nh (naming
// `field`), Internal when OpenSSL fails (naming the call).
#ifndef STRONGROOM_KMS_HPKE_HKDF_H_
#define STRONGROOM_KMS_HPKE_HKDF_H_

#include <openssl/types.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/secret_bytes.h"
#include "kms/hpke/suite.h"

namespace strongroom::kms::hpke::internal {

using ByteSpans = std::initializer_list<std::span<const uint8_t>>;

class Hkdf {
 public:
  // The HKDF for `kdf`, built on first use; Unavailable when OpenSSL lacks
  // the digest, InvalidArgument for an unknown id.
  static absl::StatusOr<const Hkdf*> Get(Kdf kdf);

  Hkdf(const Hkdf&) = delete;
  Hkdf& operator=(const Hkdf&) = delete;

  size_t hash_size() const { return hash_size_; }

  // PRK = HMAC(salt, ikm[0] || ikm[1] || ...). An empty salt means Nh zero
  // bytes (RFC 5869 2.2).
  absl::StatusOr<SecretBytes> Extract(std::span<const uint8_t> salt, ByteSpans ikm) const;
  // OKM of `length` bytes, info = info[0] || info[1] || ...;
  // length <= 255 * Nh.
  absl::StatusOr<SecretBytes> Expand(std::span<const uint8_t> prk, ByteSpans info, size_t length,
                                     absl::string_view field = "length") const;

 private:
  Hkdf(EVP_MAC_CTX* hmac, size_t hash_size) : hmac_(hmac), hash_size_(hash_size) {}

  EVP_MAC_CTX* hmac_;  // digest set, no key; never freed (static lifetime)
  size_t hash_size_;
};

// RFC 9180 Section 4, with suite_id the 5-byte KEM id ("KEM" || kem_id) or
// the 10-byte HPKE id ("HPKE" || kem_id || kdf_id || aead_id).
absl::StatusOr<SecretBytes> LabeledExtract(const Hkdf& kdf, std::span<const uint8_t> suite_id,
                                           std::span<const uint8_t> salt, absl::string_view label,
                                           std::span<const uint8_t> ikm);
absl::StatusOr<SecretBytes> LabeledExpand(const Hkdf& kdf, std::span<const uint8_t> suite_id,
                                          std::span<const uint8_t> prk, absl::string_view label,
                                          std::span<const uint8_t> info, size_t length,
                                          absl::string_view field = "length");

}  // namespace strongroom::kms::hpke::internal

#endif  // STRONGROOM_KMS_HPKE_HKDF_H_
