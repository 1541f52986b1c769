// status, ping, hsm check, root rotate, root status.
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "cli/command.h"
#include "cli/output.h"

namespace strongroom::cli {
namespace {

absl::Status Status(Invocation& inv) {
  ASSIGN_OR_RETURN(client::Connection * conn, inv.Connect());
  ASSIGN_OR_RETURN(auto r, conn->GetStatus());
  if (inv.json()) {
    PrintJson(r);
    return absl::OkStatus();
  }
  std::cout << absl::StrFormat(
      "server     strongroomd %s, up %ds\n"
      "caller     %s (role: %s)\n",
      r.version(), r.uptime_seconds(), r.principal(), r.role());
  // The server shows its HSM token and database to admins, auditors and
  // owners only.
  if (!r.has_hsm()) {
    std::cout << "hsm        (not shown to this role)\n";
    return absl::OkStatus();
  }
  std::cout << absl::StrFormat(
      "hsm        token '%s' (%s %s, serial %s), module %s\n"
      "           %d open sessions, generation %d, %d recoveries\n"
      "storage    %s (~%d records)\n",
      r.hsm().token_label(), r.hsm().manufacturer(), r.hsm().model(), r.hsm().serial(),
      r.hsm().module(), r.hsm().open_sessions(), r.hsm().generation(), r.hsm().recoveries(),
      r.storage().path(), r.storage().estimated_keys());
  return absl::OkStatus();
}

absl::Status Ping(Invocation& inv) {
  ASSIGN_OR_RETURN(client::Connection * conn, inv.Connect());
  ASSIGN_OR_RETURN(auto r, conn->Ping());
  if (inv.json()) {
    PrintJson(r);
  } else {
    std::cout << "ok\n";
  }
  return absl::OkStatus();
}

absl::Status HsmCheck(Invocation& inv) {
  uint32_t payload = 4096;
  if (auto v = inv.options().Flag("payload-bytes")) {
    ASSIGN_OR_RETURN(payload, ParseUintFlag("payload-bytes", *v));
    if (payload < 1 || payload > 65536) {  // the server's bounds (CheckHsmRequest)
      return UsageError(absl::StrCat("--payload-bytes: ", payload, " is outside [1, 65536]"));
    }
  }
  ASSIGN_OR_RETURN(client::Connection * conn, inv.Connect());
  ASSIGN_OR_RETURN(auto r, conn->CheckHsm(payload));
  if (inv.json()) {
    PrintJson(r);
  } else {
    for (const auto& step : r.steps()) {
      std::cout << absl::StrFormat("%-26s %-4s %9.1f us  %s\n", step.name(),
                                   step.ok() ? "ok" : "FAIL", step.micros(), step.detail());
    }
    std::cout << (r.ok() ? "HSM check passed\n" : "HSM check FAILED\n");
  }
  // The report is already printed; the message only sets the exit code.
  if (!r.ok()) return absl::InternalError("HSM check failed");
  return absl::OkStatus();
}

absl::Status RootStatus(Invocation& inv) {
  ASSIGN_OR_RETURN(client::Connection * conn, inv.Connect());
  ASSIGN_OR_RETURN(auto r, conn->GetRootKeyStatus());
  if (inv.json()) {
    PrintJson(r);
  } else {
    PrintRootKeyStatus(r);
  }
  return absl::OkStatus();
}

absl::Status RootRotate(Invocation& inv) {
  ASSIGN_OR_RETURN(client::Connection * conn, inv.Connect());
  ASSIGN_OR_RETURN(auto r, conn->RotateRootKey());
  if (inv.json()) {
    PrintJson(r);
  } else {
    std::cout << "root key rotated; versions are rewrapped in the background\n";
    PrintRootKeyStatus(r);
  }
  return absl::OkStatus();
}

}  // namespace

// One command per entry reads better than one field per line.
// clang-format off
std::vector<Command> SystemCommands() {
  return {
      {"status", "", "server, caller identity; HSM and storage (admin, auditor, owner)", 0, 0, {}, {}, Status},
      {"ping", "", "an authenticated no-op round trip", 0, 0, {}, {}, Ping},
      {"hsm check", "[--payload-bytes N]", "run key operations inside the HSM (admin, auditor)", 0, 0,
       {"payload-bytes"}, {}, HsmCheck},
      {"root status", "", "root wrapping keys and rewrap progress (admin, auditor)", 0, 0, {},
       {}, RootStatus},
      {"root rotate", "", "new root wrapping key; rewrap every version (admin)", 0, 0, {}, {},
       RootRotate},
  };
}
// clang-format on

}  // namespace strongroom::cli
