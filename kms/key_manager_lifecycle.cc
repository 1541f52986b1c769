// KeyManager: version state changes, destruction (crypto-shredding), dual
// control, and the periodic maintenance that carries out what is due.
#include <rocksdb/write_batch.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "kms/key_manager.h"
#include "kms/key_manager_internal.h"
#include "kms/lifecycle.h"
#include "kms/resource_names.h"

namespace strongroom::kms {

using namespace internal;  // NOLINT

absl::StatusOr<v1::KeyVersion> KeyManager::Transition(const std::string& key_id,
                                                      uint32_t version, v1::KeyVersionState to,
                                                      const std::string& principal,
                                                      absl::string_view reason,
                                                      rocksdb::WriteBatch* extra) {
  ASSIGN_OR_RETURN(ViewPtr old, GetView(key_id));
  auto it = old->versions.find(version);
  if (it == old->versions.end()) {
    return absl::NotFoundError(absl::StrCat(VersionResourceName(key_id, version), " not found"));
  }
  const v1::KeyVersionState from = it->second.version().state();
  RETURN_IF_ERROR(CheckVersionTransition(it->second, to));
  auto view = std::make_shared<KeyView>(*old);
  v1::KeyVersion& v = *view->versions[version].mutable_version();
  AddHistory(v, to, principal, reason);
  if (to == v1::COMPROMISED) v.set_needs_rewrap(true);
  if (to == v1::DESTROY_SCHEDULED) {
    v.set_destroy_time_unix_micros(
        Micros(clock_.Now() + absl::Seconds(old->key.key().destroy_wait_seconds())));
  }
  if (from == v1::DESTROY_SCHEDULED && to == v1::DISABLED) v.set_destroy_time_unix_micros(0);
  RETURN_IF_ERROR(Commit(view, {version}, extra));
  LogInfo("kms.version_state", {{"version", v.name()}, {"from", StateName(from)},
                                {"to", StateName(to)}, {"principal", principal}});
  return v;
}

absl::Status KeyManager::CheckVersionTransition(const records::KeyVersionRecord& rec,
                                                v1::KeyVersionState to) {
  const v1::KeyVersion& v = rec.version();
  if (absl::Status s = CheckTransition(v.state(), to); !s.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(v.name(), ": ", s.message()));
  }
  // A version once marked COMPROMISED (needs_rewrap stays set) protects no
  // new data again: it may be disabled and destroyed, never enabled.
  if (to == v1::ENABLED && v.needs_rewrap()) {
    return absl::FailedPreconditionError(
        absl::StrCat(v.name(),
                     " was marked COMPROMISED and cannot be enabled again (rotate to a new "
                     "version, re-encrypt, then destroy this one)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::ChangeResult> KeyManager::SetKeyVersionState(
    const Caller& c, const v1::SetKeyVersionStateRequest& r) {
  ASSIGN_OR_RETURN(VersionName name, ParseVersionName(r.name(), "name"));
  ASSIGN_OR_RETURN(ViewPtr view,
                   AuthorizedView(c, name.key_id, Action::kManage, "SetKeyVersionState"));
  if (r.state() != v1::ENABLED && r.state() != v1::SUSPENDED && r.state() != v1::DISABLED &&
      r.state() != v1::COMPROMISED) {
    return absl::InvalidArgumentError(absl::StrCat(
        "state: ",
        v1::KeyVersionState_IsValid(r.state()) ? std::string(StateName(r.state()))
                                               : absl::StrCat("unknown value ", r.state()),
        " cannot be set directly (use ENABLED, SUSPENDED, DISABLED or COMPROMISED; "
        "DestroyKeyVersion and RestoreKeyVersion for destruction)"));
  }
  if (r.reason().size() > 512) return absl::InvalidArgumentError("reason: longer than 512 bytes");
  v1::ChangeResult result;
  // COMPROMISED decrypts and lets the primary rotate to a new ENABLED one:
  // reached from a version that is off (DISABLED, SUSPENDED), it would turn
  // a dual_control key on with one admin. Only from ENABLED is it a
  // tightening that applies at once.
  auto it = view->versions.find(name.version);
  if (view->key.key().dual_control() && r.state() == v1::COMPROMISED &&
      it != view->versions.end() && it->second.version().state() != v1::ENABLED) {
    RETURN_IF_ERROR(CheckVersionTransition(it->second, v1::COMPROMISED));
    records::ChangeRecord change;
    *change.mutable_set_state() = r;
    change.mutable_proposal()->set_action(absl::StrCat(
        "mark ", r.name(), " COMPROMISED (it is ", StateName(it->second.version().state()),
        "; COMPROMISED decrypts again and lets the primary rotate)"));
    return Propose(c, name.key_id, std::move(change));
  }
  if (view->key.key().dual_control() && r.state() == v1::ENABLED) {
    // Never applied at once, whatever the state read here: the state is read
    // before the lock, and a request that read ENABLED just before another
    // admin disabled or suspended the version would otherwise enable it again
    // on its own. Checked now as well as at approval (ENABLED -> ENABLED is
    // refused here), so that a proposal that could never apply is not made.
    if (it == view->versions.end())
      return absl::NotFoundError(absl::StrCat(r.name(), " not found"));
    RETURN_IF_ERROR(CheckVersionTransition(it->second, v1::ENABLED));
    records::ChangeRecord change;
    *change.mutable_set_state() = r;
    change.mutable_proposal()->set_action(absl::StrCat("enable ", r.name()));
    return Propose(c, name.key_id, std::move(change));
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (view->key.key().dual_control() && r.state() == v1::COMPROMISED) {
    // Read ENABLED before the lock; another admin may have switched it off
    // since, and then this is no longer a tightening.
    ASSIGN_OR_RETURN(ViewPtr now, GetView(name.key_id));
    auto it = now->versions.find(name.version);
    const v1::KeyVersionState state_now = it == now->versions.end()
                                              ? v1::KEY_VERSION_STATE_UNSPECIFIED
                                              : it->second.version().state();
    if (state_now == v1::DISABLED || state_now == v1::SUSPENDED) {
      return absl::AbortedError(
          absl::StrCat(r.name(),
                       " was switched off while this request ran; marking it COMPROMISED now "
                       "needs a second admin: send the request again to propose it"));
    }
  }
  ASSIGN_OR_RETURN(*result.mutable_version(), ApplySetState(r, c.principal));
  return result;
}

absl::StatusOr<v1::KeyVersion> KeyManager::ApplySetState(const v1::SetKeyVersionStateRequest& r,
                                                         const std::string& principal,
                                                         rocksdb::WriteBatch* extra) {
  ASSIGN_OR_RETURN(VersionName name, ParseVersionName(r.name(), "name"));
  ASSIGN_OR_RETURN(ViewPtr current, GetView(name.key_id));
  auto it = current->versions.find(name.version);
  if (it != current->versions.end() &&
      it->second.version().state() == v1::DESTROY_SCHEDULED) {
    return absl::FailedPreconditionError(absl::StrCat(
        r.name(), " is DESTROY_SCHEDULED: cancel with RestoreKeyVersion first"));
  }
  return Transition(name.key_id, name.version, r.state(), principal, r.reason(), extra);
}

absl::Status KeyManager::Shred(const std::string& key_id, uint32_t version,
                               const std::string& principal) {
  ASSIGN_OR_RETURN(ViewPtr old, GetView(key_id));
  const records::KeyVersionRecord& rec = old->versions.at(version);
  if (!rec.hsm_object_id().empty()) {
    absl::Status s = hsm_.DestroyKey(TokenKey(rec.hsm_object_id(), rec.version().name()));
    if (!s.ok() && !absl::IsNotFound(s)) return s;  // NotFound: an earlier try got this far
  }
  auto view = std::make_shared<KeyView>(*old);
  records::KeyVersionRecord& updated = view->versions[version];
  updated.clear_wrapped_material();
  updated.clear_hsm_object_id();
  AddHistory(*updated.mutable_version(), v1::DESTROYED, principal, "destroy wait elapsed");
  rocksdb::WriteBatch owed;
  owed.Put(kShredCompactionOwedKey, updated.version().name());
  RETURN_IF_ERROR(Commit(view, {version}, &owed));
  {
    std::lock_guard<std::mutex> lock(material_mu_);
    material_.erase({key_id, version});
  }
  LogInfo("kms.version_destroyed", {{"version", updated.version().name()},
                                    {"principal", principal}});
  // The wrapped bytes may still sit in older SST files or the WAL: compact
  // them away so they exist in no file at all. The version is destroyed
  // either way; a failed compaction stays owed and maintenance retries it.
  if (absl::Status s = CompactOwedShreds(); !s.ok()) {
    LogWarning("kms.shred_compaction_failed",
               {{"version", updated.version().name()}, {"error", std::string(s.message())}});
  }
  return absl::OkStatus();
}

absl::Status KeyManager::CompactOwedShreds() {
  if (options_.before_compaction_for_testing) {
    RETURN_IF_ERROR(options_.before_compaction_for_testing());
  }
  RETURN_IF_ERROR(db_.CompactAll());
  return db_.Delete(kShredCompactionOwedKey);
}

absl::StatusOr<v1::KeyVersion> KeyManager::ApplyDestroy(const std::string& key_id,
                                                        uint32_t version,
                                                        const std::string& principal,
                                                        rocksdb::WriteBatch* extra) {
  ASSIGN_OR_RETURN(ViewPtr view, GetView(key_id));
  if (view->key.key().primary_version() == version) {
    return absl::FailedPreconditionError(absl::StrCat(
        VersionResourceName(key_id, version), " is the primary version: rotate the key first"));
  }
  ASSIGN_OR_RETURN(v1::KeyVersion v, Transition(key_id, version, v1::DESTROY_SCHEDULED,
                                                principal, "destruction scheduled", extra));
  if (view->key.key().destroy_wait_seconds() == 0) {
    // The schedule is committed (with an approval, in its batch): the call
    // has changed state and answers with it. A shred that fails here is
    // left to maintenance, which destroys every version that is due.
    if (absl::Status s = Shred(key_id, version, principal); !s.ok()) {
      LogWarning("kms.shred_deferred",
                 {{"version", v.name()}, {"error", std::string(s.message())}});
      return v;
    }
    ASSIGN_OR_RETURN(ViewPtr after, GetView(key_id));
    return after->versions.at(version).version();
  }
  return v;
}

absl::StatusOr<v1::ChangeResult> KeyManager::DestroyKeyVersion(
    const Caller& c, const v1::DestroyKeyVersionRequest& r) {
  ASSIGN_OR_RETURN(VersionName name, ParseVersionName(r.name(), "name"));
  ASSIGN_OR_RETURN(ViewPtr view,
                   AuthorizedView(c, name.key_id, Action::kManage, "DestroyKeyVersion"));
  auto it = view->versions.find(name.version);
  if (it == view->versions.end()) return absl::NotFoundError(absl::StrCat(r.name(), " not found"));
  if (view->key.key().dual_control()) {
    if (view->key.key().primary_version() == name.version) {
      return absl::FailedPreconditionError(
          absl::StrCat(r.name(), " is the primary version: rotate the key first"));
    }
    RETURN_IF_ERROR(CheckVersionTransition(it->second, v1::DESTROY_SCHEDULED));
    records::ChangeRecord change;
    *change.mutable_destroy() = r;
    change.mutable_proposal()->set_action(absl::StrCat("destroy ", r.name()));
    return Propose(c, name.key_id, std::move(change));
  }
  std::lock_guard<std::mutex> lock(mu_);
  v1::ChangeResult result;
  ASSIGN_OR_RETURN(*result.mutable_version(), ApplyDestroy(name.key_id, name.version, c.principal));
  return result;
}

absl::StatusOr<v1::ChangeResult> KeyManager::RestoreKeyVersion(
    const Caller& c, const v1::RestoreKeyVersionRequest& r) {
  ASSIGN_OR_RETURN(VersionName name, ParseVersionName(r.name(), "name"));
  ASSIGN_OR_RETURN(ViewPtr view,
                   AuthorizedView(c, name.key_id, Action::kManage, "RestoreKeyVersion"));
  if (view->key.key().dual_control()) {
    auto it = view->versions.find(name.version);
    if (it == view->versions.end())
      return absl::NotFoundError(absl::StrCat(r.name(), " not found"));
    RETURN_IF_ERROR(CheckRestorable(it->second));
    records::ChangeRecord change;
    *change.mutable_restore() = r;
    change.mutable_proposal()->set_action(absl::StrCat("restore ", r.name()));
    return Propose(c, name.key_id, std::move(change));
  }
  std::lock_guard<std::mutex> lock(mu_);
  v1::ChangeResult result;
  ASSIGN_OR_RETURN(*result.mutable_version(), ApplyRestore(r, c.principal));
  return result;
}

absl::Status KeyManager::CheckRestorable(const records::KeyVersionRecord& rec) const {
  if (rec.version().state() != v1::DESTROY_SCHEDULED) {
    return absl::FailedPreconditionError(
        absl::StrCat(rec.version().name(), " is ", StateName(rec.version().state()),
                     ": only a DESTROY_SCHEDULED version can be restored"));
  }
  // A shred that destroyed the HSM object but failed (or crashed) before
  // committing leaves the version scheduled with nothing behind it: that
  // destruction cannot be cancelled any more.
  if (const std::string& object = rec.hsm_object_id(); !object.empty()) {
    absl::Status exists = hsm_.CheckKeyExists(TokenKey(object, rec.version().name()));
    if (absl::IsNotFound(exists)) {
      return absl::FailedPreconditionError(
          absl::StrCat(rec.version().name(),
                       ": its HSM key is already destroyed; the destruction cannot be cancelled "
                       "(maintenance completes it)"));
    }
    RETURN_IF_ERROR(exists);
  }
  // Once the wait has run out the destruction is due, whether or not a
  // maintenance pass has carried it out yet (an approval that comes late
  // included).
  if (const int64_t due = rec.version().destroy_time_unix_micros(); due <= Micros(clock_.Now())) {
    return absl::FailedPreconditionError(absl::StrCat(
        rec.version().name(), ": its destroy wait ended at ",
        absl::FormatTime(absl::FromUnixMicros(due)),
        "; the destruction is due and can no longer be cancelled (maintenance completes it)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::KeyVersion> KeyManager::ApplyRestore(const v1::RestoreKeyVersionRequest& r,
                                                        const std::string& principal,
                                                        rocksdb::WriteBatch* extra) {
  ASSIGN_OR_RETURN(VersionName name, ParseVersionName(r.name(), "name"));
  ASSIGN_OR_RETURN(ViewPtr current, GetView(name.key_id));
  auto it = current->versions.find(name.version);
  if (it == current->versions.end())
    return absl::NotFoundError(absl::StrCat(r.name(), " not found"));
  RETURN_IF_ERROR(CheckRestorable(it->second));
  return Transition(name.key_id, name.version, v1::DISABLED, principal, "destruction cancelled",
                    extra);
}

absl::StatusOr<v1::ChangeResult> KeyManager::Propose(const Caller& c, const std::string& key_id,
                                                     records::ChangeRecord change) {
  // Proposals are kept (approved and expired ones too, as the record of
  // what was asked); each proposer's pending ones on a key are bounded, so
  // that repeated proposals cannot bury the list admins approve from, and
  // one proposer (a key's owner binding policies) cannot use up what others
  // may propose.
  std::lock_guard<std::mutex> lock(mu_);
  size_t pending = 0;
  const int64_t now = Micros(clock_.Now());
  RETURN_IF_ERROR(db_.Scan("change/", "", [&](absl::string_view, absl::string_view v) {
    records::ChangeRecord other;
    // A record that does not parse is ListChanges' to report; it does not
    // stop proposals on every key.
    if (other.ParseFromArray(v.data(), static_cast<int>(v.size())) && other.key_id() == key_id &&
        other.proposal().proposer() == c.principal && other.proposal().state() == "pending" &&
        now <= other.proposal().expire_time_unix_micros()) {
      ++pending;
    }
    return true;
  }));
  if (pending >= kMaxPendingChangesPerKey) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "'", c.principal, "' already has ", pending, " pending changes on ", KeyName(key_id),
        ": have them approved or let them expire before proposing more"));
  }
  ASSIGN_OR_RETURN(SecretBytes id, hsm_.GenerateRandom(8));
  v1::ChangeProposal& p = *change.mutable_proposal();
  p.set_id(HexEncode(id.Reveal()));
  p.set_proposer(c.principal);
  p.set_state("pending");
  p.set_expire_time_unix_micros(Micros(clock_.Now() + options_.approval_window));
  change.set_key_id(key_id);
  RETURN_IF_ERROR(db_.Put(ChangeRecordKey(p.id()), change.SerializeAsString()));
  LogInfo("kms.change_proposed", {{"change", p.id()}, {"action", p.action()},
                                  {"principal", c.principal}});
  v1::ChangeResult result;
  *result.mutable_pending() = p;
  return result;
}

absl::StatusOr<v1::ChangeResult> KeyManager::ApproveChange(const Caller& c,
                                                           const v1::ApproveChangeRequest& r) {
  RETURN_IF_ERROR(Authorize(c, Action::kManage, nullptr, "ApproveChange"));
  // Change ids are lowercase hex, as ListChanges pages by them; anything
  // else is malformed (and is not echoed).
  if (r.id().empty() || r.id().size() > 64 ||
      r.id().find_first_not_of("0123456789abcdef") != std::string::npos) {
    return absl::InvalidArgumentError("id: not a change id (lowercase hex, at most 64 characters)");
  }
  std::lock_guard<std::mutex> lock(mu_);
  absl::StatusOr<std::string> raw = db_.Get(ChangeRecordKey(r.id()));
  if (absl::IsNotFound(raw.status())) {
    return absl::NotFoundError(absl::StrCat("change '", r.id(), "' not found"));
  }
  RETURN_IF_ERROR(raw.status());
  records::ChangeRecord change;
  if (!change.ParseFromString(*raw)) return absl::DataLossError("change record does not parse");
  v1::ChangeProposal& p = *change.mutable_proposal();
  if (p.state() != "pending") {
    return absl::FailedPreconditionError(absl::StrCat("change '", r.id(), "' is ", p.state()));
  }
  // Expiry is read from the time (ListChanges does the same); a failed call
  // writes nothing.
  if (Micros(clock_.Now()) > p.expire_time_unix_micros()) {
    return absl::FailedPreconditionError(absl::StrCat("change '", r.id(), "' expired"));
  }
  if (p.proposer() == c.principal) {
    return absl::PermissionDeniedError(absl::StrCat(
        "ApproveChange: '", c.principal, "' proposed change '", r.id(),
        "'; a second, different admin must approve it"));
  }
  const std::string principal = absl::StrCat(p.proposer(), " + ", c.principal);
  p.set_state("approved");
  p.set_approver(c.principal);
  // The proposal is marked approved in the same batch as the change itself.
  rocksdb::WriteBatch batch;
  batch.Put(ChangeRecordKey(r.id()), change.SerializeAsString());
  v1::ChangeResult result;
  if (change.has_update()) {
    ASSIGN_OR_RETURN(*result.mutable_key(), ApplyUpdate(change.update(), principal, &batch));
  } else if (change.has_set_state()) {
    ASSIGN_OR_RETURN(*result.mutable_version(),
                     ApplySetState(change.set_state(), principal, &batch));
  } else if (change.has_restore()) {
    ASSIGN_OR_RETURN(*result.mutable_version(), ApplyRestore(change.restore(), principal, &batch));
  } else {
    ASSIGN_OR_RETURN(VersionName name, ParseVersionName(change.destroy().name(), "name"));
    ASSIGN_OR_RETURN(*result.mutable_version(),
                     ApplyDestroy(name.key_id, name.version, principal, &batch));
  }
  LogInfo("kms.change_approved", {{"change", p.id()}, {"action", p.action()},
                                  {"principal", c.principal}});
  *result.mutable_approved() = p;
  return result;
}

absl::StatusOr<v1::ListChangesResponse> KeyManager::ListChanges(const Caller& c,
                                                                const v1::ListChangesRequest& r) {
  if (c.role != Role::kAdmin && c.role != Role::kAuditor) {
    return Authorize(c, Action::kManage, nullptr, "ListChanges");
  }
  ASSIGN_OR_RETURN(const int page_size, PageSize(r.page_size()));
  if (r.page_token().size() > 64 ||
      r.page_token().find_first_not_of("0123456789abcdef") != std::string::npos) {
    return absl::InvalidArgumentError("page_token: not a change id");
  }
  v1::ListChangesResponse out;
  absl::Status parse_error;
  const int64_t now = Micros(clock_.Now());
  const std::string start_after = r.page_token().empty() ? "" : ChangeRecordKey(r.page_token());
  RETURN_IF_ERROR(db_.Scan("change/", start_after, [&](absl::string_view, absl::string_view v) {
    records::ChangeRecord change;
    if (!change.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
      parse_error = absl::DataLossError("change record does not parse");
      return false;
    }
    v1::ChangeProposal p = change.proposal();
    if (p.state() == "pending" && now > p.expire_time_unix_micros()) p.set_state("expired");
    if (r.pending_only() && p.state() != "pending") return true;
    if (out.changes_size() == page_size) {
      out.set_next_page_token(out.changes(page_size - 1).id());
      return false;
    }
    *out.add_changes() = std::move(p);
    return true;
  }));
  RETURN_IF_ERROR(parse_error);
  return out;
}

absl::Status KeyManager::DropOldChanges(int64_t now_micros) {
  const int64_t cutoff = now_micros - absl::ToInt64Microseconds(kChangeRetention);
  rocksdb::WriteBatch batch;
  size_t n = 0;
  RETURN_IF_ERROR(db_.Scan("change/", "", [&](absl::string_view k, absl::string_view v) {
    records::ChangeRecord change;
    // A record that does not parse stays (ListChanges reports it).
    if (change.ParseFromArray(v.data(), static_cast<int>(v.size())) &&
        change.proposal().expire_time_unix_micros() < cutoff) {
      batch.Delete(rocksdb::Slice(k.data(), k.size()));
      ++n;
    }
    return n < 1000;  // bounded work per pass
  }));
  if (n == 0) return absl::OkStatus();
  RETURN_IF_ERROR(db_.Write(batch));
  LogInfo("kms.changes_dropped", {{"count", static_cast<int64_t>(n)}});
  return absl::OkStatus();
}

absl::Status KeyManager::RunMaintenance(size_t rewrap_budget) {
  // One item that keeps failing (an HSM error on one key) must not hold up
  // every other destruction, rotation and the root re-wrap: each failure is
  // logged and the pass goes on; the first is returned at the end.
  absl::Status first_error;
  auto note = [&first_error](absl::string_view event, absl::string_view resource,
                             const absl::Status& s) {
    if (s.ok()) return;
    LogWarning(event, {{"resource", std::string(resource)}, {"error", std::string(s.message())}});
    if (first_error.ok()) first_error = s;
  };
  // Reported once the lock is released (an audit append may wait on a sync).
  struct Done {
    std::string principal, action, resource, detail;
  };
  std::vector<Done> done;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // A compaction a shred could not finish (here or before a restart).
    // Its failure does not hold up the rest of the pass.
    if (db_.Get(kShredCompactionOwedKey).ok()) {
      if (absl::Status s = CompactOwedShreds(); !s.ok()) {
        LogWarning("kms.shred_compaction_failed", {{"error", std::string(s.message())}});
      }
    }
    std::vector<std::pair<std::string, uint32_t>> due_destroy;
    std::vector<std::string> due_rotation;
    const int64_t now = Micros(clock_.Now());
    // Proposals are listed until kChangeRetention after their approval
    // window closed (approved or expired); the audit log keeps the decision.
    note("kms.change_cleanup_failed", "change/", DropOldChanges(now));
    {
      std::shared_lock<std::shared_mutex> views_lock(views_mu_);
      for (const auto& [id, view] : views_) {
        for (const auto& [n, rec] : view->versions) {
          if (rec.version().state() == v1::DESTROY_SCHEDULED &&
              rec.version().destroy_time_unix_micros() <= now) {
            due_destroy.emplace_back(id, n);
          }
        }
        const v1::Key& key = view->key.key();
        // Only a key in use rotates by itself: a new ENABLED primary would
        // switch on a key created PRE_ACTIVE, or one an admin disabled or
        // suspended to stop new encryption. Its schedule resumes (at once,
        // being overdue) when its primary is enabled again.
        auto primary = view->versions.find(key.primary_version());
        const bool in_use =
            primary != view->versions.end() && primary->second.version().state() == v1::ENABLED;
        if (in_use && key.rotation_period_seconds() > 0 && key.next_rotation_unix_micros() <= now) {
          due_rotation.push_back(id);
        }
      }
    }
    // The request is on record before the change, as for an admin's.
    auto requested = [&](absl::string_view principal, absl::string_view action,
                         const std::string& resource) {
      return options_.system_change_requested
                 ? options_.system_change_requested(principal, action, resource)
                 : absl::OkStatus();
    };
    for (const auto& [id, n] : due_destroy) {
      const std::string version = VersionResourceName(id, n);
      absl::Status s = requested("system:destroy-timer", "destroy_key_version", version);
      if (s.ok()) s = Shred(id, n, "system:destroy-timer");
      note("kms.scheduled_destroy_failed", version, s);
      if (s.ok()) {
        done.push_back({"system:destroy-timer", "destroy_key_version", version,
                        "state DESTROYED (the destroy wait elapsed; material shredded)"});
      }
    }
    for (const std::string& id : due_rotation) {
      const absl::Status asked = requested("system:rotation-period", "rotate_key", KeyName(id));
      absl::StatusOr<v1::KeyVersion> v =
          asked.ok() ? Rotate(id, /*make_primary=*/true, "system:rotation-period")
                     : absl::StatusOr<v1::KeyVersion>(asked);
      note("kms.scheduled_rotation_failed", KeyName(id), v.status());
      if (v.ok()) {
        done.push_back({"system:rotation-period", "rotate_key", v->name(),
                        "new primary (the rotation period elapsed)"});
      }
    }
  }
  if (options_.system_change_applied) {
    for (const Done& d : done) {
      options_.system_change_applied(d.principal, d.action, d.resource, d.detail);
    }
  }
  absl::Status rewrap = RewrapSlice(rewrap_budget);
  return first_error.ok() ? rewrap : first_error;
}

}  // namespace strongroom::kms
