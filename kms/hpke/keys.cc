// Raw (RFC 9180) key encodings, key derivation and generation. The
// SPKI / PKCS#8 / PEM containers are in key_encoding.cc.
#include "kms/hpke/keys.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>

#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "kms/hpke/dhkem.h"
#include "kms/hpke/hkdf.h"
#include "kms/hpke/openssl_util.h"
#include "kms/hpke/p256.h"

namespace strongroom::kms::hpke {

// An OpenSSL key object built on first use, under a mutex, and tried again
// on the next use if OpenSSL could not build it (PublicKey::Lazy,
// PrivateKey::Rep::Lazy).
struct LazyEvpPkey {
  std::mutex mu;
  std::shared_ptr<EVP_PKEY> pkey;

  // `build` returns a new key or nullptr (errors queued, cleared here:
  // callers report the missing key).
  template <typename Build>
  EVP_PKEY* Get(Build build) {
    std::lock_guard<std::mutex> lock(mu);
    if (pkey == nullptr) {
      EVP_PKEY* raw = build();
      if (raw == nullptr) {
        internal::ClearOpenSslErrors();
        return nullptr;
      }
      pkey = std::shared_ptr<EVP_PKEY>(raw, EVP_PKEY_free);
    }
    return pkey.get();
  }
};

struct PrivateKey::Rep {
  Kem kem;
  SecretBytes serialized;
  std::shared_ptr<EVP_PKEY> pkey;  // null for generated P-256 keys until first asked for
  PublicKey public_key;
  // P-256: the scalar, parsed once (internal::P256Scalar), for the DHs.
  internal::OsslPtr<BIGNUM> scalar;
  // For a key made without an OpenSSL object (DH does not need one:
  // internal::P256Dh; only the encodings do).
  using Lazy = LazyEvpPkey;
  std::unique_ptr<Lazy> lazy;  // set when `pkey` is null
};

namespace {

using internal::OsslPtr;

using internal::P256Scalar;
constexpr size_t kScalarSize = internal::kP256ScalarSize;  // X25519's too

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

// A parameters-only EC key on P-256, built once and only read afterwards
// (EVP_PKEY_dup of it gives a key with the group already set).
EVP_PKEY* P256Template() {
  static EVP_PKEY* const tmpl = []() -> EVP_PKEY* {
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                         const_cast<char*>(SN_X9_62_prime256v1), 0),
        OSSL_PARAM_construct_end()};
    OsslPtr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
    EVP_PKEY* pkey = nullptr;
    if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
        EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_KEY_PARAMETERS, params) != 1) {
      internal::ClearOpenSslErrors();
      return nullptr;
    }
    return pkey;  // static lifetime, never freed
  }();
  return tmpl;
}

// A public EC key on P-256 from an uncompressed point: a copy of the
// template given the point. Costs about a third of EVP_PKEY_fromdata, which
// builds the group anew for every key. The point is decoded by
// EC_POINT_oct2point, which refuses coordinates not below p and points not
// on the curve (the checks EVP_PKEY_public_check_quick would repeat; the
// point at infinity has no 65-byte encoding). nullptr (errors queued) on
// failure.
EVP_PKEY* P256PublicFromPoint(std::span<const uint8_t> point) {
  EVP_PKEY* tmpl = P256Template();
  if (tmpl == nullptr) return nullptr;
  EVP_PKEY* pkey = EVP_PKEY_dup(tmpl);
  if (pkey == nullptr || EVP_PKEY_set1_encoded_public_key(pkey, point.data(), point.size()) != 1) {
    EVP_PKEY_free(pkey);
    return nullptr;
  }
  return pkey;
}

// An EC key pair on P-256 from an uncompressed point and the private
// scalar: imports and DeriveKeyPair at once, generated keys when an encoding
// first asks for their OpenSSL object (PrivateKey::evp_pkey). nullptr (errors
// queued) on failure.
EVP_PKEY* P256KeyPairFromData(std::span<const uint8_t> point, const BIGNUM* scalar) {
  OsslPtr<OSSL_PARAM_BLD> bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, SN_X9_62_prime256v1,
                                      0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, scalar) != 1) {
    return nullptr;
  }
  OsslPtr<OSSL_PARAM> params(OSSL_PARAM_BLD_to_param(bld.get()));
  OsslPtr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* pkey = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_KEYPAIR, params.get()) != 1) {
    return nullptr;
  }
  return pkey;
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
  if (absl::Status s = internal::CheckP256Encoding(bytes, field); !s.ok()) return s;
  if (P256Template() == nullptr) return internal::OpenSslInternalError("EVP_PKEY_fromdata");
  EVP_PKEY* pkey = P256PublicFromPoint(bytes);
  if (pkey == nullptr) {
    internal::ClearOpenSslErrors();
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": not a point on P-256 (or a coordinate is not below p)"));
  }
  return Share(pkey);
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

struct PublicKey::Lazy : LazyEvpPkey {};

PublicKey PublicKey::FromOwnKeyPair(Kem kem, Bytes serialized) {
  PublicKey key(kem, std::move(serialized), nullptr);
  key.lazy_ = std::make_shared<Lazy>();
  return key;
}

EVP_PKEY* PublicKey::evp_pkey() const {
  if (lazy_ == nullptr) return pkey_.get();
  return lazy_->Get([this] {
    return kem_ == Kem::kDhkemX25519HkdfSha256
               ? EVP_PKEY_new_raw_public_key_ex(nullptr, "X25519", nullptr, serialized_.data(),
                                                serialized_.size())
               : P256PublicFromPoint(serialized_);
  });
}

absl::StatusOr<PrivateKey> PrivateKey::Create(Kem kem, const SecretBytes& serialized) {
  constexpr absl::string_view kField = "private_key";
  if (absl::Status s = CheckKnownKem(kem, kField); !s.ok()) return s;
  if (serialized.size() != kScalarSize) {
    return WrongLength(kField, kem, kScalarSize, serialized.size());
  }
  EVP_PKEY* raw = nullptr;
  Bytes public_bytes;
  OsslPtr<BIGNUM> k;
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
    k = P256Scalar(serialized.Reveal(), &internal_error);
    if (internal_error) return internal::OpenSslInternalError("BN_bin2bn");
    if (!k) {
      return absl::InvalidArgumentError(absl::StrCat(kField, ": P-256 scalar is not in [1, n-1]"));
    }
    OsslPtr<BN_CTX> bn_ctx(BN_CTX_secure_new());
    if (!bn_ctx) return internal::OpenSslInternalError("BN_CTX_secure_new");
    absl::StatusOr<Bytes> point = internal::P256PublicPoint(k.get(), bn_ctx.get());
    if (!point.ok()) return point.status();
    public_bytes = *std::move(point);
    raw = P256KeyPairFromData(public_bytes, k.get());
    if (raw == nullptr) return internal::OpenSslInternalError("EVP_PKEY_fromdata");
  }
  // The public key is computed from the scalar here, not input: no checks.
  return PrivateKey(std::make_shared<const Rep>(
      Rep{kem, serialized.Clone(), Share(raw),
          PublicKey::FromOwnKeyPair(kem, std::move(public_bytes)), std::move(k), nullptr}));
}

Kem PrivateKey::kem() const { return rep_->kem; }
const PublicKey& PrivateKey::public_key() const { return rep_->public_key; }
SecretBytes PrivateKey::Serialize() const { return rep_->serialized.Clone(); }
const BIGNUM* PrivateKey::p256_scalar() const { return rep_->scalar.get(); }
EVP_PKEY* PrivateKey::evp_pkey() const {
  if (rep_->pkey != nullptr) return rep_->pkey.get();
  if (rep_->lazy == nullptr) return nullptr;
  return rep_->lazy->Get([this]() -> EVP_PKEY* {
    return rep_->scalar != nullptr
               ? P256KeyPairFromData(rep_->public_key.Serialize(), rep_->scalar.get())
               : nullptr;
  });
}

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

namespace {

// A freshly generated key: the serialized private key, the OpenSSL key pair
// (X25519) or the parsed scalar (P-256), and the encoded public key.
struct Generated {
  SecretBytes serialized;
  std::shared_ptr<EVP_PKEY> pkey;
  OsslPtr<BIGNUM> scalar;
  Bytes public_bytes;
};

// X25519: 32 random bytes are a private key (clamped on use); OpenSSL
// computes the public key as it imports them.
absl::StatusOr<Generated> GenerateX25519() {
  Generated out{SecretBytes::Random(kScalarSize), nullptr, nullptr, Bytes(32)};
  EVP_PKEY* raw = EVP_PKEY_new_raw_private_key_ex(nullptr, "X25519", nullptr,
                                                  out.serialized.Reveal().data(), kScalarSize);
  if (raw == nullptr) return internal::OpenSslInternalError("EVP_PKEY_new_raw_private_key_ex");
  out.pkey = Share(raw);
  size_t len = out.public_bytes.size();
  if (EVP_PKEY_get_raw_public_key(raw, out.public_bytes.data(), &len) != 1 || len != 32) {
    return internal::OpenSslInternalError("EVP_PKEY_get_raw_public_key");
  }
  return out;
}

// P-256: a uniform scalar in [1, n-1] and one fixed-base multiplication
// (internal::P256Generate); the OpenSSL key object is built only if an
// encoding asks for it (PrivateKey::evp_pkey), which an ephemeral key's
// never does.
absl::StatusOr<Generated> GenerateP256() {
  absl::StatusOr<internal::P256Generated> g = internal::P256Generate();
  if (!g.ok()) return g.status();
  return Generated{std::move(g->scalar), nullptr, std::move(g->k), std::move(g->point)};
}

}  // namespace

absl::StatusOr<KeyPair> GenerateKeyPair(Kem kem) {
  if (absl::Status s = CheckKnownKem(kem, "kem"); !s.ok()) return s;
  auto generated = kem == Kem::kDhkemX25519HkdfSha256 ? GenerateX25519() : GenerateP256();
  if (!generated.ok()) return generated.status();
  // Our own point: neither re-parsed nor re-validated.
  PublicKey public_key = PublicKey::FromOwnKeyPair(kem, std::move(generated->public_bytes));
  auto rep = std::make_shared<PrivateKey::Rep>(
      PrivateKey::Rep{kem, std::move(generated->serialized), std::move(generated->pkey), public_key,
                      std::move(generated->scalar), nullptr});
  if (rep->pkey == nullptr) rep->lazy = std::make_unique<PrivateKey::Rep::Lazy>();
  return KeyPair{PrivateKey(std::move(rep)), public_key};
}

}  // namespace strongroom::kms::hpke
