// The fixture of KeyManager's admin tests (key_manager_admin_test.cc,
// key_manager_dual_control_test.cc): KeyManagerFixture plus request helpers.
#ifndef STRONGROOM_TESTS_KMS_KEY_MANAGER_ADMIN_FIXTURE_H_
#define STRONGROOM_TESTS_KMS_KEY_MANAGER_ADMIN_FIXTURE_H_

#include <cstdint>
#include <string>

#include "tests/kms/key_manager_fixture.h"

namespace strongroom::kms {

class KeyManagerAdminTest : public KeyManagerFixture {
 protected:
  absl::StatusOr<v1::Key> Create(const std::string& id, int64_t rotation_seconds,
                                 const std::string& owner = kOwner.principal,
                                 const Caller& c = kAdmin) {
    v1::CreateKeyRequest r;
    r.set_key_id(id);
    r.set_owner(owner);
    r.set_rotation_period_seconds(rotation_seconds);
    return km_->CreateKey(c, r);
  }
  absl::StatusOr<v1::Key> Get(const std::string& id) {
    v1::GetKeyRequest r;
    r.set_name("keys/" + id);
    return km_->GetKey(kAdmin, r);
  }
  absl::StatusOr<v1::KeyVersion> Rotate(const std::string& id, bool keep_primary = false) {
    v1::RotateKeyRequest r;
    r.set_name("keys/" + id);
    r.set_keep_primary(keep_primary);
    return km_->RotateKey(kAdmin, r);
  }
  absl::StatusOr<v1::ChangeResult> Destroy(const std::string& version) {
    v1::DestroyKeyVersionRequest r;
    r.set_name(version);
    return km_->DestroyKeyVersion(kAdmin, r);
  }
  absl::StatusOr<v1::KeyVersion> Restore(const std::string& version) {
    v1::RestoreKeyVersionRequest r;
    r.set_name(version);
    ASSIGN_OR_RETURN(v1::ChangeResult result, km_->RestoreKeyVersion(kAdmin, r));
    if (!result.has_version()) return absl::FailedPreconditionError("proposed, not applied");
    return result.version();
  }
  absl::StatusOr<v1::ChangeResult> SetDescription(const std::string& id, const std::string& text) {
    v1::UpdateKeyRequest r;
    r.set_name("keys/" + id);
    r.add_update_mask("description");
    r.set_description(text);
    return km_->UpdateKey(kAdmin, r);
  }
};

}  // namespace strongroom::kms

#endif  // STRONGROOM_TESTS_KMS_KEY_MANAGER_ADMIN_FIXTURE_H_
