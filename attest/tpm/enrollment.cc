#include "attest/tpm/enrollment.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "attest/tpm/credential.h"
#include "base/status_macros.h"

namespace strongroom::attest {
namespace {

// TCG EK Credential Profile templates (L-1, L-2, H-3): what the default
// attributes of a certified EK are.
constexpr uint32_t kEkTemplateAttributes =
    kTpmaFixedTpm | kTpmaFixedParent | kTpmaSensitiveDataOrigin |
    kTpmaAdminWithPolicy | kTpmaRestricted | kTpmaDecrypt;

absl::Status Denied(absl::string_view why) {
  return absl::PermissionDeniedError(absl::StrCat("tpm enrollment: ", why));
}

absl::StatusOr<Bytes> KeyBn(EVP_PKEY* key, const char* name, size_t pad) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat("tpm enrollment: EK certificate key lacks ", name));
  }
  size_t size = pad != 0 ? pad : static_cast<size_t>(BN_num_bytes(bn));
  Bytes out(size);
  int ok = BN_bn2binpad(bn, out.data(), static_cast<int>(size));
  BN_free(bn);
  if (ok < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("tpm enrollment: EK certificate key: ", name,
                     " does not fit"));
  }
  return out;
}

// The public area the EK has when it was made from the TCG default template
// and carries `key` (what swtpm_setup and TPM vendors certify).
absl::StatusOr<TpmtPublic> DefaultEkPublic(EVP_PKEY* key) {
  TpmtPublic ek;
  ek.name_alg = kTpmAlgSha256;
  ek.object_attributes = kEkTemplateAttributes;
  ek.symmetric_alg = kTpmAlgAes;
  ek.symmetric_key_bits = 128;
  ek.symmetric_mode = kTpmAlgCfb;
  if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA) {
    ek.type = kTpmAlgRsa;
    ek.rsa_key_bits = static_cast<uint16_t>(EVP_PKEY_get_bits(key));
    ASSIGN_OR_RETURN(ek.rsa_modulus, KeyBn(key, OSSL_PKEY_PARAM_RSA_N, 0));
    ASSIGN_OR_RETURN(Bytes e, KeyBn(key, OSSL_PKEY_PARAM_RSA_E, 0));
    uint32_t exponent = 0;
    if (e.size() > 4) {
      return absl::InvalidArgumentError(
          "tpm enrollment: EK certificate RSA exponent too large");
    }
    for (uint8_t b : e) exponent = (exponent << 8) | b;
    ek.rsa_exponent = exponent == 65537 ? 0 : exponent;
    return ek;
  }
  if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC &&
      (EVP_PKEY_get_bits(key) == 256 || EVP_PKEY_get_bits(key) == 384)) {
    // L-2 (P-256, SHA-256, AES-128) or H-3 (P-384, SHA-384, AES-256).
    bool p384 = EVP_PKEY_get_bits(key) == 384;
    size_t coord = p384 ? 48 : 32;
    ek.type = kTpmAlgEcc;
    ek.ecc_curve = p384 ? kTpmEccNistP384 : kTpmEccNistP256;
    if (p384) {
      ek.name_alg = kTpmAlgSha384;
      ek.symmetric_key_bits = 256;
    }
    ASSIGN_OR_RETURN(ek.ecc_x, KeyBn(key, OSSL_PKEY_PARAM_EC_PUB_X, coord));
    ASSIGN_OR_RETURN(ek.ecc_y, KeyBn(key, OSSL_PKEY_PARAM_EC_PUB_Y, coord));
    return ek;
  }
  return absl::InvalidArgumentError(
      "tpm enrollment: EK certificate key is neither RSA nor ECC P-256/P-384");
}

absl::StatusOr<std::vector<Certificate>> ParseAll(
    const std::vector<std::string>& blobs, absl::string_view field) {
  std::vector<Certificate> out;
  for (size_t i = 0; i < blobs.size(); ++i) {
    ASSIGN_OR_RETURN(auto certs,
                     ParseCertificates(blobs[i], absl::StrCat(field, "[", i, "]")));
    out.insert(out.end(), certs.begin(), certs.end());
  }
  return out;
}

absl::StatusOr<std::string> PublicKeyPem(EVP_PKEY* key) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  if (bio == nullptr || PEM_write_bio_PUBKEY(bio.get(), key) != 1) {
    ERR_clear_error();
    return absl::InternalError("tpm enrollment: cannot encode the AK as PEM");
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

}  // namespace

absl::Status CheckEnrollableAk(const TpmtPublic& ak) {
  const std::pair<uint32_t, const char*> required[] = {
      {kTpmaFixedTpm, "fixedTPM"},
      {kTpmaFixedParent, "fixedParent"},
      {kTpmaSensitiveDataOrigin, "sensitiveDataOrigin"},
      {kTpmaRestricted, "restricted"},
      {kTpmaSign, "sign"}};
  std::vector<std::string> missing;
  for (const auto& [bit, name] : required) {
    if (!(ak.object_attributes & bit)) missing.push_back(name);
  }
  if (!missing.empty()) {
    return Denied(absl::StrCat("AK objectAttributes 0x",
                               absl::Hex(ak.object_attributes), " lack ",
                               absl::StrJoin(missing, ", ")));
  }
  if (ak.object_attributes & kTpmaDecrypt) {
    return Denied(absl::StrCat("AK objectAttributes 0x",
                               absl::Hex(ak.object_attributes),
                               " set decrypt: not a signing-only key"));
  }
  if (ak.name_alg == kTpmAlgSha1) {
    return Denied("AK nameAlg sha1 is too weak");
  }
  if (ak.type == kTpmAlgRsa && ak.rsa_key_bits < 2048) {
    return Denied(absl::StrCat("AK RSA key of ", ak.rsa_key_bits,
                               " bits is below 2048"));
  }
  if (ak.type == kTpmAlgEcc && ak.ecc_curve != kTpmEccNistP256 &&
      ak.ecc_curve != kTpmEccNistP384) {
    return Denied("AK curve is not NIST P-256 or P-384");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<TpmEnrollment>> TpmEnrollment::Create(
    TpmEnrollmentOptions options) {
  ASSIGN_OR_RETURN(auto roots, ParseAll(options.ek_ca_roots_pem, "ek_ca_roots_pem"));
  if (roots.empty()) {
    return absl::InvalidArgumentError(
        "tpm enrollment: ek_ca_roots_pem: at least one EK CA root is needed");
  }
  for (const Certificate& r : roots) {
    if (!r.SelfSigned()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tpm enrollment: ek_ca_roots_pem: '", r.common_name(),
          "' is not a self-signed root"));
    }
  }
  ASSIGN_OR_RETURN(auto intermediates, ParseAll(options.ek_ca_intermediates_pem,
                                                "ek_ca_intermediates_pem"));
  const Clock* clock =
      options.clock != nullptr ? options.clock : &SystemClock::Default();
  return std::unique_ptr<TpmEnrollment>(new TpmEnrollment(
      std::move(options), std::move(roots), std::move(intermediates), clock));
}

absl::StatusOr<TpmtPublic> TpmEnrollment::CheckEk(
    const TpmEnrollmentRequest& request, std::string* fingerprint) const {
  ASSIGN_OR_RETURN(auto leaf_and_more,
                   ParseCertificates(request.ek_certificate,
                                     "tpm enrollment: EK certificate"));
  const Certificate& leaf = leaf_and_more[0];
  ASSIGN_OR_RETURN(auto pool, ParseAll(request.ek_chain, "tpm enrollment: ek_chain"));
  pool.insert(pool.end(), leaf_and_more.begin() + 1, leaf_and_more.end());
  pool.insert(pool.end(), intermediates_.begin(), intermediates_.end());
  pool.insert(pool.end(), roots_.begin(), roots_.end());
  ChainCheck check;
  check.at = clock_->Now();
  for (const Certificate& r : roots_) {
    check.pinned_roots.push_back(r.SpkiSha256Hex());
  }
  auto chain = BuildAndVerifyChain(leaf, pool, check);
  if (!chain.ok()) {
    return Denied(absl::StrCat("EK certificate '", leaf.common_name(),
                               "' does not chain to an EK CA: ",
                               chain.status().message()));
  }
  *fingerprint = leaf.FingerprintHex();
  if (request.ek_public.empty()) return DefaultEkPublic(leaf.public_key());
  auto ek = ParseTpmPublicBlob(request.ek_public);
  if (!ek.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("tpm enrollment: ek_public: ", ek.status().message()));
  }
  ASSIGN_OR_RETURN(auto ek_key, TpmPublicKey(*ek));
  if (EVP_PKEY_eq(ek_key.get(), leaf.public_key()) != 1) {
    return Denied("ek_public is not the key of the EK certificate");
  }
  return ek;
}

absl::StatusOr<TpmCredentialChallenge> TpmEnrollment::Begin(
    const TpmEnrollmentRequest& request) {
  auto ak = ParseTpmPublicBlob(request.ak_public);
  if (!ak.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("tpm enrollment: ak_public: ", ak.status().message()));
  }
  RETURN_IF_ERROR(CheckEnrollableAk(*ak));
  std::string fingerprint;
  ASSIGN_OR_RETURN(TpmtPublic ek, CheckEk(request, &fingerprint));
  ASSIGN_OR_RETURN(Bytes name, TpmName(*ak));
  SecretBytes secret = SecretBytes::Random(TpmHashSize(ek.name_alg));
  ASSIGN_OR_RETURN(TpmMadeCredential made, TpmMakeCredential(ek, name, secret));
  ASSIGN_OR_RETURN(auto ak_key, TpmPublicKey(*ak));
  ASSIGN_OR_RETURN(std::string pem, PublicKeyPem(ak_key.get()));

  SecretBytes id_bytes = SecretBytes::Random(16);
  TpmCredentialChallenge challenge;
  challenge.id = HexEncode(id_bytes.Reveal());
  challenge.credential_blob = std::move(made.credential_blob);
  challenge.encrypted_secret = std::move(made.encrypted_secret);
  challenge.ak_name = name;

  Pending p{std::move(secret),
            EnrolledAk{std::move(pem), ak->encoded, std::move(name),
                       std::move(fingerprint)},
            clock_->Now() + options_.challenge_ttl};
  std::lock_guard<std::mutex> lock(mu_);
  DropExpiredLocked(clock_->Now());
  if (pending_.size() >= options_.max_pending) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "tpm enrollment: ", pending_.size(), " challenges pending"));
  }
  pending_.emplace(challenge.id, std::move(p));
  return challenge;
}

absl::StatusOr<EnrolledAk> TpmEnrollment::Finish(
    absl::string_view challenge_id, const SecretBytes& activated_secret) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pending_.find(challenge_id);
  if (it == pending_.end()) {
    return absl::NotFoundError(absl::StrCat(
        "tpm enrollment: challenge '", challenge_id, "' is unknown or used"));
  }
  Pending p = std::move(it->second);
  pending_.erase(it);  // single use, whatever the outcome
  if (clock_->Now() > p.expires) {
    return absl::NotFoundError(absl::StrCat(
        "tpm enrollment: challenge '", challenge_id, "' expired"));
  }
  if (activated_secret.size() != p.secret.size() ||
      !activated_secret.Equals(p.secret)) {
    return Denied(
        "activated secret does not match: the AK was not activated by the "
        "TPM that holds the EK");
  }
  return std::move(p.ak);
}

size_t TpmEnrollment::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pending_.size();
}

void TpmEnrollment::DropExpiredLocked(absl::Time now) {
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (now > it->second.expires) {
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace strongroom::attest
