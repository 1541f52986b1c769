// KeyManager's side of the key broker: which version a release names, its
// material, and data keys sealed under it.
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "kms/key_manager.h"
#include "kms/resource_names.h"

namespace strongroom::kms {

void KeyManager::SetPolicyVersionLookup(PolicyVersionLookup lookup) {
  policy_version_lookup_ = std::move(lookup);
}

void KeyManager::SetReferencePinLookup(ReferencePinLookup lookup) {
  reference_pin_lookup_ = std::move(lookup);
}

absl::Status KeyManager::CheckReleasable(const KeyView& view, uint32_t version) {
  const v1::Key& key = view.key.key();
  if (key.release_policy().empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(key.name(), " has no release policy: it is never released to workloads"));
  }
  if (key.protection() != v1::PROTECTION_SOFTWARE) {
    return absl::FailedPreconditionError(
        absl::StrCat(key.name(), " is HSM-protected and cannot be released"));
  }
  auto it = view.versions.find(version);
  if (it == view.versions.end()) {
    return absl::NotFoundError(absl::StrCat(key.name(), " has no version ", version));
  }
  if (it->second.version().state() != v1::ENABLED) {
    return absl::FailedPreconditionError(absl::StrCat(
        it->second.version().name(), " is not ENABLED and cannot be released"));
  }
  // What its owner may no longer decrypt with is not handed to a workload.
  if (version < key.min_decryption_version()) {
    return absl::FailedPreconditionError(
        absl::StrCat(it->second.version().name(), " is below the key's minimum decryption version ",
                     key.min_decryption_version(), " and cannot be released"));
  }
  return absl::OkStatus();
}

absl::StatusOr<KeyManager::ReleaseTarget> KeyManager::FindReleaseTarget(absl::string_view name) {
  ASSIGN_OR_RETURN(VersionName named, ParseKeyOrVersionName(name, "key"));
  ASSIGN_OR_RETURN(ViewPtr view, GetView(named.key_id));
  const v1::Key& key = view->key.key();
  const uint32_t version = named.version == 0 ? key.primary_version() : named.version;
  RETURN_IF_ERROR(CheckReleasable(*view, version));
  ReleaseTarget t;
  t.key = key;
  t.version = version;
  t.version_name = view->versions.at(version).version().name();
  return t;
}

absl::StatusOr<KeyManager::ReleaseBinding> KeyManager::FindReleaseBinding(absl::string_view name) {
  ASSIGN_OR_RETURN(std::string id, ParseKeyName(name, "key"));
  ASSIGN_OR_RETURN(ViewPtr view, GetView(id));
  const v1::Key& key = view->key.key();
  ReleaseBinding b;
  b.dual_control = key.dual_control();
  b.policy = key.release_policy();
  b.policy_version = key.release_policy_version();
  b.pins.assign(key.release_reference_sets().begin(), key.release_reference_sets().end());
  return b;
}

absl::StatusOr<SecretBytes> KeyManager::ReleaseMaterial(const ReleaseTarget& target) {
  // The target was found earlier (before the evidence and the token were
  // checked): the version may have been suspended, marked compromised or
  // scheduled for destruction since.
  ASSIGN_OR_RETURN(ViewPtr view, GetView(target.key.name().substr(5)));
  RETURN_IF_ERROR(CheckReleasable(*view, target.version));
  ASSIGN_OR_RETURN(std::shared_ptr<const Material> m, GetMaterial(*view, target.version));
  if (m->in_hsm) {
    return absl::FailedPreconditionError(
        absl::StrCat(target.version_name, " lives in the HSM and cannot be released"));
  }
  return m->key.Clone();
}

absl::StatusOr<std::pair<SecretBytes, Bytes>> KeyManager::NewDataKeyFor(
    const ReleaseTarget& target, std::span<const uint8_t> associated_data) {
  ASSIGN_OR_RETURN(ViewPtr view, GetView(target.key.name().substr(5)));
  RETURN_IF_ERROR(CheckReleasable(*view, target.version));  // as in ReleaseMaterial
  ASSIGN_OR_RETURN(SecretBytes data_key, hsm_.GenerateRandom(32));
  std::map<std::string, std::string> context;
  if (!associated_data.empty()) {
    context["aad"] = std::string(AsStringView(associated_data));
  }
  ASSIGN_OR_RETURN(Bytes wrapped, SealWith(*view, target.version, context, data_key.Reveal()));
  // As in SealWithPrimary: the version may have been destroyed, or put below
  // min_decryption_version, while it sealed; a wrapped copy nothing can open
  // is not handed out (the target is the token's, so it is not redone).
  ViewPtr now = FindView(target.key.name().substr(5));
  if (now == nullptr) return absl::NotFoundError(absl::StrCat(target.key.name(), " not found"));
  if (absl::Status s = CheckReleasable(*now, target.version); !s.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        target.version_name, " changed while a data key was sealed under it: ", s.message()));
  }
  return std::make_pair(std::move(data_key), std::move(wrapped));
}

}  // namespace strongroom::kms
