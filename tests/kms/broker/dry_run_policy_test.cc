// AttestationAdmin::DryRunPolicy: a stored or inline policy appraised against
// evidence without issuing anything, and the shape checks it shares with
// Attest (evidence count and size, the verification time); the reference
// values' description bound.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "kms/broker/attestation_admin.h"
#include "tests/kms/broker/broker_fixture.h"

namespace strongroom::kms {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;

class DryRunPolicyTest : public BrokerFixture {
 protected:
  void SetUp() override {
    BrokerFixture::SetUp();
    PutApprovedValues();
    PutApprovedPolicy();
  }

  // A dry run of policy "p" on dev evidence with `measurement`, its report
  // data given as expected.
  absl::StatusOr<v1::DryRunPolicyResponse> DryRun(const Bytes& measurement) {
    ASSIGN_OR_RETURN(Workload w, NewWorkload());
    ASSIGN_OR_RETURN(v1::EvidenceItem item, Evidence(w, "n0nce-n0nce-n0nce-n0nce", measurement));
    item.set_expected_report_data(std::string(AsStringView(attest::AttestationBinding(
        static_cast<uint16_t>(w.keys.public_key.kem()), AsBytes("n0nce-n0nce-n0nce-n0nce"),
        w.keys.public_key.Serialize()))));
    v1::DryRunPolicyRequest r;
    r.set_policy_name("policies/p");
    *r.add_evidence() = item;
    return admin_->DryRunPolicy(kAdmin, r);
  }
};

TEST_F(DryRunPolicyTest, AppraisesWithoutIssuing) {
  ASSERT_OK_AND_ASSIGN(v1::DryRunPolicyResponse good, DryRun(kGoodMeasurement));
  EXPECT_TRUE(good.verified()) << good.reason();
  EXPECT_TRUE(good.allowed()) << good.reason();
  ASSERT_OK_AND_ASSIGN(v1::DryRunPolicyResponse bad, DryRun(kBadMeasurement));
  EXPECT_TRUE(bad.verified()) << bad.reason();
  EXPECT_FALSE(bad.allowed());
  EXPECT_FALSE(bad.reason().empty());
}

TEST_F(DryRunPolicyTest, MalformedRequestsNameTheField) {
  v1::DryRunPolicyRequest r;
  r.set_policy_name("policies/p");
  EXPECT_THAT(admin_->DryRunPolicy(kAdmin, r),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("evidence: 0 items")));
  for (int i = 0; i < 5; ++i) {
    v1::EvidenceItem* e = r.add_evidence();
    e->set_type("dev");
    e->set_payload("{}");
  }
  EXPECT_THAT(admin_->DryRunPolicy(kAdmin, r),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("evidence: 5 items, expected 1..4")));
  r.clear_evidence();
  v1::EvidenceItem* big = r.add_evidence();
  big->set_type("dev");
  big->set_payload(std::string(200 * 1024, 'x'));
  big->add_certificates(std::string(100 * 1024, 'c'));
  EXPECT_THAT(admin_->DryRunPolicy(kAdmin, r),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("evidence[0]: 307200 bytes, at most 262144")));
  big->clear_certificates();
  big->set_payload("{}");
  r.set_verification_time_unix(-1);
  EXPECT_THAT(admin_->DryRunPolicy(kAdmin, r),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("verification_time_unix: -1 is before 1970")));
}

TEST_F(DryRunPolicyTest, ReferenceValueDescriptionIsBounded) {
  v1::PutReferenceValuesRequest rv;
  rv.set_name("approved");
  rv.add_values(HexEncode(kGoodMeasurement));
  rv.set_description(std::string(1025, 'd'));
  EXPECT_THAT(admin_->PutReferenceValues(kAdmin, rv),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("description: longer")));
  rv.set_description(std::string(1024, 'd'));
  EXPECT_OK(admin_->PutReferenceValues(kAdmin, rv).status());
}

}  // namespace
}  // namespace strongroom::kms
