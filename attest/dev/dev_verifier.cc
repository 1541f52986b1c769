#include "attest/dev/dev_verifier.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "attest/dev/dev_evidence.h"
#include "attest/dev/dev_key.h"
#include "attest/signature_check.h"
#include "attest/x509.h"
#include "base/status_macros.h"

namespace strongroom::attest {
namespace {

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

}  // namespace

absl::StatusOr<std::unique_ptr<DevVerifier>> DevVerifier::Create(
    DevVerifierOptions options) {
  if (options.max_clock_skew < absl::ZeroDuration() ||
      options.max_age < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "dev verifier: max_clock_skew and max_age must not be negative");
  }
  if (options.enabled && options.trusted_public_keys_pem.empty()) {
    return absl::InvalidArgumentError(
        "dev verifier: enabled, but trusted_public_keys_pem is empty");
  }
  std::map<std::string, std::shared_ptr<EVP_PKEY>> keys;
  for (size_t i = 0; i < options.trusted_public_keys_pem.size(); ++i) {
    std::string field =
        absl::StrCat("dev verifier: trusted_public_keys_pem[", i, "]");
    ASSIGN_OR_RETURN(
        std::shared_ptr<EVP_PKEY> key,
        PublicKeyFromPem(options.trusted_public_keys_pem[i], field));
    RETURN_IF_ERROR(dev_internal::CheckP256(key.get(), field));
    std::string id = dev_internal::KeyId(key.get());
    if (id.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": cannot encode the public key"));
    }
    keys.emplace(std::move(id), std::move(key));
  }
  return std::unique_ptr<DevVerifier>(
      new DevVerifier(std::move(options), std::move(keys)));
}

absl::StatusOr<Appraisal> DevVerifier::Verify(const Evidence& evidence,
                                              const VerifyContext& ctx) const {
  if (evidence.type != EvidenceType::kDev) {
    return absl::InvalidArgumentError(
        absl::StrCat("dev verifier: evidence type is '",
                     EvidenceTypeName(evidence.type), "', not 'dev'"));
  }
  if (!options_.enabled) {
    return absl::FailedPreconditionError(
        "development attester is disabled in the server config");
  }
  if (ctx.at == absl::InfinitePast()) {
    return absl::InvalidArgumentError(
        "dev verifier: verification time (ctx.at) is not set");
  }
  ASSIGN_OR_RETURN(DevEvidenceEnvelope envelope,
                   ParseDevEvidenceEnvelope(evidence.payload));
  auto key = keys_.find(envelope.key_id);
  if (key == keys_.end()) {
    return absl::PermissionDeniedError(
        absl::StrCat("dev evidence: key_id: ", envelope.key_id,
                     " is not a trusted development key"));
  }
  // Hash + EVP_PKEY_verify on this thread's context for the key: the same
  // check as EVP_DigestVerify without its per-call provider set-up.
  const bool verified = VerifyMessageSignature(
      key->second.get(), FetchedSha256(), AsBytes(envelope.body),
      envelope.signature);
  if (!verified) {
    return absl::PermissionDeniedError(
        absl::StrCat("dev evidence: signature: does not verify under key ",
                     envelope.key_id));
  }
  ASSIGN_OR_RETURN(DevEvidenceBody body, ParseDevEvidenceBody(envelope.body));

  Appraisal out;
  out.tee = "dev";
  out.warnings.push_back(
      "development evidence: signed by a software key, not by TEE hardware");
  if (ctx.expected_report_data.has_value()) {
    if (body.report_data != *ctx.expected_report_data) {
      return absl::PermissionDeniedError(absl::StrCat(
          "dev evidence: body.report_data: ", HexEncode(body.report_data),
          " is not the expected ", HexEncode(*ctx.expected_report_data)));
    }
  } else {
    out.warnings.push_back("report data not checked: none expected");
  }
  absl::Time issued = absl::FromUnixSeconds(body.issued_at);
  if (issued > ctx.at + options_.max_clock_skew) {
    return absl::PermissionDeniedError(absl::StrCat(
        "dev evidence: body.issued_at: ", Rfc3339(issued),
        " is in the future (verification time ", Rfc3339(ctx.at), ")"));
  }
  if (options_.max_age > absl::ZeroDuration() &&
      issued < ctx.at - options_.max_age) {
    return absl::PermissionDeniedError(absl::StrCat(
        "dev evidence: body.issued_at: ", Rfc3339(issued), " is older than ",
        absl::FormatDuration(options_.max_age), " at ", Rfc3339(ctx.at)));
  }

  Claims& c = out.claims;
  c.SetBytes("dev.measurement", body.measurement);
  c.SetBytes("dev.report_data", body.report_data);
  c.SetBool("dev.debug", body.debug);
  c.SetInt("dev.svn", body.svn);
  c.SetInt("dev.issued_at", body.issued_at);
  c.SetString("dev.key_id", envelope.key_id);
  for (const auto& [name, value] : body.claims) {
    c.SetString(absl::StrCat("dev.claims.", name), value);
  }
  out.trust.instance_identity = 2;
  if (body.debug) out.trust.configuration = 32;
  return out;
}

}  // namespace strongroom::attest
