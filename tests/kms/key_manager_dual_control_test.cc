// KeyManager's dual control against a real SoftHSM token and RocksDB: what
// one admin cannot do alone on a dual_control key (restore, enable, mark an
// off version COMPROMISED, rotate the key on), races with another admin's
// disable, proposals that could never apply, what an approval reports, and
// how proposals are bounded, listed and dropped.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "absl/time/clock.h"
#include "tests/kms/key_manager_admin_fixture.h"

namespace strongroom::kms {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

class KeyManagerDualControlTest : public KeyManagerAdminTest {
 protected:
  // `request` from a second admin, sent while the first admin's disable of
  // keys/dc/versions/1 (ENABLED) holds the key manager's lock and has not
  // written yet: it reads the state (still ENABLED) and then waits for the
  // lock. Its answer; the disable must succeed.
  absl::StatusOr<v1::ChangeResult> RaceWithADisable(const v1::SetKeyVersionStateRequest& request) {
    absl::StatusOr<v1::ChangeResult> raced = absl::UnknownError("not run");
    std::thread other;
    bool started = false;
    before_commit_ = [&] {
      if (started) return;
      started = true;
      other = std::thread([&] { raced = km_->SetKeyVersionState(kAdmin2, request); });
      absl::SleepFor(absl::Milliseconds(200));
    };
    absl::StatusOr<v1::KeyVersion> disabled = SetState("keys/dc/versions/1", v1::DISABLED);
    before_commit_ = nullptr;
    if (other.joinable()) other.join();
    EXPECT_TRUE(started);
    EXPECT_EQ(disabled.ok() ? disabled->state() : v1::KEY_VERSION_STATE_UNSPECIFIED, v1::DISABLED)
        << disabled.status();
    return raced;
  }
};

// On a dual_control key one admin cannot undo what two agreed to: cancelling
// a scheduled destruction and enabling a version are proposals a second
// admin approves; tightening (disable, suspend) still applies at once.
TEST_F(KeyManagerDualControlTest, DualControlRestoreAndEnableNeedASecondAdmin) {
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
TEST_F(KeyManagerDualControlTest, ProposalsThatCouldNeverApplyAreNotMade) {
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
TEST_F(KeyManagerDualControlTest, AnEnableRacingADisableDoesNotUndoIt) {
  MakeKey("dc", false, /*dual=*/true);
  v1::SetKeyVersionStateRequest enable;
  enable.set_name("keys/dc/versions/1");
  enable.set_state(v1::ENABLED);
  absl::StatusOr<v1::ChangeResult> raced = RaceWithADisable(enable);
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
TEST_F(KeyManagerDualControlTest, ACompromiseRacingADisableIsNotAppliedAlone) {
  MakeKey("dc", false, /*dual=*/true);
  v1::SetKeyVersionStateRequest compromise;
  compromise.set_name("keys/dc/versions/1");
  compromise.set_state(v1::COMPROMISED);
  absl::StatusOr<v1::ChangeResult> raced = RaceWithADisable(compromise);
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
TEST_F(KeyManagerDualControlTest, RotatingADualControlKeyOnDoesNotSkipTheSecondAdmin) {
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

TEST_F(KeyManagerDualControlTest, AnApprovalReportsTheProposalItCarriedOut) {
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

TEST_F(KeyManagerDualControlTest, PendingProposalsPerKeyAreBoundedAndListedInPages) {
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

TEST_F(KeyManagerDualControlTest, DecidedProposalsAreDroppedAMonthAfterTheirWindow) {
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

}  // namespace
}  // namespace strongroom::kms
