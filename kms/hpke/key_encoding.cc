// SubjectPublicKeyInfo, PKCS#8 and PEM containers for HPKE keys. Every
// import goes through PublicKey::Create / PrivateKey::Create, so the checks
// and the canonical OpenSSL key are the same whatever the container.
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/encoder.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <climits>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "kms/hpke/keys.h"
#include "kms/hpke/openssl_util.h"

namespace strongroom::kms::hpke {
namespace {

using internal::ClearOpenSslErrors;
using internal::OpenSslInternalError;
using internal::OsslPtr;

// Passphrase callbacks that refuse: an encrypted key is an error, never a
// prompt on the terminal.
int RefusePemPassword(char*, int, int, void*) { return -1; }
int RefuseDecoderPassphrase(char*, size_t, size_t*, const OSSL_PARAM[], void*) { return 0; }

// An EC key on P-256 given by its name (namedCurve OID). Keys carrying
// explicit curve parameters are refused even when OpenSSL matches them to
// P-256: such encodings are how invalid-curve parameters get in.
bool IsP256(EVP_PKEY* pkey) {
  char name[80] = {0};
  char encoding[32] = {0};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof(name), &len) !=
          1 ||
      EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_EC_ENCODING, encoding, sizeof(encoding),
                                     &len) != 1 ||
      std::strcmp(encoding, OSSL_PKEY_EC_ENCODING_GROUP) != 0) {
    ClearOpenSslErrors();
    return false;
  }
  return OBJ_sn2nid(name) == NID_X9_62_prime256v1 ||
         EC_curve_nist2nid(name) == NID_X9_62_prime256v1;
}

absl::Status UnsupportedType(EVP_PKEY* pkey, absl::string_view field) {
  if (EVP_PKEY_is_a(pkey, "EC")) {
    return absl::InvalidArgumentError(
        absl::StrCat(field,
                     ": EC key is not on the named curve P-256 (another curve, or explicit "
                     "curve parameters)"));
  }
  const char* type = EVP_PKEY_get0_type_name(pkey);
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": key type ", type == nullptr ? "unknown" : type,
                   " is not an HPKE key (supported: EC on the named curve P-256, X25519)"));
}

absl::StatusOr<PublicKey> PublicFromEvp(EVP_PKEY* pkey, absl::string_view field) {
  if (EVP_PKEY_is_a(pkey, "X25519")) {
    Bytes raw(32);
    size_t len = raw.size();
    if (EVP_PKEY_get_raw_public_key(pkey, raw.data(), &len) != 1 || len != raw.size()) {
      return OpenSslInternalError("EVP_PKEY_get_raw_public_key");
    }
    return PublicKey::Create(Kem::kDhkemX25519HkdfSha256, raw, field);
  }
  if (EVP_PKEY_is_a(pkey, "EC") && IsP256(pkey)) {
    // From the coordinates, so a compressed point in the container is
    // accepted and re-encoded uncompressed.
    BIGNUM* x = nullptr;
    BIGNUM* y = nullptr;
    Bytes point(65, 0);
    point[0] = 0x04;
    bool ok = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x) == 1 &&
              EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y) == 1 &&
              BN_bn2binpad(x, point.data() + 1, 32) == 32 &&
              BN_bn2binpad(y, point.data() + 33, 32) == 32;
    BN_free(x);
    BN_free(y);
    if (!ok) {
      ClearOpenSslErrors();
      return absl::InvalidArgumentError(absl::StrCat(field, ": EC key has no P-256 point"));
    }
    return PublicKey::Create(Kem::kDhkemP256HkdfSha256, point, field);
  }
  return UnsupportedType(pkey, field);
}

absl::StatusOr<PrivateKey> PrivateFromEvp(EVP_PKEY* pkey, absl::string_view field) {
  if (EVP_PKEY_is_a(pkey, "X25519")) {
    SecretBytes raw(32);
    size_t len = raw.size();
    if (EVP_PKEY_get_raw_private_key(pkey, raw.RevealMutable().data(), &len) != 1 ||
        len != raw.size()) {
      return OpenSslInternalError("EVP_PKEY_get_raw_private_key");
    }
    return PrivateKey::Create(Kem::kDhkemX25519HkdfSha256, raw);
  }
  if (EVP_PKEY_is_a(pkey, "EC") && IsP256(pkey)) {
    BIGNUM* k = nullptr;
    if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &k) != 1) {
      ClearOpenSslErrors();
      return absl::InvalidArgumentError(absl::StrCat(field, ": EC key has no private scalar"));
    }
    SecretBytes raw(32);
    const int written = BN_bn2binpad(k, raw.RevealMutable().data(), 32);
    BN_clear_free(k);
    if (written != 32) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": P-256 private scalar is longer than 32 bytes"));
    }
    return PrivateKey::Create(Kem::kDhkemP256HkdfSha256, raw);
  }
  return UnsupportedType(pkey, field);
}

// Reads everything written to a memory BIO into SecretBytes.
absl::StatusOr<SecretBytes> DrainSecret(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  if (len <= 0 || data == nullptr) return OpenSslInternalError("BIO_get_mem_data");
  return SecretBytes::CopyFrom(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data), len));
}

// Encodes the private key as PrivateKeyInfo ("DER" or "PEM") into secure
// memory.
absl::StatusOr<SecretBytes> EncodePkcs8(EVP_PKEY* pkey, const char* output_type) {
  if (pkey == nullptr) return absl::InternalError("hpke: no OpenSSL key to encode");
  OSSL_ENCODER_CTX* raw_ctx =
      OSSL_ENCODER_CTX_new_for_pkey(pkey, EVP_PKEY_KEYPAIR, output_type, "PrivateKeyInfo", nullptr);
  std::unique_ptr<OSSL_ENCODER_CTX, decltype(&OSSL_ENCODER_CTX_free)> ctx(raw_ctx,
                                                                          OSSL_ENCODER_CTX_free);
  OsslPtr<BIO> bio(BIO_new(BIO_s_secmem()));
  if (!ctx || OSSL_ENCODER_CTX_get_num_encoders(ctx.get()) == 0 || !bio ||
      OSSL_ENCODER_to_bio(ctx.get(), bio.get()) != 1) {
    return OpenSslInternalError("OSSL_ENCODER_to_bio(PrivateKeyInfo)");
  }
  return DrainSecret(bio.get());
}

// Decodes an unencrypted PrivateKeyInfo from `input_type` ("DER" or "PEM").
absl::StatusOr<PrivateKey> DecodePkcs8(const SecretBytes& input, const char* input_type,
                                       absl::string_view field) {
  if (input.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": empty"));
  EVP_PKEY* raw = nullptr;
  OSSL_DECODER_CTX* raw_ctx = OSSL_DECODER_CTX_new_for_pkey(
      &raw, input_type, "PrivateKeyInfo", nullptr, EVP_PKEY_KEYPAIR, nullptr, nullptr);
  std::unique_ptr<OSSL_DECODER_CTX, decltype(&OSSL_DECODER_CTX_free)> ctx(raw_ctx,
                                                                          OSSL_DECODER_CTX_free);
  if (!ctx ||
      OSSL_DECODER_CTX_set_passphrase_cb(ctx.get(), RefuseDecoderPassphrase, nullptr) != 1) {
    return OpenSslInternalError("OSSL_DECODER_CTX_new_for_pkey");
  }
  const unsigned char* data = input.Reveal().data();
  size_t len = input.size();
  const bool decoded = OSSL_DECODER_from_data(ctx.get(), &data, &len) == 1;
  OsslPtr<EVP_PKEY> pkey(raw);
  ClearOpenSslErrors();
  if (!decoded || !pkey) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": not an unencrypted PKCS#8 PrivateKeyInfo (", input_type, ")"));
  }
  if (std::strcmp(input_type, "DER") == 0 && len != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", len, " trailing bytes after the PrivateKeyInfo"));
  }
  return PrivateFromEvp(pkey.get(), field);
}

}  // namespace

absl::StatusOr<PublicKey> PublicKey::FromSpkiDer(std::span<const uint8_t> der,
                                                 absl::string_view field) {
  if (der.empty() || der.size() > LONG_MAX) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": SubjectPublicKeyInfo of ", der.size(), " bytes"));
  }
  const unsigned char* p = der.data();
  OsslPtr<EVP_PKEY> pkey(
      d2i_PUBKEY_ex(nullptr, &p, static_cast<long>(der.size()), nullptr, nullptr));
  if (!pkey) {
    ClearOpenSslErrors();
    return absl::InvalidArgumentError(absl::StrCat(field, ": not a DER SubjectPublicKeyInfo"));
  }
  if (p != der.data() + der.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", der.data() + der.size() - p,
                     " trailing bytes after the SubjectPublicKeyInfo"));
  }
  return PublicFromEvp(pkey.get(), field);
}

absl::StatusOr<PublicKey> PublicKey::FromPem(absl::string_view pem, absl::string_view field) {
  if (pem.empty() || pem.size() > INT_MAX) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": PEM of ", pem.size(), " bytes"));
  }
  OsslPtr<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return OpenSslInternalError("BIO_new_mem_buf");
  OsslPtr<EVP_PKEY> pkey(PEM_read_bio_PUBKEY(bio.get(), nullptr, RefusePemPassword, nullptr));
  if (!pkey) {
    ClearOpenSslErrors();
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": no \"PUBLIC KEY\" PEM block holding a SubjectPublicKeyInfo"));
  }
  return PublicFromEvp(pkey.get(), field);
}

absl::StatusOr<Bytes> PublicKey::ToSpkiDer() const {
  EVP_PKEY* pkey = evp_pkey();
  if (pkey == nullptr) return OpenSslInternalError("public key");
  const int len = i2d_PUBKEY(pkey, nullptr);
  if (len <= 0) return OpenSslInternalError("i2d_PUBKEY");
  Bytes out(static_cast<size_t>(len));
  unsigned char* p = out.data();
  if (i2d_PUBKEY(pkey, &p) != len) return OpenSslInternalError("i2d_PUBKEY");
  return out;
}

absl::StatusOr<std::string> PublicKey::ToPem() const {
  OsslPtr<BIO> bio(BIO_new(BIO_s_mem()));
  EVP_PKEY* pkey = evp_pkey();
  if (pkey == nullptr) return OpenSslInternalError("public key");
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), pkey) != 1) {
    return OpenSslInternalError("PEM_write_bio_PUBKEY");
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  if (len <= 0 || data == nullptr) return OpenSslInternalError("BIO_get_mem_data");
  return std::string(data, static_cast<size_t>(len));
}

absl::StatusOr<PrivateKey> PrivateKey::FromPkcs8Der(const SecretBytes& der) {
  return DecodePkcs8(der, "DER", "private_key");
}

absl::StatusOr<PrivateKey> PrivateKey::FromPkcs8Pem(const SecretBytes& pem) {
  return DecodePkcs8(pem, "PEM", "private_key");
}

absl::StatusOr<SecretBytes> PrivateKey::ToPkcs8Der() const {
  return EncodePkcs8(evp_pkey(), "DER");
}

absl::StatusOr<SecretBytes> PrivateKey::ToPkcs8Pem() const {
  return EncodePkcs8(evp_pkey(), "PEM");
}

}  // namespace strongroom::kms::hpke
