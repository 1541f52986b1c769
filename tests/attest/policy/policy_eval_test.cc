// Evaluation of release policies: each operator's allow and deny with the
// failed path and reason, anyOf/allOf/not nesting, absent claims, type
// mismatches, the development-evidence rule, "tee" and "minStatus", and
// composite (SNP + NVIDIA) claims. Claims follow the SEV-SNP vector
// milan/virtee_report.bin (values read from REPORT_FIELDS.md).
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
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

const absl::Time kNow = At("2025-03-01T12:00:00Z");

std::string Req(absl::string_view clause) {
  return absl::StrCat(R"({"version": 1, "require": )", clause, "}");
}

Claims SnpClaims() {
  Claims c = testing::VirteeSnpClaims();
  c.SetString("snp.product", "Milan");
  c.SetString("snp.signing_key", "vcek");
  return c;
}

// Fills in @MEAS@ (the vector's measurement), @MEAS_UC@ (the same in
// uppercase) and @MEAS_PREFIX_UC@ (its first 8 hex digits, uppercase).
std::string Expand(absl::string_view text) {
  const std::string m =
      testing::SnpMeasurementFromFields("milan/virtee_report.bin");
  return absl::StrReplaceAll(
      text, {{"@MEAS@", m},
             {"@MEAS_UC@", absl::AsciiStrToUpper(m)},
             {"@MEAS_PREFIX_UC@", absl::AsciiStrToUpper(m.substr(0, 8))}});
}

PolicyDecision Decide(absl::string_view policy, const Claims& claims,
                      const EvaluationContext& ctx = {}) {
  InMemoryReferenceValues none;
  return MustParse(policy).Evaluate(claims, none, kNow, ctx);
}

struct OperatorCase {
  const char* name;
  const char* clause;  // the whole "require"
  bool allow;
  const char* reason;  // on deny; failed_path is always $.require
};

void PrintTo(const OperatorCase& c, std::ostream* os) { *os << c.name; }

std::vector<OperatorCase> OperatorCases() {
  return {
      {"EqualsBoolMatch", R"({"claim": "snp.policy.debug", "equals": false})",
       true, ""},
      {"EqualsBoolDeny", R"({"claim": "snp.policy.debug", "equals": true})",
       false, "$.require: snp.policy.debug is false, expected true"},
      {"EqualsIntMatch", R"({"claim": "snp.vmpl", "equals": 0})", true, ""},
      {"EqualsIntDeny", R"({"claim": "snp.vmpl", "equals": 1})", false,
       "$.require: snp.vmpl is 0, expected 1"},
      {"EqualsStringDeny", R"({"claim": "snp.product", "equals": "Genoa"})",
       false, R"($.require: snp.product is "Milan", expected "Genoa")"},
      {"EqualsHexIgnoresLiteralCase",
       R"({"claim": "snp.measurement", "equals": "@MEAS_UC@"})", true, ""},
      {"EqualsNonHexIsCaseSensitive",
       R"({"claim": "snp.product", "equals": "MILAN"})", false,
       R"($.require: snp.product is "Milan", expected "MILAN")"},
      {"EqualsTypeMismatch", R"({"claim": "snp.vmpl", "equals": "0"})", false,
       "$.require: snp.vmpl is an integer (0), expected a string"},
      {"EqualsAbsent", R"({"claim": "snp.host_data", "equals": "00"})", false,
       "$.require: claim snp.host_data absent"},
      {"NotEqualsMatch", R"({"claim": "snp.vmpl", "notEquals": 1})", true, ""},
      {"NotEqualsDeny", R"({"claim": "snp.vmpl", "notEquals": 0})", false,
       "$.require: snp.vmpl is 0, expected a value other than 0"},
      {"NotEqualsAbsentDenies",
       R"({"claim": "snp.host_data", "notEquals": "00"})", false,
       "$.require: claim snp.host_data absent"},
      {"NotEqualsTypeMismatchDenies",
       R"({"claim": "snp.policy.debug", "notEquals": 1})", false,
       "$.require: snp.policy.debug is a boolean (false), expected an "
       "integer"},
      {"InListMatch", R"({"claim": "snp.product", "in": ["Genoa", "Milan"]})",
       true, ""},
      {"InListDeny", R"({"claim": "snp.product", "in": ["Genoa", "Turin"]})",
       false,
       R"($.require: snp.product is "Milan", expected one of ["Genoa", "Turin"])"},
      {"InLongListIsShortenedInReason",
       R"({"claim": "snp.vmpl", "in": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]})", false,
       "$.require: snp.vmpl is 0, expected one of [1, 2, 3, 4, 5, 6, 7, 8, "
       "... (2 more)]"},
      {"InListHexIgnoresLiteralCase",
       R"({"claim": "snp.measurement", "in": ["00", "@MEAS_UC@"]})", true, ""},
      {"InListBool", R"({"claim": "snp.policy.debug", "in": [false]})", true,
       ""},
      {"InListTypeMismatch", R"({"claim": "snp.vmpl", "in": ["0"]})", false,
       "$.require: snp.vmpl is an integer (0), expected a string"},
      {"InListAbsent", R"({"claim": "snp.host_data", "in": ["00"]})", false,
       "$.require: claim snp.host_data absent"},
      {"GteAtBoundary", R"({"claim": "snp.reported_tcb.snp", "gte": 8})", true,
       ""},
      {"GteDeny", R"({"claim": "snp.reported_tcb.snp", "gte": 9})", false,
       "$.require: snp.reported_tcb.snp is 8, expected at least 9"},
      {"GteNegativeBound", R"({"claim": "snp.vmpl", "gte": -1})", true, ""},
      {"LteAtBoundary", R"({"claim": "snp.reported_tcb.snp", "lte": 8})", true,
       ""},
      {"LteDeny", R"({"claim": "snp.reported_tcb.snp", "lte": 7})", false,
       "$.require: snp.reported_tcb.snp is 8, expected at most 7"},
      {"GteOnString", R"({"claim": "snp.product", "gte": 1})", false,
       R"($.require: snp.product is a string ("Milan"), expected an integer)"},
      {"LteAbsent", R"({"claim": "snp.reported_tcb.fmc", "lte": 1})", false,
       "$.require: claim snp.reported_tcb.fmc absent"},
      {"StartsWithMatch", R"({"claim": "snp.product", "startsWith": "Mil"})",
       true, ""},
      {"StartsWithDeny", R"({"claim": "snp.product", "startsWith": "Gen"})",
       false,
       R"($.require: snp.product is "Milan", expected a value starting with "Gen")"},
      {"StartsWithHexIgnoresLiteralCase",
       R"({"claim": "snp.measurement", "startsWith": "@MEAS_PREFIX_UC@"})",
       true, ""},
      {"StartsWithOnInteger", R"({"claim": "snp.vmpl", "startsWith": "0"})",
       false, "$.require: snp.vmpl is an integer (0), expected a string"},
      {"ExistsTrueMatch", R"({"claim": "snp.chip_id", "exists": true})", true,
       ""},
      {"ExistsTrueDeny", R"({"claim": "snp.host_data", "exists": true})", false,
       "$.require: claim snp.host_data absent"},
      {"ExistsFalseMatch", R"({"claim": "snp.host_data", "exists": false})",
       true, ""},
      {"ExistsFalseDeny", R"({"claim": "snp.vmpl", "exists": false})", false,
       "$.require: claim snp.vmpl is present (0), expected it absent"},
  };
}

class OperatorTest : public ::testing::TestWithParam<OperatorCase> {};

TEST_P(OperatorTest, Decides) {
  const OperatorCase& c = GetParam();
  PolicyDecision d = Decide(Req(Expand(c.clause)), SnpClaims());
  EXPECT_EQ(d.allow, c.allow) << d.reason;
  if (c.allow) {
    EXPECT_THAT(d.failed_path, IsEmpty());
    EXPECT_THAT(d.reason, IsEmpty());
  } else {
    EXPECT_EQ(d.failed_path, "$.require");
    EXPECT_EQ(d.reason, Expand(c.reason));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, OperatorTest, ::testing::ValuesIn(OperatorCases()),
    [](const ::testing::TestParamInfo<OperatorCase>& info) {
      return std::string(info.param.name);
    });

TEST(OperatorTest, ReasonQuotesTheHexMeasurement) {
  PolicyDecision d = Decide(
      Req(R"({"claim": "snp.measurement", "equals": "00"})"), SnpClaims());
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.reason,
            Expand(R"($.require: snp.measurement is "@MEAS@", expected "00")"));
}

TEST(NestingTest, AllOfReportsInnermostFailingClause) {
  PolicyDecision d = Decide(Req(R"({"allOf": [
      {"claim": "snp.vmpl", "equals": 0},
      {"allOf": [
        {"claim": "snp.policy.debug", "equals": false},
        {"claim": "snp.reported_tcb.snp", "gte": 10},
        {"claim": "snp.never", "exists": true}]}]})"),
                            SnpClaims());
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.failed_path, "$.require.allOf[1].allOf[1]");
  EXPECT_EQ(d.reason,
            "$.require.allOf[1].allOf[1]: snp.reported_tcb.snp is 8, expected "
            "at least 10");
}

TEST(NestingTest, AllOfAllMatchAllows) {
  EXPECT_TRUE(Decide(Req(R"({"allOf": [
      {"claim": "snp.vmpl", "equals": 0},
      {"claim": "snp.policy.debug", "equals": false}]})"),
                     SnpClaims())
                  .allow);
}

TEST(NestingTest, AnyOfFailureNamesItselfAndEveryAlternative) {
  PolicyDecision d = Decide(Req(R"({"allOf": [
      {"claim": "snp.vmpl", "equals": 0},
      {"anyOf": [
        {"claim": "snp.product", "equals": "Genoa"},
        {"claim": "tdx.tcb_status", "equals": "UpToDate"}]}]})"),
                            SnpClaims());
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.failed_path, "$.require.allOf[1]");
  EXPECT_EQ(d.reason,
            "$.require.allOf[1]: none of the 2 anyOf alternatives matched "
            "($.require.allOf[1].anyOf[0]: snp.product is \"Milan\", expected "
            "\"Genoa\"; $.require.allOf[1].anyOf[1]: claim tdx.tcb_status "
            "absent)");
}

TEST(NestingTest, AnyOfOneMatchAllows) {
  EXPECT_TRUE(Decide(Req(R"({"anyOf": [
      {"claim": "tdx.tcb_status", "equals": "UpToDate"},
      {"claim": "snp.product", "equals": "Genoa"},
      {"claim": "snp.product", "equals": "Milan"}]})"),
                     SnpClaims())
                  .allow);
}

TEST(NestingTest, NotDeniesWhenTheNegatedClauseMatches) {
  Claims c;
  c.SetString("tdx.tcb_status", "Revoked");
  PolicyDecision d = Decide(Req(R"({"allOf": [
      {"claim": "tdx.tcb_status", "exists": true},
      {"not": {"claim": "tdx.tcb_status", "in": ["Revoked", "OutOfDate"]}}]})"),
                            c);
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.failed_path, "$.require.allOf[1]");
  EXPECT_EQ(d.reason,
            "$.require.allOf[1]: the negated clause matched "
            "($.require.allOf[1].not: tdx.tcb_status is \"Revoked\", one of "
            "[\"Revoked\", \"OutOfDate\"])");
  c.SetString("tdx.tcb_status", "UpToDate");
  EXPECT_TRUE(Decide(Req(R"({"not": {"claim": "tdx.tcb_status",
                                      "in": ["Revoked", "OutOfDate"]}})"),
                     c)
                  .allow);
}

TEST(NestingTest, NotNeverTurnsAnAbsentClaimIntoAllow) {
  // Fail closed: without the claim, "not revoked" is not established.
  PolicyDecision d =
      Decide(Req(R"({"not": {"claim": "tdx.tcb_status", "in": ["Revoked"]}})"),
             SnpClaims());
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.failed_path, "$.require.not");
  EXPECT_EQ(d.reason, "$.require.not: claim tdx.tcb_status absent");
  // Nor through an anyOf whose alternatives could not be decided.
  d = Decide(Req(R"({"not": {"anyOf": [
      {"claim": "snp.product", "equals": "Genoa"},
      {"claim": "tdx.tcb_status", "equals": "Revoked"}]}})"),
             SnpClaims());
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.failed_path, "$.require.not");
  // Nor a type mismatch.
  d = Decide(Req(R"({"not": {"claim": "snp.vmpl", "equals": "1"}})"),
             SnpClaims());
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.reason,
            "$.require.not: snp.vmpl is an integer (0), expected a string");
}

TEST(NestingTest, NotOfExistsIsAbsence) {
  EXPECT_TRUE(Decide(Req(R"({"not": {"claim": "snp.host_data",
                                      "exists": true}})"),
                     SnpClaims())
                  .allow);
  PolicyDecision d = Decide(
      Req(R"({"not": {"claim": "snp.vmpl", "exists": true}})"), SnpClaims());
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.reason,
            "$.require: the negated clause matched ($.require.not: claim "
            "snp.vmpl present)");
}

TEST(NestingTest, DoubleNotIsIdentity) {
  EXPECT_TRUE(Decide(Req(R"({"not": {"not": {"claim": "snp.vmpl",
                                              "equals": 0}}})"),
                     SnpClaims())
                  .allow);
  PolicyDecision d =
      Decide(Req(R"({"not": {"not": {"claim": "snp.vmpl", "equals": 1}}})"),
             SnpClaims());
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.failed_path, "$.require");
  EXPECT_EQ(d.reason,
            "$.require: the negated clause matched ($.require.not: the negated "
            "clause did not match ($.require.not.not: snp.vmpl is 0, expected "
            "1))");
}

TEST(NestingTest, ExampleTdxPolicyRejectsRevokedTcb) {
  InMemoryReferenceValues sets;
  ASSERT_OK(sets.Put({.name = "approved-tdx-mrtd", .values = {"aa"}}));
  ASSERT_OK(sets.Put({.name = "approved-tdx-rtmr0", .values = {"bb"}}));
  Policy p = MustParse(testing::ReadTestdata("tdx.json"));
  Claims c;
  c.SetString("tdx.mrtd", "aa");
  c.SetString("tdx.rtmr0", "bb");
  c.SetBool("tdx.td_attributes.debug", false);
  c.SetString("tdx.tcb_status", "SWHardeningNeeded");
  EvaluationContext ctx{.evidence_types = {"tdx"},
                        .status = TrustTier::kWarning};
  PolicyDecision d = p.Evaluate(c, sets, kNow, ctx);
  EXPECT_TRUE(d.allow) << d.reason;
  c.SetString("tdx.tcb_status", "OutOfDate");
  d = p.Evaluate(c, sets, kNow, ctx);
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.failed_path, "$.require.allOf[3]");
}

// --- development evidence --------------------------------------------------

Claims DevClaims() {
  Claims c;
  c.SetString("dev.measurement", std::string(64, 'd'));
  c.SetString("dev.report_data", "00");
  return c;
}

TEST(DevEvidenceTest, RefusedUnlessThePolicyNamesDev) {
  PolicyDecision d =
      Decide(Req(R"({"claim": "dev.report_data", "exists": false})"), {});
  EXPECT_TRUE(d.allow);  // control: no dev claims, the rule does not apply
  // A policy that never mentions dev does not accept dev evidence, even
  // when its clauses would match.
  d = Decide(Req(R"({"claim": "snp.vmpl", "exists": false})"), DevClaims());
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.failed_path, "$");
  EXPECT_EQ(d.reason, "$: development evidence is not accepted by this policy");
}

TEST(DevEvidenceTest, CannotRideAlongWithRealEvidence) {
  Claims c = SnpClaims();
  c.Merge(DevClaims());
  PolicyDecision d = Decide(Req(R"({"claim": "snp.vmpl", "equals": 0})"), c);
  EXPECT_FALSE(d.allow);
  EXPECT_THAT(d.reason, HasSubstr("development evidence is not accepted"));
}

TEST(DevEvidenceTest, DevInContextCounts) {
  PolicyDecision d = Decide(Req(R"({"claim": "snp.vmpl", "equals": 0})"),
                            SnpClaims(), {.evidence_types = {"snp", "dev"}});
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.failed_path, "$");
}

TEST(DevEvidenceTest, AcceptedWhenNamedInTeeOrClaimPath) {
  Policy by_tee = MustParse(testing::ReadTestdata("dev.json"));
  EXPECT_TRUE(by_tee.accepts_development_evidence());
  InMemoryReferenceValues none;
  PolicyDecision d = by_tee.Evaluate(DevClaims(), none, kNow, {});
  EXPECT_TRUE(d.allow) << d.reason;

  Policy by_claim = MustParse(Req(R"({"anyOf": [
      {"claim": "snp.vmpl", "equals": 0},
      {"claim": "dev.measurement", "startsWith": "dd"}]})"));
  EXPECT_TRUE(by_claim.accepts_development_evidence());
  EXPECT_TRUE(by_claim.Evaluate(DevClaims(), none, kNow, {}).allow);
}

// --- tee and minStatus -------------------------------------------------------

TEST(TeeTest, EveryListedTypeMustBePresent) {
  const std::string policy =
      R"({"version": 1, "tee": ["snp", "nvidia"],
          "require": {"claim": "snp.vmpl", "equals": 0}})";
  PolicyDecision d = Decide(policy, SnpClaims());
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.failed_path, "$.tee[1]");
  EXPECT_EQ(d.reason,
            "$.tee[1]: required evidence type nvidia is not present (present: "
            "snp)");
  Claims both = SnpClaims();
  both.Merge(testing::H100Claims());
  EXPECT_TRUE(Decide(policy, both).allow);
  // The caller's list of verified types counts too.
  EXPECT_TRUE(
      Decide(policy, SnpClaims(), {.evidence_types = {"snp", "nvidia"}}).allow);
  d = Decide(policy, {});
  EXPECT_EQ(d.reason,
            "$.tee[0]: required evidence type snp is not present (present: "
            "none)");
}

TEST(MinStatusTest, AffirmingRequiresAffirming) {
  const std::string policy =
      R"({"version": 1, "minStatus": "affirming",
          "require": {"claim": "snp.vmpl", "equals": 0}})";
  EXPECT_TRUE(
      Decide(policy, SnpClaims(), {.status = TrustTier::kAffirming}).allow);
  PolicyDecision d =
      Decide(policy, SnpClaims(), {.status = TrustTier::kWarning});
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.failed_path, "$.minStatus");
  EXPECT_EQ(
      d.reason,
      "$.minStatus: EAR status is warning, the policy requires affirming");
  d = Decide(policy, SnpClaims(), {.status = TrustTier::kNone});
  EXPECT_EQ(d.reason,
            "$.minStatus: EAR status is none, the policy requires affirming");
}

TEST(MinStatusTest, WarningAcceptsWarningAndAffirming) {
  const std::string policy =
      R"({"version": 1, "minStatus": "warning",
          "require": {"claim": "snp.vmpl", "equals": 0}})";
  EXPECT_TRUE(
      Decide(policy, SnpClaims(), {.status = TrustTier::kAffirming}).allow);
  EXPECT_TRUE(
      Decide(policy, SnpClaims(), {.status = TrustTier::kWarning}).allow);
  PolicyDecision d = Decide(policy, SnpClaims(), {.status = TrustTier::kNone});
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.reason,
            "$.minStatus: EAR status is none, the policy requires warning or "
            "affirming");
}

TEST(MinStatusTest, ContraindicatedIsAlwaysRefused) {
  const std::string policy = Req(R"({"claim": "snp.vmpl", "equals": 0})");
  EXPECT_TRUE(Decide(policy, SnpClaims(), {.status = TrustTier::kNone}).allow);
  PolicyDecision d =
      Decide(policy, SnpClaims(), {.status = TrustTier::kContraindicated});
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.failed_path, "$");
  EXPECT_THAT(d.reason, HasSubstr("EAR status is contraindicated"));
}

TEST(EvaluationContextTest, FromAppraisalsCombinesTypesAndStatus) {
  Appraisal snp{.tee = "snp"};
  snp.trust.instance_identity = 2;
  snp.trust.hardware = 2;
  Appraisal gpu{.tee = "nvidia"};
  gpu.trust.hardware = 2;
  std::vector<Appraisal> list = {snp, gpu};
  EvaluationContext ctx = EvaluationContext::FromAppraisals(list);
  EXPECT_THAT(ctx.evidence_types, ElementsAre("snp", "nvidia"));
  EXPECT_EQ(ctx.status, TrustTier::kAffirming);
  list[1].trust.hardware = 32;  // GPU firmware out of date
  EXPECT_EQ(EvaluationContext::FromAppraisals(list).status,
            TrustTier::kWarning);
  list.push_back(Appraisal{.tee = "dev"});  // makes no trust claim
  EXPECT_EQ(EvaluationContext::FromAppraisals(list).status, TrustTier::kNone);
  list[0].trust.hardware = 96;
  EXPECT_EQ(EvaluationContext::FromAppraisals(list).status,
            TrustTier::kContraindicated);
  EXPECT_EQ(EvaluationContext::FromAppraisals({}).status, TrustTier::kNone);
}

// --- composite evidence
// --------------------------------------------------------

TEST(CompositeTest, SnpAndNvidiaClaimsInOnePolicy) {
  const std::string meas =
      testing::SnpMeasurementFromFields("milan/virtee_report.bin");
  InMemoryReferenceValues sets;
  ASSERT_OK(sets.Put({.name = "approved-snp-measurements", .values = {meas}}));
  ASSERT_OK(sets.Put({.name = "approved-h100-vbios-measurements",
                      .values = {std::string(96, 'c')}}));
  Policy p = MustParse(testing::ReadTestdata("composite_snp_nvidia.json"));

  Appraisal snp{.tee = "snp", .claims = SnpClaims()};
  snp.trust.hardware = 2;
  Appraisal gpu{.tee = "nvidia", .claims = testing::H100Claims()};
  gpu.trust.hardware = 2;
  auto decide = [&](const std::vector<Appraisal>& appraisals) {
    Claims merged;
    for (const Appraisal& a : appraisals) merged.Merge(a.claims);
    return p.Evaluate(merged, sets, kNow,
                      EvaluationContext::FromAppraisals(appraisals));
  };

  PolicyDecision d = decide({snp, gpu});
  EXPECT_TRUE(d.allow) << d.reason;
  EXPECT_THAT(d.consulted_sets,
              ElementsAre(std::pair<std::string, int64_t>(
                              "approved-snp-measurements", 1),
                          std::pair<std::string, int64_t>(
                              "approved-h100-vbios-measurements", 1)));

  // A GPU clause fails: the path points into the GPU part.
  Appraisal old_driver = gpu;
  old_driver.claims.SetString("nvidia.opaque.driver_version", "535.104.05");
  d = decide({snp, old_driver});
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.failed_path, "$.require.allOf[5]");
  EXPECT_THAT(d.reason, HasSubstr("nvidia.opaque.driver_version is "
                                  "\"535.104.05\", expected a value starting "
                                  "with \"550.\""));

  // Without the GPU evidence the "tee" check refuses first.
  d = decide({snp});
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.failed_path, "$.tee[1]");

  // A GPU in warning state fails minStatus affirming.
  Appraisal warned = gpu;
  warned.trust.hardware = 32;
  d = decide({snp, warned});
  EXPECT_EQ(d.failed_path, "$.minStatus");
}

}  // namespace
}  // namespace strongroom::attest
