// Test support: a throw-away X.509 CA (EC P-256) that issues AK
// certificates for a given public key, with chosen validity, so tests can
// exercise the verifier's certificate-chain trust path with keys from the
// vectors or from a live swtpm. Not thread-safe; test use only.
#ifndef STRONGROOM_ATTEST_TPM_TESTING_TEST_CA_H_
#define STRONGROOM_ATTEST_TPM_TESTING_TEST_CA_H_

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace strongroom::attest::testing {

class TestCa {
 public:
  // A self-signed CA certificate valid over [not_before, not_after].
  static absl::StatusOr<TestCa> Create(const std::string& cn, absl::Time not_before,
                                       absl::Time not_after);
  std::string cert_pem() const;
  // An end-entity certificate for `subject_key`, PEM, with the extended key
  // usage `eku` (OpenSSL's config syntax: "2.23.133.8.3", the TCG AK
  // purpose, by default; "" for none).
  absl::StatusOr<std::string> Issue(EVP_PKEY* subject_key, const std::string& cn,
                                    absl::Time not_before, absl::Time not_after,
                                    const std::string& eku = "2.23.133.8.3") const;

 private:
  TestCa(std::shared_ptr<EVP_PKEY> key, std::shared_ptr<X509> cert)
      : key_(std::move(key)), cert_(std::move(cert)) {}
  std::shared_ptr<EVP_PKEY> key_;
  std::shared_ptr<X509> cert_;
};

}  // namespace strongroom::attest::testing

#endif  // STRONGROOM_ATTEST_TPM_TESTING_TEST_CA_H_
