#include "tests/kms/audit/software_signer.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "base/status_macros.h"

namespace strongroom::kms::testing {

absl::StatusOr<std::unique_ptr<SoftwareCheckpointSigner>> SoftwareCheckpointSigner::Generate() {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  if (key == nullptr) return absl::InternalError("EVP_PKEY_Q_keygen(P-256) failed");
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(n));
  BIO_free(bio);
  absl::StatusOr<CheckpointVerifyKey> pub = CheckpointVerifyKey::FromPem(pem);
  if (!pub.ok()) {
    EVP_PKEY_free(key);
    return pub.status();
  }
  return std::unique_ptr<SoftwareCheckpointSigner>(
      new SoftwareCheckpointSigner(key, pub->key_id(), pub->pem()));
}

SoftwareCheckpointSigner::~SoftwareCheckpointSigner() { EVP_PKEY_free(key_); }

absl::StatusOr<Bytes> SoftwareCheckpointSigner::Sign(std::span<const uint8_t> msg) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t len = 0;
  Bytes sig;
  bool ok = EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key_) == 1 &&
            EVP_DigestSign(ctx, nullptr, &len, msg.data(), msg.size()) == 1;
  if (ok) {
    sig.resize(len);
    ok = EVP_DigestSign(ctx, sig.data(), &len, msg.data(), msg.size()) == 1;
    sig.resize(len);
  }
  EVP_MD_CTX_free(ctx);
  ERR_clear_error();
  if (!ok) return absl::InternalError("EVP_DigestSign failed");
  ++signatures_;
  return sig;
}

absl::StatusOr<Bytes> FaultySigner::Sign(std::span<const uint8_t> msg) {
  if (fail_) return absl::UnavailableError("injected: signer unavailable");
  ASSIGN_OR_RETURN(Bytes sig, inner_.Sign(msg));
  if (corrupt_) sig[sig.size() / 2] ^= 0x01;
  return sig;
}

}  // namespace strongroom::kms::testing
