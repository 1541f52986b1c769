// KeyManager's admin surface against a real SoftHSM token and RocksDB: the
// requests that are refused (rotation periods, owner names, update masks),
// what maintenance does on its own, and what a failure half-way through a
// destruction or a maintenance pass leaves behind. Dual control:
// key_manager_dual_control_test.cc.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/kms/key_manager_admin_fixture.h"

namespace strongroom::kms {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

TEST_F(KeyManagerAdminTest, RotationPeriodIsZeroOrAtLeastAnHour) {
  EXPECT_THAT(Create("fast", 1),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("rotation_period_seconds: 1 is below the minimum 3600")));
  EXPECT_THAT(Create("almost", 3599),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("rotation_period_seconds")));
  // An owner creating a key for themselves is held to the same bound.
  EXPECT_THAT(Create("own", 10, kOwner.principal, kOwner),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("rotation_period_seconds")));
  EXPECT_OK(Create("manual", 0).status());
  EXPECT_OK(Create("hourly", 3600).status());
  v1::UpdateKeyRequest up;
  up.set_name("keys/manual");
  up.add_update_mask("rotation_period_seconds");
  up.set_rotation_period_seconds(60);
  EXPECT_THAT(km_->UpdateKey(kAdmin, up), StatusIs(absl::StatusCode::kInvalidArgument,
                                                   HasSubstr("rotation_period_seconds: 60")));
  ASSERT_OK_AND_ASSIGN(v1::Key key, Get("manual"));
  EXPECT_EQ(key.rotation_period_seconds(), 0);
}

TEST_F(KeyManagerAdminTest, AVersionAddedBesideThePrimaryDoesNotPutOffTheScheduledRotation) {
  ASSERT_OK_AND_ASSIGN(v1::Key created, Create("auto", 3600));
  clock_.Advance(absl::Minutes(50));
  ASSERT_OK_AND_ASSIGN(v1::KeyVersion v2, Rotate("auto", /*keep_primary=*/true));
  EXPECT_EQ(v2.name(), "keys/auto/versions/2");
  ASSERT_OK_AND_ASSIGN(v1::Key key, Get("auto"));
  EXPECT_EQ(key.primary_version(), 1u);
  EXPECT_EQ(key.next_rotation_unix_micros(), created.next_rotation_unix_micros());
  clock_.Advance(absl::Minutes(11));
  ASSERT_OK(km_->RunMaintenance());
  ASSERT_OK_AND_ASSIGN(key, Get("auto"));
  EXPECT_EQ(key.primary_version(), 3u);
  // A rotation that does make a new primary starts the period again.
  EXPECT_GT(key.next_rotation_unix_micros(), created.next_rotation_unix_micros());
}

// What maintenance does on its own is reported for the audit chain, once
// committed: a scheduled rotation and a destruction whose wait ran out. A
// destruction that is due can no longer be cancelled, even before the pass
// that carries it out.
TEST_F(KeyManagerAdminTest, MaintenanceReportsItsChangesAndDueDestructionsStay) {
  ASSERT_OK(Create("auto", 3600).status());
  clock_.Advance(absl::Minutes(61));
  ASSERT_OK(km_->RunMaintenance());
  EXPECT_THAT(system_changes_,
              ElementsAre("requested system:rotation-period rotate_key keys/auto",
                          "system:rotation-period rotate_key keys/auto/versions/2: new primary "
                          "(the rotation period elapsed)"));
  system_changes_.clear();
  v1::DestroyKeyVersionRequest d;
  d.set_name("keys/auto/versions/1");
  ASSERT_OK(km_->DestroyKeyVersion(kAdmin, d).status());  // a 24 h wait
  v1::RestoreKeyVersionRequest restore;
  restore.set_name("keys/auto/versions/1");
  clock_.Advance(absl::Hours(24));
  EXPECT_THAT(km_->RestoreKeyVersion(kAdmin, restore),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("the destruction is due and can no longer be cancelled")));
  EXPECT_TRUE(system_changes_.empty());  // not carried out yet
  // A request the audit log cannot take: nothing is changed this pass.
  fail_system_requests_ = true;
  EXPECT_THAT(km_->RunMaintenance(), StatusIs(absl::StatusCode::kUnavailable));
  ASSERT_OK_AND_ASSIGN(v1::KeyVersion v1_now, Version("keys/auto/versions/1"));
  EXPECT_EQ(v1_now.state(), v1::DESTROY_SCHEDULED);
  ASSERT_OK_AND_ASSIGN(v1::Key key, Get("auto"));
  EXPECT_EQ(key.primary_version(), 2u);
  EXPECT_TRUE(system_changes_.empty());
  fail_system_requests_ = false;
  ASSERT_OK(km_->RunMaintenance());
  // (A day on, the key rotates again in the same pass.)
  EXPECT_THAT(system_changes_,
              ElementsAre("requested system:destroy-timer destroy_key_version keys/auto/versions/1",
                          "requested system:rotation-period rotate_key keys/auto",
                          "system:destroy-timer destroy_key_version keys/auto/versions/1: state "
                          "DESTROYED (the destroy wait elapsed; material shredded)",
                          "system:rotation-period rotate_key keys/auto/versions/3: new primary "
                          "(the rotation period elapsed)"));
  ASSERT_OK_AND_ASSIGN(v1_now, Version("keys/auto/versions/1"));
  EXPECT_EQ(v1_now.state(), v1::DESTROYED);
}

// A scheduled rotation never switches a key on: not one created PRE_ACTIVE,
// not one whose primary an admin disabled. Enabled again, it rotates.
TEST_F(KeyManagerAdminTest, ScheduledRotationSkipsKeysNotInUse) {
  v1::CreateKeyRequest r;
  r.set_key_id("later");
  r.set_owner(kOwner.principal);
  r.set_rotation_period_seconds(3600);
  r.set_pre_active(true);
  ASSERT_OK(km_->CreateKey(kAdmin, r).status());
  ASSERT_OK(Create("paused", 3600).status());
  v1::SetKeyVersionStateRequest off;
  off.set_name("keys/paused/versions/1");
  off.set_state(v1::DISABLED);
  ASSERT_OK(km_->SetKeyVersionState(kAdmin, off).status());
  clock_.Advance(absl::Hours(2));
  ASSERT_OK(km_->RunMaintenance());
  for (const char* id : {"later", "paused"}) {
    ASSERT_OK_AND_ASSIGN(v1::Key key, Get(id));
    EXPECT_EQ(key.primary_version(), 1u) << id;
  }
  v1::SetKeyVersionStateRequest on = off;
  on.set_state(v1::ENABLED);
  ASSERT_OK(km_->SetKeyVersionState(kAdmin, on).status());
  ASSERT_OK(km_->RunMaintenance());
  ASSERT_OK_AND_ASSIGN(v1::Key paused, Get("paused"));
  EXPECT_EQ(paused.primary_version(), 2u);
  ASSERT_OK_AND_ASSIGN(v1::Key later, Get("later"));
  EXPECT_EQ(later.primary_version(), 1u);
}

TEST_F(KeyManagerAdminTest, OwnerIsABoundedPrincipalNameWithoutControlCharacters) {
  EXPECT_THAT(
      Create("a", 0, "spiffe://strongroom/owner\n1"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("owner: a control character")));
  EXPECT_THAT(Create("b", 0, std::string("nul\0byte", 8)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("owner:")));
  // A certificate's CN may hold spaces and UTF-8.
  ASSERT_OK_AND_ASSIGN(v1::Key cn, Create("b2", 0, "Build Bot \xc3\xa9quipe"));
  EXPECT_EQ(cn.owner(), "Build Bot \xc3\xa9quipe");
  EXPECT_THAT(Create("c", 0, std::string(257, 'o')),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("owner: longer than 256")));
  ASSERT_OK_AND_ASSIGN(v1::Key key, Create("d", 0, std::string(256, 'o')));
  EXPECT_EQ(key.owner(), std::string(256, 'o'));
  // No owner given: the caller.
  ASSERT_OK_AND_ASSIGN(key, Create("e", 0, ""));
  EXPECT_EQ(key.owner(), kAdmin.principal);
}

TEST_F(KeyManagerAdminTest, TheServerVetsTheOwnerAfterTheRoleCheck) {
  std::vector<std::string> asked;
  check_owner_ = [&asked](absl::string_view owner) {
    asked.emplace_back(owner);
    return owner == kOwner.principal ? absl::OkStatus()
                                     : absl::InvalidArgumentError("owner: not configured");
  };
  Reopen();
  EXPECT_THAT(Create("typo", 0, "spiffe://strongroom/onwer1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("owner: not configured")));
  EXPECT_OK(Create("fine", 0).status());
  // Not asked for a caller the role check refuses, nor when no owner is named.
  EXPECT_THAT(Create("theirs", 0, "spiffe://strongroom/nobody", kOwner),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_OK(Create("mine", 0, "").status());
  EXPECT_EQ(asked, (std::vector<std::string>{"spiffe://strongroom/onwer1", kOwner.principal}));
}

TEST_F(KeyManagerAdminTest, UpdateMaskEntriesAreDistinctAndNoFieldIsDroppedSilently) {
  MakeKey("k");
  v1::UpdateKeyRequest twice;
  twice.set_name("keys/k");
  twice.add_update_mask("description");
  twice.add_update_mask("description");
  twice.set_description("x");
  EXPECT_THAT(km_->UpdateKey(kAdmin, twice),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("update_mask: 'description' given more than once")));
  // A policy version with no policy to bind (not named in the mask, or
  // "none") would be ignored: refused.
  v1::UpdateKeyRequest stray;
  stray.set_name("keys/k");
  stray.add_update_mask("description");
  stray.set_release_policy_version(3);
  EXPECT_THAT(km_->UpdateKey(kAdmin, stray),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("release_policy_version: set without a release_policy")));
  v1::UpdateKeyRequest unbind;
  unbind.set_name("keys/k");
  unbind.add_update_mask("release_policy");
  unbind.set_release_policy_version(3);
  EXPECT_THAT(km_->UpdateKey(kOwner, unbind),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("release_policy_version")));
  // An unknown path is quoted escaped, control characters and all.
  v1::UpdateKeyRequest odd;
  odd.set_name("keys/k");
  odd.add_update_mask("desc\x01ription");
  absl::Status s = km_->UpdateKey(kAdmin, odd).status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument,
                          HasSubstr("unknown field 'desc\\x01ription'")));
  EXPECT_THAT(std::string(s.message()), Not(HasSubstr("\x01")));
  ASSERT_OK_AND_ASSIGN(v1::Key key, Get("k"));
  EXPECT_EQ(key.description(), "");
}

TEST_F(KeyManagerAdminTest, AnUnknownStateIsNamedByItsNumber) {
  MakeKey("k");
  EXPECT_THAT(SetState("keys/k/versions/1", static_cast<v1::KeyVersionState>(42)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("state: unknown value 42")));
  EXPECT_THAT(SetState("keys/k/versions/1", v1::KEY_VERSION_STATE_UNSPECIFIED),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("state: UNSPECIFIED")));
}

// Destroying with no wait schedules and shreds in one call; when the shred
// fails after the schedule was committed, the call reports the state it left
// (scheduled) and maintenance completes the destruction.
TEST_F(KeyManagerAdminTest, AnImmediateDestroyWhoseShredFailsStaysScheduled) {
  MakeKey("k", false, false, /*destroy_wait=*/0);
  ASSERT_OK(Rotate("k").status());
  commits_before_one_failure_ = 1;  // the schedule commits, the shred's commit fails
  ASSERT_OK_AND_ASSIGN(v1::ChangeResult r, Destroy("keys/k/versions/1"));
  EXPECT_EQ(r.version().state(), v1::DESTROY_SCHEDULED);
  ASSERT_OK_AND_ASSIGN(v1::KeyVersion v, Version("keys/k/versions/1"));
  EXPECT_EQ(v.state(), v1::DESTROY_SCHEDULED);
  ASSERT_OK(km_->RunMaintenance());
  ASSERT_OK_AND_ASSIGN(v, Version("keys/k/versions/1"));
  EXPECT_EQ(v.state(), v1::DESTROYED);
}

// A shred that destroyed the token object but could not commit leaves a
// scheduled version with nothing behind it: it cannot be restored (it would
// come back ENABLED-able and unusable), and maintenance completes it.
TEST_F(KeyManagerAdminTest, AScheduledHsmVersionWhoseObjectIsGoneCannotBeRestored) {
  MakeKey("h", /*hsm=*/true, false, /*destroy_wait=*/0);
  ASSERT_OK(Rotate("h").status());
  commits_before_one_failure_ = 1;
  ASSERT_OK_AND_ASSIGN(v1::ChangeResult r, Destroy("keys/h/versions/1"));
  EXPECT_EQ(r.version().state(), v1::DESTROY_SCHEDULED);
  EXPECT_THAT(hsm_->FindKey(pkcs11::KeyKind::kAes, "strongroom-h-v1"),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Restore("keys/h/versions/1"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("already destroyed")));
  ASSERT_OK(km_->RunMaintenance());
  ASSERT_OK_AND_ASSIGN(v1::KeyVersion v, Version("keys/h/versions/1"));
  EXPECT_EQ(v.state(), v1::DESTROYED);

  // With its object in place, a scheduled HSM version is restored as before.
  MakeKey("h2", /*hsm=*/true, false, /*destroy_wait=*/86400);
  ASSERT_OK(Rotate("h2").status());
  ASSERT_OK(Destroy("keys/h2/versions/1").status());
  ASSERT_OK_AND_ASSIGN(v, Restore("keys/h2/versions/1"));
  EXPECT_EQ(v.state(), v1::DISABLED);
}

TEST_F(KeyManagerAdminTest, OneFailingItemDoesNotStopTheMaintenancePass) {
  for (const char* id : {"a", "b"}) {
    MakeKey(id, false, false, /*destroy_wait=*/3600);
    ASSERT_OK(Rotate(id).status());
    ASSERT_OK(Destroy(absl::StrCat("keys/", id, "/versions/1")).status());
  }
  ASSERT_OK(Create("r", 3600).status());
  clock_.Advance(absl::Minutes(61));
  commits_before_one_failure_ = 0;  // the pass's first commit (a's shred) fails
  EXPECT_THAT(km_->RunMaintenance(), StatusIs(absl::StatusCode::kUnavailable));
  ASSERT_OK_AND_ASSIGN(v1::KeyVersion a, Version("keys/a/versions/1"));
  EXPECT_EQ(a.state(), v1::DESTROY_SCHEDULED);
  ASSERT_OK_AND_ASSIGN(v1::KeyVersion b, Version("keys/b/versions/1"));
  EXPECT_EQ(b.state(), v1::DESTROYED);
  ASSERT_OK_AND_ASSIGN(v1::Key rotated, Get("r"));
  EXPECT_EQ(rotated.primary_version(), 2u);
  // The next pass finishes what failed.
  ASSERT_OK(km_->RunMaintenance());
  ASSERT_OK_AND_ASSIGN(a, Version("keys/a/versions/1"));
  EXPECT_EQ(a.state(), v1::DESTROYED);
}

}  // namespace
}  // namespace strongroom::kms
