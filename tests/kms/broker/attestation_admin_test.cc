// AttestationAdmin with the key manager beside it: what a key's release
// binding may name (a stored policy version), and how reference-value and
// policy changes are reported to the audit chain.
#include "kms/broker/attestation_admin.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/kms/broker/broker_fixture.h"

namespace strongroom::kms {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;

class AttestationAdminTest : public BrokerFixture {};

// A binding names a policy version that is stored: a deleted one (policy
// deleted and written again) or one never written is refused naming
// release_policy_version, and the name is kept in its resource form.
TEST_F(AttestationAdminTest, ABindingNamesAStoredPolicyVersion) {
  MakeKey("k");
  PutApprovedValues();
  PutApprovedPolicy();
  PutApprovedPolicy();  // version 2
  v1::UpdateKeyRequest up;
  up.set_name("keys/k");
  up.add_update_mask("release_policy");
  up.set_release_policy("p");
  up.set_release_policy_version(1);
  ASSERT_OK_AND_ASSIGN(auto bound, km_->UpdateKey(kOwner, up));
  EXPECT_EQ(bound.key().release_policy(), "policies/p");
  EXPECT_EQ(bound.key().release_policy_version(), 1);

  v1::DeletePolicyRequest del;
  del.set_name("policies/p");
  ASSERT_OK(admin_->DeletePolicy(kAdmin, del).status());
  PutApprovedPolicy();  // version 3: versions 1 and 2 went with the deletion
  EXPECT_THAT(km_->UpdateKey(kOwner, up),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("release_policy_version: 1 of policy 'p' no longer exists")));
  up.set_release_policy_version(7);
  EXPECT_THAT(km_->UpdateKey(kOwner, up),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("release_policy_version: 7 does not exist (policy 'p' is at "
                                 "version 3)")));
  up.set_release_policy_version(0);
  ASSERT_OK_AND_ASSIGN(bound, km_->UpdateKey(kOwner, up));
  EXPECT_EQ(bound.key().release_policy_version(), 3);
}

TEST_F(AttestationAdminTest, ReferenceValueAndPolicyChangesAreRecordedUnderOneResourceName) {
  std::vector<std::pair<std::string, std::string>> seen;
  admin_->SetChangeObserver([&seen](const Caller&, absl::string_view action,
                                    absl::string_view resource, absl::string_view) {
    seen.emplace_back(std::string(action), std::string(resource));
  });
  PutApprovedValues();
  PutApprovedPolicy();
  v1::DeleteReferenceValuesRequest drv;
  drv.set_name("approved");
  ASSERT_OK(admin_->DeleteReferenceValues(kAdmin, drv).status());
  v1::DeletePolicyRequest dp;
  dp.set_name("p");
  ASSERT_OK(admin_->DeletePolicy(kAdmin, dp).status());
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[0].second, "referenceValues/approved");
  EXPECT_EQ(seen[2], std::make_pair(std::string("delete_reference_values"),
                                    std::string("referenceValues/approved")));
  EXPECT_EQ(seen[1].second, "policies/p");
  EXPECT_EQ(seen[3], std::make_pair(std::string("delete_policy"), std::string("policies/p")));

  // A set lists each value once.
  v1::PutReferenceValuesRequest twice;
  twice.set_name("approved");
  twice.add_values("aa");
  twice.add_values("bb");
  twice.add_values("aa");
  EXPECT_THAT(admin_->PutReferenceValues(kAdmin, twice),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("values[2]: repeats an earlier value")));

  // As many values as a reference-value set document may hold, and no more.
  v1::PutReferenceValuesRequest many;
  many.set_name("many");
  for (size_t i = 0; i < attest::kMaxReferenceValues; ++i) many.add_values(absl::StrCat("v", i));
  EXPECT_OK(admin_->PutReferenceValues(kAdmin, many).status());
  many.add_values("one-more");
  EXPECT_THAT(admin_->PutReferenceValues(kAdmin, many),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("values: 10001 values")));
}

}  // namespace
}  // namespace strongroom::kms
