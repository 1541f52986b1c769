#include "attest/dev/dev_attester.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "attest/dev/dev_key.h"
#include "base/status_macros.h"

namespace strongroom::attest {
namespace {

using dev_internal::ClearOpensslErrors;

// Fetched once: an implicit fetch per signature costs a provider lookup.
const EVP_MD* Sha256() {
  static const EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

bool HasPrivateKey(EVP_PKEY* key) {
  BIGNUM* priv = nullptr;
  bool ok = EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, &priv) == 1;
  BN_clear_free(priv);
  ClearOpensslErrors();
  return ok;
}

}  // namespace

absl::StatusOr<DevAttester> DevAttester::Create(
    absl::string_view private_key_pem, const Clock& clock) {
  BIO* bio = BIO_new_mem_buf(private_key_pem.data(),
                             static_cast<int>(private_key_pem.size()));
  EVP_PKEY* key = bio == nullptr
                      ? nullptr
                      : PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ClearOpensslErrors();
  if (key == nullptr) {
    return absl::InvalidArgumentError(
        "dev attester: private key: not an unencrypted PEM private key");
  }
  return Create(std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free), clock);
}

absl::StatusOr<DevAttester> DevAttester::Create(
    std::shared_ptr<EVP_PKEY> private_key, const Clock& clock) {
  RETURN_IF_ERROR(
      dev_internal::CheckP256(private_key.get(), "dev attester: private key"));
  if (!HasPrivateKey(private_key.get())) {
    return absl::InvalidArgumentError(
        "dev attester: private key: holds only a public key");
  }
  std::string key_id = dev_internal::KeyId(private_key.get());
  std::string pem = dev_internal::PublicKeyPem(private_key.get());
  if (key_id.empty() || pem.empty()) {
    return absl::InternalError("dev attester: cannot encode the public key");
  }
  return DevAttester(std::move(private_key), std::move(key_id), std::move(pem),
                     &clock);
}

absl::StatusOr<DevAttester> DevAttester::Generate(const Clock& clock) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  ClearOpensslErrors();
  if (key == nullptr) {
    return absl::InternalError("dev attester: P-256 key generation failed");
  }
  return Create(std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free), clock);
}

absl::StatusOr<std::string> DevAttester::Attest(
    const DevClaims& claims, std::span<const uint8_t> report_data) const {
  DevEvidenceBody body;
  body.measurement = claims.measurement;
  body.report_data.assign(report_data.begin(), report_data.end());
  body.debug = claims.debug;
  body.svn = claims.svn;
  body.claims = claims.claims;
  body.issued_at =
      absl::ToUnixSeconds(claims.issued_at.value_or(clock_->Now()));
  RETURN_IF_ERROR(ValidateDevEvidenceBody(body));

  DevEvidenceEnvelope envelope;
  envelope.body = SerializeDevEvidenceBody(body);
  envelope.key_id = key_id_;
  envelope.signature.resize(static_cast<size_t>(EVP_PKEY_get_size(key_.get())));
  size_t sig_len = envelope.signature.size();
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok =
      ctx != nullptr &&
      EVP_DigestSignInit(ctx, nullptr, Sha256(), nullptr, key_.get()) == 1 &&
      EVP_DigestSign(ctx, envelope.signature.data(), &sig_len,
                     AsBytes(envelope.body).data(), envelope.body.size()) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) {
    ClearOpensslErrors();
    return absl::InternalError("dev attester: ECDSA signing failed");
  }
  envelope.signature.resize(sig_len);
  return SerializeDevEvidenceEnvelope(envelope);
}

}  // namespace strongroom::attest
