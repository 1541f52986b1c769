// Dual control over what a key's release policy accepts: binding the policy
// needs a second admin, and the binding pins the reference-value sets the
// policy names, so one admin's change to a set can tighten but not widen it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "kms/broker/key_broker.h"
#include "tests/kms/broker/broker_fixture.h"

namespace strongroom::kms {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class DualControlTest : public BrokerFixture {};

TEST_F(DualControlTest, DualControlKeyPolicyChangeNeedsASecondAdmin) {
  MakeReleasableKey("dk", /*dual=*/true);  // the first binding is pending
  ASSERT_OK_AND_ASSIGN(auto key, km_->GetKey(kAdmin, [] {
    v1::GetKeyRequest r;
    r.set_name("keys/dk");
    return r;
  }()));
  EXPECT_TRUE(key.release_policy().empty());
  ASSERT_OK_AND_ASSIGN(auto changes, km_->ListChanges(kAdmin, v1::ListChangesRequest()));
  ASSERT_EQ(changes.changes_size(), 1);
  v1::ApproveChangeRequest approve;
  approve.set_id(changes.changes(0).id());
  ASSERT_OK_AND_ASSIGN(auto approved, km_->ApproveChange(kAdmin, approve));
  EXPECT_EQ(approved.key().release_policy(), "policies/p");
}

// A binding approved after its policy version went with a deletion is
// refused at approval, as it would be when proposed.
TEST_F(DualControlTest, ABindingWhosePolicyVersionWasDeletedIsNotApproved) {
  MakeReleasableKey("dk", /*dual=*/true);  // the first binding is pending
  ASSERT_OK_AND_ASSIGN(auto changes, km_->ListChanges(kAdmin, v1::ListChangesRequest()));
  ASSERT_EQ(changes.changes_size(), 1);
  v1::DeletePolicyRequest del;
  del.set_name("p");
  ASSERT_OK(admin_->DeletePolicy(kAdmin, del).status());
  PutApprovedPolicy();  // p again, version 2
  v1::ApproveChangeRequest approve;
  approve.set_id(changes.changes(0).id());
  EXPECT_THAT(km_->ApproveChange(kAdmin, approve),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("release_policy_version: 1 of policy 'p' no longer exists")));
  ASSERT_OK_AND_ASSIGN(auto key, km_->GetKey(kAdmin, [] {
    v1::GetKeyRequest r;
    r.set_name("keys/dk");
    return r;
  }()));
  EXPECT_TRUE(key.release_policy().empty());
  // Nothing was applied, so the proposal is still pending.
  ASSERT_OK_AND_ASSIGN(changes, km_->ListChanges(kAdmin, v1::ListChangesRequest()));
  EXPECT_EQ(changes.changes(0).state(), "pending");
}

// The approver sees the values a change sets, not only the field names.
TEST_F(DualControlTest, AProposedUpdateSpellsOutItsValues) {
  MakeReleasableKey("dk", /*dual=*/true);
  v1::UpdateKeyRequest up;
  up.set_name("keys/dk");
  up.add_update_mask("destroy_wait_seconds");
  up.set_destroy_wait_seconds(0);
  up.add_update_mask("description");
  up.set_description("no \"wait\"");
  ASSERT_OK(km_->UpdateKey(kAdmin, up).status());
  v1::ListChangesRequest pending;
  pending.set_pending_only(true);
  ASSERT_OK_AND_ASSIGN(auto changes, km_->ListChanges(kAdmin, pending));
  std::vector<std::string> actions;
  for (const auto& change : changes.changes()) actions.push_back(change.action());
  // The first binding, and this change.
  EXPECT_THAT(actions,
              ::testing::Contains(
                  "update keys/dk; destroy_wait_seconds 0; description \"no \\\"wait\\\"\""));
}

// A dual_control key's binding pins the reference-value sets its policy
// names: one admin's change to a set can tighten what the key accepts at
// once, never loosen it; a new binding (approved by a second admin) pins the
// sets again. Deleting a set and creating it again does not reuse a pinned
// version number.
TEST_F(DualControlTest, DualControlKeyIsNotLoosenedByOneAdminsReferenceValueChange) {
  MakeReleasableKey("dk", /*dual=*/true);
  auto approve_pending = [&] {
    v1::ListChangesRequest pending;
    pending.set_pending_only(true);
    ASSERT_OK_AND_ASSIGN(auto changes, km_->ListChanges(kAdmin, pending));
    ASSERT_EQ(changes.changes_size(), 1);
    v1::ApproveChangeRequest approve;
    approve.set_id(changes.changes(0).id());
    ASSERT_OK(km_->ApproveChange(kAdmin, approve).status());
  };
  approve_pending();
  auto pins = [&] {
    v1::GetKeyRequest r;
    r.set_name("keys/dk");
    absl::StatusOr<v1::Key> k = km_->GetKey(kAdmin, r);
    EXPECT_OK(k.status());
    return k.ok() ? std::vector<std::string>(k->release_reference_sets().begin(),
                                             k->release_reference_sets().end())
                  : std::vector<std::string>{};
  };
  EXPECT_THAT(pins(), ElementsAre("approved@1"));
  ASSERT_OK_AND_ASSIGN(Workload w, NewWorkload());
  auto attest = [&](const Bytes& measurement) -> absl::Status {
    ASSIGN_OR_RETURN(std::string nonce, Challenge(kWorkload, "keys/dk"));
    ASSIGN_OR_RETURN(v1::EvidenceItem item, Evidence(w, nonce, measurement));
    return AttestWith(kWorkload, w, nonce, item, "keys/dk").status();
  };
  EXPECT_OK(attest(kGoodMeasurement));

  // One admin approves another measurement: the plain key "k" would take it
  // (ReferenceValueChangesApplyToTheNextDecision), the dual-control key not.
  PutApprovedValues({kGoodMeasurement, kBadMeasurement});
  EXPECT_THAT(attest(kBadMeasurement),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("policy_denied")));
  {
    // The caller sees the reason id; the audit record says why.
    std::ostringstream exported;
    ASSERT_OK(audit_->Export(1, exported));
    EXPECT_THAT(exported.str(),
                HasSubstr("under the reference values pinned at the key's dual-control binding"));
  }
  EXPECT_OK(attest(kGoodMeasurement));
  // Tightening applies at once: the good measurement withdrawn.
  PutApprovedValues({kBadMeasurement});
  EXPECT_THAT(attest(kGoodMeasurement),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("policy_denied")));
  EXPECT_THAT(attest(kBadMeasurement), StatusIs(absl::StatusCode::kPermissionDenied));
  // A new binding, approved by a second admin, pins the set as it is now.
  v1::UpdateKeyRequest up;
  up.set_name("keys/dk");
  up.add_update_mask("release_policy");
  up.set_release_policy("policies/p");
  ASSERT_OK(km_->UpdateKey(kOwner, up).status());
  approve_pending();
  EXPECT_THAT(pins(), ElementsAre("approved@3"));
  EXPECT_OK(attest(kBadMeasurement));

  // Deleted and created again by one admin: numbering goes on (4, not 1),
  // and the pinned version 3 is gone, so nothing is released until the key
  // is bound again.
  v1::DeleteReferenceValuesRequest del;
  del.set_name("approved");
  ASSERT_OK(admin_->DeleteReferenceValues(kAdmin, del).status());
  v1::PutReferenceValuesRequest again;
  again.set_name("approved");
  again.add_values(HexEncode(kBadMeasurement));
  again.add_values(HexEncode(kGoodMeasurement));
  ASSERT_OK_AND_ASSIGN(auto recreated, admin_->PutReferenceValues(kAdmin, again));
  EXPECT_EQ(recreated.version(), 4);
  EXPECT_THAT(attest(kBadMeasurement),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("policy_denied")));

  // Pins are the server's to set.
  up.add_release_reference_sets("approved@4");
  EXPECT_THAT(km_->UpdateKey(kOwner, up),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("release_reference_sets")));
}

}  // namespace
}  // namespace strongroom::kms
