// KeyManager's release side: a release target found while the evidence is
// checked is checked again when its material is released or a data key is
// sealed under it, and versions below min_decryption_version are never
// released.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "kms/key_manager.h"
#include "tests/kms/broker/broker_fixture.h"

namespace strongroom::kms {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;

class ReleaseTargetTest : public BrokerFixture {
 protected:
  absl::Status SetState(const std::string& name, v1::KeyVersionState s) {
    v1::SetKeyVersionStateRequest r;
    r.set_name(name);
    r.set_state(s);
    return km_->SetKeyVersionState(kAdmin, r).status();
  }
  absl::Status SetMinDecryptionVersion(uint32_t version) {
    v1::UpdateKeyRequest up;
    up.set_name("keys/k");
    up.add_update_mask("min_decryption_version");
    up.set_min_decryption_version(version);
    return km_->UpdateKey(kAdmin, up).status();
  }
  absl::Status Rotate(bool keep_primary) {
    v1::RotateKeyRequest r;
    r.set_name("keys/k");
    r.set_keep_primary(keep_primary);
    return km_->RotateKey(kAdmin, r).status();
  }
};

TEST_F(ReleaseTargetTest, AVersionThatLeftEnabledAfterTheCheckIsNotReleased) {
  MakeReleasableKey();
  ASSERT_OK_AND_ASSIGN(KeyManager::ReleaseTarget t, km_->FindReleaseTarget("keys/k"));
  ASSERT_OK(km_->ReleaseMaterial(t).status());
  ASSERT_OK(km_->NewDataKeyFor(t, {}).status());
  ASSERT_OK(SetState("keys/k/versions/1", v1::SUSPENDED));
  EXPECT_THAT(km_->ReleaseMaterial(t), StatusIs(absl::StatusCode::kFailedPrecondition,
                                                HasSubstr("is not ENABLED")));
  EXPECT_THAT(km_->NewDataKeyFor(t, {}), StatusIs(absl::StatusCode::kFailedPrecondition,
                                                  HasSubstr("is not ENABLED")));
  ASSERT_OK(SetState("keys/k/versions/1", v1::ENABLED));
  EXPECT_OK(km_->ReleaseMaterial(t).status());

  // A non-primary version scheduled for destruction after its target was found.
  ASSERT_OK(Rotate(/*keep_primary=*/true));  // version 2, ENABLED, not primary
  ASSERT_OK_AND_ASSIGN(KeyManager::ReleaseTarget v2, km_->FindReleaseTarget("keys/k/versions/2"));
  v1::DestroyKeyVersionRequest d;
  d.set_name("keys/k/versions/2");
  ASSERT_OK(km_->DestroyKeyVersion(kAdmin, d).status());
  EXPECT_THAT(km_->ReleaseMaterial(v2), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(km_->NewDataKeyFor(v2, {}), StatusIs(absl::StatusCode::kFailedPrecondition));
}

// The version is put below min_decryption_version while a data key is
// sealed under it: the wrapped copy, which nothing could open, is not handed
// out.
TEST_F(ReleaseTargetTest, ADataKeySealedAsItsVersionIsRetiredIsNotHandedOut) {
  MakeReleasableKey();
  ASSERT_OK_AND_ASSIGN(KeyManager::ReleaseTarget t, km_->FindReleaseTarget("keys/k"));
  ASSERT_OK(km_->NewDataKeyFor(t, {}).status());  // the material is cached
  bool raised = false;
  before_seal_ = [&] {
    if (raised) return;
    raised = true;
    ASSERT_OK(Rotate(/*keep_primary=*/false));
    ASSERT_OK(SetMinDecryptionVersion(2));
  };
  EXPECT_THAT(
      km_->NewDataKeyFor(t, {}),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               HasSubstr("keys/k/versions/1 changed while a data key was sealed under it")));
  before_seal_ = nullptr;
  EXPECT_TRUE(raised);
}

TEST_F(ReleaseTargetTest, VersionsBelowTheMinimumDecryptionVersionAreNotReleased) {
  MakeReleasableKey();
  ASSERT_OK_AND_ASSIGN(KeyManager::ReleaseTarget t1, km_->FindReleaseTarget("keys/k/versions/1"));
  ASSERT_OK(Rotate(/*keep_primary=*/false));
  ASSERT_OK(Rotate(/*keep_primary=*/false));
  ASSERT_OK(SetMinDecryptionVersion(3));
  EXPECT_THAT(km_->FindReleaseTarget("keys/k/versions/1"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("below the key's minimum decryption version 3")));
  EXPECT_THAT(km_->ReleaseMaterial(t1), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_OK(km_->FindReleaseTarget("keys/k").status());  // the primary, version 3
}

}  // namespace
}  // namespace strongroom::kms
