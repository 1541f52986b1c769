// Conversion between PKCS#11's raw ECDSA signatures (r || s, each the curve's
// field size) and the DER encoding (SEQUENCE { INTEGER r, INTEGER s }) used by
// X.509, JWS-over-DER consumers and OpenSSL.
//
// DerToRaw is strict: it rejects BER variants (long-form lengths where short
// would do, leading zeros, negative integers, trailing bytes) and integers
// wider than the field, each with InvalidArgument naming the defect.
#ifndef STRONGROOM_KMS_PKCS11_ECDSA_DER_H_
#define STRONGROOM_KMS_PKCS11_ECDSA_DER_H_

#include <span>

#include "absl/status/statusor.h"
#include "base/bytes.h"

namespace strongroom::kms::pkcs11 {

absl::StatusOr<Bytes> EcdsaRawToDer(std::span<const uint8_t> raw);
absl::StatusOr<Bytes> EcdsaDerToRaw(std::span<const uint8_t> der, size_t field_bytes);

}  // namespace strongroom::kms::pkcs11

#endif  // STRONGROOM_KMS_PKCS11_ECDSA_DER_H_
