#include "attest/tpm/testing/test_ca.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <atomic>

namespace strongroom::attest::testing {
namespace {

std::atomic<long> serial{1};

bool AddExt(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

absl::StatusOr<std::shared_ptr<X509>> Make(EVP_PKEY* subject_key, const std::string& cn,
                                           X509* issuer, EVP_PKEY* issuer_key, absl::Time nb,
                                           absl::Time na, bool ca, const std::string& eku = "") {
  std::shared_ptr<X509> cert(X509_new(), X509_free);
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial++);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), issuer != nullptr ? X509_get_subject_name(issuer) : name);
  ASN1_TIME_set(X509_getm_notBefore(cert.get()), absl::ToTimeT(nb));
  ASN1_TIME_set(X509_getm_notAfter(cert.get()), absl::ToTimeT(na));
  X509_set_pubkey(cert.get(), subject_key);
  X509* iss = issuer != nullptr ? issuer : cert.get();
  bool ok = AddExt(cert.get(), iss, NID_basic_constraints,
                   ca ? "critical,CA:TRUE" : "critical,CA:FALSE") &&
            AddExt(cert.get(), iss, NID_key_usage,
                   ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature") &&
            (eku.empty() || AddExt(cert.get(), iss, NID_ext_key_usage, eku.c_str()));
  if (!ok || X509_sign(cert.get(), issuer_key, EVP_sha256()) <= 0) {
    ERR_clear_error();
    return absl::InternalError("test CA: cannot make certificate");
  }
  return cert;
}

}  // namespace

absl::StatusOr<TestCa> TestCa::Create(const std::string& cn, absl::Time not_before,
                                      absl::Time not_after) {
  std::shared_ptr<EVP_PKEY> key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"), EVP_PKEY_free);
  if (key == nullptr) return absl::InternalError("test CA: keygen");
  auto cert = Make(key.get(), cn, nullptr, key.get(), not_before, not_after,
                   /*ca=*/true);
  if (!cert.ok()) return cert.status();
  return TestCa(std::move(key), std::move(*cert));
}

std::string TestCa::cert_pem() const {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert_.get());
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string out(data, len);
  BIO_free(bio);
  return out;
}

absl::StatusOr<std::string> TestCa::Issue(EVP_PKEY* subject_key, const std::string& cn,
                                          absl::Time not_before, absl::Time not_after,
                                          const std::string& eku) const {
  auto cert =
      Make(subject_key, cn, cert_.get(), key_.get(), not_before, not_after, /*ca=*/false, eku);
  if (!cert.ok()) return cert.status();
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert->get());
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string out(data, len);
  BIO_free(bio);
  return out;
}

}  // namespace strongroom::attest::testing
