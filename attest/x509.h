// X.509 certificates and chains for attestation verifiers.
//
// Evidence chains (AMD ARK/ASK/VCEK, Intel SGX root/PCK, NVIDIA device roots,
// TPM EK/AK issuers) are checked link by link here instead of through an
// X509_STORE: each certificate must be signed by the next, name its issuer's
// subject, be valid at the caller's verification time (vectors are expired;
// time is always an input), and every non-leaf must be a CA. The root must be
// self-signed and its public key one of the caller's pinned SPKI digests.
//
// Certificate is an immutable value (shared, reference-counted X509*); safe to
// copy and to use from several threads. Failures are InvalidArgument for input
// that does not parse and PermissionDenied for a chain that does not verify,
// each naming the certificate (by subject CN) and the reason.
#ifndef STRONGROOM_ATTEST_X509_H_
#define STRONGROOM_ATTEST_X509_H_

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "base/bytes.h"

namespace strongroom::attest {

class Certificate {
 public:
  // One DER certificate.
  static absl::StatusOr<Certificate> FromDer(std::span<const uint8_t> der,
                                             absl::string_view field);

  X509* get() const { return x509_.get(); }
  EVP_PKEY* public_key() const;  // owned by the certificate
  const Bytes& der() const { return *der_; }
  std::string subject() const;  // one-line RFC 2253 form
  std::string issuer() const;
  std::string common_name() const;  // subject CN, or subject if none
  // The validity period; a time OpenSSL cannot read fails closed:
  // not_before() is then InfiniteFuture, not_after() InfinitePast.
  absl::Time not_before() const;
  absl::Time not_after() const;
  // SHA-256 of the DER SubjectPublicKeyInfo, lowercase hex: what roots are
  // pinned by.
  std::string SpkiSha256Hex() const;
  // SHA-256 of the whole DER certificate, lowercase hex.
  std::string FingerprintHex() const;
  // The DER value (inside the OCTET STRING) of the extension with this
  // dotted OID, or nullopt.
  std::optional<Bytes> Extension(absl::string_view oid) const;
  bool SelfSigned() const;

 private:
  Certificate(std::shared_ptr<X509> x509, std::shared_ptr<const Bytes> der)
      : x509_(std::move(x509)), der_(std::move(der)) {}
  std::shared_ptr<X509> x509_;
  std::shared_ptr<const Bytes> der_;
};

// Every certificate in `data`: any number of PEM blocks, or one DER
// certificate. Empty input or a block that does not parse is InvalidArgument
// naming `field`.
absl::StatusOr<std::vector<Certificate>> ParseCertificates(
    absl::string_view data, absl::string_view field);

// A certificate revocation list (DER or PEM).
class Crl {
 public:
  static absl::StatusOr<Crl> Parse(absl::string_view data,
                                   absl::string_view field);
  // Every "X509 CRL" PEM block in `data` (other blocks skipped): a file may
  // hold several. InvalidArgument naming `field` and the block's number.
  static absl::StatusOr<std::vector<Crl>> ParseAllPem(absl::string_view data,
                                                      absl::string_view field);
  X509_CRL* get() const { return crl_.get(); }
  std::string issuer() const;

 private:
  explicit Crl(std::shared_ptr<X509_CRL> crl) : crl_(std::move(crl)) {}
  std::shared_ptr<X509_CRL> crl_;
};

struct ChainCheck {
  absl::Time at;                            // verification time
  std::vector<std::string> pinned_roots;    // SPKI SHA-256 hex; empty = any
  std::vector<Crl> crls;                    // consulted when require_crls
  bool require_crls = false;  // each non-root link needs a CRL by its issuer
};

// Verifies chain[0] (leaf) .. chain.back() (root) as described above.
absl::Status VerifyChain(std::span<const Certificate> chain,
                         const ChainCheck& check);

// Builds a chain from `leaf` up through `pool` (issuer-name match plus
// signature) until a self-signed certificate; then VerifyChain.
absl::StatusOr<std::vector<Certificate>> BuildAndVerifyChain(
    const Certificate& leaf, std::span<const Certificate> pool,
    const ChainCheck& check);

// ECDSA over SHA-256/384 with a raw r||s signature (as SEV-SNP, TDX, SPDM and
// TPM carry them); `digest_alg` is e.g. EVP_sha384(). Returns
// PermissionDenied("<what>: signature does not verify") on mismatch, also
// for an empty r or s. The digest is fetched once and the check runs on a
// verify context this thread keeps per (key, digest)
// (attest/signature_check.h), so `key` must not be modified afterwards.
absl::Status VerifyEcdsaRaw(EVP_PKEY* key, const EVP_MD* digest_alg,
                            std::span<const uint8_t> message,
                            std::span<const uint8_t> r,
                            std::span<const uint8_t> s, absl::string_view what);

// A P-256/P-384 public key from an uncompressed point (0x04||X||Y or X||Y).
absl::StatusOr<std::shared_ptr<EVP_PKEY>> EcPublicKeyFromPoint(
    int curve_nid, std::span<const uint8_t> point, absl::string_view field);

// Public key from a PEM SubjectPublicKeyInfo.
absl::StatusOr<std::shared_ptr<EVP_PKEY>> PublicKeyFromPem(
    absl::string_view pem, absl::string_view field);

std::string Sha256Hex(std::span<const uint8_t> data);

}  // namespace strongroom::attest

#endif  // STRONGROOM_ATTEST_X509_H_
