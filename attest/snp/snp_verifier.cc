#include "attest/snp/snp_verifier.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "base/file.h"
#include "base/status_macros.h"

namespace strongroom::attest {
namespace {

bool IsP384(EVP_PKEY* key) {
  if (key == nullptr || EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) return false;
  char group[64] = {0};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                     sizeof(group), &len) != 1) {
    return false;
  }
  return absl::string_view(group, len) == "secp384r1";
}

// The report carries r and s little-endian; ECDSA wants big-endian.
Bytes BigEndian(std::span<const uint8_t> le) {
  return Bytes(le.rbegin(), le.rend());
}

std::string Upper(SnpSigningKey k) {
  return absl::AsciiStrToUpper(SnpSigningKeyName(k));
}

}  // namespace

absl::Status VerifySnpReportSignature(const SnpReport& report, EVP_PKEY* key) {
  if (!IsP384(key)) {
    return absl::PermissionDeniedError(
        "snp report: the signing certificate's key is not ECDSA P-384");
  }
  auto zero = [](uint8_t b) { return b == 0; };
  if (std::all_of(report.signature_r.begin(), report.signature_r.end(), zero) &&
      std::all_of(report.signature_s.begin(), report.signature_s.end(), zero)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "snp report: signature is all zero (unsigned report; MASK_CHIP_KEY=",
        report.mask_chip_key() ? 1 : 0, ")"));
  }
  return VerifyEcdsaRaw(key, EVP_sha384(), report.signed_bytes(),
                        BigEndian(report.signature_r),
                        BigEndian(report.signature_s), "snp report");
}

absl::StatusOr<SnpEndorsementKey> SelectSnpEndorsementKey(
    const SnpReport& report, std::span<const Certificate> pool) {
  const SnpSigningKey want = report.signing_key();
  if (want != SnpSigningKey::kVcek && want != SnpSigningKey::kVlek) {
    return absl::PermissionDeniedError(absl::StrCat(
        "snp report: signing_key is ", SnpSigningKeyName(want), " (",
        static_cast<int>(want), "): the report is not signed"));
  }
  std::vector<SnpEndorsementKey> same;
  std::optional<SnpSigningKey> other;
  absl::Status decode_error;
  for (const Certificate& c : pool) {
    std::optional<SnpSigningKey> kind = SnpLeafKindOf(c);
    if (!kind.has_value()) continue;
    if (*kind != want) {
      other = kind;
      continue;
    }
    auto key = DecodeSnpEndorsementKey(c);
    if (!key.ok()) {
      if (decode_error.ok()) decode_error = key.status();
      continue;
    }
    same.push_back(*std::move(key));
  }
  if (same.empty()) {
    if (other.has_value()) {
      return absl::PermissionDeniedError(
          absl::StrCat("snp report: signing_key is ", Upper(want), " (",
                       static_cast<int>(want), ") but only a ", Upper(*other),
                       " certificate was supplied"));
    }
    if (!decode_error.ok()) return decode_error;
    return absl::FailedPreconditionError(absl::StrCat(
        "snp: no ", Upper(want),
        " certificate supplied (evidence certificates or collateral_dir)"));
  }
  if (same.size() == 1) return same.front();
  auto score = [&](const SnpEndorsementKey& k) {
    return (CheckChipId(report, k).ok() ? 2 : 0) +
           (CheckReportedTcb(report, k).ok() ? 1 : 0);
  };
  std::stable_sort(same.begin(), same.end(),
                   [&](const SnpEndorsementKey& a, const SnpEndorsementKey& b) {
                     return score(a) > score(b);
                   });
  for (const SnpEndorsementKey& k : same) {
    if (VerifySnpReportSignature(report, k.cert.public_key()).ok()) return k;
  }
  // None verifies: carry on with the best fit so the caller gets the most
  // specific reason (chain, chip id, TCB or signature).
  return same.front();
}

absl::StatusOr<std::unique_ptr<SnpVerifier>> SnpVerifier::Create(
    SnpVerifierOptions options) {
  return std::unique_ptr<SnpVerifier>(new SnpVerifier(std::move(options)));
}

absl::StatusOr<std::vector<Certificate>> SnpVerifier::ParseCached(
    absl::string_view text, absl::string_view field) const {
  if (options_.max_cached_parses == 0) return ParseCertificates(text, field);
  const std::string key = Sha256Hex(AsBytes(text));
  if (auto hit = parsed_.Find(key)) return *std::move(hit);
  ASSIGN_OR_RETURN(std::vector<Certificate> certs,
                   ParseCertificates(text, field));
  parsed_.Insert(key, certs);
  return certs;
}

absl::StatusOr<std::vector<Certificate>> SnpVerifier::CollectCertificates(
    const Evidence& evidence) const {
  std::vector<Certificate> pool;
  std::set<std::string> seen;
  auto add = [&](std::vector<Certificate> certs) {
    for (Certificate& c : certs) {
      if (seen.insert(c.FingerprintHex()).second) pool.push_back(std::move(c));
    }
  };
  for (size_t i = 0; i < evidence.certificates.size(); ++i) {
    ASSIGN_OR_RETURN(
        auto certs,
        ParseCached(evidence.certificates[i],
                    absl::StrCat("snp evidence certificates[", i, "]")));
    add(std::move(certs));
  }
  if (evidence.collateral_dir.empty()) return pool;

  namespace fs = std::filesystem;
  std::error_code ec;
  fs::directory_iterator it(evidence.collateral_dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("snp collateral_dir '", evidence.collateral_dir,
                     "' cannot be read: ", ec.message()));
  }
  std::vector<fs::path> files;
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) break;
    std::error_code fec;
    if (!it->is_regular_file(fec) || fec) continue;
    uintmax_t size = it->file_size(fec);
    if (fec || size == 0 || size > options_.max_collateral_file_bytes) continue;
    files.push_back(it->path());
  }
  // Sorted so that the outcome does not depend on directory order.
  std::sort(files.begin(), files.end());
  if (files.size() > options_.max_collateral_files) {
    files.resize(options_.max_collateral_files);
  }
  for (const fs::path& f : files) {
    auto data = ReadFileToString(f.string(), "snp collateral");
    if (!data.ok()) continue;
    // Files are recognized by content; whatever is not certificates (CRLs,
    // TCB info, notes) is not ours to judge here.
    auto certs = ParseCached(*data, f.filename().string());
    if (certs.ok()) add(*std::move(certs));
  }
  return pool;
}

absl::StatusOr<SnpChain> SnpVerifier::ChainFor(
    const SnpEndorsementKey& key, std::span<const Certificate> pool,
    absl::Time at) const {
  const std::string cache_key =
      absl::StrCat(SnpSigningKeyName(key.kind), ":", key.cert.FingerprintHex());
  if (options_.max_cached_chains > 0) {
    std::optional<SnpChain> cached = chains_.Find(cache_key);
    // Only a chain every certificate of which is valid at `at` is reused.
    if (cached.has_value() && at >= cached->valid_from &&
        at <= cached->valid_until) {
      cache_hits_.fetch_add(1);
      return *std::move(cached);
    }
    // Known chain, wrong time: say which certificate is not valid then
    // (VerifyChain checks validity first), rather than that the caller left
    // out the ASK/ARK the cache would otherwise have supplied.
    if (cached.has_value()) {
      ChainCheck check{
          .at = at,
          .pinned_roots = {std::string(PinnedArkSpkiSha256(key.product))}};
      absl::Status s = VerifyChain(cached->certs, check);
      if (!s.ok()) {
        return absl::Status(
            s.code(), absl::StrCat("snp chain (", SnpProductName(key.product),
                                   "): ", s.message()));
      }
    }
  }
  ASSIGN_OR_RETURN(
      SnpChain chain,
      VerifySnpChain(key, pool, at, PinnedArkSpkiSha256(key.product)));
  chains_.Insert(cache_key, chain);  // stores nothing at capacity 0
  return chain;
}

absl::StatusOr<Appraisal> SnpVerifier::Verify(const Evidence& evidence,
                                              const VerifyContext& ctx) const {
  if (evidence.type != EvidenceType::kSevSnp) {
    return absl::InvalidArgumentError(
        absl::StrCat("snp verifier: evidence type is '",
                     EvidenceTypeName(evidence.type), "', want 'snp'"));
  }
  if (ctx.at == absl::InfinitePast() || ctx.at == absl::InfiniteFuture()) {
    return absl::InvalidArgumentError(
        "snp verifier: verification time (VerifyContext.at) is not set");
  }
  std::array<uint8_t, 64> expected{};
  if (ctx.expected_report_data.has_value()) {
    if (ctx.expected_report_data->size() > expected.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "snp verifier: expected_report_data is ",
          ctx.expected_report_data->size(), " bytes, more than 64"));
    }
    std::copy(ctx.expected_report_data->begin(),
              ctx.expected_report_data->end(), expected.begin());
  }

  ASSIGN_OR_RETURN(SnpReport report, ParseSnpReport(AsBytes(evidence.payload)));
  ASSIGN_OR_RETURN(std::vector<Certificate> pool,
                   CollectCertificates(evidence));
  ASSIGN_OR_RETURN(SnpEndorsementKey key,
                   SelectSnpEndorsementKey(report, pool));
  ASSIGN_OR_RETURN(SnpChain chain, ChainFor(key, pool, ctx.at));
  (void)chain;

  if (std::optional<SnpProduct> cpu = SnpProductFromCpuid(report);
      cpu.has_value() && *cpu != key.product) {
    return absl::PermissionDeniedError(
        absl::StrCat("snp report: CPUID family/model ",
                     static_cast<int>(*report.cpuid_fam_id), "/",
                     static_cast<int>(report.cpuid_mod_id.value_or(0)), " is ",
                     SnpProductName(*cpu), " but the ", Upper(key.kind),
                     " is for ", SnpProductName(key.product)));
  }
  RETURN_IF_ERROR(CheckChipId(report, key));
  RETURN_IF_ERROR(CheckReportedTcb(report, key));
  RETURN_IF_ERROR(VerifySnpReportSignature(report, key.cert.public_key()));

  if (ctx.expected_report_data.has_value() &&
      !std::equal(expected.begin(), expected.end(),
                  report.report_data.begin())) {
    return absl::PermissionDeniedError(absl::StrCat(
        "snp report: report_data does not match the expected value (got ",
        HexEncode(report.report_data), ")"));
  }

  Appraisal a;
  a.tee = "snp";
  a.claims = SnpReportClaims(report, key.product);
  a.claims.SetString("snp.product", SnpProductName(key.product));
  const bool debug = DecodeSnpPolicy(report.policy).debug;
  a.trust.instance_identity = 2;
  a.trust.hardware = 2;
  a.trust.runtime_opaque = 2;
  a.trust.configuration = debug ? 32 : 2;
  if (debug)
    a.warnings.push_back("guest policy allows debugging (policy.debug)");
  if (key.kind == SnpSigningKey::kVcek && report.chip_id_masked()) {
    a.warnings.push_back("chip_id is masked; the VCEK hwID was not compared");
  }
  if (std::optional<std::string> w = SnpUnknownCpuidWarning(report)) {
    a.warnings.push_back(*std::move(w));
  }
  return a;
}

}  // namespace strongroom::attest
