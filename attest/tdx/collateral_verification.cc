#include "attest/tdx/collateral_verification.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <ctime>
#include <optional>

#include "absl/strings/str_cat.h"
#include "attest/tdx/pck_extension.h"
#include "attest/tdx/verification_cache.h"
#include "base/status_macros.h"

namespace strongroom::attest::tdx_internal {
namespace {

absl::Time FromAsn1(const ASN1_TIME* t, absl::Time if_absent) {
  struct tm tm {};
  if (t == nullptr) return if_absent;
  if (ASN1_TIME_to_tm(t, &tm) != 1) return absl::InfinitePast();
  return absl::FromUnixSeconds(timegm(&tm));
}

absl::Time ThisUpdate(const Crl& crl) {
  return FromAsn1(X509_CRL_get0_lastUpdate(crl.get()), absl::InfinitePast());
}
absl::Time NextUpdate(const Crl& crl) {
  return FromAsn1(X509_CRL_get0_nextUpdate(crl.get()),
                  absl::InfiniteFuture());
}

bool IssuedBy(const Crl& crl, const Certificate& issuer) {
  return X509_NAME_cmp(X509_CRL_get_issuer(crl.get()),
                       X509_get_subject_name(issuer.get())) == 0;
}

bool SignedBy(const Crl& crl, const Certificate& issuer) {
  bool ok = X509_CRL_verify(crl.get(), issuer.public_key()) == 1;
  ERR_clear_error();
  return ok;
}

// Narrows [from, until] to the interval around `at` in which `crl` is
// either current throughout or not current throughout.
void NarrowByCrl(const Crl& crl, absl::Time at, CheckedChain& out) {
  absl::Time tu = ThisUpdate(crl), nu = NextUpdate(crl);
  constexpr absl::Duration kTick = absl::Nanoseconds(1);
  if (tu <= at) {
    out.valid_from = std::max(out.valid_from, tu);
  } else {
    out.valid_until = std::min(out.valid_until, tu - kTick);
  }
  if (nu < at) {
    out.valid_from = std::max(out.valid_from, nu + kTick);
  } else {
    out.valid_until = std::min(out.valid_until, nu);
  }
}

// The revocation check of one link (cert issued by issuer).
absl::Status CheckLink(const Certificate& cert, const Certificate& issuer,
                       std::span<const Crl> crls, const TrustSettings& trust,
                       absl::string_view what, CheckedChain& out) {
  const Crl* best = nullptr;
  const Crl* stale = nullptr;
  for (const Crl& crl : crls) {
    if (!IssuedBy(crl, issuer)) continue;
    NarrowByCrl(crl, trust.at, out);
    if (!SignedBy(crl, issuer)) continue;
    absl::Time tu = ThisUpdate(crl), nu = NextUpdate(crl);
    if (trust.at < tu || trust.at > nu) {
      stale = &crl;
      continue;
    }
    if (best == nullptr || tu > ThisUpdate(*best)) best = &crl;
  }
  if (best == nullptr) {
    std::string why =
        stale == nullptr
            ? std::string("none in the collateral")
            : absl::StrCat("the one in the collateral covers ",
                           RfcTime(ThisUpdate(*stale)), " .. ",
                           RfcTime(NextUpdate(*stale)));
    std::string msg = absl::StrCat(
        "tdx ", what, ": no CRL from '", issuer.common_name(),
        "' current at ", RfcTime(trust.at), " to check '",
        cert.common_name(), "' (", why, ")");
    if (trust.require_crls) return absl::FailedPreconditionError(msg);
    out.warnings.push_back(
        absl::StrCat(msg, "; revocation not checked"));
    return absl::OkStatus();
  }
  X509_REVOKED* revoked = nullptr;
  if (X509_CRL_get0_by_cert(best->get(), &revoked, cert.get()) == 1) {
    return absl::PermissionDeniedError(absl::StrCat(
        "tdx ", what, ": certificate '", cert.common_name(),
        "' is revoked by '", issuer.common_name(), "'"));
  }
  return absl::OkStatus();
}

}  // namespace

std::string RfcTime(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d%ET%H:%M:%SZ", t, absl::UTCTimeZone());
}

absl::StatusOr<CheckedChain> VerifyChainWithCrls(
    const Certificate& leaf, std::span<const Certificate> pool,
    std::span<const Crl> crls, const TrustSettings& trust,
    absl::string_view what) {
  ChainCheck check{.at = trust.at, .pinned_roots = trust.roots};
  auto chain = BuildAndVerifyChain(leaf, pool, check);
  if (!chain.ok()) {
    return absl::Status(chain.status().code(),
                        absl::StrCat("tdx ", what, ": ",
                                     chain.status().message()));
  }
  CheckedChain out;
  out.chain = *std::move(chain);
  for (const Certificate& c : out.chain) {
    out.valid_from = std::max(out.valid_from, c.not_before());
    out.valid_until = std::min(out.valid_until, c.not_after());
  }
  for (size_t i = 0; i + 1 < out.chain.size(); ++i) {
    RETURN_IF_ERROR(
        CheckLink(out.chain[i], out.chain[i + 1], crls, trust, what, out));
  }
  return out;
}

bool DirectCollateralChecks::MaySign(size_t i) const {
  return MaySignCollateral(pool_[i]);
}

bool DirectCollateralChecks::SignatureVerifies(
    const Certificate& cert, absl::string_view body,
    std::span<const uint8_t> signature) const {
  return VerifyEcdsaRaw(cert.public_key(), EVP_sha256(), AsBytes(body),
                        signature.first(32), signature.subspan(32), "")
      .ok();
}

absl::StatusOr<CheckedChain> DirectCollateralChecks::SigningChain(
    const Certificate& leaf) const {
  return VerifyChainWithCrls(leaf, pool_, crls_, trust_, "TCB signing chain");
}

absl::Status VerifySignedCollateral(absl::string_view what,
                                    absl::string_view body,
                                    std::span<const uint8_t> signature,
                                    const CollateralChecks& checks,
                                    std::vector<std::string>& warnings) {
  if (signature.size() != 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("tdx ", what, ": signature is ", signature.size(),
                     " bytes, want 64"));
  }
  size_t candidates = 0;
  std::optional<absl::Status> chain_error;
  std::span<const Certificate> pool = checks.pool();
  for (size_t i = 0; i < pool.size(); ++i) {
    // A TCB signing certificate is a leaf; PCK certificates (leaves under
    // the same root) never sign collateral.
    if (!checks.MaySign(i)) continue;
    ++candidates;
    const Certificate& cert = pool[i];
    if (!checks.SignatureVerifies(cert, body, signature)) continue;
    auto checked = checks.SigningChain(cert);
    if (checked.ok()) {
      warnings.insert(warnings.end(), checked->warnings.begin(),
                      checked->warnings.end());
      return absl::OkStatus();
    }
    if (!chain_error) chain_error = checked.status();
  }
  if (candidates == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "tdx ", what, ": no TCB signing certificate in the collateral"));
  }
  if (chain_error) {
    return absl::Status(chain_error->code(),
                        absl::StrCat("tdx ", what, ": signed, but ",
                                     chain_error->message()));
  }
  return absl::PermissionDeniedError(absl::StrCat(
      "tdx ", what, ": signature does not verify under any of the ",
      candidates, " signing certificates in the collateral"));
}

absl::Status CheckCurrent(absl::string_view what, absl::Time issue,
                          absl::Time next, absl::Time at) {
  if (at < issue || at > next) {
    return absl::FailedPreconditionError(absl::StrCat(
        "tdx ", what, " is not current at ", RfcTime(at), " (issueDate ",
        RfcTime(issue), ", nextUpdate ", RfcTime(next), ")"));
  }
  return absl::OkStatus();
}

}  // namespace strongroom::attest::tdx_internal
