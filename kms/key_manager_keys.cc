// KeyManager: creating, reading, listing, updating and rotating keys.
#include <rocksdb/write_batch.h>

#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/labels.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "kms/key_manager.h"
#include "kms/key_manager_internal.h"
#include "kms/lifecycle.h"
#include "kms/resource_names.h"

namespace strongroom::kms {

using namespace internal;  // NOLINT

namespace {

constexpr int64_t kMaxSeconds = KeyManager::kMaxWaitSeconds;

absl::Status CheckSeconds(int64_t v, absl::string_view field) {
  if (v < 0 || v > kMaxSeconds) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", v, " is outside [0, ", kMaxSeconds, "]"));
  }
  return absl::OkStatus();
}

// 0 (rotate by hand only) or at least kMinRotationSeconds: every scheduled
// rotation makes a new version (for an HSM key a new token object), so a
// period of seconds would fill the token and the database.
absl::Status CheckRotationPeriod(int64_t v) {
  RETURN_IF_ERROR(CheckSeconds(v, "rotation_period_seconds"));
  if (v != 0 && v < KeyManager::kMinRotationSeconds) {
    return absl::InvalidArgumentError(
        absl::StrCat("rotation_period_seconds: ", v, " is below the minimum ",
                     KeyManager::kMinRotationSeconds, " (one hour; 0 means rotate by hand only)"));
  }
  return absl::OkStatus();
}

// A key's owner: a principal name as the server's principals map spells
// them (a SPIFFE ID, or a certificate's CN, which may hold spaces and UTF-8);
// whether it is a configured principal is KmsOptions::check_owner's to say.
absl::Status CheckOwner(absl::string_view owner) {
  if (owner.size() > 256) return absl::InvalidArgumentError("owner: longer than 256 bytes");
  for (char ch : owner) {
    if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) {
      return absl::InvalidArgumentError("owner: a control character in a principal name");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<v1::Key> KeyManager::CreateKey(const Caller& c, const v1::CreateKeyRequest& r) {
  RETURN_IF_ERROR(ValidateKeyId(r.key_id(), "key_id"));
  RETURN_IF_ERROR(CheckOwner(r.owner()));
  const std::string owner = r.owner().empty() ? c.principal : r.owner();
  if (c.role != Role::kAdmin && !(c.role == Role::kOwner && owner == c.principal)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "CreateKey: denied for '", c.principal, "' (role ", RoleName(c.role),
        "): admins create keys for anyone, owners only for themselves"));
  }
  // After the role check: a caller who may not create keys learns nothing
  // about which principals exist.
  if (!r.owner().empty() && options_.check_owner) RETURN_IF_ERROR(options_.check_owner(r.owner()));
  if (r.protection() != v1::PROTECTION_UNSPECIFIED && r.protection() != v1::PROTECTION_SOFTWARE &&
      r.protection() != v1::PROTECTION_HSM) {
    return absl::InvalidArgumentError(absl::StrCat("protection: unknown value ", r.protection()));
  }
  RETURN_IF_ERROR(CheckRotationPeriod(r.rotation_period_seconds()));
  RETURN_IF_ERROR(CheckSeconds(r.destroy_wait_seconds(), "destroy_wait_seconds"));
  if (r.description().size() > 1024) {
    return absl::InvalidArgumentError("description: longer than 1024 bytes");
  }
  RETURN_IF_ERROR(CheckLabels(r.labels()));
  std::lock_guard<std::mutex> lock(mu_);
  if (FindView(r.key_id()) != nullptr) {
    return absl::AlreadyExistsError(absl::StrCat("keys/", r.key_id(), " already exists"));
  }
  auto view = std::make_shared<KeyView>();
  v1::Key& key = *view->key.mutable_key();
  const absl::Time now = clock_.Now();
  key.set_name(KeyName(r.key_id()));
  key.set_owner(owner);
  key.set_protection(r.protection() == v1::PROTECTION_HSM ? v1::PROTECTION_HSM
                                                          : v1::PROTECTION_SOFTWARE);
  key.set_algorithm("AES_256_GCM");
  key.set_primary_version(1);
  key.set_min_decryption_version(1);
  key.set_rotation_period_seconds(r.rotation_period_seconds());
  if (r.rotation_period_seconds() > 0) {
    key.set_next_rotation_unix_micros(Micros(now + absl::Seconds(r.rotation_period_seconds())));
  }
  key.set_destroy_wait_seconds(r.has_destroy_wait_seconds()
                                   ? r.destroy_wait_seconds()
                                   : absl::ToInt64Seconds(options_.default_destroy_wait));
  key.set_dual_control(r.dual_control());
  key.set_create_time_unix_micros(Micros(now));
  key.set_description(r.description());
  *key.mutable_labels() = r.labels();
  key.set_version_count(1);
  ASSIGN_OR_RETURN(records::KeyVersionRecord first,
                   NewVersion(key, 1, r.pre_active() ? v1::PRE_ACTIVE : v1::ENABLED, c.principal));
  view->versions[1] = first;
  RETURN_IF_ERROR(CommitNewVersion(view, first));
  LogInfo("kms.key_created", {{"key", key.name()}, {"owner", owner}, {"principal", c.principal},
                              {"protection", v1::Protection_Name(key.protection())}});
  return key;
}

absl::StatusOr<v1::Key> KeyManager::GetKey(const Caller& c, const v1::GetKeyRequest& r) {
  ASSIGN_OR_RETURN(std::string id, ParseKeyName(r.name(), "name"));
  ASSIGN_OR_RETURN(ViewPtr view, AuthorizedView(c, id, Action::kRead, "GetKey"));
  return view->key.key();
}

absl::StatusOr<v1::ListKeysResponse> KeyManager::ListKeys(const Caller& c,
                                                          const v1::ListKeysRequest& r) {
  RETURN_IF_ERROR(Authorize(c, Action::kRead, nullptr, "ListKeys"));
  ASSIGN_OR_RETURN(int page_size, PageSize(r.page_size()));
  if (!r.page_token().empty()) RETURN_IF_ERROR(ValidateKeyId(r.page_token(), "page_token"));
  v1::ListKeysResponse out;
  std::shared_lock<std::shared_mutex> lock(views_mu_);
  for (auto it = views_.upper_bound(r.page_token()); it != views_.end(); ++it) {
    const v1::Key& key = it->second->key.key();
    if (c.role == Role::kOwner && key.owner() != c.principal) continue;
    if (out.keys_size() == page_size) {
      out.set_next_page_token(out.keys(out.keys_size() - 1).name().substr(5));
      break;
    }
    *out.add_keys() = key;
  }
  return out;
}

absl::StatusOr<v1::Key> KeyManager::ApplyUpdate(const v1::UpdateKeyRequest& r,
                                                const std::string& principal,
                                                rocksdb::WriteBatch* extra) {
  ASSIGN_OR_RETURN(std::string id, ParseKeyName(r.name(), "name"));
  ASSIGN_OR_RETURN(ViewPtr old, GetView(id));
  auto view = std::make_shared<KeyView>(*old);
  v1::Key& key = *view->key.mutable_key();
  for (const std::string& field : r.update_mask()) {
    if (field == "rotation_period_seconds") {
      key.set_rotation_period_seconds(r.rotation_period_seconds());
      key.set_next_rotation_unix_micros(
          r.rotation_period_seconds() > 0
              ? Micros(clock_.Now() + absl::Seconds(r.rotation_period_seconds()))
              : 0);
    } else if (field == "min_decryption_version") {
      key.set_min_decryption_version(r.min_decryption_version());
    } else if (field == "destroy_wait_seconds") {
      key.set_destroy_wait_seconds(r.destroy_wait_seconds());
    } else if (field == "description") {
      key.set_description(r.description());
    } else if (field == "release_policy") {
      // Checked again here: between a proposal and its approval the policy
      // version may have gone with a deletion.
      if (!r.release_policy().empty() && policy_version_lookup_) {
        RETURN_IF_ERROR(
            policy_version_lookup_(r.release_policy(), r.release_policy_version()).status());
      }
      key.set_release_policy(r.release_policy());
      key.set_release_policy_version(r.release_policy().empty() ? 0
                                                                : r.release_policy_version());
      *key.mutable_release_reference_sets() = r.release_reference_sets();
    }
  }
  RETURN_IF_ERROR(Commit(view, {}, extra));
  LogInfo("kms.key_updated", {{"key", key.name()}, {"principal", principal}});
  return key;
}

absl::StatusOr<v1::ChangeResult> KeyManager::UpdateKey(const Caller& c,
                                                       const v1::UpdateKeyRequest& r) {
  ASSIGN_OR_RETURN(std::string id, ParseKeyName(r.name(), "name"));
  // A key's owner sets its release policy; everything else is the admins'.
  // Authorized first (AuthorizedView): whether a key exists, and what the
  // request lacks, is told only to those who may act on it.
  const bool only_policy = r.update_mask_size() == 1 && r.update_mask(0) == "release_policy";
  ASSIGN_OR_RETURN(
      ViewPtr view,
      AuthorizedView(c, id, only_policy && c.role != Role::kAdmin ? Action::kUse : Action::kManage,
                     "UpdateKey"));
  if (r.update_mask().empty()) return absl::InvalidArgumentError("update_mask: is empty");
  if (r.release_reference_sets_size() > 0) {
    return absl::InvalidArgumentError(
        "release_reference_sets: set by the server, not by the request");
  }
  std::set<absl::string_view> fields;
  for (const std::string& field : r.update_mask()) {
    if (!fields.insert(field).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("update_mask: '", absl::CHexEscape(field), "' given more than once"));
    }
  }
  // A field set in the request but not named in the mask would be silently
  // ignored; the policy version is the one that can be set without its
  // policy by mistake (`key release-policy K none --version 3`).
  if (r.release_policy_version() != 0 &&
      (fields.count("release_policy") == 0 || r.release_policy().empty())) {
    return absl::InvalidArgumentError(
        "release_policy_version: set without a release_policy to bind (name the policy, or "
        "leave the version 0 to unbind)");
  }
  v1::UpdateKeyRequest resolved = r;
  for (const std::string& field : r.update_mask()) {
    if (field == "rotation_period_seconds") {
      RETURN_IF_ERROR(CheckRotationPeriod(r.rotation_period_seconds()));
    } else if (field == "destroy_wait_seconds") {
      RETURN_IF_ERROR(CheckSeconds(r.destroy_wait_seconds(), "destroy_wait_seconds"));
    } else if (field == "min_decryption_version") {
      if (r.min_decryption_version() < 1 ||
          r.min_decryption_version() > view->key.key().primary_version()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "min_decryption_version: ", r.min_decryption_version(),
            " must be between 1 and the primary version ", view->key.key().primary_version()));
      }
    } else if (field == "description") {
      if (r.description().size() > 1024) {
        return absl::InvalidArgumentError("description: longer than 1024 bytes");
      }
    } else if (field == "release_policy") {
      if (!r.release_policy().empty()) {
        // An HSM key is never released itself; on a dual_control one the
        // binding governs the datasets under it (the data keys it wraps).
        if (view->key.key().protection() == v1::PROTECTION_HSM && !view->key.key().dual_control()) {
          return absl::FailedPreconditionError(
              absl::StrCat(r.name(),
                           " is HSM-protected: its material never leaves the HSM, so it "
                           "cannot have a release policy unless it is dual_control (where the "
                           "policy governs the datasets under it)"));
        }
        if (r.release_policy_version() < 0) {
          return absl::InvalidArgumentError("release_policy_version: negative");
        }
        if (!policy_version_lookup_) {
          return absl::FailedPreconditionError("release policies are not available");
        }
        ASSIGN_OR_RETURN(int64_t version,
                         policy_version_lookup_(r.release_policy(), r.release_policy_version()));
        resolved.set_release_policy_version(version);
        // Stored as the resource name, however the request spelled it.
        if (!absl::StartsWith(r.release_policy(), "policies/")) {
          resolved.set_release_policy(absl::StrCat("policies/", r.release_policy()));
        }
        // A dual-control binding also pins the reference-value sets the
        // policy names, so that one admin's change to a set cannot loosen
        // what two approved (the broker checks the pins and the current
        // sets; see Key.release_reference_sets).
        if (view->key.key().dual_control() && reference_pin_lookup_) {
          ASSIGN_OR_RETURN(
              std::vector<std::string> pins,
              reference_pin_lookup_(r.release_policy(), resolved.release_policy_version()));
          for (std::string& pin : pins) resolved.add_release_reference_sets(std::move(pin));
        }
      }
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("update_mask: unknown field '", absl::CHexEscape(field), "'"));
    }
  }
  if (view->key.key().dual_control()) {
    records::ChangeRecord change;
    *change.mutable_update() = resolved;
    // What the approver approves, spelled out: each field with its new
    // value (a destroy wait of 0 or a higher minimum decryption version is
    // what a second admin must see), and for a release policy its version
    // and the reference-value sets it pins.
    std::string action = absl::StrCat("update ", r.name());
    for (const std::string& field : resolved.update_mask()) {
      if (field == "rotation_period_seconds") {
        absl::StrAppend(&action, "; rotation_period_seconds ", resolved.rotation_period_seconds());
      } else if (field == "min_decryption_version") {
        absl::StrAppend(&action, "; min_decryption_version ", resolved.min_decryption_version());
      } else if (field == "destroy_wait_seconds") {
        absl::StrAppend(&action, "; destroy_wait_seconds ", resolved.destroy_wait_seconds());
      } else if (field == "description") {
        absl::StrAppend(&action, "; description \"", absl::CHexEscape(resolved.description()),
                        "\"");
      } else if (field != "release_policy") {
        absl::StrAppend(&action, "; ", field);
      } else if (resolved.release_policy().empty()) {
        absl::StrAppend(&action, "; release_policy none");
      } else {
        absl::StrAppend(&action, "; release_policy ", resolved.release_policy(), " v",
                        resolved.release_policy_version());
        if (resolved.release_reference_sets_size() > 0) {
          absl::StrAppend(&action, " pinning ",
                          absl::StrJoin(resolved.release_reference_sets(), ", "));
        }
      }
    }
    change.mutable_proposal()->set_action(std::move(action));
    return Propose(c, id, std::move(change));
  }
  std::lock_guard<std::mutex> lock(mu_);
  v1::ChangeResult result;
  ASSIGN_OR_RETURN(*result.mutable_key(), ApplyUpdate(resolved, c.principal));
  return result;
}

absl::StatusOr<v1::KeyVersion> KeyManager::Rotate(const std::string& key_id, bool make_primary,
                                                  const std::string& principal) {
  ASSIGN_OR_RETURN(ViewPtr old, GetView(key_id));
  auto view = std::make_shared<KeyView>(*old);
  v1::Key& key = *view->key.mutable_key();
  const uint32_t number = key.version_count() + 1;
  ASSIGN_OR_RETURN(records::KeyVersionRecord rec,
                   NewVersion(key, number, v1::ENABLED, principal));
  key.set_version_count(number);
  if (make_primary) key.set_primary_version(number);
  // The schedule rotates the primary: a version added beside it does not
  // put the next rotation off.
  if (make_primary && key.rotation_period_seconds() > 0) {
    key.set_next_rotation_unix_micros(
        Micros(clock_.Now() + absl::Seconds(key.rotation_period_seconds())));
  }
  view->versions[number] = rec;
  RETURN_IF_ERROR(CommitNewVersion(view, rec));
  LogInfo("kms.key_rotated", {{"key", key.name()}, {"version", static_cast<int64_t>(number)},
                              {"principal", principal}});
  return rec.version();
}

absl::StatusOr<v1::KeyVersion> KeyManager::RotateKey(const Caller& c,
                                                     const v1::RotateKeyRequest& r) {
  ASSIGN_OR_RETURN(std::string id, ParseKeyName(r.name(), "name"));
  ASSIGN_OR_RETURN(ViewPtr view, AuthorizedView(c, id, Action::kManage, "RotateKey"));
  std::lock_guard<std::mutex> lock(mu_);
  if (!r.keep_primary()) {
    // A new ENABLED primary switches the key on. On a dual_control key whose
    // primary was deliberately kept off (created PRE_ACTIVE, disabled or
    // suspended) that takes a second admin: enable the version by proposal
    // first. A COMPROMISED or destroyed primary still rotates at once (the
    // remedy for a compromise).
    ASSIGN_OR_RETURN(ViewPtr now, GetView(id));
    auto primary = now->versions.find(now->key.key().primary_version());
    if (now->key.key().dual_control() && primary != now->versions.end()) {
      const v1::KeyVersionState s = primary->second.version().state();
      if (s == v1::PRE_ACTIVE || s == v1::DISABLED || s == v1::SUSPENDED) {
        return absl::FailedPreconditionError(absl::StrCat(
            r.name(), " is dual_control and its primary version ", primary->first, " is ",
            StateName(s),
            ": a new primary would switch the key on without a second admin; "
            "enable the primary by proposal (SetKeyVersionState ENABLED, approved) first, "
            "or rotate with keep_primary"));
      }
    }
  }
  return Rotate(id, !r.keep_primary(), c.principal);
}

absl::StatusOr<v1::KeyVersion> KeyManager::GetKeyVersion(const Caller& c,
                                                         const v1::GetKeyVersionRequest& r) {
  ASSIGN_OR_RETURN(VersionName name, ParseVersionName(r.name(), "name"));
  ASSIGN_OR_RETURN(ViewPtr view, AuthorizedView(c, name.key_id, Action::kRead, "GetKeyVersion"));
  auto it = view->versions.find(name.version);
  if (it == view->versions.end()) return absl::NotFoundError(absl::StrCat(r.name(), " not found"));
  return it->second.version();
}

absl::StatusOr<v1::ListKeyVersionsResponse> KeyManager::ListKeyVersions(
    const Caller& c, const v1::ListKeyVersionsRequest& r) {
  ASSIGN_OR_RETURN(std::string id, ParseKeyName(r.parent(), "parent"));
  ASSIGN_OR_RETURN(ViewPtr view, AuthorizedView(c, id, Action::kRead, "ListKeyVersions"));
  ASSIGN_OR_RETURN(int page_size, PageSize(r.page_size()));
  uint32_t after = 0;
  if (!r.page_token().empty() && !absl::SimpleAtoi(r.page_token(), &after)) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_token: '", r.page_token().substr(0, 40), "' is not a valid token"));
  }
  v1::ListKeyVersionsResponse out;
  for (auto it = view->versions.upper_bound(after); it != view->versions.end(); ++it) {
    if (out.versions_size() == page_size) {
      out.set_next_page_token(absl::StrCat(out.versions(out.versions_size() - 1).version()));
      break;
    }
    *out.add_versions() = it->second.version();
  }
  return out;
}

}  // namespace strongroom::kms
