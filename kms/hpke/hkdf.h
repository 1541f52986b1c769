// Internal to kms/hpke: HKDF (RFC 5869) over OpenSSL's HMAC, and RFC 9180's
// LabeledExtract / LabeledExpand (Section 4).
//
// Inputs are taken as lists of spans and fed to HMAC piece by piece, so the
// labeled inputs ("HPKE-v1" || suite_id || label || ikm) are never
// concatenated into a buffer that would hold a secret. Outputs are
// SecretBytes.
//
// An Hkdf object has static lifetime (Hkdf::Get) and holds two HMAC
// templates fetched once: one with the digest set and no key, one already
// keyed with the all-zero salt (RFC 9180's extracts with an empty salt:
// dkp_prk, eae_prk, psk_id_hash, info_hash). Each call duplicates a
// template, so no name lookup and, for an empty salt, no HMAC key setup
// happens per call; within one Expand the keyed context is re-initialized
// per block rather than duplicated. Thread-safe: calls only read the shared
// templates.
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
  Hkdf(EVP_MAC_CTX* hmac, EVP_MAC_CTX* hmac_zero_salt, size_t hash_size)
      : hmac_(hmac), hmac_zero_salt_(hmac_zero_salt), hash_size_(hash_size) {}

  // Both never freed (static lifetime), only duplicated.
  EVP_MAC_CTX* hmac_;            // digest set, no key
  EVP_MAC_CTX* hmac_zero_salt_;  // keyed with hash_size_ zero bytes
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
