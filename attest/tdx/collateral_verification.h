// Checks shared by the PCK chain and the signed TCB info / QE identity:
// a certificate chain to a pinned root with the current CRL of each issuer
// picked from the collateral, and an ECDSA signature over signed collateral
// by a TCB signing certificate from that pool. Internal to attest_tdx.
//
// CRL choice: for each link, the CRLs naming the link's issuer and signed by
// it; among those current at the verification time (thisUpdate <= at <=
// nextUpdate) the newest. None current: FailedPrecondition when CRLs are
// required (naming the stale one if there is one), else a warning.
//
// Pure functions; thread-safe.
#ifndef STRONGROOM_ATTEST_TDX_COLLATERAL_VERIFICATION_H_
#define STRONGROOM_ATTEST_TDX_COLLATERAL_VERIFICATION_H_

#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "attest/x509.h"

namespace strongroom::attest::tdx_internal {

struct TrustSettings {
  absl::Time at;
  std::vector<std::string> roots;  // pinned SPKI SHA-256 hex
  bool require_crls = true;
};

struct CheckedChain {
  std::vector<Certificate> chain;  // leaf .. root
  // The interval around `at` over which the same certificates and CRLs give
  // the same answer: every certificate valid, and the same CRL current (or
  // none) for each issuer.
  absl::Time valid_from = absl::InfinitePast();
  absl::Time valid_until = absl::InfiniteFuture();
  std::vector<std::string> warnings;
};

// `what` names the chain in messages ("PCK chain", "TCB signing chain").
absl::StatusOr<CheckedChain> VerifyChainWithCrls(
    const Certificate& leaf, std::span<const Certificate> pool,
    std::span<const Crl> crls, const TrustSettings& trust,
    absl::string_view what);

// The steps of VerifySignedCollateral that cost signature checks, so that a
// caller can memoize them. Each must answer exactly what the plain step
// (DirectCollateralChecks) answers for the same pool, CRLs and settings.
class CollateralChecks {
 public:
  virtual ~CollateralChecks() = default;
  // The pool signers are looked for in (and chains built from).
  virtual std::span<const Certificate> pool() const = 0;
  // MaySignCollateral(pool()[i]) (verification_cache.h).
  virtual bool MaySign(size_t i) const = 0;
  // Whether `signature` (r||s, 64 B) over `body` verifies under `cert`'s key
  // with ECDSA P-256/SHA-256.
  virtual bool SignatureVerifies(const Certificate& cert,
                                 absl::string_view body,
                                 std::span<const uint8_t> signature) const = 0;
  // VerifyChainWithCrls(leaf, pool(), crls, trust, "TCB signing chain").
  virtual absl::StatusOr<CheckedChain> SigningChain(
      const Certificate& leaf) const = 0;
};

// The checks done directly, nothing remembered.
class DirectCollateralChecks : public CollateralChecks {
 public:
  DirectCollateralChecks(std::span<const Certificate> pool,
                         std::span<const Crl> crls, const TrustSettings& trust)
      : pool_(pool), crls_(crls), trust_(trust) {}
  std::span<const Certificate> pool() const override { return pool_; }
  bool MaySign(size_t i) const override;
  bool SignatureVerifies(const Certificate& cert, absl::string_view body,
                         std::span<const uint8_t> signature) const override;
  absl::StatusOr<CheckedChain> SigningChain(
      const Certificate& leaf) const override;

 private:
  std::span<const Certificate> pool_;
  std::span<const Crl> crls_;
  const TrustSettings& trust_;
};

// Verifies `signature` (r||s, P-256/SHA-256) over `body` by a non-CA
// certificate of the pool without the SGX PCK extension (so never a PCK)
// whose chain verifies (checks.SigningChain). Tries every candidate whose
// key verifies the signature (an expired and a re-issued TCB signing
// certificate share a key). PermissionDenied when no key verifies it or no
// such chain verifies; FailedPrecondition when the pool has no signing
// certificate at all or a needed CRL is missing.
absl::Status VerifySignedCollateral(absl::string_view what,
                                    absl::string_view body,
                                    std::span<const uint8_t> signature,
                                    const CollateralChecks& checks,
                                    std::vector<std::string>& warnings);

// FailedPrecondition unless issue <= at <= next.
absl::Status CheckCurrent(absl::string_view what, absl::Time issue,
                          absl::Time next, absl::Time at);

std::string RfcTime(absl::Time t);  // RFC 3339, UTC, seconds

}  // namespace strongroom::attest::tdx_internal

#endif  // STRONGROOM_ATTEST_TDX_COLLATERAL_VERIFICATION_H_
