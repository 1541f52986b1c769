// Test-only PKI and quote builder for paths the real vectors cannot reach
// (a revoked PCK, a chosen TCB level, a debug TD): a test root, PCK
// platform CA, PCK leaf carrying an SGX extension of our choosing, and TCB
// signing certificate, generated with OpenSSL; CRLs issued by them; and TDX
// quotes re-signed from a real quote's header and body with a fresh
// attestation key and the test PCK key.
//
// Everything here is deterministic except the keys. Not thread-safe.
#ifndef STRONGROOM_TESTS_ATTEST_TDX_SYNTHETIC_TDX_H_
#define STRONGROOM_TESTS_ATTEST_TDX_SYNTHETIC_TDX_H_

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "attest/tdx/pck_extension.h"
#include "attest/tdx/quote.h"
#include "base/bytes.h"

namespace strongroom::attest::testing_tdx {

using PkeyPtr = std::shared_ptr<EVP_PKEY>;
using X509Ptr = std::shared_ptr<X509>;

PkeyPtr NewP256Key();
Bytes RawPublicPoint(EVP_PKEY* key);  // X||Y, 64 B
Bytes SignRaw(EVP_PKEY* key, std::span<const uint8_t> message);  // r||s
Bytes Sha256(std::span<const uint8_t> data);

// DER of an SGX PCK extension value carrying `ext`'s fields.
Bytes SgxExtensionDer(const PckSgxExtension& ext);

struct TestCert {
  PkeyPtr key;
  X509Ptr cert;
  std::string Pem() const;
  std::string SpkiSha256() const;
};

struct SyntheticPki {
  TestCert root, platform_ca, pck, tcb_signing;

  // All certificates valid over [not_before, not_after]; the PCK leaf
  // carries `ext`.
  static SyntheticPki Create(const PckSgxExtension& ext, absl::Time not_before,
                             absl::Time not_after);

  // The PCK chain as a quote carries it: leaf, platform CA, root.
  std::string PckChainPem() const;
  std::string TcbSigningChainPem() const;  // signing cert, root
};

// A CRL (PEM) by `issuer` listing `revoked`, valid [this_update, next_update].
std::string MakeCrlPem(const TestCert& issuer,
                       const std::vector<const TestCert*>& revoked,
                       absl::Time this_update, absl::Time next_update);
Bytes MakeCrlDer(const TestCert& issuer,
                 const std::vector<const TestCert*>& revoked,
                 absl::Time this_update, absl::Time next_update);

// A signed PCS document: {"<key>":<body>,"signature":"<hex r||s>"}.
std::string SignCollateral(absl::string_view key, absl::string_view body,
                           EVP_PKEY* signer);

struct QuoteRecipe {
  // Mutates the header+body bytes (and for v5 the body type/size) before
  // signing; offsets are those of the base quote.
  std::function<void(Bytes&)> edit_signed_data;
  bool bind_attestation_key = true;  // QE report_data = SHA-256(ak||auth)
};

// A quote with `base`'s header, body, QE report and auth data, signed by a
// fresh attestation key whose QE report is signed by `pck_key`, carrying
// `pck_chain_pem`.
Bytes BuildQuote(const TdxQuote& base, EVP_PKEY* pck_key,
                 const std::string& pck_chain_pem,
                 const QuoteRecipe& recipe = {});

// A fresh empty directory under the test temp dir, removed at exit.
std::string MakeTempDir(absl::string_view tag);
void WriteFile(const std::string& path, absl::string_view content);

}  // namespace strongroom::attest::testing_tdx

#endif  // STRONGROOM_TESTS_ATTEST_TDX_SYNTHETIC_TDX_H_
