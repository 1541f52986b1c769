// Key helpers shared by DevAttester and DevVerifier (internal to attest_dev).
#ifndef STRONGROOM_ATTEST_DEV_DEV_KEY_H_
#define STRONGROOM_ATTEST_DEV_DEV_KEY_H_

#include <openssl/evp.h>

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace strongroom::attest::dev_internal {

// OK when `key` is an EC key on P-256; else InvalidArgument naming `field`.
absl::Status CheckP256(EVP_PKEY* key, absl::string_view field);

// SHA-256 hex of the DER SubjectPublicKeyInfo ("" if it cannot be encoded).
std::string KeyId(EVP_PKEY* key);

// The public half as PEM SubjectPublicKeyInfo.
std::string PublicKeyPem(EVP_PKEY* key);

// Drops OpenSSL's queued errors (they are reported as Status instead).
void ClearOpensslErrors();

}  // namespace strongroom::attest::dev_internal

#endif  // STRONGROOM_ATTEST_DEV_DEV_KEY_H_
