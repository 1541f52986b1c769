// key create | list | describe | version | rotate | update | enable | suspend |
// disable | compromise | destroy | restore | approve | changes.
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "cli/command.h"
#include "cli/output.h"
#include "cli/paging.h"

namespace strongroom::cli {
namespace {

absl::Status Create(Invocation& inv) {
  const CliOptions& o = inv.options();
  v1::CreateKeyRequest req;
  req.set_key_id(inv.arg(0));
  if (auto v = o.Flag("owner")) req.set_owner(*v);
  if (auto v = o.Flag("protection")) {
    if (*v == "software") {
      req.set_protection(v1::PROTECTION_SOFTWARE);
    } else if (*v == "hsm") {
      req.set_protection(v1::PROTECTION_HSM);
    } else {
      return UsageError(absl::StrCat("--protection: '", *v, "' is not software or hsm"));
    }
  }
  if (auto v = o.Flag("rotation-period")) {
    ASSIGN_OR_RETURN(int64_t s, ParseSecondsFlag("rotation-period", *v));
    req.set_rotation_period_seconds(s);
  }
  if (auto v = o.Flag("destroy-wait")) {
    ASSIGN_OR_RETURN(int64_t s, ParseSecondsFlag("destroy-wait", *v));
    req.set_destroy_wait_seconds(s);
  }
  if (auto v = o.Flag("description")) req.set_description(*v);
  ASSIGN_OR_RETURN(auto labels, KeyValueFlags(o, "label"));
  req.mutable_labels()->insert(labels.begin(), labels.end());
  req.set_dual_control(o.Switch("dual-control"));
  req.set_pre_active(o.Switch("pre-active"));

  ASSIGN_OR_RETURN(client::Connection * conn, inv.Connect());
  ASSIGN_OR_RETURN(v1::Key key, conn->CreateKey(req));
  if (inv.json()) {
    PrintJson(key);
  } else {
    PrintKey(key);
  }
  return absl::OkStatus();
}

absl::Status List(Invocation& inv) {
  const CliOptions& o = inv.options();
  v1::ListKeysRequest req;
  RETURN_IF_ERROR(ApplyPageFlags(o, INT32_MAX, req));
  ASSIGN_OR_RETURN(client::Connection * conn, inv.Connect());
  ASSIGN_OR_RETURN(
      v1::ListKeysResponse all,
      CollectPages(
          req, o.Switch("all"), [&](const v1::ListKeysRequest& r) { return conn->ListKeys(r); },
          [](v1::ListKeysResponse& r) { return r.mutable_keys(); }));
  if (inv.json()) {
    PrintJson(all);
    return absl::OkStatus();
  }
  PrintKeyTable(all.keys());
  if (!all.next_page_token().empty()) {
    std::cout << "more: --page-token " << all.next_page_token() << " (or --all)\n";
  }
  return absl::OkStatus();
}

absl::Status Describe(Invocation& inv) {
  ASSIGN_OR_RETURN(client::Connection * conn, inv.Connect());
  v1::GetKeyRequest get;
  get.set_name(KeyResourceName(inv.arg(0)));
  ASSIGN_OR_RETURN(v1::Key key, conn->GetKey(get));
  v1::ListKeyVersionsRequest list;
  list.set_parent(key.name());
  ASSIGN_OR_RETURN(v1::ListKeyVersionsResponse versions,
                   CollectPages(
                       list, /*all_pages=*/true,
                       [&](const v1::ListKeyVersionsRequest& r) { return conn->ListKeyVersions(r); },
                       [](v1::ListKeyVersionsResponse& r) { return r.mutable_versions(); }));
  if (inv.json()) {
    std::vector<std::string> items;
    for (const v1::KeyVersion& v : versions.versions()) items.push_back(ToJson(v));
    std::cout << "{\n\"key\": " << ToJson(key) << ",\n\"versions\": ["
              << absl::StrJoin(items, ",\n") << "]\n}\n";
    return absl::OkStatus();
  }
  PrintKey(key);
  std::cout << "\n";
  PrintVersionTable(versions.versions());
  return absl::OkStatus();
}

absl::Status Version(Invocation& inv) {
  v1::GetKeyVersionRequest req;
  ASSIGN_OR_RETURN(*req.mutable_name(), VersionResourceName(inv.arg(0), inv.arg(1)));
  ASSIGN_OR_RETURN(client::Connection * conn, inv.Connect());
  ASSIGN_OR_RETURN(v1::KeyVersion v, conn->GetKeyVersion(req));
  if (inv.json()) {
    PrintJson(v);
    return absl::OkStatus();
  }
  PrintVersion(v);
  if (!v.root_key_id().empty()) std::cout << "wrapped under root key " << v.root_key_id() << "\n";
  std::cout << "\n";
  Table t({"TIME", "FROM", "TO", "BY", "REASON"});
  for (const v1::StateChange& c : v.history()) {
    t.AddRow({FormatTime(c.time_unix_micros()), v1::KeyVersionState_Name(c.from()),
              v1::KeyVersionState_Name(c.to()), c.principal(),
              c.reason().empty() ? "-" : c.reason()});
  }
  t.Print();
  return absl::OkStatus();
}

// A version returned by a state change: JSON, or the readable block.
absl::Status PrintVersionResult(Invocation& inv, const v1::KeyVersion& v) {
  if (inv.json()) {
    PrintJson(v);
  } else {
    PrintVersion(v);
  }
  return absl::OkStatus();
}

absl::Status Rotate(Invocation& inv) {
  v1::RotateKeyRequest req;
  req.set_name(KeyResourceName(inv.arg(0)));
  req.set_keep_primary(inv.options().Switch("keep-primary"));
  ASSIGN_OR_RETURN(client::Connection * conn, inv.Connect());
  ASSIGN_OR_RETURN(v1::KeyVersion v, conn->RotateKey(req));
  return PrintVersionResult(inv, v);
}

absl::Status PrintChange(Invocation& inv, const v1::ChangeResult& r) {
  if (inv.json()) {
    PrintJson(r);
  } else {
    PrintChangeResult(r);
  }
  return absl::OkStatus();
}

absl::Status Update(Invocation& inv) {
  const CliOptions& o = inv.options();
  v1::UpdateKeyRequest req;
  req.set_name(KeyResourceName(inv.arg(0)));
  if (auto v = o.Flag("rotation-period")) {
    ASSIGN_OR_RETURN(int64_t s, ParseSecondsFlag("rotation-period", *v));
    req.set_rotation_period_seconds(s);
    req.add_update_mask("rotation_period_seconds");
  }
  if (auto v = o.Flag("min-decryption-version")) {
    ASSIGN_OR_RETURN(uint32_t n, ParseUintFlag("min-decryption-version", *v));
    req.set_min_decryption_version(n);
    req.add_update_mask("min_decryption_version");
  }
  if (auto v = o.Flag("destroy-wait")) {
    ASSIGN_OR_RETURN(int64_t s, ParseSecondsFlag("destroy-wait", *v));
    req.set_destroy_wait_seconds(s);
    req.add_update_mask("destroy_wait_seconds");
  }
  if (auto v = o.Flag("description")) {
    req.set_description(*v);
    req.add_update_mask("description");
  }
  if (req.update_mask().empty()) {
    return UsageError(
        "key update: nothing to change (give --rotation-period, --min-decryption-version, "
        "--destroy-wait or --description)");
  }
  ASSIGN_OR_RETURN(client::Connection * conn, inv.Connect());
  ASSIGN_OR_RETURN(v1::ChangeResult r, conn->UpdateKey(req));
  return PrintChange(inv, r);
}

// enable | suspend | disable | compromise.
std::function<absl::Status(Invocation&)> SetState(v1::KeyVersionState state) {
  return [state](Invocation& inv) -> absl::Status {
    v1::SetKeyVersionStateRequest req;
    ASSIGN_OR_RETURN(*req.mutable_name(), VersionResourceName(inv.arg(0), inv.arg(1)));
    req.set_state(state);
    if (auto v = inv.options().Flag("reason")) req.set_reason(*v);
    ASSIGN_OR_RETURN(client::Connection * conn, inv.Connect());
    ASSIGN_OR_RETURN(v1::ChangeResult r, conn->SetKeyVersionState(req));
    return r.has_pending() ? PrintChange(inv, r) : PrintVersionResult(inv, r.version());
  };
}

absl::Status Destroy(Invocation& inv) {
  v1::DestroyKeyVersionRequest req;
  ASSIGN_OR_RETURN(*req.mutable_name(), VersionResourceName(inv.arg(0), inv.arg(1)));
  ASSIGN_OR_RETURN(client::Connection * conn, inv.Connect());
  ASSIGN_OR_RETURN(v1::ChangeResult r, conn->DestroyKeyVersion(req));
  return PrintChange(inv, r);
}

absl::Status Restore(Invocation& inv) {
  v1::RestoreKeyVersionRequest req;
  ASSIGN_OR_RETURN(*req.mutable_name(), VersionResourceName(inv.arg(0), inv.arg(1)));
  ASSIGN_OR_RETURN(client::Connection * conn, inv.Connect());
  ASSIGN_OR_RETURN(v1::ChangeResult r, conn->RestoreKeyVersion(req));
  // The version as before when it applied at once; the proposal otherwise.
  return r.has_pending() ? PrintChange(inv, r) : PrintVersionResult(inv, r.version());
}

absl::Status Approve(Invocation& inv) {
  v1::ApproveChangeRequest req;
  req.set_id(inv.arg(0));
  ASSIGN_OR_RETURN(client::Connection * conn, inv.Connect());
  ASSIGN_OR_RETURN(v1::ChangeResult r, conn->ApproveChange(req));
  return PrintChange(inv, r);
}

absl::Status Changes(Invocation& inv) {
  v1::ListChangesRequest req;
  req.set_pending_only(inv.options().Switch("pending"));
  ASSIGN_OR_RETURN(client::Connection * conn, inv.Connect());
  // Every page (the server's default size), gathered into one list.
  v1::ListChangesResponse r;
  for (int pages = 0;; ++pages) {
    ASSIGN_OR_RETURN(v1::ListChangesResponse page, conn->ListChanges(req));
    for (v1::ChangeProposal& c : *page.mutable_changes()) *r.add_changes() = std::move(c);
    if (page.next_page_token().empty()) break;
    if (page.next_page_token() <= req.page_token() || pages > 10000) {
      return absl::DataLossError("ListChanges: the server's page token does not advance");
    }
    req.set_page_token(page.next_page_token());
  }
  if (inv.json()) {
    PrintJson(r);
  } else {
    PrintChangeTable(r.changes());
  }
  return absl::OkStatus();
}

}  // namespace

// One command per entry reads better than one field per line.
// clang-format off
std::vector<Command> KeyCommands() {
  const std::string kReason = "KEY VERSION [--reason TEXT]";
  return {
      {"key create",
       "KEY [--owner PRINCIPAL] [--protection software|hsm] [--rotation-period DUR] "
       "[--destroy-wait DUR] [--dual-control] [--pre-active] [--description TEXT] "
       "[--label K=V]...",
       "create a key (admins for anyone, owners for themselves)", 1, 1,
       {"owner", "protection", "rotation-period", "destroy-wait", "description", "label"},
       {"dual-control", "pre-active"}, Create},
      {"key list", "[--page-size N] [--page-token T] [--all]", "keys the caller may read", 0, 0,
       {"page-size", "page-token"}, {"all"}, List},
      {"key describe", "KEY", "a key and its versions", 1, 1, {}, {}, Describe},
      {"key version", "KEY VERSION", "one version and its state history", 2, 2, {}, {}, Version},
      {"key rotate", "KEY [--keep-primary]", "new version, the primary unless --keep-primary", 1,
       1, {}, {"keep-primary"}, Rotate},
      {"key update",
       "KEY [--rotation-period DUR] [--min-decryption-version N] [--destroy-wait DUR] "
       "[--description TEXT]",
       "change a key's policy (dual control: needs approval)", 1, 1,
       {"rotation-period", "min-decryption-version", "destroy-wait", "description"}, {}, Update},
      {"key enable", kReason, "version -> ENABLED", 2, 2, {"reason"}, {},
       SetState(v1::ENABLED)},
      {"key suspend", kReason, "version -> SUSPENDED (decrypt only)", 2, 2, {"reason"}, {},
       SetState(v1::SUSPENDED)},
      {"key disable", kReason, "version -> DISABLED", 2, 2, {"reason"}, {},
       SetState(v1::DISABLED)},
      {"key compromise", kReason, "version -> COMPROMISED (decrypt only, flagged for rewrap)", 2,
       2, {"reason"}, {}, SetState(v1::COMPROMISED)},
      {"key destroy", "KEY VERSION", "schedule destruction after the destroy wait", 2, 2, {}, {},
       Destroy},
      {"key restore", "KEY VERSION", "cancel a scheduled destruction (-> DISABLED)", 2, 2, {}, {},
       Restore},
      {"key approve", "CHANGE_ID", "approve another admin's pending change", 1, 1, {}, {},
       Approve},
      {"key changes", "[--pending]", "dual-control change proposals", 0, 0, {}, {"pending"},
       Changes},
  };
}
// clang-format on

}  // namespace strongroom::cli
