// Verifies AMD SEV-SNP attestation reports offline (docs/attestation-snp.md).
//
// Evidence.payload is the 1184-byte ATTESTATION_REPORT. The VCEK (or VLEK,
// as the report's SIGNING_KEY says) and its ASK/ASVK and ARK come from
// Evidence.certificates (DER or PEM, one or more per element, any order)
// and/or Evidence.collateral_dir (every file that parses as certificates is
// used; others are ignored). Verify() then checks, in this order:
//   1. the report parses (ParseSnpReport);
//   2. a leaf of the kind the report names is present (a VCEK offered for a
//      VLEK-signed report is PermissionDenied, and vice versa; none at all is
//      FailedPrecondition); among several, the one whose hwID/TCB match and
//      whose key verifies the report is chosen;
//   3. leaf -> ASK/ASVK -> ARK of the leaf's product verifies at ctx.at and
//      the ARK is AMD's (SPKI pinned in vcek.cc);
//   4. the report's CPUID family (v3+) agrees with the product, the VCEK's
//      hwID equals chip_id and its TCB extensions equal reported_tcb;
//   5. the ECDSA P-384 signature over bytes 0..0x29F verifies;
//   6. report_data equals ctx.expected_report_data (zero-padded), if set.
// Errors follow attest/verifier.h; each names the field and value at fault.
//
// Thread-safe: verified chains are cached (base/bounded_cache.h) keyed by
// leaf kind and fingerprint, and a cached chain is only reused when ctx.at lies inside
// the validity of every certificate in it; otherwise the chain is verified
// afresh (and fails if it is not valid then). Parsed certificates (each
// Evidence.certificates element and each collateral file) are cached too,
// keyed by SHA-256 of the bytes they were parsed from: parsing is a pure
// function of those bytes, and under OpenSSL 3.0 three certificates cost
// more to parse than the report's P-384 signature costs to check. Collateral
// files are still read on every call, so a changed file is always seen.
// Both caches are bounded and emptied when full; failures are not cached.
#ifndef STRONGROOM_ATTEST_SNP_SNP_VERIFIER_H_
#define STRONGROOM_ATTEST_SNP_SNP_VERIFIER_H_

#include <atomic>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "attest/snp/snp_report.h"
#include "attest/snp/vcek.h"
#include "attest/verifier.h"
#include "base/bounded_cache.h"

namespace strongroom::attest {

struct SnpVerifierOptions {
  // Verified chains kept for reuse; 0 turns the cache off. When full, the
  // cache is emptied (entries are cheap to rebuild).
  size_t max_cached_chains = 256;
  // Parsed certificate texts kept for reuse (same policy); 0 turns it off.
  size_t max_cached_parses = 256;
  // Files read from a collateral_dir at most (the rest are ignored), and the
  // largest file considered.
  size_t max_collateral_files = 256;
  size_t max_collateral_file_bytes = 1 << 20;
};

class SnpVerifier : public Verifier {
 public:
  static absl::StatusOr<std::unique_ptr<SnpVerifier>> Create(
      SnpVerifierOptions options);

  EvidenceType type() const override { return EvidenceType::kSevSnp; }
  absl::StatusOr<Appraisal> Verify(const Evidence& evidence,
                                   const VerifyContext& ctx) const override;

  // How many Verify() calls reused a cached chain (for tests and metrics).
  uint64_t chain_cache_hits() const { return cache_hits_.load(); }

 private:
  explicit SnpVerifier(SnpVerifierOptions options)
      : options_(std::move(options)),
        chains_(options_.max_cached_chains),
        parsed_(options_.max_cached_parses) {}

  absl::StatusOr<std::vector<Certificate>> CollectCertificates(
      const Evidence& evidence) const;
  // ParseCertificates(text, field) through parsed_.
  absl::StatusOr<std::vector<Certificate>> ParseCached(
      absl::string_view text, absl::string_view field) const;
  // The verified chain for `key` at `at`, from the cache or `pool`.
  absl::StatusOr<SnpChain> ChainFor(const SnpEndorsementKey& key,
                                    std::span<const Certificate> pool,
                                    absl::Time at) const;

  const SnpVerifierOptions options_;
  // Leaf kind + fingerprint -> chain verified earlier.
  mutable BoundedCache<SnpChain> chains_;
  mutable std::atomic<uint64_t> cache_hits_{0};
  // SHA-256 (hex) of a certificate text -> its certificates.
  mutable BoundedCache<std::vector<Certificate>> parsed_;
};

// The leaf of `report.signing_key()`'s kind in `pool` that best fits the
// report: hwID and TCB matching first, then whose key verifies the
// signature. Exposed for tests; see Verify() step 2 for the errors.
absl::StatusOr<SnpEndorsementKey> SelectSnpEndorsementKey(
    const SnpReport& report, std::span<const Certificate> pool);

// Step 5 alone: the report's signature under `key` (P-384 required).
absl::Status VerifySnpReportSignature(const SnpReport& report, EVP_PKEY* key);

}  // namespace strongroom::attest

#endif  // STRONGROOM_ATTEST_SNP_SNP_VERIFIER_H_
