// HKDF (RFC 5869) over SHA-1, SHA-256 or SHA-512, built on HMAC.
//
// Written on EVP_MAC rather than OpenSSL's HKDF KDF because OpenSSL 3.0 caps
// the info string at 1-2 KiB, and the streaming AEAD passes the caller's
// associated data (any length) as info.
//
// Returns InvalidArgument when `length` exceeds 255 hash blocks, Internal
// when OpenSSL fails. Stateless; thread-safe.
#ifndef STRONGROOM_STORAGE_STREAMING_HKDF_H_
#define STRONGROOM_STORAGE_STREAMING_HKDF_H_

#include <cstddef>
#include <cstdint>
#include <span>

#include "absl/status/statusor.h"
#include "base/secret_bytes.h"
#include "storage/streaming/streaming_aead_params.h"

namespace strongroom::storage {

absl::StatusOr<SecretBytes> Hkdf(HkdfHash hash, std::span<const uint8_t> ikm,
                                 std::span<const uint8_t> salt,
                                 std::span<const uint8_t> info, size_t length);

}  // namespace strongroom::storage

#endif  // STRONGROOM_STORAGE_STREAMING_HKDF_H_
