#include "attest/tdx/tdx_verifier.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "attest/tdx/collateral.h"
#include "attest/tdx/collateral_cache.h"
#include "attest/tdx/collateral_verification.h"
#include "attest/tdx/pck_extension.h"
#include "attest/tdx/quote.h"
#include "attest/tdx/tcb_evaluation.h"
#include "attest/tdx/verification_cache.h"
#include "base/status_macros.h"

namespace strongroom::attest {
namespace {

using tdx_internal::BoundedCache;
using tdx_internal::CertificateSet;
using tdx_internal::CheckCurrent;
using tdx_internal::CheckedChain;
using tdx_internal::CollateralChecks;
using tdx_internal::Digest;
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
  EVP_Digest(preimage.data(), preimage.size(), digest, &n,
             tdx_internal::Sha256Md(), nullptr);
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

// The attestation key from its point, through `cache` (a pure function of
// the 64 bytes, including the point-on-curve check, which costs about as
// much as a signature check).
absl::StatusOr<std::shared_ptr<EVP_PKEY>> AttestationKey(
    const TdxQuote& q, BoundedCache<std::shared_ptr<EVP_PKEY>>& cache) {
  const std::string point(q.attestation_key.begin(), q.attestation_key.end());
  if (auto hit = cache.Find(point)) return *std::move(hit);
  ASSIGN_OR_RETURN(auto ak, EcPublicKeyFromPoint(NID_X9_62_prime256v1,
                                                 q.attestation_key,
                                                 "tdx quote: attestation_key"));
  cache.Insert(point, ak);
  return ak;
}

// Steps 2-4 of the header.
absl::Status VerifyQuoteSignatures(
    const TdxQuote& q, const Certificate& pck,
    BoundedCache<std::shared_ptr<EVP_PKEY>>& ak_cache) {
  RETURN_IF_ERROR(CheckP256(pck));
  std::span<const uint8_t> qe_sig(q.qe_report_signature);
  RETURN_IF_ERROR(VerifyEcdsaRaw(pck.public_key(), EVP_sha256(),
                                 q.qe_report_raw, qe_sig.first(32),
                                 qe_sig.subspan(32),
                                 "tdx quote: QE report signature (PCK key)"));
  RETURN_IF_ERROR(CheckQeBinding(q));
  ASSIGN_OR_RETURN(auto ak, AttestationKey(q, ak_cache));
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
    const CollateralChecks& checks, const TrustSettings& trust,
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
        "TCB info", info->signed_body, info->signature, checks, w);
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
    const TdxCollateral& coll, const CollateralChecks& checks,
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
          "QE identity", qe->signed_body, qe->signature, checks, w);
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

// The caches described under "Caching" in the header.
struct TdxVerifier::Caches {
  explicit Caches(size_t n)
      : collateral(std::min<size_t>(n, kMaxCollateralDirectories)),
        certificates(n),
        attestation_keys(n),
        good_signatures(n),
        pck_chains(n),
        signing_chains(n) {}

  static constexpr size_t kMaxCollateralDirectories = 16;
  tdx_internal::CollateralDirectoryCache collateral;
  BoundedCache<std::shared_ptr<const CertificateSet>> certificates;
  BoundedCache<std::shared_ptr<EVP_PKEY>> attestation_keys;
  // Digest of (certificate, body, signature) -> true when it verifies.
  BoundedCache<bool> good_signatures;
  // Digest of (leaf, every pool certificate and CRL) -> the checked chain
  // and the window in which the same check gives the same answer.
  BoundedCache<CheckedChain> pck_chains;
  BoundedCache<CheckedChain> signing_chains;
};

namespace {

// The certificates chains are built from: the quote's, the collateral
// directory's and the evidence's, in that order, with a digest that names
// them and the CRLs exactly.
struct Pool {
  std::vector<Certificate> certs;
  std::vector<bool> may_sign;
  std::string inputs;

  void Append(const CertificateSet& set) {
    certs.insert(certs.end(), set.certs.begin(), set.certs.end());
    may_sign.insert(may_sign.end(), set.may_sign_collateral.begin(),
                    set.may_sign_collateral.end());
  }
};

// VerifyChainWithCrls through `cache`: a hit is used only inside the window
// in which the uncached check would give the same answer.
absl::StatusOr<CheckedChain> CachedChainCheck(
    BoundedCache<CheckedChain>& cache, const Certificate& leaf,
    const Pool& pool, std::span<const Crl> crls, const TrustSettings& trust,
    absl::string_view what) {
  // The pool's inputs digest, then the leaf's DER: exact bytes, compared in
  // full on a hit, cheaper than hashing them with SHA-256.
  thread_local std::string key;
  key.clear();
  tdx_internal::AppendKeyPart(&key, pool.inputs);
  tdx_internal::AppendKeyPart(&key, AsStringView(leaf.der()));
  if (std::optional<CheckedChain> hit = cache.Find(key);
      hit.has_value() && trust.at >= hit->valid_from &&
      trust.at <= hit->valid_until) {
    return *std::move(hit);
  }
  ASSIGN_OR_RETURN(CheckedChain checked, tdx_internal::VerifyChainWithCrls(
                                             leaf, pool.certs, crls, trust,
                                             what));
  // A warning names the verification time, so a chain checked with one is
  // checked afresh each time (only with require_crls off).
  if (checked.warnings.empty()) cache.Insert(key, checked);
  return checked;
}

class CachedCollateralChecks : public CollateralChecks {
 public:
  CachedCollateralChecks(const Pool& pool, std::span<const Crl> crls,
                         const TrustSettings& trust,
                         BoundedCache<bool>& good_signatures,
                         BoundedCache<CheckedChain>& chains)
      : pool_(pool),
        crls_(crls),
        trust_(trust),
        good_signatures_(good_signatures),
        chains_(chains) {}

  std::span<const Certificate> pool() const override { return pool_.certs; }
  bool MaySign(size_t i) const override { return pool_.may_sign[i]; }

  bool SignatureVerifies(const Certificate& cert, absl::string_view body,
                         std::span<const uint8_t> signature) const override {
    // The exact bytes of signer, body and signature.
    thread_local std::string key;
    key.clear();
    for (absl::string_view part : {AsStringView(cert.der()), body, AsStringView(signature)}) {
      tdx_internal::AppendKeyPart(&key, part);
    }
    if (good_signatures_.Find(key).has_value()) return true;
    const bool ok =
        tdx_internal::DirectCollateralChecks(pool_.certs, crls_, trust_)
            .SignatureVerifies(cert, body, signature);
    if (ok) good_signatures_.Insert(key, true);
    return ok;
  }

  absl::StatusOr<CheckedChain> SigningChain(
      const Certificate& leaf) const override {
    return CachedChainCheck(chains_, leaf, pool_, crls_, trust_,
                            "TCB signing chain");
  }

 private:
  const Pool& pool_;
  std::span<const Crl> crls_;
  const TrustSettings& trust_;
  BoundedCache<bool>& good_signatures_;
  BoundedCache<CheckedChain>& chains_;
};

}  // namespace

TdxVerifier::TdxVerifier(TdxVerifierOptions options)
    : options_(std::move(options)),
      caches_(std::make_unique<Caches>(options_.max_cached_chains)) {}

TdxVerifier::~TdxVerifier() = default;

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

size_t TdxVerifier::cached_chains() const { return caches_->pck_chains.size(); }

uint64_t TdxVerifier::collateral_reads() const {
  return caches_->collateral.reads();
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
  ASSIGN_OR_RETURN(std::shared_ptr<const CertificateSet> quote_certs,
                   tdx_internal::CachedCertificates(
                       q.pck_chain_pem, "tdx quote: PCK certificate chain",
                       caches_->certificates));
  const Certificate& pck = quote_certs->certs[0];
  RETURN_IF_ERROR(VerifyQuoteSignatures(q, pck, caches_->attestation_keys));
  RETURN_IF_ERROR(CheckReportData(q, ctx));

  // Collateral and the certificate pool chains are built from.
  ASSIGN_OR_RETURN(std::shared_ptr<const tdx_internal::CollateralSnapshot> snap,
                   caches_->collateral.Load(evidence.collateral_dir));
  const TdxCollateral& coll = snap->collateral;
  Pool pool;
  pool.Append(*quote_certs);
  pool.Append(*snap->certificates);
  Digest inputs;
  inputs.Add(quote_certs->digest).Add(snap->certificates->digest);
  for (size_t i = 0; i < evidence.certificates.size(); ++i) {
    ASSIGN_OR_RETURN(auto certs,
                     tdx_internal::CachedCertificates(
                         evidence.certificates[i],
                         absl::StrCat("tdx evidence certificate #", i + 1),
                         caches_->certificates));
    pool.Append(*certs);
    inputs.Add(certs->digest);
  }
  pool.inputs = inputs.Add(absl::string_view("crls"))
                    .Add(snap->crls_digest)
                    .Finish();

  // Every warning the collateral steps add reports a check skipped under
  // require_crls / require_qe_identity off.
  const size_t warnings_before_collateral = a.warnings.size();
  TrustSettings trust{.at = ctx.at,
                      .roots = options_.root_spki_sha256,
                      .require_crls = options_.require_crls};
  ASSIGN_OR_RETURN(CheckedChain pck_chain,
                   CachedChainCheck(caches_->pck_chains, pck, pool, coll.crls,
                                    trust, "PCK chain"));
  a.warnings.insert(a.warnings.end(), pck_chain.warnings.begin(),
                    pck_chain.warnings.end());
  ASSIGN_OR_RETURN(PckSgxExtension ext,
                   quote_certs->first_sgx_extension.has_value()
                       ? absl::StatusOr<PckSgxExtension>(
                             *quote_certs->first_sgx_extension)
                       : PckSgxExtensionOf(pck));

  CachedCollateralChecks checks(pool, coll.crls, trust,
                                caches_->good_signatures,
                                caches_->signing_chains);
  ASSIGN_OR_RETURN(const TdxTcbInfo* info,
                   SelectTcbInfo(coll, ext.fmspc, checks, trust, a.warnings));
  if (info->pce_id != ext.pce_id) {
    return absl::PermissionDeniedError(absl::StrCat(
        "tdx tcb info: pceId ", HexEncode(info->pce_id),
        " is not the PCK certificate's PCE ID ", HexEncode(ext.pce_id)));
  }
  ASSIGN_OR_RETURN(TcbVerdict verdict, EvaluateTdxTcb(*info, ext, q.body));
  ASSIGN_OR_RETURN(const QeIdentity* qe_identity,
                   SelectQeIdentity(coll, checks, trust,
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
