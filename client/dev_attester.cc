#include "client/dev_attester.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "absl/strings/str_cat.h"
#include "attest/dev/dev_evidence.h"
#include "base/status_macros.h"

namespace strongroom::client {

absl::StatusOr<std::string> GenerateDevAttesterKeyPem() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  BIO* bio = key == nullptr ? nullptr : BIO_new(BIO_s_mem());
  char* data = nullptr;
  const long n = bio != nullptr && PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0,
                                                             nullptr, nullptr) == 1
                     ? BIO_get_mem_data(bio, &data)
                     : 0;
  std::string pem = n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
  if (n > 0) OPENSSL_cleanse(data, static_cast<size_t>(n));
  BIO_free(bio);
  EVP_PKEY_free(key);
  if (pem.empty()) return absl::InternalError("dev attester key: P-256 key generation failed");
  return pem;
}

absl::StatusOr<std::unique_ptr<DevAttester>> DevAttester::Create(
    DevAttesterOptions options, const Clock& clock) {
  absl::StatusOr<attest::DevAttester> parsed =
      attest::DevAttester::Create(options.private_key_pem, clock);
  // The PEM is a private key: this copy goes now that it is parsed.
  OPENSSL_cleanse(options.private_key_pem.data(), options.private_key_pem.size());
  ASSIGN_OR_RETURN(attest::DevAttester signer, std::move(parsed));
  attest::DevClaims claims;
  claims.measurement = std::move(options.measurement);
  claims.debug = options.debug;
  claims.svn = options.svn;
  claims.claims = std::move(options.claims);
  // Refuse bad claims now rather than on the first key request.
  attest::DevEvidenceBody body;
  body.measurement = claims.measurement;
  body.debug = claims.debug;
  body.svn = claims.svn;
  body.claims = claims.claims;
  if (absl::Status s = attest::ValidateDevEvidenceBody(body); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("dev attester: ", s.message()));
  }
  return std::unique_ptr<DevAttester>(new DevAttester(std::move(signer), std::move(claims)));
}

absl::StatusOr<std::vector<strongroom::v1::EvidenceItem>> DevAttester::Attest(
    std::span<const uint8_t> binding) {
  if (binding.size() > attest::kDevMaxReportDataSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("dev attester: binding: ", binding.size(), " bytes, at most ",
                     attest::kDevMaxReportDataSize));
  }
  ASSIGN_OR_RETURN(std::string payload, signer_.Attest(claims_, binding));
  strongroom::v1::EvidenceItem item;
  item.set_type("dev");
  item.set_payload(std::move(payload));
  return std::vector<strongroom::v1::EvidenceItem>{std::move(item)};
}

}  // namespace strongroom::client
