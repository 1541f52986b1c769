// attest verify (offline), refvalues put|get|ls|rm, policy put|get|ls|rm|dry-run.
//
// `attest verify` needs no server: it runs the same verifiers as strongroomd
// on files, so users can debug evidence. Exit 0 verified (and allowed by
// --policy), 1 rejected (reason on stderr and in --json), 2 usage or
// unreadable input.
#include <iostream>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/strings/ascii.h"
#include "absl/time/time.h"
#include "attest/policy/policy.h"
#include "attest/policy/reference_values.h"
#include "attest/tpm/quote_bundle.h"
#include "attest/verifiers.h"
#include "base/bytes.h"
#include "base/status_macros.h"
#include "cli/command.h"
#include "cli/io.h"
#include "cli/output.h"
#include "nlohmann/json.hpp"

namespace strongroom::cli {
namespace {

// Reference-value sets read from --refvalues files (offline evaluation).
class FileResolver final : public attest::ReferenceValueResolver {
 public:
  absl::StatusOr<attest::ReferenceValueSet> Resolve(
      absl::string_view name) const override {
    auto it = sets_.find(std::string(name));
    if (it == sets_.end()) {
      return absl::NotFoundError(absl::StrCat(
          "reference-value set '", name, "' was not given with --refvalues"));
    }
    return it->second;
  }
  std::map<std::string, attest::ReferenceValueSet> sets_;
};

// An RFC 3339 time given as --`flag`.
absl::StatusOr<absl::Time> ParseTimeFlag(absl::string_view flag, const std::string& value) {
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, value, &t, &err)) {
    return UsageError(
        absl::StrCat("--", flag, ": '", value, "' is not an RFC 3339 time (", err, ")"));
  }
  return t;
}

absl::StatusOr<std::string> ReadFlagFile(const std::string& flag,
                                         const std::string& path) {
  absl::StatusOr<std::string> data = ReadInput(flag, path);
  if (!data.ok()) return LocalError(data.status());
  return data;
}

// The evidence items described by the flags: --type/--evidence/--cert/
// --chain, plus an optional GPU report (--gpu-evidence, --gpu-chain).
absl::Status CollectEvidence(const CliOptions& o, bool offline,
                             std::vector<attest::Evidence>* evidence) {
  auto type_flag = o.Flag("type");
  auto file = o.Flag("evidence");
  if (!type_flag || !file) {
    return UsageError("attest verify: --type and --evidence are required");
  }
  absl::StatusOr<attest::EvidenceType> type = attest::ParseEvidenceType(*type_flag);
  if (!type.ok()) return UsageError(absl::StrCat("--type: ", type.status().message()));
  attest::Evidence e;
  e.type = *type;
  ASSIGN_OR_RETURN(e.payload, ReadFlagFile("evidence", *file));
  std::vector<std::string> certs = o.FlagValues("evidence-cert");
  if (offline) certs.insert(certs.begin(), o.cert_values.begin(), o.cert_values.end());
  for (const std::string& c : certs) {
    ASSIGN_OR_RETURN(std::string data, ReadFlagFile("cert", c));
    e.certificates.push_back(std::move(data));
  }
  for (const std::string& c : o.FlagValues("chain")) {
    ASSIGN_OR_RETURN(std::string data, ReadFlagFile("chain", c));
    e.certificates.push_back(std::move(data));
  }
  if (auto dir = o.Flag("collateral")) e.collateral_dir = *dir;
  evidence->push_back(std::move(e));
  if (!o.Flag("gpu-evidence") && !o.FlagValues("gpu-chain").empty()) {
    return UsageError("--gpu-chain: only with --gpu-evidence (the chain of that report)");
  }
  if (auto gpu = o.Flag("gpu-evidence")) {
    attest::Evidence g;
    g.type = attest::EvidenceType::kNvidia;
    ASSIGN_OR_RETURN(g.payload, ReadFlagFile("gpu-evidence", *gpu));
    for (const std::string& c : o.FlagValues("gpu-chain")) {
      ASSIGN_OR_RETURN(std::string data, ReadFlagFile("gpu-chain", c));
      g.certificates.push_back(std::move(data));
    }
    evidence->push_back(std::move(g));
  }
  return absl::OkStatus();
}

absl::StatusOr<attest::AttestationOptions> OfflineOptions(const CliOptions& o) {
  attest::AttestationOptions opts;
  for (const std::string& f : o.FlagValues("ak-key")) {
    ASSIGN_OR_RETURN(std::string pem, ReadFlagFile("ak-key", f));
    opts.tpm_trusted_ak_keys_pem.push_back(std::move(pem));
  }
  for (const std::string& f : o.FlagValues("ak-ca")) {
    ASSIGN_OR_RETURN(std::string pem, ReadFlagFile("ak-ca", f));
    opts.tpm_ak_ca_roots_pem.push_back(std::move(pem));
  }
  for (const std::string& f : o.FlagValues("dev-key")) {
    ASSIGN_OR_RETURN(std::string pem, ReadFlagFile("dev-key", f));
    opts.dev_trusted_keys_pem.push_back(std::move(pem));
    opts.dev_enabled = true;
  }
  return opts;
}

absl::Status Verify(Invocation& inv) {
  const CliOptions& o = inv.options();
  std::vector<attest::Evidence> evidence;
  RETURN_IF_ERROR(CollectEvidence(o, /*offline=*/true, &evidence));
  std::vector<attest::VerifyContext> contexts(evidence.size());
  absl::Time at = absl::Now();
  if (auto v = o.Flag("at")) {
    ASSIGN_OR_RETURN(at, ParseTimeFlag("at", *v));
  }
  for (auto& c : contexts) c.at = at;
  if (auto v = o.Flag("report-data")) {
    absl::StatusOr<Bytes> rd = HexDecode(*v, "--report-data");
    if (!rd.ok()) return LocalError(rd.status());
    contexts[0].expected_report_data = *rd;
  }
  if (auto v = o.Flag("gpu-nonce")) {
    absl::StatusOr<Bytes> rd = HexDecode(*v, "--gpu-nonce");
    if (!rd.ok()) return LocalError(rd.status());
    if (contexts.size() < 2) return UsageError("--gpu-nonce needs --gpu-evidence");
    contexts[1].expected_report_data = *rd;
  }
  std::optional<attest::Policy> policy;
  if (auto f = o.Flag("policy")) {
    ASSIGN_OR_RETURN(std::string text, ReadFlagFile("policy", *f));
    absl::StatusOr<attest::Policy> p = attest::Policy::Parse(text);
    if (!p.ok()) return UsageError(absl::StrCat("--policy: ", p.status().message()));
    policy = *std::move(p);
  }
  FileResolver resolver;
  for (const std::string& f : o.FlagValues("refvalues")) {
    ASSIGN_OR_RETURN(std::string text, ReadFlagFile("refvalues", f));
    absl::StatusOr<attest::ReferenceValueSet> set = attest::ParseReferenceValueSet(text);
    if (!set.ok()) {
      return UsageError(absl::StrCat("--refvalues ", f, ": ", set.status().message()));
    }
    const std::string name = set->name;
    if (!resolver.sets_.emplace(name, *std::move(set)).second) {
      return UsageError(
          absl::StrCat("--refvalues ", f, ": set '", name, "' is given by two files"));
    }
  }
  ASSIGN_OR_RETURN(attest::AttestationOptions options, OfflineOptions(o));
  absl::StatusOr<std::unique_ptr<attest::VerifierSet>> verifiers =
      attest::CreateVerifierSet(options);
  if (!verifiers.ok()) return LocalError(verifiers.status());

  nlohmann::json out;
  out["tee"] = std::string(attest::EvidenceTypeName(evidence[0].type));
  absl::StatusOr<attest::CompositeAppraisal> appraisal =
      (*verifiers)->Appraise(evidence, contexts);
  absl::Status result;
  if (!appraisal.ok()) {
    out["verified"] = false;
    out["claims"] = nlohmann::json::object();
    out["reason"] = std::string(appraisal.status().message());
    result = absl::PermissionDeniedError(appraisal.status().message());
  } else {
    out["verified"] = true;
    out["claims"] = appraisal->claims.ToJson();
    out["reason"] = "";
    out["status"] = std::string(attest::TrustTierName(appraisal->status()));
    out["warnings"] = appraisal->warnings;
    nlohmann::json submods = nlohmann::json::object();
    for (const attest::Appraisal& a : appraisal->submodules) {
      submods[a.tee] = a.ToEarSubmodule();
    }
    out["ear"] = submods;
    if (policy) {
      attest::PolicyDecision d = policy->Evaluate(
          appraisal->claims, resolver, at,
          attest::EvaluationContext::FromAppraisals(appraisal->submodules));
      nlohmann::json pj = {{"allowed", d.allow},
                           {"digest", policy->Digest()},
                           {"failed_path", d.failed_path},
                           {"reason", d.reason}};
      out["policy"] = pj;
      if (!d.allow) {
        out["reason"] = absl::StrCat("policy denied: ", d.reason);
        result = absl::PermissionDeniedError(out["reason"].get<std::string>());
      }
    }
  }
  if (inv.json()) {
    std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else if (out["verified"].get<bool>()) {
    std::cout << "verified " << out["tee"].get<std::string>() << " evidence ("
              << out["status"].get<std::string>() << ")\n";
    for (auto& [k, v] : out["claims"].items()) {
      std::cout << "  " << k << " = "
                << (v.is_string()
                        ? v.get<std::string>()
                        : v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace))
                << "\n";
    }
    for (const auto& w : out["warnings"]) std::cout << "warning: " << w.get<std::string>() << "\n";
    if (out.contains("policy")) {
      std::cout << "policy: " << (out["policy"]["allowed"].get<bool>() ? "allow" : "deny")
                << "\n";
    }
  }
  return result;
}

// Builds the TPM quote bundle (docs/attestation-tpm.md) from tpm2-tools output.
absl::Status TpmBundle(Invocation& inv) {
  const CliOptions& o = inv.options();
  auto quote = o.Flag("quote");
  auto sig = o.Flag("signature");
  auto pcrs = o.Flag("pcrs");
  if (!quote || !sig || !pcrs) {
    return UsageError("attest tpm-bundle: --quote, --signature and --pcrs are required");
  }
  ASSIGN_OR_RETURN(std::string q, ReadFlagFile("quote", *quote));
  ASSIGN_OR_RETURN(std::string s, ReadFlagFile("signature", *sig));
  ASSIGN_OR_RETURN(std::string p, ReadFlagFile("pcrs", *pcrs));
  std::string ak, ek;
  if (auto f = o.Flag("ak-public")) {
    ASSIGN_OR_RETURN(ak, ReadFlagFile("ak-public", *f));
  }
  if (auto f = o.Flag("ek-public")) {
    ASSIGN_OR_RETURN(ek, ReadFlagFile("ek-public", *f));
  }
  absl::StatusOr<std::string> bundle =
      attest::BuildTpmQuoteBundleFromTpm2Tools({q, s, p, ak, ek});
  if (!bundle.ok()) return UsageError(bundle.status().message());
  absl::Status w = WriteOutput("out", o.Flag("out").value_or("-"), *bundle);
  return w.ok() ? w : LocalError(w);
}

// --- refvalues ---------------------------------------------------------------

void PrintSet(const v1::ReferenceValueSet& s) {
  std::cout << s.name() << " v" << s.version() << " (" << s.values_size() << " values"
            << (s.expire_time_unix() ? absl::StrCat(", expires ",
                                                    absl::FormatTime(absl::RFC3339_sec,
                                                                     absl::FromUnixSeconds(
                                                                         s.expire_time_unix()),
                                                                     absl::UTCTimeZone()))
                                     : "")
            << ")\n";
  for (const std::string& v : s.values()) std::cout << "  " << v << "\n";
}

absl::Status RvPut(Invocation& inv) {
  const CliOptions& o = inv.options();
  v1::PutReferenceValuesRequest req;
  req.set_name(inv.arg(0));
  for (const std::string& v : o.FlagValues("value")) req.add_values(v);
  if (auto f = o.Flag("values-file")) {
    ASSIGN_OR_RETURN(std::string text, ReadFlagFile("values-file", *f));
    for (absl::string_view line : absl::StrSplit(text, '\n')) {
      line = absl::StripAsciiWhitespace(line);
      if (!line.empty() && line[0] != '#') req.add_values(std::string(line));
    }
  }
  if (req.values().empty()) return UsageError("refvalues put: give --value or --values-file");
  if (auto v = o.Flag("description")) req.set_description(*v);
  if (auto v = o.Flag("expires")) {
    ASSIGN_OR_RETURN(absl::Time t, ParseTimeFlag("expires", *v));
    req.set_expire_time_unix(absl::ToUnixSeconds(t));
  }
  ASSIGN_OR_RETURN(client::Connection * conn, inv.Connect());
  ASSIGN_OR_RETURN(auto r, conn->PutReferenceValues(req));
  inv.json() ? PrintJson(r) : PrintSet(r);
  return absl::OkStatus();
}

absl::Status RvGet(Invocation& inv) {
  v1::GetReferenceValuesRequest req;
  req.set_name(inv.arg(0));
  if (auto v = inv.options().Flag("version")) {
    ASSIGN_OR_RETURN(uint32_t n, ParseUintFlag("version", *v));
    req.set_version(n);
  }
  ASSIGN_OR_RETURN(client::Connection * conn, inv.Connect());
  ASSIGN_OR_RETURN(auto r, conn->GetReferenceValues(req));
  inv.json() ? PrintJson(r) : PrintSet(r);
  return absl::OkStatus();
}

absl::Status RvList(Invocation& inv) {
  ASSIGN_OR_RETURN(client::Connection * conn, inv.Connect());
  ASSIGN_OR_RETURN(auto r, conn->ListReferenceValues(v1::ListReferenceValuesRequest()));
  if (inv.json()) {
    PrintJson(r);
  } else {
    for (const auto& s : r.sets()) {
      std::cout << s.name() << " v" << s.version() << " (" << s.values_size() << " values)\n";
    }
  }
  return absl::OkStatus();
}

absl::Status RvDelete(Invocation& inv) {
  v1::DeleteReferenceValuesRequest req;
  req.set_name(inv.arg(0));
  ASSIGN_OR_RETURN(client::Connection * conn, inv.Connect());
  ASSIGN_OR_RETURN(auto r, conn->DeleteReferenceValues(req));
  inv.json() ? PrintJson(r) : void(std::cout << "deleted " << inv.arg(0) << "\n");
  return absl::OkStatus();
}

// --- policy ------------------------------------------------------------------

void PrintPolicy(const v1::AttestationPolicy& p) {
  std::cout << p.name() << " v" << p.version() << " digest " << p.digest() << "\n"
            << p.policy_json() << "\n";
}

absl::Status PolicyPut(Invocation& inv) {
  auto f = inv.options().Flag("file");
  if (!f) return UsageError("policy put: --file is required");
  v1::PutPolicyRequest req;
  req.set_name(inv.arg(0));
  ASSIGN_OR_RETURN(*req.mutable_policy_json(), ReadFlagFile("file", *f));
  ASSIGN_OR_RETURN(client::Connection * conn, inv.Connect());
  ASSIGN_OR_RETURN(auto r, conn->PutPolicy(req));
  inv.json() ? PrintJson(r) : PrintPolicy(r);
  return absl::OkStatus();
}

absl::Status PolicyGet(Invocation& inv) {
  v1::GetPolicyRequest req;
  req.set_name(inv.arg(0));
  if (auto v = inv.options().Flag("version")) {
    ASSIGN_OR_RETURN(uint32_t n, ParseUintFlag("version", *v));
    req.set_version(n);
  }
  ASSIGN_OR_RETURN(client::Connection * conn, inv.Connect());
  ASSIGN_OR_RETURN(auto r, conn->GetPolicy(req));
  inv.json() ? PrintJson(r) : PrintPolicy(r);
  return absl::OkStatus();
}

absl::Status PolicyList(Invocation& inv) {
  ASSIGN_OR_RETURN(client::Connection * conn, inv.Connect());
  ASSIGN_OR_RETURN(auto r, conn->ListPolicies(v1::ListPoliciesRequest()));
  if (inv.json()) {
    PrintJson(r);
  } else {
    for (const auto& p : r.policies()) {
      std::cout << p.name() << " v" << p.version() << " " << p.digest() << "\n";
    }
  }
  return absl::OkStatus();
}

absl::Status PolicyDelete(Invocation& inv) {
  v1::DeletePolicyRequest req;
  req.set_name(inv.arg(0));
  ASSIGN_OR_RETURN(client::Connection * conn, inv.Connect());
  ASSIGN_OR_RETURN(auto r, conn->DeletePolicy(req));
  inv.json() ? PrintJson(r) : void(std::cout << "deleted " << inv.arg(0) << "\n");
  return absl::OkStatus();
}

absl::Status PolicyDryRun(Invocation& inv) {
  const CliOptions& o = inv.options();
  v1::DryRunPolicyRequest req;
  if (o.Flag("file") && !inv.args().empty()) {
    return UsageError("policy dry-run: give a policy NAME or --file, not both");
  }
  if (auto f = o.Flag("file")) {
    ASSIGN_OR_RETURN(*req.mutable_policy_json(), ReadFlagFile("file", *f));
  } else if (!inv.args().empty()) {
    req.set_policy_name(inv.arg(0));
  } else {
    return UsageError("policy dry-run: give a policy NAME or --file");
  }
  std::vector<attest::Evidence> evidence;
  RETURN_IF_ERROR(CollectEvidence(o, /*offline=*/false, &evidence));
  for (size_t i = 0; i < evidence.size(); ++i) {
    v1::EvidenceItem* item = req.add_evidence();
    item->set_type(std::string(attest::EvidenceTypeName(evidence[i].type)));
    item->set_payload(evidence[i].payload);
    for (const std::string& c : evidence[i].certificates) item->add_certificates(c);
  }
  if (auto v = o.Flag("report-data")) {
    absl::StatusOr<Bytes> rd = HexDecode(*v, "--report-data");
    if (!rd.ok()) return LocalError(rd.status());
    req.mutable_evidence(0)->set_expected_report_data(std::string(AsStringView(*rd)));
  }
  if (auto v = o.Flag("at")) {
    ASSIGN_OR_RETURN(absl::Time t, ParseTimeFlag("at", *v));
    req.set_verification_time_unix(absl::ToUnixSeconds(t));
  }
  ASSIGN_OR_RETURN(client::Connection * conn, inv.Connect());
  ASSIGN_OR_RETURN(auto r, conn->DryRunPolicy(req));
  if (inv.json()) {
    PrintJson(r);
  } else {
    std::cout << "verified: " << (r.verified() ? "yes" : "no") << "\n"
              << "allowed:  " << (r.allowed() ? "yes" : "no") << "\n";
    if (!r.reason().empty()) std::cout << "reason:   " << r.reason() << "\n";
    if (!r.failed_path().empty()) std::cout << "clause:   " << r.failed_path() << "\n";
    std::cout << "status:   " << r.ear_status() << "\n";
  }
  if (!r.allowed()) return absl::PermissionDeniedError(r.reason());
  return absl::OkStatus();
}

}  // namespace

std::vector<Command> AttestCommands() {
  const std::vector<std::string> evidence_flags = {
      "type", "evidence", "evidence-cert", "chain", "collateral", "report-data", "at",
      "gpu-evidence", "gpu-chain"};
  std::vector<std::string> verify_flags = evidence_flags;
  for (const char* f : {"policy", "refvalues", "ak-key", "ak-ca", "dev-key", "gpu-nonce"}) {
    verify_flags.push_back(f);
  }
  // The server reads its own collateral (attestation.*), so a dry run takes none.
  std::vector<std::string> dry_run_flags;
  for (const std::string& f : evidence_flags) {
    if (f != "collateral") dry_run_flags.push_back(f);
  }
  dry_run_flags.push_back("file");
  return {
      {"attest verify",
       "--type snp|tdx|tpm|nvidia|dev --evidence FILE [--cert FILE].. [--chain FILE] "
       "[--collateral DIR] [--report-data HEX] [--at RFC3339] [--policy FILE] "
       "[--refvalues FILE].. [--gpu-evidence FILE --gpu-chain FILE [--gpu-nonce HEX]] "
       "[--ak-key PEM].. [--ak-ca PEM].. [--dev-key PEM]..",
       "verify evidence offline (no server); exit 0 verified, 1 rejected", 0, 0, verify_flags,
       {}, Verify},
      {"attest tpm-bundle",
       "--quote FILE.attest --signature FILE.sig --pcrs PCRS.txt [--ak-public AK.pub] "
       "[--ek-public EK.pub] [--out FILE]",
       "build a TPM quote bundle (evidence for --type tpm) from tpm2-tools output", 0, 0,
       {"quote", "signature", "pcrs", "ak-public", "ek-public", "out"}, {}, TpmBundle},
      {"refvalues put", "NAME (--value V.. | --values-file F) [--expires RFC3339] "
                        "[--description TEXT]",
       "create or version a reference-value set (admin)", 1, 1,
       {"value", "values-file", "expires", "description"}, {}, RvPut},
      {"refvalues get", "NAME [--version N]", "show a reference-value set", 1, 1, {"version"},
       {}, RvGet},
      {"refvalues ls", "", "list reference-value sets", 0, 0, {}, {}, RvList},
      {"refvalues rm", "NAME", "delete a reference-value set (admin)", 1, 1, {}, {}, RvDelete},
      {"policy put", "NAME --file POLICY.json", "validate and store a release policy (admin)",
       1, 1, {"file"}, {}, PolicyPut},
      {"policy get", "NAME [--version N]", "show a policy", 1, 1, {"version"}, {}, PolicyGet},
      {"policy ls", "", "list policies", 0, 0, {}, {}, PolicyList},
      {"policy rm", "NAME", "delete a policy (admin)", 1, 1, {}, {}, PolicyDelete},
      {"policy dry-run",
       "(NAME | --file POLICY.json) --type T --evidence FILE [--evidence-cert FILE].. "
       "[--chain FILE] [--report-data HEX] "
       "[--at RFC3339]",
       "verify evidence on the server and evaluate a policy; releases nothing", 0, 1,
       dry_run_flags, {}, PolicyDryRun},
  };
}

}  // namespace strongroom::cli
