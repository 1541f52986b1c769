// Raw (RFC 9180) key encodings, key derivation and generation. The
// SPKI / PKCS#8 / PEM containers are in key_encoding.cc.
#include "kms/hpke/keys.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "kms/hpke/dhkem.h"
#include "kms/hpke/hkdf.h"
#include "kms/hpke/openssl_util.h"

namespace strongroom::kms::hpke {

struct PrivateKey::Rep {
  Kem kem;
  SecretBytes serialized;
  std::shared_ptr<EVP_PKEY> pkey;
  PublicKey public_key;
};

namespace {

using internal::OsslPtr;

constexpr size_t kP256PointSize = 65;
constexpr size_t kScalarSize = 32;

std::shared_ptr<EVP_PKEY> Share(EVP_PKEY* pkey) {
  return std::shared_ptr<EVP_PKEY>(pkey, EVP_PKEY_free);
}

absl::Status WrongLength(absl::string_view field, Kem kem, size_t want, size_t got) {
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": expected ", want, " bytes for ", KemName(kem), ", got ", got));
}

absl::Status CheckKnownKem(Kem kem, absl::string_view field) {
  if (KemPrivateKeySize(kem) != 0) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", KemName(kem)));
}

// The P-256 group; built once and only read afterwards.
const EC_GROUP* P256() {
  static const EC_GROUP* group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
  return group;
}

// An EVP_PKEY of type EC on P-256 from an uncompressed point and, when
// `scalar` is set, the private scalar. nullptr (errors queued) on failure.
EVP_PKEY* P256FromData(std::span<const uint8_t> point, const BIGNUM* scalar) {
  OsslPtr<OSSL_PARAM_BLD> bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, SN_X9_62_prime256v1,
                                      0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1 ||
      (scalar != nullptr &&
       OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, scalar) != 1)) {
    return nullptr;
  }
  OsslPtr<OSSL_PARAM> params(OSSL_PARAM_BLD_to_param(bld.get()));
  OsslPtr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* pkey = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &pkey,
                        scalar != nullptr ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY,
                        params.get()) != 1) {
    return nullptr;
  }
  return pkey;
}

// The scalar as a constant-time, secure-heap BIGNUM when it is in [1, n-1];
// nullptr otherwise (or on allocation failure, with *internal set).
OsslPtr<BIGNUM> P256Scalar(std::span<const uint8_t> bytes, bool* internal) {
  *internal = false;
  OsslPtr<BIGNUM> k(BN_secure_new());
  if (!k || BN_bin2bn(bytes.data(), static_cast<int>(bytes.size()), k.get()) == nullptr) {
    *internal = true;
    return nullptr;
  }
  BN_set_flags(k.get(), BN_FLG_CONSTTIME);
  if (BN_is_zero(k.get()) || BN_cmp(k.get(), EC_GROUP_get0_order(P256())) >= 0) {
    return nullptr;
  }
  return k;
}

// The validated OpenSSL key for a public key of the right length.
absl::StatusOr<std::shared_ptr<EVP_PKEY>> ParsePublic(Kem kem, std::span<const uint8_t> bytes,
                                                      absl::string_view field) {
  if (kem == Kem::kDhkemX25519HkdfSha256) {
    EVP_PKEY* pkey =
        EVP_PKEY_new_raw_public_key_ex(nullptr, "X25519", nullptr, bytes.data(), bytes.size());
    if (pkey == nullptr) return internal::OpenSslInternalError("EVP_PKEY_new_raw_public_key_ex");
    return Share(pkey);
  }
  if (bytes[0] != 0x04) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: P-256 point must be uncompressed (first byte 0x04), got 0x%02x", field, bytes[0]));
  }
  EVP_PKEY* pkey = P256FromData(bytes, nullptr);
  if (pkey == nullptr) {
    internal::ClearOpenSslErrors();
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": not a point on P-256 (or a coordinate is not below p)"));
  }
  auto shared = Share(pkey);
  OsslPtr<EVP_PKEY_CTX> check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
  if (!check || EVP_PKEY_public_check_quick(check.get()) != 1) {
    internal::ClearOpenSslErrors();
    return absl::InvalidArgumentError(absl::StrCat(field, ": invalid P-256 public key"));
  }
  return shared;
}

}  // namespace

absl::StatusOr<PublicKey> PublicKey::Create(Kem kem, std::span<const uint8_t> serialized,
                                            absl::string_view field) {
  if (absl::Status s = CheckKnownKem(kem, field); !s.ok()) return s;
  if (serialized.size() != KemPublicKeySize(kem)) {
    return WrongLength(field, kem, KemPublicKeySize(kem), serialized.size());
  }
  auto pkey = ParsePublic(kem, serialized, field);
  if (!pkey.ok()) return pkey.status();
  return PublicKey(kem, Bytes(serialized.begin(), serialized.end()), *std::move(pkey));
}

absl::StatusOr<PrivateKey> PrivateKey::Create(Kem kem, const SecretBytes& serialized) {
  constexpr absl::string_view kField = "private_key";
  if (absl::Status s = CheckKnownKem(kem, kField); !s.ok()) return s;
  if (serialized.size() != kScalarSize) {
    return WrongLength(kField, kem, kScalarSize, serialized.size());
  }
  EVP_PKEY* raw = nullptr;
  Bytes public_bytes;
  if (kem == Kem::kDhkemX25519HkdfSha256) {
    raw = EVP_PKEY_new_raw_private_key_ex(nullptr, "X25519", nullptr, serialized.Reveal().data(),
                                          serialized.size());
    if (raw == nullptr) return internal::OpenSslInternalError("EVP_PKEY_new_raw_private_key_ex");
    public_bytes.resize(32);
    size_t len = public_bytes.size();
    if (EVP_PKEY_get_raw_public_key(raw, public_bytes.data(), &len) != 1 || len != 32) {
      EVP_PKEY_free(raw);
      return internal::OpenSslInternalError("EVP_PKEY_get_raw_public_key");
    }
  } else {
    bool internal_error = false;
    OsslPtr<BIGNUM> k = P256Scalar(serialized.Reveal(), &internal_error);
    if (internal_error) return internal::OpenSslInternalError("BN_bin2bn");
    if (!k) {
      return absl::InvalidArgumentError(absl::StrCat(kField, ": P-256 scalar is not in [1, n-1]"));
    }
    OsslPtr<BN_CTX> bn_ctx(BN_CTX_secure_new());
    OsslPtr<EC_POINT> point(EC_POINT_new(P256()));
    public_bytes.resize(kP256PointSize);
    if (!bn_ctx || !point ||
        EC_POINT_mul(P256(), point.get(), k.get(), nullptr, nullptr, bn_ctx.get()) != 1 ||
        EC_POINT_point2oct(P256(), point.get(), POINT_CONVERSION_UNCOMPRESSED, public_bytes.data(),
                           public_bytes.size(), bn_ctx.get()) != kP256PointSize) {
      return internal::OpenSslInternalError("EC_POINT_mul");
    }
    raw = P256FromData(public_bytes, k.get());
    if (raw == nullptr) return internal::OpenSslInternalError("EVP_PKEY_fromdata");
  }
  auto pkey = Share(raw);
  auto public_key = PublicKey::Create(kem, public_bytes, "public_key");
  if (!public_key.ok()) return public_key.status();
  return PrivateKey(std::make_shared<const Rep>(
      Rep{kem, serialized.Clone(), std::move(pkey), *std::move(public_key)}));
}

Kem PrivateKey::kem() const { return rep_->kem; }
const PublicKey& PrivateKey::public_key() const { return rep_->public_key; }
SecretBytes PrivateKey::Serialize() const { return rep_->serialized.Clone(); }
EVP_PKEY* PrivateKey::evp_pkey() const { return rep_->pkey.get(); }

absl::StatusOr<KeyPair> DeriveKeyPair(Kem kem, const SecretBytes& ikm) {
  if (absl::Status s = CheckKnownKem(kem, "kem"); !s.ok()) return s;
  if (ikm.size() < KemPrivateKeySize(kem)) {
    return absl::InvalidArgumentError(
        absl::StrCat("ikm: ", ikm.size(),
                     " bytes, DeriveKeyPair needs at least Nsk = ", KemPrivateKeySize(kem)));
  }
  auto hkdf = internal::Hkdf::Get(Kdf::kHkdfSha256);
  if (!hkdf.ok()) return hkdf.status();
  const std::array<uint8_t, 5> suite_id = internal::KemSuiteId(kem);
  auto dkp_prk = internal::LabeledExtract(**hkdf, suite_id, {}, "dkp_prk", ikm.Reveal());
  if (!dkp_prk.ok()) return dkp_prk.status();

  absl::StatusOr<SecretBytes> sk;
  if (kem == Kem::kDhkemX25519HkdfSha256) {
    sk = internal::LabeledExpand(**hkdf, suite_id, dkp_prk->Reveal(), "sk", {}, kScalarSize);
    if (!sk.ok()) return sk.status();
  } else {
    // Rejection sampling over candidates (bitmask 0xff for P-256).
    for (int counter = 0;; ++counter) {
      if (counter > 255) {
        return absl::InternalError("hpke: DeriveKeyPair found no P-256 scalar in 256 tries");
      }
      const uint8_t counter_byte[1] = {static_cast<uint8_t>(counter)};
      sk = internal::LabeledExpand(**hkdf, suite_id, dkp_prk->Reveal(), "candidate", counter_byte,
                                   kScalarSize);
      if (!sk.ok()) return sk.status();
      bool internal_error = false;
      if (P256Scalar(sk->Reveal(), &internal_error)) break;
      if (internal_error) return internal::OpenSslInternalError("BN_bin2bn");
    }
  }
  auto private_key = PrivateKey::Create(kem, *sk);
  if (!private_key.ok()) return private_key.status();
  PublicKey public_key = private_key->public_key();
  return KeyPair{*std::move(private_key), std::move(public_key)};
}

absl::StatusOr<KeyPair> GenerateKeyPair(Kem kem) {
  if (absl::Status s = CheckKnownKem(kem, "kem"); !s.ok()) return s;
  return DeriveKeyPair(kem, SecretBytes::Random(KemPrivateKeySize(kem)));
}

}  // namespace strongroom::kms::hpke
