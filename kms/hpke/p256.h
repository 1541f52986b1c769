// Internal to kms/hpke: DHKEM(P-256)'s arithmetic on OpenSSL's EC_POINT
// level. A DH or a key generation through EVP builds key objects (and a
// derive context) for each call, which costs about as much again as the
// scalar multiplication for a point that is used once (an `enc`, an
// ephemeral key); this is the multiplication OpenSSL's own ECDH and EC key
// generation do, without the objects: the scalar is a constant-time,
// secure-heap BIGNUM and EC_POINT_mul takes OpenSSL's constant-time path for
// P-256 (the same as EVP_PKEY_derive and EVP_PKEY_keygen).
#ifndef STRONGROOM_KMS_HPKE_P256_H_
#define STRONGROOM_KMS_HPKE_P256_H_

#include <openssl/ec.h>

#include <cstddef>
#include <span>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/bytes.h"
#include "base/secret_bytes.h"
#include "kms/hpke/openssl_util.h"

namespace strongroom::kms::hpke::internal {

inline constexpr size_t kP256PointSize = 65;   // uncompressed SEC1
inline constexpr size_t kP256ScalarSize = 32;

// The P-256 group; built once and only read afterwards (nullptr if OpenSSL
// could not build it). Its first call also sets up the secure heap
// (InitSecureHeap) that the scalars below are allocated from.
const EC_GROUP* P256Group();

// `bytes` as a P-256 public key encoding: 65 bytes starting 0x04 (the checks
// before the point itself; InvalidArgument naming `field` otherwise).
absl::Status CheckP256Encoding(std::span<const uint8_t> bytes, absl::string_view field);

// The point an encoding names, checked: InvalidArgument naming `field` for a
// wrong length or form, a coordinate not below p, or a point off the curve
// (EC_POINT_oct2point refuses the last two).
absl::StatusOr<OsslPtr<EC_POINT>> DecodeP256Point(std::span<const uint8_t> bytes,
                                                  absl::string_view field);

// The scalar as a constant-time, secure-heap BIGNUM when it is in [1, n-1];
// nullptr otherwise (or on allocation failure or without the group, with
// *internal set). A private key parses its scalar once (PrivateKey keeps
// it): BN_bin2bn and the range check are not constant time, so each parse is
// a timing sample, however faint, of the scalar.
OsslPtr<BIGNUM> P256Scalar(std::span<const uint8_t> bytes, bool* internal);

// DH(sk, pk) of DHKEM(P-256): the x-coordinate of k * point (k from
// P256Scalar, only read), with the point given by its encoding (checked as
// DecodeP256Point does).
absl::StatusOr<SecretBytes> P256Dh(const BIGNUM* k, std::span<const uint8_t> point,
                                   absl::string_view field);

// The encoded public point k * G of a scalar (P256Scalar's).
absl::StatusOr<Bytes> P256PublicPoint(const BIGNUM* k, BN_CTX* ctx);

// A fresh key pair: a uniform scalar in [1, n-1] (serialized, and as
// P256Scalar would give it) and its point, encoded.
struct P256Generated {
  SecretBytes scalar;
  OsslPtr<BIGNUM> k;
  Bytes point;
};
absl::StatusOr<P256Generated> P256Generate();

}  // namespace strongroom::kms::hpke::internal

#endif  // STRONGROOM_KMS_HPKE_P256_H_
