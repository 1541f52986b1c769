#include "attest/dev/dev_key.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "absl/strings/str_cat.h"
#include "attest/x509.h"

namespace strongroom::attest::dev_internal {

absl::Status CheckP256(EVP_PKEY* key, absl::string_view field) {
  char group[64] = {0};
  size_t len = 0;
  bool ok = key != nullptr && EVP_PKEY_get_base_id(key) == EVP_PKEY_EC &&
            EVP_PKEY_get_group_name(key, group, sizeof(group), &len) == 1 &&
            absl::string_view(group, len) == "prime256v1";
  ClearOpensslErrors();
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": not an EC P-256 key"));
  }
  return absl::OkStatus();
}

std::string KeyId(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  int n = i2d_PUBKEY(key, &der);
  if (n <= 0) return "";
  std::string out = Sha256Hex({der, static_cast<size_t>(n)});
  OPENSSL_free(der);
  return out;
}

std::string PublicKeyPem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  std::string out;
  if (bio != nullptr && PEM_write_bio_PUBKEY(bio, key) == 1) {
    char* data = nullptr;
    long len = BIO_get_mem_data(bio, &data);
    out.assign(data, static_cast<size_t>(len));
  }
  BIO_free(bio);
  return out;
}

void ClearOpensslErrors() { ERR_clear_error(); }

}  // namespace strongroom::attest::dev_internal
