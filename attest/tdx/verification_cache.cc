#include "attest/tdx/verification_cache.h"

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include <cstdint>

#include "attest/tdx/pck_extension.h"
#include "base/status_macros.h"

namespace strongroom::attest::tdx_internal {

const EVP_MD* Sha256Md() {
  static const EVP_MD* const md = [] {
    const EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return fetched != nullptr ? fetched : EVP_sha256();
  }();
  return md;
}

void AppendKeyPart(std::string* key, absl::string_view part) {
  const uint64_t n = part.size();
  key->append(reinterpret_cast<const char*>(&n), sizeof(n)).append(part.data(), part.size());
}

Digest::Digest() : ctx_(EVP_MD_CTX_new()) {
  EVP_DigestInit_ex(ctx_, Sha256Md(), nullptr);
}

Digest::~Digest() { EVP_MD_CTX_free(ctx_); }

Digest& Digest::Add(std::span<const uint8_t> part) {
  const uint64_t n = part.size();
  EVP_DigestUpdate(ctx_, &n, sizeof(n));
  if (n > 0) EVP_DigestUpdate(ctx_, part.data(), n);
  return *this;
}

Digest& Digest::Add(absl::string_view part) {
  return Add(std::span<const uint8_t>(
      reinterpret_cast<const uint8_t*>(part.data()), part.size()));
}

std::string Digest::Finish() {
  std::string out(EVP_MAX_MD_SIZE, '\0');
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_, reinterpret_cast<uint8_t*>(out.data()), &len);
  out.resize(len);
  return out;
}

bool MaySignCollateral(const Certificate& cert) {
  return X509_check_ca(cert.get()) == 0 &&
         !cert.Extension(kSgxExtensionOid).has_value();
}

std::shared_ptr<const CertificateSet> MakeCertificateSet(
    std::vector<Certificate> certs) {
  auto set = std::make_shared<CertificateSet>();
  Digest digest;
  digest.Add(absl::string_view("certificates"));
  for (const Certificate& c : certs) {
    digest.Add(c.der());
    set->may_sign_collateral.push_back(MaySignCollateral(c));
  }
  set->digest = digest.Finish();
  if (!certs.empty() && !set->may_sign_collateral[0]) {
    if (auto ext = PckSgxExtensionOf(certs[0]); ext.ok()) {
      set->first_sgx_extension = *ext;
    }
  }
  set->certs = std::move(certs);
  return set;
}

absl::StatusOr<std::shared_ptr<const CertificateSet>> CachedCertificates(
    absl::string_view text, absl::string_view field,
    BoundedCache<std::shared_ptr<const CertificateSet>>& cache) {
  // Keyed by the text itself (BoundedCache compares keys in full).
  if (auto hit = cache.Find(text)) return *std::move(hit);
  ASSIGN_OR_RETURN(std::vector<Certificate> certs,
                   ParseCertificates(text, field));
  std::shared_ptr<const CertificateSet> set =
      MakeCertificateSet(std::move(certs));
  cache.Insert(text, set);
  return set;
}

}  // namespace strongroom::attest::tdx_internal
