// KeyManager's admin surface against a real SoftHSM token and RocksDB: the
// requests that are refused (rotation periods, owner names, update masks,
// too many proposals), what an approval reports, and what a failure half-way
// through a destruction or a maintenance pass leaves behind.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "absl/time/clock.h"
#include "tests/kms/key_manager_fixture.h"

namespace strongroom::kms {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

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

// On a dual_control key one admin cannot undo what two agreed to: cancelling
// a scheduled destruction and enabling a version are proposals a second
// admin approves; tightening (disable, suspend) still applies at once.
TEST_F(KeyManagerAdminTest, DualControlRestoreAndEnableNeedASecondAdmin) {
  MakeKey("dc", false, /*dual=*/true);
  ASSERT_OK_AND_ASSIGN(v1::KeyVersion v2, Rotate("dc"));
  EXPECT_EQ(v2.name(), "keys/dc/versions/2");
  const auto approve = [&](const v1::ChangeResult& proposed) -> absl::StatusOr<v1::KeyVersion> {
    if (!proposed.has_pending()) return absl::InternalError("not a proposal");
    v1::ApproveChangeRequest a;
    a.set_id(proposed.pending().id());
    EXPECT_THAT(km_->ApproveChange(kAdmin, a), StatusIs(absl::StatusCode::kPermissionDenied));
    ASSIGN_OR_RETURN(v1::ChangeResult applied, km_->ApproveChange(kAdmin2, a));
    return applied.version();
  };
  v1::DestroyKeyVersionRequest d;
  d.set_name("keys/dc/versions/1");
  ASSERT_OK_AND_ASSIGN(v1::ChangeResult destroy, km_->DestroyKeyVersion(kAdmin, d));
  ASSERT_OK_AND_ASSIGN(v1::KeyVersion scheduled, approve(destroy));
  EXPECT_EQ(scheduled.state(), v1::DESTROY_SCHEDULED);

  v1::RestoreKeyVersionRequest restore;
  restore.set_name("keys/dc/versions/1");
  ASSERT_OK_AND_ASSIGN(v1::ChangeResult restore_proposed, km_->RestoreKeyVersion(kAdmin, restore));
  ASSERT_TRUE(restore_proposed.has_pending());
  ASSERT_OK_AND_ASSIGN(v1::KeyVersion still, Version("keys/dc/versions/1"));
  EXPECT_EQ(still.state(), v1::DESTROY_SCHEDULED);
  ASSERT_OK_AND_ASSIGN(v1::KeyVersion restored, approve(restore_proposed));
  EXPECT_EQ(restored.state(), v1::DISABLED);

  v1::SetKeyVersionStateRequest enable;
  enable.set_name("keys/dc/versions/1");
  enable.set_state(v1::ENABLED);
  ASSERT_OK_AND_ASSIGN(v1::ChangeResult enable_proposed, km_->SetKeyVersionState(kAdmin, enable));
  ASSERT_TRUE(enable_proposed.has_pending());
  ASSERT_OK_AND_ASSIGN(still, Version("keys/dc/versions/1"));
  EXPECT_EQ(still.state(), v1::DISABLED);
  ASSERT_OK_AND_ASSIGN(v1::KeyVersion enabled, approve(enable_proposed));
  EXPECT_EQ(enabled.state(), v1::ENABLED);

  // Tightening needs no one else.
  ASSERT_OK_AND_ASSIGN(v1::KeyVersion suspended, SetState("keys/dc/versions/1", v1::SUSPENDED));
  EXPECT_EQ(suspended.state(), v1::SUSPENDED);
  // Marking a version that is off COMPROMISED (which decrypts) is a proposal.
  v1::SetKeyVersionStateRequest compromise;
  compromise.set_name("keys/dc/versions/1");
  compromise.set_state(v1::COMPROMISED);
  ASSERT_OK_AND_ASSIGN(v1::ChangeResult compromise_proposed,
                       km_->SetKeyVersionState(kAdmin, compromise));
  ASSERT_TRUE(compromise_proposed.has_pending());
  EXPECT_THAT(compromise_proposed.pending().action(),
              HasSubstr("mark keys/dc/versions/1 COMPROMISED (it is SUSPENDED"));
  ASSERT_OK_AND_ASSIGN(still, Version("keys/dc/versions/1"));
  EXPECT_EQ(still.state(), v1::SUSPENDED);
  ASSERT_OK_AND_ASSIGN(v1::KeyVersion compromised, approve(compromise_proposed));
  EXPECT_EQ(compromised.state(), v1::COMPROMISED);
  // A proposal that could never apply is refused at once.
  EXPECT_THAT(km_->SetKeyVersionState(kAdmin, compromise),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(km_->SetKeyVersionState(kAdmin, enable),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(km_->RestoreKeyVersion(kAdmin, restore),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("DESTROY_SCHEDULED")));
}

// A proposal that could never apply is refused when it is made, not at its
// approval: enabling a version once marked COMPROMISED, restoring one whose
// destroy wait has run out.
TEST_F(KeyManagerAdminTest, ProposalsThatCouldNeverApplyAreNotMade) {
  MakeKey("dc", false, /*dual=*/true);
  ASSERT_OK(Rotate("dc").status());
  ASSERT_OK(SetState("keys/dc/versions/1", v1::COMPROMISED).status());  // from ENABLED
  ASSERT_OK(SetState("keys/dc/versions/1", v1::DISABLED).status());
  v1::SetKeyVersionStateRequest enable;
  enable.set_name("keys/dc/versions/1");
  enable.set_state(v1::ENABLED);
  EXPECT_THAT(km_->SetKeyVersionState(kAdmin, enable),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("was marked COMPROMISED and cannot be enabled again")));

  v1::DestroyKeyVersionRequest d;
  d.set_name("keys/dc/versions/1");
  ASSERT_OK_AND_ASSIGN(v1::ChangeResult destroy, km_->DestroyKeyVersion(kAdmin, d));
  v1::ApproveChangeRequest a;
  a.set_id(destroy.pending().id());
  ASSERT_OK(km_->ApproveChange(kAdmin2, a).status());
  clock_.Advance(absl::Hours(25));  // past the 24 h wait
  v1::RestoreKeyVersionRequest restore;
  restore.set_name("keys/dc/versions/1");
  EXPECT_THAT(km_->RestoreKeyVersion(kAdmin, restore),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("the destruction is due and can no longer be cancelled")));
  v1::ListChangesRequest list;
  list.set_pending_only(true);
  ASSERT_OK_AND_ASSIGN(v1::ListChangesResponse changes, km_->ListChanges(kAdmin, list));
  EXPECT_EQ(changes.changes_size(), 0);  // neither refused request left a proposal
}

// An enable request that read the version ENABLED, while another admin's
// disable of it was being written, does not enable it again once the disable
// is in: on a dual_control key an enable is only ever a proposal.
TEST_F(KeyManagerAdminTest, AnEnableRacingADisableDoesNotUndoIt) {
  MakeKey("dc", false, /*dual=*/true);
  v1::SetKeyVersionStateRequest enable;
  enable.set_name("keys/dc/versions/1");
  enable.set_state(v1::ENABLED);
  absl::StatusOr<v1::ChangeResult> raced = absl::UnknownError("not run");
  std::thread other;
  bool started = false;
  before_commit_ = [&] {
    if (started) return;
    started = true;
    // The disable holds the key manager's lock and has not written yet; the
    // enable reads the state (still ENABLED) and then waits for the lock.
    other = std::thread([&] { raced = km_->SetKeyVersionState(kAdmin2, enable); });
    absl::SleepFor(absl::Milliseconds(200));
  };
  absl::StatusOr<v1::KeyVersion> disabled = SetState("keys/dc/versions/1", v1::DISABLED);
  before_commit_ = nullptr;
  ASSERT_TRUE(other.joinable());
  other.join();
  ASSERT_OK(disabled.status());
  EXPECT_EQ(disabled->state(), v1::DISABLED);
  // Refused as ENABLED -> ENABLED (it read the state before the disable), or,
  // had it read it after, a proposal for a second admin: never applied.
  if (raced.ok()) {
    EXPECT_TRUE(raced->has_pending());
  } else {
    EXPECT_THAT(raced, StatusIs(absl::StatusCode::kFailedPrecondition,
                                HasSubstr("illegal state transition ENABLED -> ENABLED")));
  }
  ASSERT_OK_AND_ASSIGN(v1::KeyVersion after, Version("keys/dc/versions/1"));
  EXPECT_EQ(after.state(), v1::DISABLED);
}

// The same for a compromise that read the version ENABLED (a tightening)
// while another admin's disable was being written: it does not apply to the
// now DISABLED version on its own.
TEST_F(KeyManagerAdminTest, ACompromiseRacingADisableIsNotAppliedAlone) {
  MakeKey("dc", false, /*dual=*/true);
  v1::SetKeyVersionStateRequest compromise;
  compromise.set_name("keys/dc/versions/1");
  compromise.set_state(v1::COMPROMISED);
  absl::StatusOr<v1::ChangeResult> raced = absl::UnknownError("not run");
  std::thread other;
  bool started = false;
  before_commit_ = [&] {
    if (started) return;
    started = true;
    other = std::thread([&] { raced = km_->SetKeyVersionState(kAdmin2, compromise); });
    absl::SleepFor(absl::Milliseconds(200));
  };
  absl::StatusOr<v1::KeyVersion> disabled = SetState("keys/dc/versions/1", v1::DISABLED);
  before_commit_ = nullptr;
  ASSERT_TRUE(other.joinable());
  other.join();
  ASSERT_OK(disabled.status());
  // Refused (it read ENABLED before the disable), or, had it read it after,
  // a proposal for a second admin: never applied.
  if (raced.ok()) {
    EXPECT_TRUE(raced->has_pending());
  } else {
    EXPECT_THAT(raced, StatusIs(absl::StatusCode::kAborted,
                                HasSubstr("was switched off while this request ran")));
  }
  ASSERT_OK_AND_ASSIGN(v1::KeyVersion after, Version("keys/dc/versions/1"));
  EXPECT_EQ(after.state(), v1::DISABLED);
}

// A rotation that makes a new primary would switch on a dual_control key
// whose primary is disabled (or suspended, or PRE_ACTIVE): refused, unless
// it keeps the primary; a compromised primary still rotates at once, but a
// primary that is off becomes COMPROMISED only with a second admin (else one
// admin could go DISABLED -> COMPROMISED -> rotate to switch the key on).
TEST_F(KeyManagerAdminTest, RotatingADualControlKeyOnDoesNotSkipTheSecondAdmin) {
  MakeKey("dc", false, /*dual=*/true);
  ASSERT_OK(SetState("keys/dc/versions/1", v1::DISABLED).status());
  v1::RotateKeyRequest rotate;
  rotate.set_name("keys/dc");
  EXPECT_THAT(km_->RotateKey(kAdmin, rotate),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("primary version 1 is DISABLED: a new primary would switch the "
                                 "key on without a second admin")));
  rotate.set_keep_primary(true);
  ASSERT_OK_AND_ASSIGN(v1::KeyVersion beside, km_->RotateKey(kAdmin, rotate));
  EXPECT_EQ(beside.name(), "keys/dc/versions/2");
  v1::SetKeyVersionStateRequest compromise;
  compromise.set_name("keys/dc/versions/1");
  compromise.set_state(v1::COMPROMISED);
  ASSERT_OK_AND_ASSIGN(v1::ChangeResult proposed, km_->SetKeyVersionState(kAdmin, compromise));
  ASSERT_TRUE(proposed.has_pending());
  ASSERT_OK_AND_ASSIGN(v1::KeyVersion v1_now, Version("keys/dc/versions/1"));
  EXPECT_EQ(v1_now.state(), v1::DISABLED);
  rotate.set_keep_primary(false);
  EXPECT_THAT(km_->RotateKey(kAdmin, rotate), StatusIs(absl::StatusCode::kFailedPrecondition));
  v1::ApproveChangeRequest approve;
  approve.set_id(proposed.pending().id());
  ASSERT_OK(km_->ApproveChange(kAdmin2, approve).status());
  ASSERT_OK_AND_ASSIGN(v1::KeyVersion fresh, km_->RotateKey(kAdmin, rotate));
  EXPECT_EQ(fresh.name(), "keys/dc/versions/3");
  // An ENABLED primary marked COMPROMISED (a tightening) applies at once and
  // rotates at once.
  ASSERT_OK_AND_ASSIGN(v1::KeyVersion v3, SetState("keys/dc/versions/3", v1::COMPROMISED));
  EXPECT_EQ(v3.state(), v1::COMPROMISED);
  ASSERT_OK_AND_ASSIGN(v1::KeyVersion v4, km_->RotateKey(kAdmin, rotate));
  EXPECT_EQ(v4.name(), "keys/dc/versions/4");
}

TEST_F(KeyManagerAdminTest, AnApprovalReportsTheProposalItCarriedOut) {
  MakeKey("dc", false, /*dual=*/true);
  ASSERT_OK_AND_ASSIGN(v1::ChangeResult proposed, SetDescription("dc", "new text"));
  ASSERT_TRUE(proposed.has_pending());
  EXPECT_FALSE(proposed.has_approved());
  v1::ApproveChangeRequest approve;
  approve.set_id(proposed.pending().id());
  ASSERT_OK_AND_ASSIGN(v1::ChangeResult applied, km_->ApproveChange(kAdmin2, approve));
  EXPECT_EQ(applied.key().description(), "new text");
  EXPECT_EQ(applied.approved().id(), proposed.pending().id());
  EXPECT_EQ(applied.approved().state(), "approved");
  EXPECT_EQ(applied.approved().proposer(), kAdmin.principal);
  EXPECT_EQ(applied.approved().approver(), kAdmin2.principal);
  EXPECT_THAT(applied.approved().action(), HasSubstr("description \"new text\""));
}

TEST_F(KeyManagerAdminTest, PendingProposalsPerKeyAreBoundedAndListedInPages) {
  MakeKey("dc", false, /*dual=*/true);
  MakeKey("dc2", false, /*dual=*/true);
  std::set<std::string> ids;
  for (size_t i = 0; i < KeyManager::kMaxPendingChangesPerKey; ++i) {
    ASSERT_OK_AND_ASSIGN(v1::ChangeResult r, SetDescription("dc", absl::StrCat("d", i)));
    ids.insert(r.pending().id());
  }
  EXPECT_THAT(SetDescription("dc", "one more"),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("already has 16 pending changes on keys/dc")));
  // Per key: another key still takes proposals.
  ASSERT_OK_AND_ASSIGN(v1::ChangeResult other, SetDescription("dc2", "x"));
  ids.insert(other.pending().id());
  // Per proposer: another admin (or the key's owner) still proposes on the
  // full key, so one principal cannot lock the others out.
  v1::UpdateKeyRequest by_other;
  by_other.set_name("keys/dc");
  by_other.add_update_mask("description");
  by_other.set_description("from the second admin");
  ASSERT_OK_AND_ASSIGN(v1::ChangeResult second, km_->UpdateKey(kAdmin2, by_other));
  ids.insert(second.pending().id());
  ASSERT_EQ(ids.size(), KeyManager::kMaxPendingChangesPerKey + 2);

  // Every proposal, once, in id order, five per page.
  std::vector<std::string> listed;
  v1::ListChangesRequest list;
  list.set_page_size(5);
  int pages = 0;
  for (;;) {
    ASSERT_OK_AND_ASSIGN(v1::ListChangesResponse page, km_->ListChanges(kAuditor, list));
    ASSERT_LE(page.changes_size(), 5);
    for (const auto& c : page.changes()) listed.push_back(c.id());
    ++pages;
    if (page.next_page_token().empty()) break;
    list.set_page_token(page.next_page_token());
    ASSERT_LT(pages, 10);
  }
  EXPECT_EQ(pages, 4);  // 18 proposals
  EXPECT_TRUE(std::is_sorted(listed.begin(), listed.end()));
  EXPECT_EQ(std::set<std::string>(listed.begin(), listed.end()), ids);
  EXPECT_EQ(listed.size(), ids.size());
  list.set_page_size(1001);
  EXPECT_THAT(km_->ListChanges(kAdmin, list),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_size")));
  list.set_page_size(0);
  list.set_page_token("change/../x");
  EXPECT_THAT(km_->ListChanges(kAdmin, list),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_token")));

  // Expired proposals no longer count (and are still listed, as expired);
  // a record that does not parse does not stop proposals either.
  ASSERT_OK(db_->Put("change/00bad", "not a change record"));
  clock_.Advance(absl::Hours(2));
  ASSERT_OK(SetDescription("dc", "after expiry").status());
  ASSERT_OK(db_->Delete("change/00bad"));
  v1::ListChangesRequest pending_only;
  pending_only.set_pending_only(true);
  ASSERT_OK_AND_ASSIGN(v1::ListChangesResponse pending, km_->ListChanges(kAdmin, pending_only));
  EXPECT_EQ(pending.changes_size(), 1);
}

TEST_F(KeyManagerAdminTest, DecidedProposalsAreDroppedAMonthAfterTheirWindow) {
  MakeKey("dc", false, /*dual=*/true);
  ASSERT_OK_AND_ASSIGN(v1::ChangeResult approved, SetDescription("dc", "a"));
  v1::ApproveChangeRequest approve;
  approve.set_id(approved.pending().id());
  ASSERT_OK(km_->ApproveChange(kAdmin2, approve).status());
  ASSERT_OK(SetDescription("dc", "left to expire").status());
  auto count = [this]() -> int {
    absl::StatusOr<v1::ListChangesResponse> all = km_->ListChanges(kAdmin, {});
    return all.ok() ? all->changes_size() : -1;
  };
  clock_.Advance(KeyManager::kChangeRetention);  // both windows (1 h) closed, not yet 30 days ago
  ASSERT_OK(km_->RunMaintenance());
  EXPECT_EQ(count(), 2);
  ASSERT_OK(SetDescription("dc", "still pending").status());
  clock_.Advance(absl::Hours(2));
  ASSERT_OK(km_->RunMaintenance());
  ASSERT_OK_AND_ASSIGN(v1::ListChangesResponse left, km_->ListChanges(kAdmin, {}));
  ASSERT_EQ(left.changes_size(), 1);
  EXPECT_THAT(left.changes(0).action(), HasSubstr("still pending"));
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
