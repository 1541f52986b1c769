// Building blocks of TdxVerifier's caches (internal to attest_tdx).
//
// Every cached value here is either a pure function of the bytes its key is
// a SHA-256 of (parsed certificates, a public key from its point, "this
// signature verifies"), or carries the time window in which it holds and is
// only used inside it (verified chains). So a hit answers exactly what the
// uncached computation would, and a miss simply computes it. Failures are
// never cached.
//
// BoundedCache is thread-safe (one mutex per cache, held only for the map
// operation; values are immutable or shared_ptr to const). CertificateSet is
// immutable once made.
#ifndef STRONGROOM_ATTEST_TDX_VERIFICATION_CACHE_H_
#define STRONGROOM_ATTEST_TDX_VERIFICATION_CACHE_H_

#include <openssl/evp.h>

#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "attest/tdx/pck_extension.h"
#include "attest/x509.h"
#include "base/bounded_cache.h"

namespace strongroom::attest::tdx_internal {

using ::strongroom::BoundedCache;

// SHA-256, fetched from the default provider once: EVP_sha256() and
// SHA256() look the implementation up in the provider tables (under a lock)
// on every use, which costs more than hashing the few KB hashed per
// verification.
const EVP_MD* Sha256Md();

// Appends `part` to `key` after its length (8 bytes), the framing Digest
// hashes: distinct part lists give distinct keys, which BoundedCache
// compares in full (exact bytes, no hashing with SHA-256 first).
void AppendKeyPart(std::string* key, absl::string_view part);

// A SHA-256 over length-prefixed parts: distinct part lists give distinct
// input streams.
class Digest {
 public:
  Digest();
  ~Digest();
  Digest(const Digest&) = delete;
  Digest& operator=(const Digest&) = delete;
  Digest& Add(std::span<const uint8_t> part);
  Digest& Add(absl::string_view part);
  std::string Finish();  // raw 32 bytes; the object is spent

 private:
  EVP_MD_CTX* ctx_;
};

// Whether `cert` may sign TCB info or a QE identity: a leaf (not a CA)
// without the SGX PCK extension (PCK certificates are leaves under the same
// root but never sign collateral).
bool MaySignCollateral(const Certificate& cert);

// Certificates parsed from one PEM or DER text, with what every
// verification asks of them worked out once.
struct CertificateSet {
  std::vector<Certificate> certs;
  // Digest over the DER of every certificate, in order.
  std::string digest;
  // MaySignCollateral(certs[i]).
  std::vector<bool> may_sign_collateral;
  // PckSgxExtensionOf(certs[0]) when that succeeds (a quote's PCK chain).
  std::optional<PckSgxExtension> first_sgx_extension;
};

std::shared_ptr<const CertificateSet> MakeCertificateSet(
    std::vector<Certificate> certs);

// ParseCertificates(text, field) as a CertificateSet, memoized in `cache`
// by `text` itself (compared in full on a hit).
absl::StatusOr<std::shared_ptr<const CertificateSet>> CachedCertificates(
    absl::string_view text, absl::string_view field,
    BoundedCache<std::shared_ptr<const CertificateSet>>& cache);

}  // namespace strongroom::attest::tdx_internal

#endif  // STRONGROOM_ATTEST_TDX_VERIFICATION_CACHE_H_
