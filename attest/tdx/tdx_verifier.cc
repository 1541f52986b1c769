#include "attest/tdx/tdx_verifier.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "attest/tdx/collateral.h"
#include "attest/tdx/collateral_verification.h"
#include "attest/tdx/pck_extension.h"
#include "attest/tdx/quote.h"
#include "attest/tdx/tcb_evaluation.h"
#include "base/status_macros.h"

namespace strongroom::attest {
namespace {

using tdx_internal::CheckCurrent;
using tdx_internal::RfcTime;
using tdx_internal::TrustSettings;

absl::Status CheckP256(const Certificate& cert) {
  EVP_PKEY* key = cert.public_key();
  char group[64] = {0};
  size_t len = 0;
  if (key == nullptr || EVP_PKEY_get_base_id(key) != EVP_PKEY_EC ||
      EVP_PKEY_get_group_name(key, group, sizeof(group), &len) != 1 ||
      absl::string_view(group, len) != "prime256v1") {
    return absl::PermissionDeniedError(absl::StrCat(
        "tdx quote: PCK certificate '", cert.common_name(),
        "' does not hold a P-256 key"));
  }
  return absl::OkStatus();
}

// Step 3: the QE vouches for the attestation key through its report data.
absl::Status CheckQeBinding(const TdxQuote& q) {
  Bytes preimage(q.attestation_key.begin(), q.attestation_key.end());
  preimage.insert(preimage.end(), q.qe_auth_data.begin(), q.qe_auth_data.end());
  uint8_t digest[32];
  unsigned int n = 0;
  EVP_Digest(preimage.data(), preimage.size(), digest, &n, EVP_sha256(),
             nullptr);
  const auto& rd = q.qe_report.report_data;
  bool zero_tail = std::all_of(rd.begin() + 32, rd.end(),
                               [](uint8_t b) { return b == 0; });
  if (CRYPTO_memcmp(rd.data(), digest, 32) != 0 || !zero_tail) {
    return absl::PermissionDeniedError(absl::StrCat(
        "tdx quote: QE report_data ", HexEncode(rd),
        " does not bind the attestation key (want SHA-256(attestation_key || "
        "qe_auth_data) = ",
        HexEncode(digest), " followed by zeros)"));
  }
  return absl::OkStatus();
}

absl::Status CheckReportData(const TdxQuote& q, const VerifyContext& ctx) {
  if (!ctx.expected_report_data) return absl::OkStatus();
  const Bytes& want = *ctx.expected_report_data;
  if (want.size() > q.body.report_data.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tdx: expected report data is ", want.size(), " bytes, at most 64"));
  }
  std::array<uint8_t, 64> padded{};
  std::copy(want.begin(), want.end(), padded.begin());
  if (CRYPTO_memcmp(padded.data(), q.body.report_data.data(), 64) != 0) {
    return absl::PermissionDeniedError(
        "tdx quote: report_data does not match the expected report data");
  }
  return absl::OkStatus();
}

// Steps 2-4 of the header.
absl::Status VerifyQuoteSignatures(const TdxQuote& q, const Certificate& pck) {
  RETURN_IF_ERROR(CheckP256(pck));
  std::span<const uint8_t> qe_sig(q.qe_report_signature);
  RETURN_IF_ERROR(VerifyEcdsaRaw(pck.public_key(), EVP_sha256(),
                                 q.qe_report_raw, qe_sig.first(32),
                                 qe_sig.subspan(32),
                                 "tdx quote: QE report signature (PCK key)"));
  RETURN_IF_ERROR(CheckQeBinding(q));
  ASSIGN_OR_RETURN(auto ak, EcPublicKeyFromPoint(NID_X9_62_prime256v1,
                                                 q.attestation_key,
                                                 "tdx quote: attestation_key"));
  std::span<const uint8_t> sig(q.signature);
  return VerifyEcdsaRaw(ak.get(), EVP_sha256(), q.signed_data, sig.first(32),
                        sig.subspan(32),
                        "tdx quote: quote signature (attestation key)");
}

// The TDX TCB info for `fmspc`: among those current at `at`, the highest
// evaluation data number, then the newest; the first whose signature checks
// out wins.
absl::StatusOr<const TdxTcbInfo*> SelectTcbInfo(
    const TdxCollateral& coll, const std::array<uint8_t, 6>& fmspc,
    std::span<const Certificate> pool, const TrustSettings& trust,
    std::vector<std::string>& warnings) {
  std::vector<const TdxTcbInfo*> found;
  for (const TdxTcbInfo& info : coll.tcb_infos) {
    if (info.id == "TDX" && info.version >= 3 && info.fmspc == fmspc) {
      found.push_back(&info);
    }
  }
  if (found.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "tdx collateral: no TDX TCB info for FMSPC ", HexEncode(fmspc)));
  }
  std::vector<const TdxTcbInfo*> current;
  for (const TdxTcbInfo* info : found) {
    if (CheckCurrent("", info->issue_date, info->next_update, trust.at).ok()) {
      current.push_back(info);
    }
  }
  if (current.empty()) {
    return CheckCurrent(absl::StrCat("TCB info for FMSPC ", HexEncode(fmspc)),
                        found[0]->issue_date, found[0]->next_update, trust.at);
  }
  std::stable_sort(current.begin(), current.end(), [](auto* a, auto* b) {
    if (a->tcb_evaluation_data_number != b->tcb_evaluation_data_number) {
      return a->tcb_evaluation_data_number > b->tcb_evaluation_data_number;
    }
    return a->issue_date > b->issue_date;
  });
  absl::Status first_error;
  for (const TdxTcbInfo* info : current) {
    std::vector<std::string> w;
    absl::Status s = tdx_internal::VerifySignedCollateral(
        "TCB info", info->signed_body, info->signature, pool, coll.crls, trust,
        w);
    if (s.ok()) {
      warnings.insert(warnings.end(), w.begin(), w.end());
      return info;
    }
    if (first_error.ok()) first_error = s;
  }
  return first_error;
}

// The current, authentic TD_QE identity with the highest evaluation data
// number; nullptr (with a warning) when there is none and it is not
// required. One that is current but fails its signature is an error even
// when the identity is optional and no other one verifies.
absl::StatusOr<const QeIdentity*> SelectQeIdentity(
    const TdxCollateral& coll, std::span<const Certificate> pool,
    const TrustSettings& trust, bool required,
    std::vector<std::string>& warnings) {
  std::vector<const QeIdentity*> found;
  for (const QeIdentity& qe : coll.qe_identities) {
    if (qe.id == "TD_QE") found.push_back(&qe);
  }
  std::stable_sort(found.begin(), found.end(), [](auto* a, auto* b) {
    return a->tcb_evaluation_data_number > b->tcb_evaluation_data_number;
  });
  absl::Status why = absl::FailedPreconditionError(
      "tdx collateral: no TD_QE identity");
  absl::Status forged;
  for (const QeIdentity* qe : found) {
    absl::Status s = CheckCurrent("QE identity", qe->issue_date,
                                  qe->next_update, trust.at);
    std::vector<std::string> w;
    if (s.ok()) {
      s = tdx_internal::VerifySignedCollateral(
          "QE identity", qe->signed_body, qe->signature, pool, coll.crls, trust,
          w);
    }
    if (s.ok()) {
      warnings.insert(warnings.end(), w.begin(), w.end());
      return qe;
    }
    if (s.code() == absl::StatusCode::kPermissionDenied && forged.ok()) {
      forged = s;
    } else if (s.code() != absl::StatusCode::kPermissionDenied) {
      why = s;
    }
  }
  if (!forged.ok()) return forged;
  if (required) return why;
  warnings.push_back(
      absl::StrCat(why.message(), "; QE TCB status not evaluated"));
  return nullptr;
}

int8_t HardwareClaim(TcbStatus s) {
  switch (s) {
    case TcbStatus::kUpToDate:
    case TcbStatus::kSwHardeningNeeded:
      return 2;
    case TcbStatus::kConfigurationNeeded:
    case TcbStatus::kConfigurationAndSwHardeningNeeded:
    case TcbStatus::kOutOfDate:
    case TcbStatus::kOutOfDateConfigurationNeeded:
      return 32;
    case TcbStatus::kRevoked:
    case TcbStatus::kNotSupported:
      return 96;
  }
  return 96;
}

void AddQuoteClaims(const TdxQuote& q, Claims& c) {
  const TdReportBody& b = q.body;
  c.SetInt("tdx.version", q.header.version);
  c.SetBytes("tdx.tee_tcb_svn", b.tee_tcb_svn);
  c.SetBytes("tdx.mrseam", b.mrseam);
  c.SetBytes("tdx.mrsignerseam", b.mrsignerseam);
  c.SetBytes("tdx.seam_attributes", b.seam_attributes);
  c.SetBytes("tdx.td_attributes", b.td_attributes);
  const uint64_t attrs = b.TdAttributes();
  auto bit = [attrs](int n) { return ((attrs >> n) & 1) != 0; };
  c.SetBool("tdx.td_attributes.debug", bit(kTdAttrDebugBit));
  c.SetBool("tdx.td_attributes.sept_ve_disable", bit(kTdAttrSeptVeDisableBit));
  c.SetBool("tdx.td_attributes.migratable", bit(kTdAttrMigratableBit));
  c.SetBool("tdx.td_attributes.pks", bit(kTdAttrPksBit));
  c.SetBool("tdx.td_attributes.kl", bit(kTdAttrKlBit));
  c.SetBool("tdx.td_attributes.perfmon", bit(kTdAttrPerfmonBit));
  c.SetBytes("tdx.xfam", b.xfam);
  c.SetBytes("tdx.mrtd", b.mrtd);
  c.SetBytes("tdx.mrconfigid", b.mrconfigid);
  c.SetBytes("tdx.mrowner", b.mrowner);
  c.SetBytes("tdx.mrownerconfig", b.mrownerconfig);
  for (int i = 0; i < 4; ++i) {
    c.SetBytes(absl::StrCat("tdx.rtmr", i), b.rtmr[i]);
  }
  c.SetBytes("tdx.report_data", b.report_data);
  if (b.tee_tcb_svn2) c.SetBytes("tdx.tee_tcb_svn2", *b.tee_tcb_svn2);
  if (b.mrservicetd) c.SetBytes("tdx.mrservicetd", *b.mrservicetd);
}

}  // namespace

absl::StatusOr<std::unique_ptr<TdxVerifier>> TdxVerifier::Create(
    TdxVerifierOptions options) {
  if (options.root_spki_sha256.empty()) {
    return absl::InvalidArgumentError("tdx verifier: no pinned root");
  }
  for (std::string& root : options.root_spki_sha256) {
    root = absl::AsciiStrToLower(root);
    if (root.size() != 64 || !HexDecode(root).ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tdx verifier: root_spki_sha256 '", root,
          "' is not 64 hex digits"));
    }
  }
  return std::unique_ptr<TdxVerifier>(new TdxVerifier(std::move(options)));
}

size_t TdxVerifier::cached_chains() const {
  std::lock_guard<std::mutex> lock(mu_);
  return chain_cache_.size();
}

absl::Status TdxVerifier::VerifyPckChain(
    const Certificate& leaf, std::span<const Certificate> pool,
    std::span<const Crl> crls, absl::Time at,
    std::vector<std::string>& warnings) const {
  const std::string key = leaf.FingerprintHex();
  const std::string inputs = tdx_internal::InputsDigest(pool, crls);
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = chain_cache_.find(key);
    if (it != chain_cache_.end() && it->second.inputs_digest == inputs &&
        at >= it->second.valid_from && at <= it->second.valid_until) {
      warnings.insert(warnings.end(), it->second.warnings.begin(),
                      it->second.warnings.end());
      return absl::OkStatus();
    }
  }
  TrustSettings trust{.at = at,
                      .roots = options_.root_spki_sha256,
                      .require_crls = options_.require_crls};
  ASSIGN_OR_RETURN(auto checked, tdx_internal::VerifyChainWithCrls(
                                     leaf, pool, crls, trust, "PCK chain"));
  warnings.insert(warnings.end(), checked.warnings.begin(),
                  checked.warnings.end());
  std::lock_guard<std::mutex> lock(mu_);
  if (chain_cache_.size() >= options_.max_cached_chains) chain_cache_.clear();
  if (options_.max_cached_chains > 0) {
    chain_cache_[key] = CachedChain{inputs, checked.valid_from,
                                    checked.valid_until, checked.warnings};
  }
  return absl::OkStatus();
}

absl::StatusOr<Appraisal> TdxVerifier::Verify(const Evidence& evidence,
                                              const VerifyContext& ctx) const {
  if (evidence.type != EvidenceType::kTdx) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tdx verifier: evidence type is ", EvidenceTypeName(evidence.type)));
  }
  if (ctx.at == absl::InfinitePast() || ctx.at == absl::InfiniteFuture()) {
    return absl::InvalidArgumentError("tdx verifier: verification time unset");
  }
  Appraisal a;
  a.tee = "tdx";
  ASSIGN_OR_RETURN(TdxQuote q, ParseTdxQuote(AsBytes(evidence.payload)));
  if (q.trailing_bytes > 0) {
    a.warnings.push_back(absl::StrCat(
        "tdx quote: ", q.trailing_bytes,
        " trailing bytes after the quote's declared end (",
        q.quote_size, " bytes) ignored"));
  }
  ASSIGN_OR_RETURN(std::vector<Certificate> quote_certs,
                   ParseCertificates(q.pck_chain_pem,
                                     "tdx quote: PCK certificate chain"));
  const Certificate pck = quote_certs[0];
  RETURN_IF_ERROR(VerifyQuoteSignatures(q, pck));
  RETURN_IF_ERROR(CheckReportData(q, ctx));

  // Collateral and the certificate pool chains are built from.
  ASSIGN_OR_RETURN(TdxCollateral coll,
                   LoadTdxCollateral(evidence.collateral_dir));
  for (size_t i = 0; i < evidence.certificates.size(); ++i) {
    ASSIGN_OR_RETURN(auto certs,
                     ParseCertificates(evidence.certificates[i],
                                       absl::StrCat("tdx evidence certificate #",
                                                    i + 1)));
    coll.certificates.insert(coll.certificates.end(), certs.begin(),
                             certs.end());
  }
  std::vector<Certificate> pool(quote_certs.begin(), quote_certs.end());
  pool.insert(pool.end(), coll.certificates.begin(), coll.certificates.end());

  // Every warning the collateral steps add reports a check skipped under
  // require_crls / require_qe_identity off.
  const size_t warnings_before_collateral = a.warnings.size();
  RETURN_IF_ERROR(VerifyPckChain(pck, pool, coll.crls, ctx.at, a.warnings));
  ASSIGN_OR_RETURN(PckSgxExtension ext, PckSgxExtensionOf(pck));

  TrustSettings trust{.at = ctx.at,
                      .roots = options_.root_spki_sha256,
                      .require_crls = options_.require_crls};
  ASSIGN_OR_RETURN(const TdxTcbInfo* info,
                   SelectTcbInfo(coll, ext.fmspc, pool, trust, a.warnings));
  if (info->pce_id != ext.pce_id) {
    return absl::PermissionDeniedError(absl::StrCat(
        "tdx tcb info: pceId ", HexEncode(info->pce_id),
        " is not the PCK certificate's PCE ID ", HexEncode(ext.pce_id)));
  }
  ASSIGN_OR_RETURN(TcbVerdict verdict, EvaluateTdxTcb(*info, ext, q.body));
  ASSIGN_OR_RETURN(const QeIdentity* qe_identity,
                   SelectQeIdentity(coll, pool, trust,
                                    options_.require_qe_identity, a.warnings));
  const bool fully_checked = qe_identity != nullptr &&
                             a.warnings.size() == warnings_before_collateral;
  if (qe_identity != nullptr) {
    ASSIGN_OR_RETURN(TcbVerdict qe,
                     EvaluateQeIdentity(*qe_identity, q.qe_report));
    a.claims.SetString("tdx.qe_tcb_status", TcbStatusName(qe.status));
    verdict = ConvergeWithQe(verdict, qe);
  }

  AddQuoteClaims(q, a.claims);
  a.claims.SetBytes("tdx.fmspc", ext.fmspc);
  a.claims.SetString("tdx.tcb_status", TcbStatusName(verdict.status));
  a.claims.SetString("tdx.advisory_ids",
                     absl::StrJoin(verdict.advisory_ids, ","));
  if (verdict.tcb_date != absl::InfinitePast()) {
    a.claims.SetString("tdx.tcb_date", RfcTime(verdict.tcb_date));
  }
  if (!verdict.detail.empty()) {
    a.warnings.push_back(absl::StrCat("tdx tcb: ", verdict.detail));
  }
  if (verdict.status != TcbStatus::kUpToDate) {
    a.warnings.push_back(absl::StrCat(
        "tdx tcb status ", TcbStatusName(verdict.status),
        verdict.advisory_ids.empty()
            ? ""
            : absl::StrCat(" (", absl::StrJoin(verdict.advisory_ids, ","),
                           ")")));
  }

  const bool debug = a.claims.GetBool("tdx.td_attributes.debug");
  a.trust.instance_identity = 2;
  a.trust.hardware = HardwareClaim(verdict.status);
  if (!fully_checked && a.trust.hardware < 32) a.trust.hardware = 32;
  a.trust.runtime_opaque = debug ? 32 : 2;
  if (debug) {
    a.trust.configuration = 32;
    a.warnings.push_back("tdx: debug TD (td_attributes bit 0)");
  }
  return a;
}

}  // namespace strongroom::attest
