// Policies that consult reference-value sets: match, no match, missing,
// expired (at the boundary), resolver failures, hex case, and the list of
// consulted sets a caller uses to revoke tokens.
#include <atomic>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "attest/policy/policy.h"
#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/attest/policy/test_util.h"

namespace strongroom::attest {
namespace {

using ::strongroom::attest::testing::At;
using ::strongroom::attest::testing::MustParse;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using Consulted = std::pair<std::string, int64_t>;

const absl::Time kNow = At("2025-03-01T12:00:00Z");

// Forwards to a real resolver, counts calls, and fails on demand.
class FaultyResolver final : public ReferenceValueResolver {
 public:
  explicit FaultyResolver(const ReferenceValueResolver& real) : real_(real) {}
  absl::StatusOr<ReferenceValueSet> Resolve(
      absl::string_view name) const override {
    ++calls_;
    if (!fail_with_.ok()) return fail_with_;
    return real_.Resolve(name);
  }
  void FailWith(absl::Status s) { fail_with_ = std::move(s); }
  int calls() const { return calls_; }

 private:
  const ReferenceValueResolver& real_;
  absl::Status fail_with_;
  mutable std::atomic<int> calls_{0};
};

class ReferenceSetEvalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    claims_ = testing::VirteeSnpClaims();
    measurement_ = claims_.GetString("snp.measurement");
    ASSERT_EQ(measurement_.size(), 96u);
    // The example set from testdata lists both Milan vectors' measurements.
    ASSERT_OK_AND_ASSIGN(ReferenceValueSet set,
                         ParseReferenceValueSet(testing::ReadTestdata(
                             "approved_snp_measurements.json")));
    ASSERT_OK(sets_.Put(set));
  }

  PolicyDecision Decide(absl::string_view policy,
                        const ReferenceValueResolver& resolver,
                        absl::Time now = kNow) {
    return MustParse(policy).Evaluate(claims_, resolver, now, {});
  }
  PolicyDecision Decide(absl::string_view policy) {
    return Decide(policy, sets_);
  }

  Claims claims_;
  std::string measurement_;
  InMemoryReferenceValues sets_;
};

constexpr char kInApproved[] =
    R"({"version": 1, "require": {"claim": "snp.measurement",
        "in": {"referenceValues": "approved-snp-measurements"}}})";

TEST_F(ReferenceSetEvalTest, MatchAllowsAndRecordsTheSet) {
  PolicyDecision d = Decide(kInApproved);
  EXPECT_TRUE(d.allow) << d.reason;
  EXPECT_THAT(d.consulted_sets,
              ElementsAre(Consulted("approved-snp-measurements", 3)));
}

TEST_F(ReferenceSetEvalTest, ValueNotInSetDenies) {
  claims_.SetString("snp.measurement", std::string(96, '0'));
  PolicyDecision d = Decide(kInApproved);
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.failed_path, "$.require");
  EXPECT_EQ(d.reason, absl::StrCat("$.require: snp.measurement is \"",
                                   std::string(96, '0'),
                                   "\", not in reference-value set "
                                   "\"approved-snp-measurements\" version 3"));
  EXPECT_THAT(d.consulted_sets,
              ElementsAre(Consulted("approved-snp-measurements", 3)));
}

TEST_F(ReferenceSetEvalTest, UppercaseHexInTheSetStillMatches) {
  ASSERT_OK(sets_.Put(
      {.name = "upper", .values = {absl::AsciiStrToUpper(measurement_)}}));
  EXPECT_TRUE(Decide(R"({"version": 1, "require": {"claim": "snp.measurement",
                         "in": {"referenceValues": "upper"}}})")
                  .allow);
  // Non-hex values compare exactly.
  ASSERT_OK(sets_.Put({.name = "products", .values = {"MILAN"}}));
  claims_.SetString("snp.product", "Milan");
  EXPECT_FALSE(Decide(R"({"version": 1, "require": {"claim": "snp.product",
                          "in": {"referenceValues": "products"}}})")
                   .allow);
}

TEST_F(ReferenceSetEvalTest, MissingSetDenies) {
  InMemoryReferenceValues empty;
  PolicyDecision d = Decide(kInApproved, empty);
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.failed_path, "$.require");
  EXPECT_EQ(d.reason,
            "$.require: reference-value set \"approved-snp-measurements\" not "
            "found");
  EXPECT_THAT(d.consulted_sets, IsEmpty());
}

TEST_F(ReferenceSetEvalTest, DeletedSetDenies) {
  EXPECT_TRUE(Decide(kInApproved).allow);
  ASSERT_OK(sets_.Remove("approved-snp-measurements"));
  EXPECT_FALSE(Decide(kInApproved).allow);
}

TEST_F(ReferenceSetEvalTest, ExpiredSetDeniesNamingItsExpiry) {
  // The example set expires at 2026-01-01T00:00:00Z.
  const absl::Time expiry = At("2026-01-01T00:00:00Z");
  EXPECT_TRUE(Decide(kInApproved, sets_, expiry - absl::Seconds(1)).allow);
  PolicyDecision d = Decide(kInApproved, sets_, expiry);
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.failed_path, "$.require");
  EXPECT_EQ(d.reason,
            "$.require: reference-value set \"approved-snp-measurements\" "
            "version 3 expired at 2026-01-01T00:00:00Z");
  EXPECT_THAT(d.consulted_sets,
              ElementsAre(Consulted("approved-snp-measurements", 3)));
}

TEST_F(ReferenceSetEvalTest, UnavailableSetStaysDeniedUnderNot) {
  // "not in the deny-list" must not pass because the deny-list is missing
  // or expired.
  const std::string policy =
      R"({"version": 1, "require": {"not": {"claim": "snp.chip_id",
          "in": {"referenceValues": "revoked-chips"}}}})";
  PolicyDecision d = Decide(policy);
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.failed_path, "$.require.not");
  EXPECT_THAT(d.reason, HasSubstr("\"revoked-chips\" not found"));

  ASSERT_OK(sets_.Put({.name = "revoked-chips",
                       .values = {std::string(128, 'f')},
                       .expires_at = kNow - absl::Hours(1)}));
  d = Decide(policy);
  EXPECT_FALSE(d.allow);
  EXPECT_THAT(d.reason, HasSubstr("expired at 2025-03-01T11:00:00Z"));

  ASSERT_OK(
      sets_.Put({.name = "revoked-chips", .values = {std::string(128, 'f')}}));
  d = Decide(policy);
  EXPECT_TRUE(d.allow) << d.reason;
  EXPECT_THAT(d.consulted_sets, ElementsAre(Consulted("revoked-chips", 2)));
}

TEST_F(ReferenceSetEvalTest, ResolverErrorDeniesWithItsMessage) {
  FaultyResolver faulty(sets_);
  faulty.FailWith(absl::UnavailableError("store offline"));
  PolicyDecision d = Decide(kInApproved, faulty);
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.reason,
            "$.require: reference-value set \"approved-snp-measurements\" "
            "could not be resolved: store offline");
  EXPECT_THAT(d.consulted_sets, IsEmpty());
}

TEST_F(ReferenceSetEvalTest, EachSetIsResolvedOncePerEvaluation) {
  FaultyResolver counting(sets_);
  ASSERT_OK(sets_.Put(
      {.name = "chips", .values = {claims_.GetString("snp.chip_id")}}));
  PolicyDecision d = Decide(R"({"version": 1, "require": {"allOf": [
      {"claim": "snp.chip_id", "in": {"referenceValues": "chips"}},
      {"claim": "snp.measurement",
       "in": {"referenceValues": "approved-snp-measurements"}},
      {"not": {"claim": "snp.chip_id",
               "in": {"referenceValues": "approved-snp-measurements"}}},
      {"claim": "snp.chip_id", "in": {"referenceValues": "chips"}}]}})",
                            counting);
  EXPECT_TRUE(d.allow) << d.reason;
  EXPECT_EQ(counting.calls(), 2);
  EXPECT_THAT(d.consulted_sets,
              ElementsAre(Consulted("chips", 1),
                          Consulted("approved-snp-measurements", 3)));
}

TEST_F(ReferenceSetEvalTest, ConsultedListsOnlySetsTheEvaluationReached) {
  // anyOf stops at the first match; allOf at the first failure. Callers
  // that want every possible set use Policy::ReferencedSets().
  ASSERT_OK(sets_.Put({.name = "other", .values = {"00"}}));
  Policy p = MustParse(R"({"version": 1, "require": {"anyOf": [
      {"claim": "snp.measurement",
       "in": {"referenceValues": "approved-snp-measurements"}},
      {"claim": "snp.measurement", "in": {"referenceValues": "other"}}]}})");
  PolicyDecision d = p.Evaluate(claims_, sets_, kNow, {});
  EXPECT_TRUE(d.allow);
  EXPECT_THAT(d.consulted_sets,
              ElementsAre(Consulted("approved-snp-measurements", 3)));
  EXPECT_THAT(p.ReferencedSets(),
              ElementsAre("approved-snp-measurements", "other"));
  // When nothing matches, every alternative was consulted.
  claims_.SetString("snp.measurement", "11");
  d = p.Evaluate(claims_, sets_, kNow, {});
  EXPECT_FALSE(d.allow);
  EXPECT_THAT(d.consulted_sets,
              ElementsAre(Consulted("approved-snp-measurements", 3),
                          Consulted("other", 1)));
}

TEST_F(ReferenceSetEvalTest, NonStringClaimIsATypeMismatch) {
  PolicyDecision d = Decide(R"({"version": 1, "require": {"claim": "snp.vmpl",
                                "in": {"referenceValues": "approved-snp-measurements"}}})");
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.reason,
            "$.require: snp.vmpl is an integer (0), expected a string "
            "(reference-value set \"approved-snp-measurements\")");
  EXPECT_THAT(d.consulted_sets, IsEmpty());
}

TEST_F(ReferenceSetEvalTest, ExampleSnpPolicyEndToEnd) {
  Policy p = MustParse(testing::ReadTestdata("snp.json"));
  EvaluationContext ctx{.evidence_types = {"snp"},
                        .status = TrustTier::kAffirming};
  PolicyDecision d = p.Evaluate(claims_, sets_, kNow, ctx);
  EXPECT_TRUE(d.allow) << d.reason;
  EXPECT_THAT(d.consulted_sets,
              ElementsAre(Consulted("approved-snp-measurements", 3)));
  // The gosev Milan report's launch TCB (bl 2) is older than the policy's
  // minimum bootloader SVN (3); its measurement is approved.
  claims_.SetString("snp.measurement", testing::SnpMeasurementFromFields(
                                           "milan/gosev_report.bin"));
  const int64_t bl =
      testing::SnpReportedTcbFromFields("milan/gosev_report.bin", "bl");
  ASSERT_LT(bl, 3);
  claims_.SetInt("snp.reported_tcb.bl", bl);
  d = p.Evaluate(claims_, sets_, kNow, ctx);
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.failed_path, "$.require.allOf[5]");
  EXPECT_EQ(d.reason,
            absl::StrCat("$.require.allOf[5]: snp.reported_tcb.bl is ", bl,
                         ", expected at least 3"));
}

}  // namespace
}  // namespace strongroom::attest
