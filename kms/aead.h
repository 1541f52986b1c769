// AES-256-GCM in process (OpenSSL), for key versions whose material is held
// unwrapped in protected memory. 96-bit IV, 128-bit tag, output ct || tag.
// Open returns InvalidArgument when the tag does not authenticate.
#ifndef STRONGROOM_KMS_AEAD_H_
#define STRONGROOM_KMS_AEAD_H_

#include <span>

#include "absl/status/statusor.h"
#include "base/bytes.h"
#include "base/secret_bytes.h"

namespace strongroom::kms {

absl::StatusOr<Bytes> AesGcmSeal(const SecretBytes& key, std::span<const uint8_t> iv,
                                 std::span<const uint8_t> aad,
                                 std::span<const uint8_t> plaintext);
absl::StatusOr<SecretBytes> AesGcmOpen(const SecretBytes& key, std::span<const uint8_t> iv,
                                       std::span<const uint8_t> aad,
                                       std::span<const uint8_t> sealed);

}  // namespace strongroom::kms

#endif  // STRONGROOM_KMS_AEAD_H_
