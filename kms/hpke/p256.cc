#include "kms/hpke/p256.h"

#include <openssl/bn.h>
#include <openssl/obj_mac.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "kms/hpke/suite.h"

namespace strongroom::kms::hpke::internal {

const EC_GROUP* P256Group() {
  static const EC_GROUP* group = [] {
    // Before the first BN_secure_new of a scalar (see InitSecureHeap).
    InitSecureHeap();
    return EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
  }();
  return group;
}

absl::Status CheckP256Encoding(std::span<const uint8_t> bytes, absl::string_view field) {
  if (bytes.size() != kP256PointSize) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": expected ", kP256PointSize, " bytes for ",
                     KemName(Kem::kDhkemP256HkdfSha256), ", got ", bytes.size()));
  }
  if (bytes[0] != 0x04) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: P-256 point must be uncompressed (first byte 0x04), got 0x%02x", field, bytes[0]));
  }
  return absl::OkStatus();
}

absl::StatusOr<OsslPtr<EC_POINT>> DecodeP256Point(std::span<const uint8_t> bytes,
                                                  absl::string_view field) {
  if (absl::Status s = CheckP256Encoding(bytes, field); !s.ok()) return s;
  const EC_GROUP* group = P256Group();
  if (group == nullptr) return OpenSslInternalError("EC_GROUP_new_by_curve_name");
  OsslPtr<EC_POINT> point(EC_POINT_new(group));
  if (!point) return OpenSslInternalError("EC_POINT_new");
  if (EC_POINT_oct2point(group, point.get(), bytes.data(), bytes.size(), nullptr) != 1) {
    ClearOpenSslErrors();
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": not a point on P-256 (or a coordinate is not below p)"));
  }
  return point;
}

OsslPtr<BIGNUM> P256Scalar(std::span<const uint8_t> bytes, bool* internal) {
  *internal = false;
  const EC_GROUP* group = P256Group();
  OsslPtr<BIGNUM> k(group != nullptr ? BN_secure_new() : nullptr);
  if (!k || BN_bin2bn(bytes.data(), static_cast<int>(bytes.size()), k.get()) == nullptr) {
    *internal = true;
    return nullptr;
  }
  BN_set_flags(k.get(), BN_FLG_CONSTTIME);
  if (BN_is_zero(k.get()) || BN_cmp(k.get(), EC_GROUP_get0_order(group)) >= 0) {
    return nullptr;
  }
  return k;
}

absl::StatusOr<SecretBytes> P256Dh(const BIGNUM* k, std::span<const uint8_t> point,
                                   absl::string_view field) {
  absl::StatusOr<OsslPtr<EC_POINT>> peer = DecodeP256Point(point, field);
  if (!peer.ok()) return peer.status();
  // Keys are checked when they are made; this is not caller input.
  if (k == nullptr) return absl::InternalError("hpke: P-256 private key without its scalar");
  const EC_GROUP* group = P256Group();
  OsslPtr<BN_CTX> ctx(BN_CTX_secure_new());
  OsslPtr<EC_POINT> shared(EC_POINT_new(group));
  OsslPtr<BIGNUM> x(BN_secure_new());
  if (!ctx || !shared || !x ||
      EC_POINT_mul(group, shared.get(), nullptr, peer->get(), k, ctx.get()) != 1) {
    return OpenSslInternalError("EC_POINT_mul");
  }
  // A valid peer point times a scalar in [1, n-1] is never the point at
  // infinity on a prime-order curve; checked all the same.
  if (EC_POINT_is_at_infinity(group, shared.get()) == 1) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": DH result is the point at infinity"));
  }
  SecretBytes out(kP256ScalarSize);
  if (EC_POINT_get_affine_coordinates(group, shared.get(), x.get(), nullptr, ctx.get()) != 1 ||
      BN_bn2binpad(x.get(), out.RevealMutable().data(), static_cast<int>(out.size())) !=
          static_cast<int>(out.size())) {
    return OpenSslInternalError("EC_POINT_get_affine_coordinates");
  }
  return out;
}

absl::StatusOr<Bytes> P256PublicPoint(const BIGNUM* k, BN_CTX* ctx) {
  const EC_GROUP* group = P256Group();
  OsslPtr<EC_POINT> point(EC_POINT_new(group));
  Bytes out(kP256PointSize);
  if (!point || EC_POINT_mul(group, point.get(), k, nullptr, nullptr, ctx) != 1 ||
      EC_POINT_point2oct(group, point.get(), POINT_CONVERSION_UNCOMPRESSED, out.data(), out.size(),
                         ctx) != kP256PointSize) {
    return OpenSslInternalError("EC_POINT_mul");
  }
  return out;
}

absl::StatusOr<P256Generated> P256Generate() {
  const EC_GROUP* group = P256Group();
  if (group == nullptr) return OpenSslInternalError("EC_GROUP_new_by_curve_name");
  OsslPtr<BN_CTX> ctx(BN_CTX_secure_new());
  OsslPtr<BIGNUM> k(BN_secure_new());
  if (!ctx || !k) return OpenSslInternalError("BN_secure_new");
  // Uniform in [0, n), zero redrawn: uniform in [1, n-1], as EC key
  // generation draws it.
  do {
    if (BN_priv_rand_range_ex(k.get(), EC_GROUP_get0_order(group), 0, ctx.get()) != 1) {
      return OpenSslInternalError("BN_priv_rand_range_ex");
    }
  } while (BN_is_zero(k.get()));
  BN_set_flags(k.get(), BN_FLG_CONSTTIME);
  absl::StatusOr<Bytes> point = P256PublicPoint(k.get(), ctx.get());
  if (!point.ok()) return point.status();
  P256Generated out{SecretBytes(kP256ScalarSize), nullptr, *std::move(point)};
  if (BN_bn2binpad(k.get(), out.scalar.RevealMutable().data(), kP256ScalarSize) !=
      static_cast<int>(kP256ScalarSize)) {
    return OpenSslInternalError("BN_bn2binpad");
  }
  out.k = std::move(k);
  return out;
}

}  // namespace strongroom::kms::hpke::internal
