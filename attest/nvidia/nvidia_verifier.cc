#include "attest/nvidia/nvidia_verifier.h"

#include <openssl/evp.h>

#include <algorithm>
#include <optional>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "attest/nvidia/opaque_data.h"
#include "attest/nvidia/spdm_report.h"
#include "base/hex_text.h"
#include "base/status_macros.h"

namespace strongroom::attest {
namespace {

// TCG DICE TcbInfo; NVIDIA's leaf carries the firmware's FWID (SHA-384) as
// the last OCTET STRING of the extension, as nvtrust reads it.
constexpr absl::string_view kDiceTcbInfoOid = "2.23.133.5.4.1";
constexpr size_t kFwidSize = 48;

std::optional<Bytes> LeafFwid(const Certificate& leaf) {
  std::optional<Bytes> ext = leaf.Extension(kDiceTcbInfoOid);
  if (!ext.has_value() || ext->size() < kFwidSize + 2) return std::nullopt;
  size_t tag = ext->size() - kFwidSize - 2;
  if ((*ext)[tag] != 0x04 || (*ext)[tag + 1] != kFwidSize) return std::nullopt;
  return Bytes(ext->begin() + tag + 2, ext->end());
}

absl::Status CheckLeafKey(const Certificate& leaf) {
  EVP_PKEY* key = leaf.public_key();
  char group[64] = {0};
  size_t len = 0;
  if (key == nullptr || EVP_PKEY_get_base_id(key) != EVP_PKEY_EC ||
      EVP_PKEY_get_group_name(key, group, sizeof(group), &len) != 1 ||
      absl::string_view(group, len) != "secp384r1") {
    return absl::PermissionDeniedError(
        absl::StrCat("nvidia report: device certificate '", leaf.common_name(),
                     "' does not hold an EC P-384 key"));
  }
  return absl::OkStatus();
}

// The one certificate no other certificate in `certs` names as its issuer.
absl::StatusOr<Certificate> FindLeaf(const std::vector<Certificate>& certs) {
  std::vector<const Certificate*> leaves;
  for (const Certificate& c : certs) {
    if (certs.size() > 1 && c.SelfSigned()) continue;
    bool issues_another = false;
    for (const Certificate& d : certs) {
      if (&d == &c) continue;
      if (X509_NAME_cmp(X509_get_issuer_name(d.get()),
                        X509_get_subject_name(c.get())) == 0) {
        issues_another = true;
        break;
      }
    }
    if (!issues_another) leaves.push_back(&c);
  }
  if (leaves.size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("nvidia report: certificates: expected one device (leaf) "
                     "certificate, found ",
                     leaves.size()));
  }
  return *leaves.front();
}

std::string SpdmVersionName(uint8_t v) {
  return absl::StrCat(v >> 4, ".", v & 0x0F);
}

}  // namespace

absl::StatusOr<std::unique_ptr<NvidiaVerifier>> NvidiaVerifier::Create(
    NvidiaVerifierOptions options) {
  if (options.pinned_root_spki_sha256.empty()) {
    return absl::InvalidArgumentError(
        "nvidia verifier: pinned_root_spki_sha256: empty");
  }
  for (const std::string& pin : options.pinned_root_spki_sha256) {
    if (pin.size() != 64 || !IsLowerHex(pin)) {
      return absl::InvalidArgumentError(
          absl::StrCat("nvidia verifier: pinned_root_spki_sha256: '", pin,
                       "' is not 64 lowercase hex digits"));
    }
  }
  std::vector<Certificate> extra;
  if (!options.extra_certificates_pem.empty()) {
    ASSIGN_OR_RETURN(extra,
                     ParseCertificates(options.extra_certificates_pem,
                                       "nvidia verifier: extra_certificates"));
  }
  for (const auto& [index, hex] : options.golden_measurements) {
    if (index < 1 || index > 254 || hex.empty() || hex.size() % 2 != 0 ||
        !IsLowerHex(hex)) {
      return absl::InvalidArgumentError(
          absl::StrCat("nvidia verifier: golden_measurements[", index,
                       "]: needs an index 1..254 and a lowercase hex value"));
    }
  }
  if (options.chain_cache_size == 0) options.chain_cache_size = 1;
  return std::unique_ptr<NvidiaVerifier>(
      new NvidiaVerifier(std::move(options), std::move(extra)));
}

absl::StatusOr<std::vector<Certificate>> NvidiaVerifier::ParseCached(
    absl::string_view text, absl::string_view field) const {
  const std::string key = Sha256Hex(AsBytes(text));
  if (auto hit = parsed_.Find(key)) return *std::move(hit);
  ASSIGN_OR_RETURN(std::vector<Certificate> certs,
                   ParseCertificates(text, field));
  parsed_.Insert(key, certs);
  return certs;
}

absl::StatusOr<std::vector<Certificate>> NvidiaVerifier::VerifiedChain(
    const Evidence& evidence, absl::Time at) const {
  std::vector<Certificate> certs;
  std::set<std::string> fingerprints;
  for (size_t i = 0; i < evidence.certificates.size(); ++i) {
    ASSIGN_OR_RETURN(
        std::vector<Certificate> parsed,
        ParseCached(evidence.certificates[i],
                    absl::StrCat("nvidia report: certificates[", i, "]")));
    for (Certificate& c : parsed) {
      if (fingerprints.insert(c.FingerprintHex()).second) {
        certs.push_back(std::move(c));
      }
    }
  }
  std::string key;
  for (const std::string& f : fingerprints) key += f;
  if (std::optional<CachedChain> hit = chain_cache_.Find(key);
      hit && at >= hit->valid_from && at <= hit->valid_until) {
    return std::move(hit->chain);
  }
  ASSIGN_OR_RETURN(Certificate leaf, FindLeaf(certs));
  std::vector<Certificate> pool = certs;
  pool.insert(pool.end(), extra_certificates_.begin(),
              extra_certificates_.end());
  ChainCheck check{.at = at, .pinned_roots = options_.pinned_root_spki_sha256};
  auto chain = BuildAndVerifyChain(leaf, pool, check);
  if (!chain.ok()) {
    return absl::Status(
        chain.status().code(),
        absl::StrCat("nvidia report: device certificate chain: ",
                     chain.status().message()));
  }
  CachedChain entry{*chain, absl::InfinitePast(), absl::InfiniteFuture()};
  for (const Certificate& c : *chain) {
    entry.valid_from = std::max(entry.valid_from, c.not_before());
    entry.valid_until = std::min(entry.valid_until, c.not_after());
  }
  chain_cache_.Insert(key, std::move(entry));
  return chain;
}

absl::StatusOr<Appraisal> NvidiaVerifier::Verify(
    const Evidence& evidence, const VerifyContext& ctx) const {
  if (evidence.type != EvidenceType::kNvidia) {
    return absl::InvalidArgumentError(
        absl::StrCat("nvidia verifier: evidence type is '",
                     EvidenceTypeName(evidence.type), "', not 'nvidia'"));
  }
  if (ctx.at == absl::InfinitePast()) {
    return absl::InvalidArgumentError(
        "nvidia verifier: verification time (ctx.at) is not set");
  }
  ASSIGN_OR_RETURN(Bytes report, DecodeNvidiaReportPayload(evidence.payload));
  ASSIGN_OR_RETURN(SpdmMeasurementReport parsed,
                   ParseSpdmMeasurementReport(report));
  if (evidence.certificates.empty()) {
    return absl::FailedPreconditionError(
        "nvidia report: certificates: the GPU device certificate chain is "
        "missing from the evidence");
  }
  ASSIGN_OR_RETURN(std::vector<Certificate> chain,
                   VerifiedChain(evidence, ctx.at));
  const Certificate& leaf = chain.front();
  RETURN_IF_ERROR(CheckLeafKey(leaf));
  std::span<const uint8_t> sig(parsed.signature);
  RETURN_IF_ERROR(VerifyEcdsaRaw(
      leaf.public_key(), EVP_sha384(), SpdmSignedMessage(parsed, report),
      sig.first(kSpdmSignatureSize / 2), sig.last(kSpdmSignatureSize / 2),
      "nvidia report: response.signature"));

  Appraisal out;
  out.tee = "nvidia";
  if (ctx.expected_report_data.has_value()) {
    const Bytes& want = *ctx.expected_report_data;
    if (want.size() != kSpdmNonceSize) {
      return absl::InvalidArgumentError(
          absl::StrCat("nvidia verifier: expected nonce must be ",
                       kSpdmNonceSize, " bytes, got ", want.size()));
    }
    if (!std::equal(want.begin(), want.end(), parsed.request_nonce.begin())) {
      return absl::PermissionDeniedError(absl::StrCat(
          "nvidia report: request.nonce: ", HexEncode(parsed.request_nonce),
          " is not the expected nonce ", HexEncode(want)));
    }
  } else {
    out.warnings.push_back("nonce not checked: no expected nonce given");
  }

  std::vector<NvidiaOpaqueField> opaque;
  if (auto fields = ParseNvidiaOpaqueData(parsed.opaque); fields.ok()) {
    opaque = *std::move(fields);
  } else {
    out.warnings.push_back(
        absl::StrCat("opaque data not decoded: ", fields.status().message()));
  }
  std::optional<Bytes> cert_fwid = LeafFwid(leaf);
  const NvidiaOpaqueField* report_fwid = nullptr;
  for (const NvidiaOpaqueField& f : opaque) {
    if (f.type == kNvidiaOpaqueFwid) {
      report_fwid = &f;
      break;
    }
  }
  const bool fwid_checked = cert_fwid.has_value() && report_fwid != nullptr;
  if (fwid_checked) {
    if (*cert_fwid != report_fwid->value) {
      return absl::PermissionDeniedError(absl::StrCat(
          "nvidia report: opaque fwid ", HexEncode(report_fwid->value),
          " differs from the device certificate's FWID ",
          HexEncode(*cert_fwid)));
    }
  } else {
    out.warnings.push_back(
        "FWID not cross-checked: missing from the report or the device "
        "certificate");
  }

  Claims& claims = out.claims;
  claims.SetString("nvidia.spdm_version", SpdmVersionName(parsed.version));
  claims.SetBytes("nvidia.nonce", parsed.request_nonce);
  claims.SetBytes("nvidia.response_nonce", parsed.response_nonce);
  claims.SetInt("nvidia.slot_id", parsed.slot_id);
  for (const SpdmMeasurementBlock& b : parsed.blocks) {
    claims.SetBytes(absl::StrCat("nvidia.measurements.", b.index), b.value);
  }
  AddNvidiaOpaqueClaims(opaque, "nvidia.opaque.", claims, out.warnings);
  claims.SetString("nvidia.device_cert.subject", leaf.subject());
  claims.SetString("nvidia.device_cert.fingerprint", leaf.FingerprintHex());
  if (cert_fwid.has_value()) {
    claims.SetBytes("nvidia.device_cert.fwid", *cert_fwid);
  }

  out.trust.instance_identity = 2;
  // The firmware the GPU reports is the one its identity certificate names
  // only when both carry the FWID and they agree; when either is missing (or
  // the opaque data did not decode), the hardware claim is a warning, so
  // that a policy asking for an affirming status does not pass on it.
  out.trust.hardware = fwid_checked ? 2 : 32;
  if (!options_.golden_measurements.empty()) {
    bool all_match = true;
    for (const auto& [index, want] : options_.golden_measurements) {
      std::string got =
          claims.GetString(absl::StrCat("nvidia.measurements.", index));
      if (got != want) {
        all_match = false;
        out.warnings.push_back(absl::StrCat(
            "measurement ", index, " ", got.empty() ? "is missing" : got,
            got.empty() ? "" : " differs from the golden value ",
            got.empty() ? "" : want));
      }
    }
    out.trust.executables = all_match ? 2 : 33;
  }
  return out;
}

}  // namespace strongroom::attest
