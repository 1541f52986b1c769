#include "kms/audit/checkpoint_signer.h"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace strongroom::kms {
namespace {

constexpr size_t kMaxPemBytes = 4096;

struct EvpPkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};

bool IsP256(EVP_PKEY* key) {
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) return false;
  char group[64] = {0};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                     &len) != 1) {
    return false;
  }
  return std::strcmp(group, "prime256v1") == 0;
}

}  // namespace

absl::StatusOr<CheckpointVerifyKey> CheckpointVerifyKey::FromKey(EVP_PKEY* raw) {
  std::shared_ptr<EVP_PKEY> key(raw, EvpPkeyFree());
  if (!IsP256(raw)) {
    ERR_clear_error();
    return absl::InvalidArgumentError("checkpoint key is not an EC P-256 public key");
  }
  unsigned char* der = nullptr;
  int der_len = i2d_PUBKEY(raw, &der);
  if (der_len <= 0) {
    ERR_clear_error();
    return absl::InternalError("i2d_PUBKEY failed for the checkpoint key");
  }
  uint8_t md[SHA256_DIGEST_LENGTH];
  SHA256(der, static_cast<size_t>(der_len), md);
  OPENSSL_free(der);

  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  if (bio == nullptr || PEM_write_bio_PUBKEY(bio.get(), raw) != 1) {
    ERR_clear_error();
    return absl::InternalError("PEM_write_bio_PUBKEY failed for the checkpoint key");
  }
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return CheckpointVerifyKey(std::move(key), HexEncode(md),
                             std::string(data, static_cast<size_t>(n)));
}

absl::StatusOr<CheckpointVerifyKey> CheckpointVerifyKey::FromPem(absl::string_view pem) {
  if (pem.size() > kMaxPemBytes) {
    return absl::InvalidArgumentError(absl::StrCat("checkpoint public key PEM is ", pem.size(),
                                                   " bytes; at most ", kMaxPemBytes));
  }
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  EVP_PKEY* key = bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr) : nullptr;
  if (key == nullptr) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        "checkpoint public key is not a PEM 'PUBLIC KEY' (SubjectPublicKeyInfo)");
  }
  return FromKey(key);
}

absl::StatusOr<CheckpointVerifyKey> CheckpointVerifyKey::FromPoint(
    std::span<const uint8_t> point) {
  if (point.size() != 65 || point[0] != 0x04) {
    return absl::InvalidArgumentError(absl::StrCat(
        "P-256 public point must be 65 bytes 0x04||X||Y, got ", point.size(), " bytes"));
  }
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr), EVP_PKEY_CTX_free);
  char group[] = "prime256v1";
  Bytes pub(point.begin(), point.end());
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pub.data(), pub.size()),
      OSSL_PARAM_construct_end()};
  EVP_PKEY* key = nullptr;
  if (ctx == nullptr || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("P-256 public point is not on the curve");
  }
  return FromKey(key);
}

absl::Status CheckpointVerifyKey::Verify(std::span<const uint8_t> msg,
                                         std::span<const uint8_t> der_signature) const {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(),
                                                              EVP_MD_CTX_free);
  int rc = 0;
  if (ctx != nullptr &&
      EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_.get()) == 1) {
    rc = EVP_DigestVerify(ctx.get(), der_signature.data(), der_signature.size(), msg.data(),
                          msg.size());
  }
  ERR_clear_error();
  if (rc != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("signature does not verify under key ", key_id_));
  }
  return absl::OkStatus();
}

}  // namespace strongroom::kms
