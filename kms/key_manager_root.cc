// KeyManager: root wrapping keys and the resumable, crash-safe rewrap job.
#include <rocksdb/write_batch.h>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "kms/key_manager.h"
#include "kms/key_manager_internal.h"

namespace strongroom::kms {

using namespace internal;  // NOLINT

absl::StatusOr<v1::RootKeyStatus> KeyManager::ComputeRootStatus() const {
  v1::RootKeyStatus out;
  std::shared_lock<std::shared_mutex> lock(views_mu_);
  out.set_current_root_key_id(root_state_.current_id());
  for (const auto& [id, rec] : roots_) {
    if (rec.retired()) out.add_retired_root_key_ids(id);
  }
  out.set_rewrap_running(root_state_.rewrap_running());
  for (const auto& [id, view] : views_) {
    for (const auto& [n, rec] : view->versions) {
      if (rec.wrapped_material().empty()) continue;
      out.set_versions_total(out.versions_total() + 1);
      if (rec.version().root_key_id() == root_state_.current_id()) {
        out.set_versions_on_current_root(out.versions_on_current_root() + 1);
      }
    }
  }
  return out;
}

absl::StatusOr<v1::RootKeyStatus> KeyManager::GetRootKeyStatus(const Caller& c) {
  if (c.role != Role::kAdmin && c.role != Role::kAuditor) {
    RETURN_IF_ERROR(Authorize(c, Action::kManage, nullptr, "GetRootKeyStatus"));
  }
  return ComputeRootStatus();
}

absl::Status KeyManager::InstallNewRoot(bool rewrap) {
  ASSIGN_OR_RETURN(SecretBytes suffix, hsm_.GenerateRandom(4));
  std::string id = absl::StrCat("root-", roots_.size() + 1, "-", HexEncode(suffix.Reveal()));
  ASSIGN_OR_RETURN(
      pkcs11::KeyHandle root,
      GenerateRecordedKey(absl::StrCat("strongroom-", id),
                          pkcs11::kUsageWrap | pkcs11::kUsageUnwrap, absl::StrCat("root ", id)));
  records::RootKeyRecord rec;
  rec.set_id(id);
  rec.set_hsm_label(root.label);
  rec.set_hsm_object_id(std::string(root.id.begin(), root.id.end()));
  rec.set_create_time_unix_micros(Micros(clock_.Now()));
  records::RootState state = root_state_;
  state.set_current_id(id);
  state.set_rewrap_running(rewrap);
  state.clear_rewrap_cursor();
  rocksdb::WriteBatch batch;
  batch.Put(RootRecordKey(id), rec.SerializeAsString());
  batch.Put(kRootStateKey, state.SerializeAsString());
  batch.Delete(HsmIntentKey(root.id));
  if (absl::Status s = db_.Write(batch); !s.ok()) {
    // The token object exists before its record. It is not destroyed here: a
    // synced write that reports failure may still have reached the disk, and
    // a root record naming a destroyed object would wedge every later
    // version and re-wrap. Its intent record stays: the next start keeps the
    // object if the root record was written and destroys it if not.
    LogError(
        "kms.hsm_object_unconfirmed",
        {{"root_key", id},
         {"hsm_label", root.label},
         {"error", std::string(s.message())},
         {"resolution", "the next start keeps it if its record was written, else destroys it"}});
    return s;
  }
  {
    std::unique_lock<std::shared_mutex> views_lock(views_mu_);
    roots_[id] = rec;
    root_state_ = state;
  }
  LogInfo("kms.root_key_installed", {{"root_key", id}, {"rewrap", rewrap}});
  return absl::OkStatus();
}

absl::StatusOr<v1::RootKeyStatus> KeyManager::RotateRootKey(const Caller& c) {
  RETURN_IF_ERROR(Authorize(c, Action::kManage, nullptr, "RotateRootKey"));
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (root_state_.rewrap_running()) {
      return absl::FailedPreconditionError(
          "a root key rotation is still re-wrapping key versions; wait for it to finish");
    }
    RETURN_IF_ERROR(InstallNewRoot(/*rewrap=*/true));
  }
  return ComputeRootStatus();
}

absl::Status KeyManager::RewrapSlice(size_t budget) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!root_state_.rewrap_running()) return absl::OkStatus();
  const std::string current = root_state_.current_id();
  ASSIGN_OR_RETURN(pkcs11::KeyHandle new_root, RootHandle(current));
  // Collect the next versions after the cursor, in key order.
  std::vector<std::pair<std::string, records::KeyVersionRecord>> todo;
  bool reached_end = true;
  absl::Status parse_error;
  RETURN_IF_ERROR(db_.Scan("kv/", root_state_.rewrap_cursor(),
                           [&](absl::string_view k, absl::string_view v) {
    if (todo.size() == budget) {
      reached_end = false;
      return false;
    }
    records::KeyVersionRecord rec;
    if (!rec.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
      parse_error = absl::DataLossError(absl::StrCat("record '", k, "' does not parse"));
      return false;
    }
    todo.emplace_back(std::string(k), std::move(rec));
    return true;
  }));
  RETURN_IF_ERROR(parse_error);
  for (auto& [record_key, rec] : todo) {
    records::RootState state = root_state_;
    state.set_rewrap_cursor(record_key);
    rocksdb::WriteBatch batch;
    const bool needs = !rec.wrapped_material().empty() && rec.version().root_key_id() != current;
    std::string key_id = record_key.substr(3, record_key.rfind('/') - 3);
    std::shared_ptr<KeyView> view;
    if (needs) {
      ASSIGN_OR_RETURN(pkcs11::KeyHandle old_root, RootHandle(rec.version().root_key_id()));
      ASSIGN_OR_RETURN(pkcs11::KeyHandle temp, hsm_.UnwrapKey(
          old_root, AsBytes(rec.wrapped_material()), pkcs11::WrapMechanism::kRfc3394,
          {.label = "strongroom-rewrap", .extractable = true}));
      absl::StatusOr<Bytes> wrapped = hsm_.WrapKey(new_root, temp, pkcs11::WrapMechanism::kRfc3394);
      absl::Status destroyed = hsm_.DestroyKey(temp);
      RETURN_IF_ERROR(wrapped.status());
      RETURN_IF_ERROR(destroyed);
      ASSIGN_OR_RETURN(ViewPtr old, GetView(key_id));
      view = std::make_shared<KeyView>(*old);
      records::KeyVersionRecord& updated = view->versions[rec.version().version()];
      updated.set_wrapped_material(std::string(wrapped->begin(), wrapped->end()));
      updated.mutable_version()->set_root_key_id(current);
    }
    batch.Put(kRootStateKey, state.SerializeAsString());
    if (view != nullptr) {
      RETURN_IF_ERROR(Commit(view, {rec.version().version()}, &batch));
    } else {
      RETURN_IF_ERROR(db_.Write(batch));
    }
    std::unique_lock<std::shared_mutex> views_lock(views_mu_);
    root_state_ = state;
  }
  if (!reached_end) return absl::OkStatus();
  // Every version is on the current root: retire the others.
  records::RootState state = root_state_;
  state.set_rewrap_running(false);
  state.clear_rewrap_cursor();
  rocksdb::WriteBatch batch;
  std::map<std::string, records::RootKeyRecord> roots = roots_;
  for (auto& [id, rec] : roots) {
    if (id != current && !rec.retired()) {
      rec.set_retired(true);
      batch.Put(RootRecordKey(id), rec.SerializeAsString());
    }
  }
  batch.Put(kRootStateKey, state.SerializeAsString());
  RETURN_IF_ERROR(db_.Write(batch));
  std::unique_lock<std::shared_mutex> views_lock(views_mu_);
  roots_ = std::move(roots);
  root_state_ = state;
  LogInfo("kms.rewrap_finished", {{"root_key", current}});
  return absl::OkStatus();
}

}  // namespace strongroom::kms
