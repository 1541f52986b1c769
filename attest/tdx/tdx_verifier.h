// Verifier for Intel TDX DCAP quotes (v4, v5) against Intel PCS collateral.
//
// Verify(evidence, ctx):
//   evidence.payload         the quote (bytes after its declared end are
//                            ignored and reported as an Appraisal warning)
//   evidence.collateral_dir  TCB info, QE identity, CRLs, TCB signing chain
//                            (recognized by content; see collateral.h)
//   evidence.certificates    extra certificates (PEM or DER), e.g. a newer
//                            TCB signing certificate
// checks, in this order:
//   1. the quote parses (InvalidArgument, "tdx quote: <field>: <why>");
//   2. the QE report is signed by the PCK leaf (P-256) of the quote's chain;
//   3. QE report_data[0..32) == SHA-256(attestation_key || qe_auth_data),
//      the rest zero;
//   4. the quote signature (attestation key, P-256/SHA-256) over header and
//      body;  (2-4: PermissionDenied)
//   5. ctx.expected_report_data, zero-padded to 64 B (PermissionDenied);
//   6. the PCK chain up to a pinned root, each link valid at ctx.at and not
//      revoked by the current CRL of its issuer (root CA CRL for the
//      platform/processor CA, PCK CRL for the leaf);
//   7. the TDX TCB info for the PCK's FMSPC and the TD_QE identity: current
//      at ctx.at (issueDate <= at <= nextUpdate), signed over their exact
//      JSON bytes by a TCB signing certificate chaining to a pinned root;
//   8. TCB status and QE TCB status as in tcb_evaluation.h.
// Missing or stale collateral (no TCB info for the FMSPC, no current CRL or
// QE identity) is FailedPrecondition: fetching fresh collateral fixes it.
// With require_crls / require_qe_identity off, a missing or stale CRL or QE
// identity is instead skipped with an Appraisal warning, and the hardware
// claim is at best "warning" (32) because the platform was not fully checked.
//
// Outcome: an authentic quote always yields an Appraisal (tee "tdx", claims
// named in docs/attestation-tdx.md). Its hardware claim follows tdx.tcb_status:
// UpToDate and SWHardeningNeeded 2; ConfigurationNeeded,
// ConfigurationAndSWHardeningNeeded, OutOfDate, OutOfDateConfigurationNeeded
// 32; Revoked and NotSupported (TCB below every listed level) 96
// (contraindicated) - the evidence is authentic but disqualifying, so the
// relying party's policy sees the claims and the reason rather than a bare
// error. A debug TD gets configuration and runtime-opaque 32.
//
// Thread-safety: Verify may be called concurrently.
//
// Caching: what is expensive and does not change between calls is kept,
// each cache mutex-guarded and bounded by max_cached_chains (cleared when
// full; 0 turns every cache off), and no cached answer ever differs from
// what the uncached check would give at ctx.at:
//   - collateral directories, parsed, reused only while a stat() of the
//     directory and every file in it (inode, size, mtime, ctime) is
//     unchanged and old enough to be trusted, else re-read and compared by
//     content (collateral_cache.h);
//   - certificates (quote PCK chain, evidence certificates) parsed, by
//     their text itself; the attestation key, by its 64-byte point;
//   - successful collateral signature checks, by the exact bytes of
//     (signing certificate, signed body, signature), each after its length;
//   - verified PCK and TCB signing chains, by the leaf's DER and a SHA-256
//     of every certificate and CRL they were checked against, with the time
//     window over which that check gives the same answer (all certificates
//     valid, the same CRL current for each issuer); used only inside it.
// Validity of TCB info and QE identity (issueDate..nextUpdate), TCB levels
// and the quote's own two signatures are checked on every call. Failures
// are never cached.
#ifndef STRONGROOM_ATTEST_TDX_TDX_VERIFIER_H_
#define STRONGROOM_ATTEST_TDX_TDX_VERIFIER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "attest/verifier.h"
#include "attest/x509.h"

namespace strongroom::attest {

// SHA-256 of the SubjectPublicKeyInfo of the Intel SGX Root CA
// (CN=Intel SGX Root CA, O=Intel Corporation; shared/vectors/tdx/common/
// intel_sgx_root_ca.pem).
inline constexpr char kIntelSgxRootSpkiSha256[] =
    "a0af031289f5d5d4132f9186068a7fc13628633ba235777472e29b6b6c67a49e";

struct TdxVerifierOptions {
  // Roots (SPKI SHA-256, lowercase hex) accepted for the PCK chain and the
  // TCB signing chain. Never empty.
  std::vector<std::string> root_spki_sha256 = {kIntelSgxRootSpkiSha256};
  // When false, a missing or stale CRL skips that revocation check with a
  // warning instead of failing.
  bool require_crls = true;
  // When false, a missing or stale TD_QE identity skips the QE TCB check
  // with a warning instead of failing.
  bool require_qe_identity = true;
  // Entries per cache (see Caching above; collateral directories: at most
  // 16); 0 turns the caches off.
  size_t max_cached_chains = 256;
};

class TdxVerifier : public Verifier {
 public:
  // InvalidArgument when a root digest is not 64 hex digits or none given.
  static absl::StatusOr<std::unique_ptr<TdxVerifier>> Create(
      TdxVerifierOptions options);

  EvidenceType type() const override { return EvidenceType::kTdx; }
  absl::StatusOr<Appraisal> Verify(const Evidence& evidence,
                                   const VerifyContext& ctx) const override;

  // Number of PCK chains in the cache, and of calls that read the files of
  // a collateral directory (for tests and metrics).
  size_t cached_chains() const;
  uint64_t collateral_reads() const;

  ~TdxVerifier() override;

 private:
  struct Caches;

  explicit TdxVerifier(TdxVerifierOptions options);

  const TdxVerifierOptions options_;
  const std::unique_ptr<Caches> caches_;
};

}  // namespace strongroom::attest

#endif  // STRONGROOM_ATTEST_TDX_TDX_VERIFIER_H_
