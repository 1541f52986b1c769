#include "kms/hsm_self_check.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <chrono>
#include <functional>

#include "absl/strings/str_cat.h"

namespace strongroom::kms {
namespace {


bool VerifyWithOpenSsl(const Bytes& point, const Bytes& message, const Bytes& der) {
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
  OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* pctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
  EVP_PKEY* pkey = nullptr;
  bool ok = pctx != nullptr && EVP_PKEY_fromdata_init(pctx) == 1 &&
            EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) == 1;
  EVP_MD_CTX* mctx = EVP_MD_CTX_new();
  ok = ok && EVP_DigestVerifyInit(mctx, nullptr, EVP_sha256(), nullptr, pkey) == 1 &&
       EVP_DigestVerify(mctx, der.data(), der.size(), message.data(), message.size()) == 1;
  EVP_MD_CTX_free(mctx);
  EVP_PKEY_free(pkey);
  EVP_PKEY_CTX_free(pctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  return ok;
}

class StepRecorder {
 public:
  explicit StepRecorder(SelfCheckReport& report) : report_(report) {}
  // Runs `fn` (which returns a detail string or an error) and records it.
  bool Step(const std::string& name, const std::function<absl::StatusOr<std::string>()>& fn) {
    auto start = std::chrono::steady_clock::now();
    absl::StatusOr<std::string> result = fn();
    double micros = std::chrono::duration<double, std::micro>(
                        std::chrono::steady_clock::now() - start).count();
    SelfCheckStep step{name, result.ok(),
                       result.ok() ? *result : std::string(result.status().message()), micros};
    report_.steps.push_back(step);
    return step.ok;
  }

 private:
  SelfCheckReport& report_;
};

}  // namespace

absl::StatusOr<SelfCheckReport> RunHsmSelfCheck(pkcs11::Hsm& hsm, size_t payload_bytes) {
  if (payload_bytes < 1 || payload_bytes > 65536) {
    return absl::InvalidArgumentError(
        absl::StrCat("payload_bytes: ", payload_bytes, " is outside [1, 65536]"));
  }
  SelfCheckReport report;
  StepRecorder r(report);
  pkcs11::KeyHandle aes, kek;
  pkcs11::EcKeyPair ec;
  bool ok = r.Step("generate_aes256_key", [&]() -> absl::StatusOr<std::string> {
    auto key = hsm.GenerateAesKey(32, {.label = "self-check-aes"});
    if (!key.ok()) return key.status();
    aes = *key;
    return std::string("non-extractable session key");
  });
  Bytes iv, ct;
  SecretBytes payload = SecretBytes::Random(payload_bytes);
  ok = ok && r.Step("aes_gcm_encrypt_decrypt", [&]() -> absl::StatusOr<std::string> {
    auto random_iv = hsm.GenerateRandom(12);
    if (!random_iv.ok()) return random_iv.status();
    iv.assign(random_iv->Reveal().begin(), random_iv->Reveal().end());
    Bytes aad = {'s', 'e', 'l', 'f'};
    auto enc = hsm.AesGcmEncrypt(aes, iv, aad, payload.Reveal());
    if (!enc.ok()) return enc.status();
    ct = *enc;
    auto dec = hsm.AesGcmDecrypt(aes, iv, aad, ct);
    if (!dec.ok()) return dec.status();
    if (!(*dec == payload)) return absl::InternalError("decrypted payload differs");
    return absl::StrCat(payload_bytes, " bytes round-tripped");
  });
  ok = ok && r.Step("aes_gcm_tamper_rejected", [&]() -> absl::StatusOr<std::string> {
    Bytes bad = ct;
    bad[0] ^= 1;
    auto dec = hsm.AesGcmDecrypt(aes, iv, Bytes{'s', 'e', 'l', 'f'}, bad);
    if (dec.ok()) return absl::InternalError("a tampered ciphertext was accepted");
    return std::string("flipped byte rejected");
  });
  ok = ok && r.Step("aes_key_wrap_unwrap", [&]() -> absl::StatusOr<std::string> {
    auto key = hsm.GenerateAesKey(
        32, {.label = "self-check-kek", .usage = pkcs11::kUsageWrap | pkcs11::kUsageUnwrap});
    if (!key.ok()) return key.status();
    kek = *key;
    SecretBytes dek = SecretBytes::Random(32);
    auto wrapped = hsm.WrapSecret(kek, dek, pkcs11::WrapMechanism::kRfc3394);
    if (!wrapped.ok()) return wrapped.status();
    auto back = hsm.UnwrapSecret(kek, *wrapped, pkcs11::WrapMechanism::kRfc3394);
    if (!back.ok()) return back.status();
    if (!(*back == dek)) return absl::InternalError("unwrapped key differs");
    return absl::StrCat("32-byte key wrapped to ", wrapped->size(), " bytes (RFC 3394)");
  });
  ok = ok && r.Step("ecdsa_p256_sign_verify", [&]() -> absl::StatusOr<std::string> {
    auto pair = hsm.GenerateEcKeyPair(pkcs11::EcCurve::kP256,
                                      {.label = "self-check-ec", .usage = pkcs11::kUsageSign});
    if (!pair.ok()) return pair.status();
    ec = *pair;
    Bytes msg = {'s', 't', 'r', 'o', 'n', 'g', 'r', 'o', 'o', 'm'};
    auto sig = hsm.EcdsaSign(ec.private_key, pkcs11::HashAlg::kSha256, msg);
    if (!sig.ok()) return sig.status();
    if (!VerifyWithOpenSsl(ec.public_point, msg, *sig)) {
      return absl::InternalError("OpenSSL rejected the HSM's signature");
    }
    return absl::StrCat("DER signature of ", sig->size(), " bytes verified by OpenSSL");
  });
  r.Step("destroy_session_keys", [&]() -> absl::StatusOr<std::string> {
    int destroyed = 0;
    for (const pkcs11::KeyHandle* k : {&aes, &kek, &ec.private_key, &ec.public_key}) {
      if (k->handle == CK_INVALID_HANDLE) continue;
      absl::Status s = hsm.DestroyKey(*k);
      if (!s.ok()) return s;
      ++destroyed;
    }
    return absl::StrCat(destroyed, " objects destroyed");
  });
  report.ok = ok && report.steps.back().ok;
  return report;
}

}  // namespace strongroom::kms
