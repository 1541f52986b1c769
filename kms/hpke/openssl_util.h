// Internal to kms/hpke: owning handles for OpenSSL objects and the one place
// that turns OpenSSL's error queue into an absl::Status.
#ifndef STRONGROOM_KMS_HPKE_OPENSSL_UTIL_H_
#define STRONGROOM_KMS_HPKE_OPENSSL_UTIL_H_

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/params.h>

#include <memory>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace strongroom::kms::hpke::internal {

struct OpenSslFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
  void operator()(EVP_CIPHER_CTX* p) const { EVP_CIPHER_CTX_free(p); }
  void operator()(EVP_MAC_CTX* p) const { EVP_MAC_CTX_free(p); }
  void operator()(BIGNUM* p) const { BN_clear_free(p); }
  void operator()(BN_CTX* p) const { BN_CTX_free(p); }
  void operator()(EC_POINT* p) const { EC_POINT_clear_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
  void operator()(OSSL_PARAM_BLD* p) const { OSSL_PARAM_BLD_free(p); }
};
template <typename T>
using OsslPtr = std::unique_ptr<T, OpenSslFree>;

// Internal error "<call> failed: <first queued OpenSSL reason>"; clears the
// queue. For failures that do not depend on caller input.
absl::Status OpenSslInternalError(absl::string_view call);

// Clears OpenSSL's thread-local error queue after an expected failure (bad
// input), so a stale entry cannot be misread by a later caller.
void ClearOpenSslErrors();

}  // namespace strongroom::kms::hpke::internal

#endif  // STRONGROOM_KMS_HPKE_OPENSSL_UTIL_H_
