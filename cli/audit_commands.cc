// audit export | verify, key release-policy.
//
// `audit verify` is offline: it needs only the export file (and, to pin the
// checkpoint key, the key's PEM) and exits 0 when the export is intact, 1
// naming the first bad sequence number otherwise, 2 for an unreadable file.
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/bytes.h"
#include "base/status_macros.h"
#include "cli/command.h"
#include "cli/io.h"
#include "cli/output.h"
#include "kms/audit/export_verifier.h"
#include "nlohmann/json.hpp"

namespace strongroom::cli {
namespace {

absl::Status AuditExport(Invocation& inv) {
  v1::ExportAuditRequest req;
  if (auto v = inv.options().Flag("from")) {
    uint64_t n = 0;  // sequence numbers are 64-bit
    if (!absl::SimpleAtoi(*v, &n) || v->empty() || (*v)[0] == '+' || (*v)[0] == '-') {
      return UsageError(absl::StrCat("--from: '", *v, "' is not a sequence number"));
    }
    req.set_from_sequence(n);
  }
  const std::string out = inv.options().Flag("out").value_or("-");
  RETURN_IF_ERROR(CheckOutputPath("--out", out));
  ASSIGN_OR_RETURN(client::Connection * conn, inv.Connect());
  ASSIGN_OR_RETURN(auto r, conn->ExportAudit(req));
  // After the call: not a local error (exit 1, as for any output the
  // server's answer could not be written to).
  return WriteOutput("out", out, r.jsonl());
}

absl::Status AuditVerify(Invocation& inv) {
  // A file is read as a stream, whatever its size (an export has no limit);
  // stdin ("-") whole, within ReadInput's.
  const std::string& file = inv.arg(0);
  std::ifstream export_file;
  std::string piped;
  if (file == "-") {
    absl::StatusOr<std::string> data = ReadInput("FILE", file);
    if (!data.ok()) return LocalError(data.status());
    piped = *std::move(data);
  } else {
    // A folder opens as a stream too, and fails only at its first read.
    struct stat st = {};
    const bool folder = stat(file.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    if (!folder) export_file.open(file, std::ios::binary);
    if (folder || !export_file.is_open()) {
      if (folder) errno = EISDIR;
      return LocalError(IoError("read", "FILE", file));
    }
  }
  kms::VerifyExportOptions options;
  for (const std::string& f : inv.options().FlagValues("trusted-key")) {
    absl::StatusOr<std::string> pem = ReadInput("trusted-key", f);
    if (!pem.ok()) return LocalError(pem.status());
    options.trusted_public_keys_pem.push_back(*pem);
  }
  // Keys taken from the export itself prove consistency, not who signed: a
  // forged export signs with its own key. Only on request.
  if (options.trusted_public_keys_pem.empty() && !inv.options().Switch("allow-unpinned")) {
    return UsageError(
        "--trusted-key: give the broker's checkpoint public key (or --allow-unpinned to check "
        "the export's consistency with the keys it carries)");
  }
  if (auto v = inv.options().Flag("known-head")) {
    const size_t colon = v->find(':');
    absl::StatusOr<Bytes> hash = colon == std::string::npos
                                     ? absl::StatusOr<Bytes>(absl::InvalidArgumentError(""))
                                     : HexDecode(v->substr(colon + 1));
    if (colon == std::string::npos ||
        !absl::SimpleAtoi(v->substr(0, colon), &options.known_sequence) ||
        options.known_sequence == 0 || !hash.ok() || hash->size() != 32) {
      return UsageError(absl::StrCat("--known-head: '", *v,
                                     "' is not SEQUENCE:HASH (a sequence from 1 and the "
                                     "64-hex-digit hash of that record)"));
    }
    options.known_hash_hex = HexEncode(*hash);
  }
  std::istringstream from_stdin(piped);
  kms::AuditVerifyResult r = kms::VerifyExport(
      file == "-" ? static_cast<std::istream&>(from_stdin) : export_file, options);
  // A read that failed part-way is not a verdict on the export.
  if (export_file.bad()) return LocalError(IoError("read", "FILE", file));
  if (inv.json()) {
    nlohmann::json j = {{"ok", r.ok},
                        {"first_bad_sequence", r.first_bad_sequence},
                        {"reason", r.reason},
                        {"records", r.records},
                        {"checkpoints", r.checkpoints},
                        {"from_sequence", r.from_sequence},
                        {"last_sequence", r.last_sequence},
                        {"verified_through", r.verified_through},
                        {"head_hash", r.head_hash},
                        {"exported_at_unix_us", r.exported_at_unix_us},
                        {"known_head_checked", r.known_head_checked},
                        {"keys_pinned", r.keys_pinned}};
    // The reason may quote the export's own bytes: never let them stop the report.
    std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    std::cout << kms::FormatAuditVerifyResult(r);
  }
  if (!r.ok) {
    return absl::DataLossError(absl::StrCat("audit export fails at sequence ",
                                            r.first_bad_sequence, ": ", r.reason));
  }
  return absl::OkStatus();
}

absl::Status KeyReleasePolicy(Invocation& inv) {
  v1::UpdateKeyRequest req;
  req.set_name(KeyResourceName(inv.arg(0)));
  req.add_update_mask("release_policy");
  if (inv.arg(1) != "none") {
    req.set_release_policy(inv.arg(1).rfind("policies/", 0) == 0
                               ? inv.arg(1)
                               : absl::StrCat("policies/", inv.arg(1)));
  }
  if (auto v = inv.options().Flag("version")) {
    if (inv.arg(1) == "none") {
      return UsageError("--version: names a version of the policy to bind; not with 'none'");
    }
    ASSIGN_OR_RETURN(uint32_t n, ParseUintFlag("version", *v));
    req.set_release_policy_version(n);
  }
  ASSIGN_OR_RETURN(client::Connection * conn, inv.Connect());
  ASSIGN_OR_RETURN(auto r, conn->UpdateKey(req));
  if (inv.json()) {
    PrintJson(r);
  } else if (r.has_pending()) {
    std::cout << "pending approval: change " << r.pending().id() << "\n";
  } else {
    std::cout << r.key().name() << " release policy: "
              << (r.key().release_policy().empty()
                      ? std::string("none")
                      : absl::StrCat(r.key().release_policy(), " v",
                                     r.key().release_policy_version()))
              << "\n";
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<Command> AuditCommands() {
  return {
      {"audit export",
       "[--from SEQ] [--out FILE]",
       "the hash-chained audit log as JSON lines (auditor, admin)",
       0,
       0,
       {"from", "out"},
       {},
       AuditExport},
      {"audit verify",
       "FILE (--trusted-key PEM.. | --allow-unpinned) [--known-head SEQ:HASH]",
       "verify an export offline; exit 1 naming the first bad sequence",
       1,
       1,
       {"trusted-key", "known-head"},
       {"allow-unpinned"},
       AuditVerify},
      {"key release-policy",
       "KEY (POLICY | none) [--version N]",
       "bind a key to a release policy version (owner; dual control needs approval)",
       2,
       2,
       {"version"},
       {},
       KeyReleasePolicy},
  };
}

}  // namespace strongroom::cli
