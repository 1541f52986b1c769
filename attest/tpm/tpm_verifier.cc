#include "attest/tpm/tpm_verifier.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "attest/tpm/quote_bundle.h"
#include "attest/tpm/quote_checks.h"
#include "attest/tpm/tpm_structures.h"
#include "base/status_macros.h"

namespace strongroom::attest {
namespace {

using tpm_checks::SpkiSha256Hex;

absl::Status Prefixed(const absl::Status& s, absl::string_view prefix) {
  return absl::Status(s.code(), absl::StrCat(prefix, s.message()));
}

absl::StatusOr<std::optional<TpmtPublic>> ParseOptionalPublic(
    const Bytes& blob, absl::string_view field) {
  if (blob.empty()) return std::optional<TpmtPublic>();
  auto pub = ParseTpmPublicBlob(blob);
  if (!pub.ok()) {
    return Prefixed(pub.status(), absl::StrCat("tpm quote: ", field, ": "));
  }
  return std::optional<TpmtPublic>(std::move(*pub));
}

// The AK's key, from its public area and/or its certificate (the first
// certificate presented), which must agree.
absl::StatusOr<std::shared_ptr<EVP_PKEY>> ResolveAkKey(
    const std::optional<TpmtPublic>& ak_public,
    const std::vector<Certificate>& presented) {
  std::shared_ptr<EVP_PKEY> key;
  if (ak_public.has_value()) {
    RETURN_IF_ERROR(tpm_checks::CheckAkAttributes(*ak_public));
    auto k = TpmPublicKey(*ak_public);
    if (!k.ok()) return Prefixed(k.status(), "tpm quote: ak_public: ");
    key = *k;
  }
  if (!presented.empty()) {
    EVP_PKEY* cert_key = presented[0].public_key();
    if (cert_key == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tpm quote: AK certificate '", presented[0].common_name(),
          "' has no usable public key"));
    }
    if (key != nullptr) {
      if (EVP_PKEY_eq(key.get(), cert_key) != 1) {
        return absl::PermissionDeniedError(absl::StrCat(
            "tpm quote: ak_public (SPKI sha256 ", SpkiSha256Hex(key.get()),
            ") does not match the key of AK certificate '",
            presented[0].common_name(), "' (SPKI sha256 ",
            SpkiSha256Hex(cert_key), ")"));
      }
    } else {
      EVP_PKEY_up_ref(cert_key);
      key.reset(cert_key, EVP_PKEY_free);
    }
  }
  if (key == nullptr) {
    return absl::FailedPreconditionError(
        "tpm quote: no AK: the bundle has no ak_public and the evidence no "
        "AK certificate");
  }
  return key;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TpmVerifier>> TpmVerifier::Create(
    TpmVerifierOptions options) {
  std::vector<std::shared_ptr<EVP_PKEY>> keys;
  for (size_t i = 0; i < options.trusted_ak_public_keys_pem.size(); ++i) {
    ASSIGN_OR_RETURN(auto parsed,
                     tpm_checks::ParsePublicKeysPem(
                         options.trusted_ak_public_keys_pem[i],
                         absl::StrCat("trusted_ak_public_keys_pem[", i, "]")));
    keys.insert(keys.end(), parsed.begin(), parsed.end());
  }
  std::vector<Certificate> roots;
  for (size_t i = 0; i < options.ak_ca_roots_pem.size(); ++i) {
    std::string field = absl::StrCat("ak_ca_roots_pem[", i, "]");
    ASSIGN_OR_RETURN(auto certs,
                     ParseCertificates(options.ak_ca_roots_pem[i], field));
    for (const Certificate& c : certs) {
      if (!c.SelfSigned()) {
        return absl::InvalidArgumentError(absl::StrCat(
            field, ": '", c.common_name(), "' is not a self-signed root"));
      }
      roots.push_back(c);
    }
  }
  std::vector<Certificate> intermediates;
  for (size_t i = 0; i < options.ak_ca_intermediates_pem.size(); ++i) {
    ASSIGN_OR_RETURN(auto certs,
                     ParseCertificates(options.ak_ca_intermediates_pem[i],
                                       absl::StrCat("ak_ca_intermediates_pem[",
                                                    i, "]")));
    intermediates.insert(intermediates.end(), certs.begin(), certs.end());
  }
  return std::unique_ptr<TpmVerifier>(new TpmVerifier(
      std::move(keys), std::move(roots), std::move(intermediates)));
}

absl::StatusOr<Appraisal> TpmVerifier::Verify(const Evidence& evidence,
                                              const VerifyContext& ctx) const {
  if (ctx.at == absl::InfinitePast()) {
    return absl::InvalidArgumentError(
        "tpm quote: verification time (VerifyContext.at) is not set");
  }
  if (evidence.type != EvidenceType::kTpm) {
    return absl::InvalidArgumentError(
        absl::StrCat("tpm quote: evidence type is '",
                     EvidenceTypeName(evidence.type), "', not 'tpm'"));
  }
  ASSIGN_OR_RETURN(TpmQuoteBundle bundle, ParseTpmQuoteBundle(evidence.payload));
  auto attest_or = ParseTpmsAttest(bundle.quote);
  if (!attest_or.ok()) return Prefixed(attest_or.status(), "tpm quote: quote: ");
  const TpmsAttest& attest = *attest_or;
  auto sig_or = ParseTpmtSignature(bundle.signature);
  if (!sig_or.ok()) {
    return Prefixed(sig_or.status(), "tpm quote: signature: ");
  }
  const TpmtSignature& sig = *sig_or;
  ASSIGN_OR_RETURN(std::optional<TpmtPublic> ak_public,
                   ParseOptionalPublic(bundle.ak_public, "ak_public"));
  ASSIGN_OR_RETURN(std::optional<TpmtPublic> ek_public,
                   ParseOptionalPublic(bundle.ek_public, "ek_public"));
  std::vector<Certificate> presented;
  for (size_t i = 0; i < evidence.certificates.size(); ++i) {
    ASSIGN_OR_RETURN(auto certs,
                     ParseCertificates(evidence.certificates[i],
                                       absl::StrCat("tpm quote: certificates[",
                                                    i, "]")));
    presented.insert(presented.end(), certs.begin(), certs.end());
  }

  ASSIGN_OR_RETURN(std::shared_ptr<EVP_PKEY> ak,
                   ResolveAkKey(ak_public, presented));
  ASSIGN_OR_RETURN(std::string ak_alg, tpm_checks::KeyAlgName(ak.get()));
  std::string ak_spki = SpkiSha256Hex(ak.get());
  RETURN_IF_ERROR(tpm_checks::VerifyQuoteSignature(
      ak.get(), ak_public ? &*ak_public : nullptr, sig, bundle.quote));

  // AK trust: a configured key, else a certificate chain to a pinned root.
  std::string trust;
  for (const auto& k : trusted_keys_) {
    if (EVP_PKEY_eq(k.get(), ak.get()) == 1) trust = "pinned-key";
  }
  if (trust.empty()) {
    std::string untrusted = absl::StrCat("tpm quote: AK (SPKI sha256 ",
                                         ak_spki, ") is not a trusted AK key");
    if (presented.empty()) {
      return absl::PermissionDeniedError(
          absl::StrCat(untrusted, " and no AK certificate was presented"));
    }
    if (roots_.empty()) {
      return absl::PermissionDeniedError(
          absl::StrCat(untrusted, " and no AK CA roots are configured"));
    }
    std::vector<Certificate> pool(presented.begin() + 1, presented.end());
    pool.insert(pool.end(), intermediates_.begin(), intermediates_.end());
    pool.insert(pool.end(), roots_.begin(), roots_.end());
    ChainCheck check;
    check.at = ctx.at;
    for (const Certificate& r : roots_) {
      check.pinned_roots.push_back(r.SpkiSha256Hex());
    }
    auto chain = BuildAndVerifyChain(presented[0], pool, check);
    if (!chain.ok()) {
      return absl::PermissionDeniedError(
          absl::StrCat("tpm quote: AK certificate '", presented[0].common_name(),
                       "' is not trusted: ", chain.status().message()));
    }
    trust = "certificate";
  }

  Appraisal appraisal;
  appraisal.tee = "tpm";
  Claims& claims = appraisal.claims;
  std::string qn_check = "unverified";
  if (ak_public.has_value()) {
    ASSIGN_OR_RETURN(auto match, tpm_checks::MatchQualifiedSigner(
                                     attest.qualified_signer, *ak_public,
                                     ek_public ? &*ek_public : nullptr));
    if (match.has_value()) {
      qn_check = *match;
    } else {
      appraisal.warnings.push_back(
          "qualifiedSigner is neither the AK's Name nor a Qualified Name "
          "derivable from a hierarchy or ek_public (parent chain unknown)");
    }
    ASSIGN_OR_RETURN(Bytes name, TpmName(*ak_public));
    claims.SetBytes("tpm.ak.name", name);
  } else {
    appraisal.warnings.push_back(
        "no ak_public in the bundle: qualifiedSigner not checked");
  }

  if (ctx.expected_report_data.has_value()) {
    if (*ctx.expected_report_data != attest.extra_data) {
      return absl::PermissionDeniedError(absl::StrCat(
          "tpm quote: extraData (nonce) ", HexEncode(attest.extra_data),
          " is not the expected ", HexEncode(*ctx.expected_report_data)));
    }
  } else {
    appraisal.warnings.push_back(
        "no expected nonce given: quote freshness not checked");
  }

  std::vector<std::string> unused;
  RETURN_IF_ERROR(
      tpm_checks::CheckPcrDigest(attest, bundle.pcrs, sig.hash_alg, &unused));
  for (const std::string& u : unused) {
    appraisal.warnings.push_back(
        absl::StrCat(u, " supplied but not selected by the quote: ignored"));
  }
  // CheckPcrDigest has made sure every selected PCR is supplied.
  for (const TpmsPcrSelection& sel : attest.pcr_select) {
    for (uint32_t index : sel.pcrs) {
      claims.SetBytes(
          absl::StrCat("tpm.pcrs.", TpmAlgName(sel.hash_alg), ".", index),
          bundle.pcrs.find(sel.hash_alg)->second.find(index)->second);
    }
  }
  claims.SetBytes("tpm.nonce", attest.extra_data);
  claims.SetString("tpm.ak.alg", ak_alg);
  claims.SetString("tpm.ak.spki_sha256", ak_spki);
  claims.SetString("tpm.ak.trust", trust);
  claims.SetBytes("tpm.ak.qualified_name", attest.qualified_signer);
  claims.SetString("tpm.ak.qualified_name_check", qn_check);
  claims.SetInt("tpm.firmware_version",
                static_cast<int64_t>(attest.firmware_version));
  claims.SetInt("tpm.clock.ms", static_cast<int64_t>(attest.clock_info.clock));
  claims.SetBool("tpm.clock.safe", attest.clock_info.safe);
  claims.SetInt("tpm.reset_count", attest.clock_info.reset_count);
  claims.SetInt("tpm.restart_count", attest.clock_info.restart_count);
  claims.SetString("tpm.quote.hash", TpmAlgName(sig.hash_alg));
  appraisal.trust.instance_identity = 2;
  appraisal.trust.hardware = 2;
  appraisal.trust.executables = 2;
  return appraisal;
}

}  // namespace strongroom::attest
