// KeyManager: construction, the in-memory view, authorization and commits.
#include "kms/key_manager.h"

#include <rocksdb/write_batch.h>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "kms/key_manager_internal.h"
#include "kms/lifecycle.h"
#include "kms/resource_names.h"

namespace strongroom::kms {

using namespace internal;  // NOLINT: record-key helpers of this class

KeyManager::KeyManager(pkcs11::Hsm& hsm, storage::Database& db, const Clock& clock,
                       KmsOptions options)
    : hsm_(hsm), db_(db), clock_(clock), options_(options) {}

KeyManager::~KeyManager() = default;

absl::StatusOr<std::unique_ptr<KeyManager>> KeyManager::Create(pkcs11::Hsm& hsm,
                                                               storage::Database& db,
                                                               const Clock& clock,
                                                               KmsOptions options) {
  std::unique_ptr<KeyManager> km(new KeyManager(hsm, db, clock, options));
  RETURN_IF_ERROR(km->Load());
  if (options.defer_hsm_intents) {
    RETURN_IF_ERROR(km->ReadHsmIntents().status());
  } else {
    RETURN_IF_ERROR(km->ResolveHsmIntents());
  }
  RETURN_IF_ERROR(km->EnsureRootKey());
  return km;
}

absl::Status KeyManager::Load() {
  absl::Status parse_error;
  std::map<std::string, std::shared_ptr<KeyView>> views;
  RETURN_IF_ERROR(db_.Scan("key/", "", [&](absl::string_view k, absl::string_view v) {
    auto view = std::make_shared<KeyView>();
    if (!view->key.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
      parse_error = absl::DataLossError(absl::StrCat("record '", k, "' does not parse"));
      return false;
    }
    views[std::string(k.substr(4))] = view;
    return true;
  }));
  RETURN_IF_ERROR(parse_error);
  RETURN_IF_ERROR(db_.Scan("kv/", "", [&](absl::string_view k, absl::string_view v) {
    records::KeyVersionRecord rec;
    size_t slash = k.rfind('/');
    std::string id(k.substr(3, slash - 3));
    auto it = views.find(id);
    if (!rec.ParseFromArray(v.data(), static_cast<int>(v.size())) || it == views.end()) {
      parse_error = absl::DataLossError(absl::StrCat("record '", k, "' is corrupt or orphaned"));
      return false;
    }
    it->second->versions[rec.version().version()] = rec;
    return true;
  }));
  RETURN_IF_ERROR(parse_error);
  RETURN_IF_ERROR(db_.Scan("root/", "", [&](absl::string_view k, absl::string_view v) {
    records::RootKeyRecord rec;
    if (!rec.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
      parse_error = absl::DataLossError(absl::StrCat("record '", k, "' does not parse"));
      return false;
    }
    roots_[rec.id()] = rec;
    return true;
  }));
  RETURN_IF_ERROR(parse_error);
  absl::StatusOr<std::string> state = db_.Get(kRootStateKey);
  if (state.ok() && !root_state_.ParseFromString(*state)) {
    return absl::DataLossError("record 'meta/root' does not parse");
  }
  if (!state.ok() && !absl::IsNotFound(state.status())) return state.status();
  std::unique_lock<std::shared_mutex> lock(views_mu_);
  for (auto& [id, view] : views) views_[id] = view;
  LogInfo("kms.loaded", {{"keys", static_cast<int64_t>(views_.size())},
                         {"root_key", root_state_.current_id()}});
  return absl::OkStatus();
}

absl::Status KeyManager::EnsureRootKey() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!root_state_.current_id().empty()) return absl::OkStatus();
  return InstallNewRoot(/*rewrap=*/false);
}

KeyManager::ViewPtr KeyManager::FindView(const std::string& key_id) const {
  std::shared_lock<std::shared_mutex> lock(views_mu_);
  auto it = views_.find(key_id);
  return it == views_.end() ? nullptr : it->second;
}

absl::StatusOr<KeyManager::ViewPtr> KeyManager::GetView(const std::string& key_id) const {
  ViewPtr view = FindView(key_id);
  if (view == nullptr) return absl::NotFoundError(absl::StrCat("keys/", key_id, " not found"));
  return view;
}

absl::Status KeyManager::Authorize(const Caller& c, Action action, const v1::Key* key,
                                   absl::string_view what) const {
  auto deny = [&](absl::string_view why) {
    return absl::PermissionDeniedError(
        absl::StrCat(what, ": denied for '", c.principal, "' (role ", RoleName(c.role), "): ", why));
  };
  const bool owns = key != nullptr && key->owner() == c.principal;
  switch (action) {
    case Action::kRead:
      if (c.role == Role::kAdmin || c.role == Role::kAuditor) return absl::OkStatus();
      if (c.role == Role::kOwner && (key == nullptr || owns)) return absl::OkStatus();
      return deny(c.role == Role::kOwner ? "owners read only their own keys"
                                         : "this role may not read keys");
    case Action::kManage:
      if (c.role == Role::kAdmin) return absl::OkStatus();
      return deny("only admins manage key lifecycle and policy");
    case Action::kUse:
      if ((c.role == Role::kAdmin || c.role == Role::kOwner) && owns) return absl::OkStatus();
      if (c.role == Role::kAdmin || c.role == Role::kOwner) {
        return deny(absl::StrCat("only the key's owner may use it"));
      }
      return deny("this role may not use keys");
  }
  return deny("unknown action");
}

absl::StatusOr<KeyManager::ViewPtr> KeyManager::AuthorizedView(const Caller& c,
                                                               const std::string& key_id,
                                                               Action action,
                                                               absl::string_view what) const {
  absl::StatusOr<ViewPtr> view = GetView(key_id);
  if (absl::IsNotFound(view.status()) && c.role != Role::kAdmin && c.role != Role::kAuditor) {
    const v1::Key unowned;  // no owner: refused as any key the caller does not own
    RETURN_IF_ERROR(Authorize(c, action, &unowned, what));
  }
  RETURN_IF_ERROR(view.status());
  RETURN_IF_ERROR(Authorize(c, action, &(*view)->key.key(), what));
  return view;
}

absl::Status KeyManager::Commit(std::shared_ptr<KeyView> view,
                                std::initializer_list<uint32_t> versions,
                                rocksdb::WriteBatch* extra) {
  rocksdb::WriteBatch local;
  rocksdb::WriteBatch& batch = extra != nullptr ? *extra : local;
  const std::string& id = view->key.key().name().substr(5);
  batch.Put(KeyRecordKey(id), view->key.SerializeAsString());
  for (uint32_t v : versions) {
    batch.Put(VersionRecordKey(id, v), view->versions.at(v).SerializeAsString());
  }
  if (options_.before_commit_for_testing) RETURN_IF_ERROR(options_.before_commit_for_testing());
  RETURN_IF_ERROR(db_.Write(batch));
  std::unique_lock<std::shared_mutex> lock(views_mu_);
  views_[id] = std::move(view);
  return absl::OkStatus();
}

void KeyManager::AddHistory(v1::KeyVersion& v, v1::KeyVersionState to,
                            const std::string& principal, absl::string_view reason) {
  v1::StateChange* change = v.add_history();
  change->set_from(v.state());
  change->set_to(to);
  change->set_time_unix_micros(Micros(clock_.Now()));
  change->set_principal(principal);
  change->set_reason(std::string(reason));
  v.set_state(to);
}

absl::StatusOr<pkcs11::KeyHandle> KeyManager::RootHandle(const std::string& root_id) {
  records::RootKeyRecord rec;
  {
    std::shared_lock<std::shared_mutex> lock(views_mu_);
    auto it = roots_.find(root_id);
    if (it == roots_.end()) {
      return absl::DataLossError(absl::StrCat("root key '", root_id, "' is not recorded"));
    }
    rec = it->second;
  }
  return TokenKey(rec.hsm_object_id(), rec.hsm_label());
}

absl::Status KeyManager::LeaveUncommittedVersion(const records::KeyVersionRecord& rec,
                                                 absl::Status failure) {
  // Not destroyed here: a synced write that reports failure may still have
  // reached the disk, and a version record naming a destroyed object would
  // leave the key unusable. The intent written before the object was made
  // stays, and the next start destroys the object only if no record names it.
  if (!rec.hsm_object_id().empty()) {
    LogError(
        "kms.hsm_object_unconfirmed",
        {{"version", rec.version().name()},
         {"id", HexEncode(AsBytes(rec.hsm_object_id()))},
         {"error", std::string(failure.message())},
         {"resolution", "the next start keeps it if its record was written, else destroys it"}});
  }
  return failure;
}

absl::Status KeyManager::CommitNewVersion(std::shared_ptr<KeyView> view,
                                          const records::KeyVersionRecord& rec) {
  rocksdb::WriteBatch batch;
  if (!rec.hsm_object_id().empty()) batch.Delete(HsmIntentKey(AsBytes(rec.hsm_object_id())));
  absl::Status s = Commit(std::move(view), {rec.version().version()}, &batch);
  return s.ok() ? s : LeaveUncommittedVersion(rec, s);
}

absl::StatusOr<pkcs11::KeyHandle> KeyManager::GenerateRecordedKey(const std::string& label,
                                                                  uint32_t usage,
                                                                  const std::string& purpose) {
  ASSIGN_OR_RETURN(SecretBytes id, hsm_.GenerateRandom(16));
  records::HsmObjectIntent intent;
  intent.set_hsm_object_id(std::string(id.Reveal().begin(), id.Reveal().end()));
  intent.set_hsm_label(label);
  intent.set_purpose(purpose);
  intent.set_create_time_unix_micros(Micros(clock_.Now()));
  RETURN_IF_ERROR(db_.Put(HsmIntentKey(id.Reveal()), intent.SerializeAsString()));
  own_intents_.insert(intent.hsm_object_id());
  absl::StatusOr<pkcs11::KeyHandle> obj =
      hsm_.GenerateAesKey(32, {.label = label,
                               .id = Bytes(id.Reveal().begin(), id.Reveal().end()),
                               .persistent = true,
                               .usage = usage});
  // On failure the intent stays: a generation that reports failure may still
  // have made the object, and the next start destroys it if no record names
  // it (or just deletes the intent when there is none).
  return obj;
}

absl::StatusOr<std::vector<records::HsmObjectIntent>> KeyManager::ReadHsmIntents() {
  std::vector<records::HsmObjectIntent> intents;
  absl::Status parse_error;
  RETURN_IF_ERROR(db_.Scan(kHsmIntentPrefix, "", [&](absl::string_view k, absl::string_view v) {
    records::HsmObjectIntent intent;
    if (!intent.ParseFromArray(v.data(), static_cast<int>(v.size())) ||
        intent.hsm_object_id().empty() || k != HsmIntentKey(AsBytes(intent.hsm_object_id()))) {
      parse_error = absl::DataLossError(absl::StrCat("record '", k, "' is corrupt"));
      return false;
    }
    intents.push_back(std::move(intent));
    return true;
  }));
  RETURN_IF_ERROR(parse_error);
  return intents;
}

absl::Status KeyManager::ResolveHsmIntents() {
  std::lock_guard<std::mutex> creations(mu_);
  ASSIGN_OR_RETURN(std::vector<records::HsmObjectIntent> intents, ReadHsmIntents());
  if (intents.empty()) return absl::OkStatus();
  absl::flat_hash_set<std::string> recorded;
  {
    std::shared_lock<std::shared_mutex> lock(views_mu_);
    for (const auto& [id, view] : views_) {
      for (const auto& [n, rec] : view->versions) {
        if (!rec.hsm_object_id().empty()) recorded.insert(rec.hsm_object_id());
      }
    }
    for (const auto& [id, rec] : roots_) recorded.insert(rec.hsm_object_id());
  }
  constexpr absl::string_view kPrincipal = "system:start-up";
  constexpr absl::string_view kAction = "destroy_unrecorded_hsm_object";
  for (const records::HsmObjectIntent& intent : intents) {
    if (own_intents_.contains(intent.hsm_object_id())) continue;
    const std::string hex = HexEncode(AsBytes(intent.hsm_object_id()));
    // A root key's intent names "root ID"; the audit resource is "root/ID".
    std::string resource = intent.purpose();
    if (absl::StartsWith(resource, "root ")) resource = absl::StrCat("root/", resource.substr(5));
    if (!recorded.contains(intent.hsm_object_id())) {
      // Destroying key material is a key decision: in the audit chain,
      // requested before and applied after, as maintenance's are.
      if (options_.system_change_requested) {
        if (absl::Status s = options_.system_change_requested(kPrincipal, kAction, resource);
            !s.ok()) {
          LogError(
              "kms.hsm_intent_unresolved",
              {{"purpose", intent.purpose()}, {"id", hex}, {"error", std::string(s.message())}});
          continue;
        }
      }
      absl::Status s = hsm_.DestroyKey(TokenKey(intent.hsm_object_id(), intent.hsm_label()));
      if (!s.ok() && !absl::IsNotFound(s)) {
        // Kept for the next start; the service itself does not depend on it.
        // (Its request record stands without an outcome, as a maintenance
        // change that failed.)
        LogError("kms.hsm_intent_unresolved",
                 {{"purpose", intent.purpose()}, {"id", hex}, {"error", std::string(s.message())}});
        continue;
      }
      LogWarning("kms.unrecorded_hsm_object_destroyed", {{"purpose", intent.purpose()},
                                                         {"id", hex},
                                                         {"label", intent.hsm_label()},
                                                         {"present", s.ok()}});
      if (options_.system_change_applied) {
        options_.system_change_applied(
            kPrincipal, kAction, resource,
            absl::StrCat("hsm object ", hex, " (", intent.hsm_label(), ") ",
                         s.ok() ? "destroyed" : "was not in the HSM",
                         ": no committed record names it"));
      }
    }
    RETURN_IF_ERROR(db_.Delete(HsmIntentKey(AsBytes(intent.hsm_object_id()))));
  }
  return absl::OkStatus();
}

absl::StatusOr<records::KeyVersionRecord> KeyManager::NewVersion(const v1::Key& key,
                                                                 uint32_t number,
                                                                 v1::KeyVersionState state,
                                                                 const std::string& principal) {
  records::KeyVersionRecord rec;
  v1::KeyVersion& v = *rec.mutable_version();
  const std::string id = key.name().substr(5);
  v.set_name(VersionResourceName(id, number));
  v.set_version(number);
  v.set_create_time_unix_micros(Micros(clock_.Now()));
  v.set_state(v1::KEY_VERSION_STATE_UNSPECIFIED);
  AddHistory(v, state, principal, "created");
  if (key.protection() == v1::PROTECTION_HSM) {
    ASSIGN_OR_RETURN(pkcs11::KeyHandle obj,
                     GenerateRecordedKey(absl::StrCat("strongroom-", id, "-v", number),
                                         pkcs11::kUsageEncrypt | pkcs11::kUsageDecrypt, v.name()));
    rec.set_hsm_object_id(std::string(obj.id.begin(), obj.id.end()));
    return rec;
  }
  // Generated by the HSM, extractable only wrapped, then the object is dropped.
  std::string root_id;
  {
    std::shared_lock<std::shared_mutex> lock(views_mu_);
    root_id = root_state_.current_id();
  }
  ASSIGN_OR_RETURN(pkcs11::KeyHandle root, RootHandle(root_id));
  ASSIGN_OR_RETURN(pkcs11::KeyHandle temp, hsm_.GenerateAesKey(
      32, {.label = "strongroom-new-version", .extractable = true}));
  absl::StatusOr<Bytes> wrapped = hsm_.WrapKey(root, temp, pkcs11::WrapMechanism::kRfc3394);
  absl::Status destroyed = hsm_.DestroyKey(temp);
  if (!wrapped.ok()) return wrapped.status();
  RETURN_IF_ERROR(destroyed);
  rec.set_wrapped_material(std::string(wrapped->begin(), wrapped->end()));
  v.set_root_key_id(root_id);
  return rec;
}

absl::StatusOr<std::shared_ptr<const KeyManager::Material>> KeyManager::GetMaterial(
    const KeyView& view, uint32_t version) {
  const std::string id = view.key.key().name().substr(5);
  auto cache_key = std::make_pair(id, version);
  {
    std::lock_guard<std::mutex> lock(material_mu_);
    auto it = material_.find(cache_key);
    if (it != material_.end()) return it->second;
  }
  const records::KeyVersionRecord& rec = view.versions.at(version);
  auto m = std::make_shared<Material>();
  if (view.key.key().protection() == v1::PROTECTION_HSM) {
    m->in_hsm = true;
    m->hsm_key = TokenKey(rec.hsm_object_id(), absl::StrCat("strongroom-", id, "-v", version));
  } else {
    if (rec.wrapped_material().empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat(rec.version().name(), " has no key material (destroyed)"));
    }
    ASSIGN_OR_RETURN(pkcs11::KeyHandle root, RootHandle(rec.version().root_key_id()));
    ASSIGN_OR_RETURN(m->key, hsm_.UnwrapSecret(root, AsBytes(rec.wrapped_material()),
                                               pkcs11::WrapMechanism::kRfc3394));
  }
  std::lock_guard<std::mutex> lock(material_mu_);
  // A destruction may have been committed while this thread unwrapped: never
  // cache material for a version that is gone (Shred erases the cache entry
  // after its commit, under this same mutex, so one of the two always wins).
  ViewPtr current = FindView(id);
  if (current == nullptr || current->versions.at(version).version().state() == v1::DESTROYED) {
    return absl::FailedPreconditionError(absl::StrCat(rec.version().name(), " was destroyed"));
  }
  return material_.emplace(cache_key, std::move(m)).first->second;
}

}  // namespace strongroom::kms
