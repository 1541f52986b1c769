#include "attest/tpm/ak_signature.h"

#include <openssl/err.h>
#include <openssl/rsa.h>

#include <utility>

#include "attest/tpm/tpm_structures.h"

namespace strongroom::attest::tpm_internal {
namespace {

// This thread's spare digest context (see ThreadDigest), freed with the
// thread.
struct SpareDigestContext {
  EVP_MD_CTX* ctx = nullptr;
  ~SpareDigestContext() { EVP_MD_CTX_free(ctx); }
};
thread_local SpareDigestContext spare_digest;

}  // namespace

ThreadDigest::ThreadDigest(const EVP_MD* md)
    : ctx_(spare_digest.ctx != nullptr ? std::exchange(spare_digest.ctx, nullptr)
                                       : EVP_MD_CTX_new()),
      ok_(ctx_ != nullptr && md != nullptr &&
          EVP_DigestInit_ex(ctx_, md, nullptr) == 1) {}

ThreadDigest::~ThreadDigest() {
  if (!ok_) ERR_clear_error();
  if (ctx_ != nullptr && spare_digest.ctx == nullptr) {
    spare_digest.ctx = ctx_;
  } else {
    EVP_MD_CTX_free(ctx_);
  }
}

void ThreadDigest::Update(std::span<const uint8_t> data) {
  if (ok_ && !data.empty()) {
    ok_ = EVP_DigestUpdate(ctx_, data.data(), data.size()) == 1;
  }
}

size_t ThreadDigest::Final(uint8_t* out) {
  unsigned int len = 0;
  if (ok_) ok_ = EVP_DigestFinal_ex(ctx_, out, &len) == 1;
  return ok_ ? len : 0;
}

AkSignatureChecker::AkSignatureChecker(std::shared_ptr<EVP_PKEY> key)
    : key_(std::move(key)),
      is_rsa_(EVP_PKEY_get_base_id(key_.get()) == EVP_PKEY_RSA),
      is_ec_(EVP_PKEY_get_base_id(key_.get()) == EVP_PKEY_EC),
      bits_(EVP_PKEY_get_bits(key_.get())) {}

AkSignatureChecker::~AkSignatureChecker() {
  for (const Idle& idle : idle_) EVP_PKEY_CTX_free(idle.ctx);
}

size_t AkSignatureChecker::idle_contexts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return idle_.size();
}

EVP_PKEY_CTX* AkSignatureChecker::Take(uint16_t sig_alg,
                                       uint16_t hash_alg) const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = idle_.size(); i-- > 0;) {
      if (idle_[i].sig_alg == sig_alg && idle_[i].hash_alg == hash_alg) {
        EVP_PKEY_CTX* ctx = idle_[i].ctx;
        idle_[i] = idle_.back();
        idle_.pop_back();
        return ctx;
      }
    }
  }
  const EVP_MD* md = TpmHashMd(hash_alg);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_pkey(nullptr, key_.get(), nullptr);
  bool ok = md != nullptr && ctx != nullptr && EVP_PKEY_verify_init(ctx) == 1;
  if (ok && sig_alg == kTpmAlgRsassa) {
    ok = EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1;
  } else if (ok && sig_alg == kTpmAlgRsapss) {
    // MGF1 uses the signature's hash unless told otherwise, as the TPM does.
    ok = EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_AUTO) == 1;
  }
  ok = ok && EVP_PKEY_CTX_set_signature_md(ctx, md) == 1;
  if (!ok) {
    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();
    return nullptr;
  }
  return ctx;
}

void AkSignatureChecker::PutBack(uint16_t sig_alg, uint16_t hash_alg,
                                 EVP_PKEY_CTX* ctx) const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (idle_.size() < kMaxIdle) {
      idle_.push_back(Idle{sig_alg, hash_alg, ctx});
      return;
    }
  }
  EVP_PKEY_CTX_free(ctx);
}

bool AkSignatureChecker::VerifyDigestOf(
    uint16_t sig_alg, uint16_t hash_alg, std::span<const uint8_t> message,
    std::span<const uint8_t> signature) const {
  const EVP_MD* md = TpmHashMd(hash_alg);
  if (md == nullptr) return false;
  uint8_t digest[EVP_MAX_MD_SIZE];
  size_t digest_len = 0;
  {
    ThreadDigest hash(md);
    hash.Update(message);
    digest_len = hash.Final(digest);
  }
  if (digest_len == 0) return false;
  EVP_PKEY_CTX* ctx = Take(sig_alg, hash_alg);
  if (ctx == nullptr) return false;
  if (EVP_PKEY_verify(ctx, signature.data(), signature.size(), digest,
                      digest_len) != 1) {
    // Not put back: nothing a failed check leaves behind is reused.
    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();
    return false;
  }
  PutBack(sig_alg, hash_alg, ctx);
  return true;
}

bool AkSignatureChecker::VerifyRsa(uint16_t sig_alg, uint16_t hash_alg,
                                   std::span<const uint8_t> message,
                                   std::span<const uint8_t> signature) const {
  if (!is_rsa_ || (sig_alg != kTpmAlgRsassa && sig_alg != kTpmAlgRsapss)) {
    return false;
  }
  return VerifyDigestOf(sig_alg, hash_alg, message, signature);
}

bool AkSignatureChecker::VerifyEcdsa(uint16_t hash_alg,
                                     std::span<const uint8_t> message,
                                     std::span<const uint8_t> r,
                                     std::span<const uint8_t> s) const {
  if (!is_ec_) return false;
  uint8_t der[kMaxEcdsaSignatureDer];
  const size_t der_len = EncodeEcdsaSignatureDer(r, s, der);
  if (der_len == 0) return false;
  return VerifyDigestOf(kTpmAlgEcdsa, hash_alg, message, {der, der_len});
}

}  // namespace strongroom::attest::tpm_internal
