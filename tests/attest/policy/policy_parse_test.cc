// Validation of policy documents: every refusal names the JSON path at
// fault, and the exact message is part of the contract (docs/policy.md
// lists them), so these compare whole messages.
#include <openssl/sha.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "attest/policy/policy.h"
#include "base/bytes.h"
#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/attest/policy/test_util.h"

namespace strongroom::attest {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::StartsWith;

struct InvalidCase {
  const char* name;
  std::string json;
  std::string message;  // the whole InvalidArgument message
};

// Wraps a clause as the whole "require" of a version-1 policy.
std::string Req(absl::string_view clause) {
  return absl::StrCat(R"({"version": 1, "require": )", clause, "}");
}

constexpr char kOps[] = "equals, notEquals, in, gte, lte, startsWith, exists";

void PrintTo(const InvalidCase& c, std::ostream* os) { *os << c.name; }

std::vector<InvalidCase> InvalidCases() {
  return {
      {"NotAnObject", "[]", "$: expected a policy object, got array"},
      {"VersionMissing", R"({"require": {"claim": "snp.vmpl", "equals": 0}})",
       "$.version: required"},
      {"VersionString", R"({"version": "1", "require": {}})",
       "$.version: expected an integer, got string"},
      {"VersionFloat", R"({"version": 1.0, "require": {}})",
       "$.version: expected an integer, got number"},
      {"VersionUnsupported", R"({"version": 2, "require": {}})",
       "$.version: unsupported version 2 (supported: 1)"},
      {"RequireMissing", R"({"version": 1})", "$.require: required"},
      {"UnknownTopLevelKey",
       R"({"version": 1, "requires": {"claim": "snp.vmpl", "equals": 0}})",
       "$.requires: unknown key (expected version, description, tee, "
       "minStatus, require)"},
      {"UnknownKeyNotAnIdentifier", R"({"version": 1, "re quire": 1})",
       "$[\"re quire\"]: unknown key (expected version, description, tee, "
       "minStatus, require)"},
      {"DescriptionNotString", R"({"version": 1, "description": 5})",
       "$.description: expected a string, got integer"},
      {"DuplicateTopLevelKey", R"({"version": 1, "version": 1, "require": {}})",
       "$: duplicate key \"version\""},
      {"DuplicateOperator", Req(R"({"claim": "snp.vmpl", "equals": 0,
                                    "equals": 1})"),
       "$.require: duplicate key \"equals\""},
      {"DuplicateKeyInSecondListElement",
       Req(R"({"allOf": [{"claim": "snp.vmpl", "equals": 0},
                         {"claim": "snp.vmpl", "claim": "snp.x", "exists": true}]})"),
       "$.require.allOf[1]: duplicate key \"claim\""},
      {"TeeNotList", R"({"version": 1, "tee": "snp", "require": {}})",
       "$.tee: expected a list of evidence types, got string"},
      {"TeeEmpty", R"({"version": 1, "tee": [], "require": {}})",
       "$.tee: empty list"},
      {"TeeUnknown", R"({"version": 1, "tee": ["snp", "sgx"], "require": {}})",
       "$.tee[1]: unknown evidence type \"sgx\" (expected snp, tdx, tpm, "
       "nvidia, dev)"},
      {"TeeDuplicate",
       R"({"version": 1, "tee": ["snp", "snp"], "require": {}})",
       "$.tee[1]: duplicate \"snp\""},
      {"TeeElementNotString", R"({"version": 1, "tee": [1], "require": {}})",
       "$.tee[0]: expected a string, got integer"},
      {"MinStatusUnknown",
       R"({"version": 1, "minStatus": "none", "require": {}})",
       "$.minStatus: expected \"affirming\" or \"warning\", got \"none\""},
      {"MinStatusNotString", R"({"version": 1, "minStatus": 2, "require": {}})",
       "$.minStatus: expected \"affirming\" or \"warning\", got integer"},
      {"EmptyClause", Req("{}"),
       "$.require: empty clause (expected one of allOf, anyOf, not, claim)"},
      {"ClauseNotObject", Req(R"({"allOf": [{"claim": "snp.vmpl",
                                             "equals": 0}, "snp.vmpl"]})"),
       "$.require.allOf[1]: expected a clause object, got string"},
      {"AnyOfEmpty", Req(R"({"anyOf": []})"), "$.require.anyOf: empty list"},
      {"AllOfNotList", Req(R"({"allOf": {"claim": "snp.vmpl", "equals": 0}})"),
       "$.require.allOf: expected a list of clauses, got object"},
      {"NotWithList", Req(R"({"not": [{"claim": "snp.vmpl", "equals": 0}]})"),
       "$.require.not: expected a clause object, got array"},
      {"TwoForms", Req(R"({"allOf": [], "claim": "snp.vmpl"})"),
       "$.require: a clause has exactly one of allOf, anyOf, not, claim; got "
       "allOf and claim"},
      {"OperatorNextToAllOf",
       Req(R"({"allOf": [{"claim": "snp.vmpl", "equals": 0}], "equals": 1})"),
       "$.require.equals: operator next to allOf; operators belong in claim "
       "clauses"},
      {"OperatorWithoutClaim", Req(R"({"allOf": [{"equals": 0}]})"),
       "$.require.allOf[0]: operator \"equals\" without a \"claim\""},
      {"NoOperator", Req(R"({"claim": "snp.vmpl"})"),
       absl::StrCat("$.require: clause on claim \"snp.vmpl\" has no operator "
                    "(expected one of ",
                    kOps, ")")},
      {"TwoOperators", Req(R"({"claim": "snp.vmpl", "gte": 0, "equals": 0})"),
       "$.require: clause has 2 operators (equals, gte); exactly one is "
       "allowed"},
      {"UnknownClauseKey", Req(R"({"allOf": [{"claim": "snp.vmpl", "equals": 0},
                         {"claim": "snp.vmpl", "value": 0}]})"),
       absl::StrCat("$.require.allOf[1].value: unknown key (expected allOf, "
                    "anyOf, not, or claim with one of ",
                    kOps, ")")},
      {"ClaimNotString", Req(R"({"claim": 7, "exists": true})"),
       "$.require.claim: expected a string, got integer"},
      {"ClaimUppercase", Req(R"({"claim": "SNP.measurement", "exists": true})"),
       "$.require.claim: invalid claim path \"SNP.measurement\" (two or more "
       "segments of [a-z0-9_] joined by dots, at most 256 characters)"},
      {"ClaimEmptySegment", Req(R"({"claim": "snp..vmpl", "exists": true})"),
       "$.require.claim: invalid claim path \"snp..vmpl\" (two or more "
       "segments of [a-z0-9_] joined by dots, at most 256 characters)"},
      {"ClaimOneSegment", Req(R"({"claim": "measurement", "exists": true})"),
       "$.require.claim: invalid claim path \"measurement\" (two or more "
       "segments of [a-z0-9_] joined by dots, at most 256 characters)"},
      {"ClaimUnknownTee", Req(R"({"claim": "sgx.mrenclave", "exists": true})"),
       "$.require.claim: claim path \"sgx.mrenclave\" does not start with an "
       "evidence type (snp, tdx, tpm, nvidia, dev)"},
      {"GteString", Req(R"({"allOf": [{"claim": "snp.vmpl", "equals": 0},
                         {"claim": "snp.policy.debug", "equals": false},
                         {"claim": "snp.reported_tcb.snp", "gte": "8"}]})"),
       "$.require.allOf[2].gte: expected an integer, got string"},
      {"LteFloat", Req(R"({"claim": "snp.vmpl", "lte": 0.5})"),
       "$.require.lte: expected an integer, got number"},
      {"GteOutOfRange",
       Req(R"({"claim": "snp.vmpl", "gte": 18446744073709551615})"),
       "$.require.gte: integer 18446744073709551615 is out of the signed "
       "64-bit range"},
      {"StartsWithNotString", Req(R"({"claim": "snp.vmpl", "startsWith": 1})"),
       "$.require.startsWith: expected a string, got integer"},
      {"StartsWithEmpty", Req(R"({"claim": "snp.vmpl", "startsWith": ""})"),
       "$.require.startsWith: empty prefix (it would match every string)"},
      {"ExistsNotBool", Req(R"({"claim": "snp.vmpl", "exists": "yes"})"),
       "$.require.exists: expected a boolean, got string"},
      {"EqualsNull", Req(R"({"claim": "snp.vmpl", "equals": null})"),
       "$.require.equals: expected a boolean, integer or string, got null"},
      {"NotEqualsObject", Req(R"({"claim": "snp.vmpl", "notEquals": {}})"),
       "$.require.notEquals: expected a boolean, integer or string, got "
       "object"},
      {"InEmptyList", Req(R"({"claim": "tdx.tcb_status", "in": []})"),
       "$.require.in: empty list"},
      {"InNonScalarElement",
       Req(R"({"claim": "tdx.tcb_status", "in": ["UpToDate", {}]})"),
       "$.require.in[1]: expected a boolean, integer or string, got object"},
      {"InMixedTypes", Req(R"({"claim": "tdx.tcb_status", "in": ["a", 1]})"),
       "$.require.in[1]: expected string like the first element, got integer"},
      {"InNumber", Req(R"({"claim": "tdx.tcb_status", "in": 3})"),
       "$.require.in: expected a list or {\"referenceValues\": name}, got "
       "integer"},
      {"InObjectUnknownKey",
       Req(R"({"claim": "snp.measurement", "in": {"refValues": "a"}})"),
       "$.require.in.refValues: unknown key (expected referenceValues)"},
      {"InEmptyObject", Req(R"({"claim": "snp.measurement", "in": {}})"),
       "$.require.in: empty object (expected {\"referenceValues\": name})"},
      {"InReferenceSetNameNotString",
       Req(R"({"claim": "snp.measurement", "in": {"referenceValues": 1}})"),
       "$.require.in.referenceValues: expected a string, got integer"},
      {"InReferenceSetNameInvalid", Req(R"({"claim": "snp.measurement",
               "in": {"referenceValues": "Approved SNP"}})"),
       "$.require.in.referenceValues: invalid reference-value set name "
       "\"Approved SNP\" (1 to 63 of [a-z0-9._-], starting with a letter or "
       "digit)"},
      {"DeepPathInsideNot",
       Req(R"({"allOf": [{"anyOf": [{"claim": "snp.vmpl", "equals": 0},
                                    {"not": {"claim": "snp.Vmpl",
                                             "equals": 0}}]}]})"),
       "$.require.allOf[0].anyOf[1].not.claim: invalid claim path "
       "\"snp.Vmpl\" (two or more segments of [a-z0-9_] joined by dots, at "
       "most 256 characters)"},
  };
}

class PolicyInvalidTest : public ::testing::TestWithParam<InvalidCase> {};

TEST_P(PolicyInvalidTest, RefusedWithPath) {
  EXPECT_THAT(Policy::Parse(GetParam().json),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::Eq(GetParam().message)));
}

INSTANTIATE_TEST_SUITE_P(Table, PolicyInvalidTest,
                         ::testing::ValuesIn(InvalidCases()),
                         [](const ::testing::TestParamInfo<InvalidCase>& info) {
                           return std::string(info.param.name);
                         });

TEST(PolicyParseTest, SyntaxErrorsNameLineAndColumn) {
  EXPECT_THAT(Policy::Parse(R"({"version": 1, "require": {"claim": )"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       StartsWith("$: invalid JSON: parse error at line 1")));
  EXPECT_THAT(
      Policy::Parse("{\"version\": 1}\n x"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               AllOf(StartsWith("$: invalid JSON:"), HasSubstr("line 2"))));
  EXPECT_THAT(Policy::Parse(""), StatusIs(absl::StatusCode::kInvalidArgument,
                                          StartsWith("$: invalid JSON:")));
  // Invalid UTF-8 inside a string.
  EXPECT_THAT(Policy::Parse("{\"version\": 1, \"description\": \"\xff\"}"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       StartsWith("$: invalid JSON:")));
}

TEST(PolicyParseTest, SizeLimit) {
  const std::string small = Req(R"({"claim": "snp.vmpl", "equals": 0})");
  // Pad with whitespace (valid JSON) to exactly the limit, then one more.
  std::string at_limit =
      small + std::string(Policy::kMaxBytes - small.size(), ' ');
  EXPECT_OK(Policy::Parse(at_limit));
  EXPECT_THAT(
      Policy::Parse(at_limit + " "),
      StatusIs(absl::StatusCode::kInvalidArgument,
               absl::StrCat("$: document is ", Policy::kMaxBytes + 1,
                            " bytes, the limit is ", Policy::kMaxBytes)));
}

// {"not": {"not": ... {"claim": ...}}}: the root object is depth 1,
// "require" depth 2, each "not" one more.
std::string NestedNots(int nots) {
  std::string clause = R"({"claim": "snp.vmpl", "equals": 0})";
  for (int i = 0; i < nots; ++i)
    clause = absl::StrCat(R"({"not": )", clause, "}");
  return Req(clause);
}

TEST(PolicyParseTest, DepthLimit) {
  // Depth = 2 (root, require) + nots; 30 nots nest the last object at 32.
  EXPECT_OK(Policy::Parse(NestedNots(30)));
  std::string path = "$.require";
  for (int i = 0; i < Policy::kMaxDepth - 1; ++i) path += ".not";
  EXPECT_THAT(Policy::Parse(NestedNots(31)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       absl::StrCat(path, ": nesting deeper than ",
                                    Policy::kMaxDepth, " levels")));
  // Far deeper input is refused the same way, without recursion trouble.
  EXPECT_THAT(Policy::Parse(std::string(20000, '[') + std::string(20000, ']')),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("nesting deeper than 32 levels")));
}

TEST(PolicyParseTest, DepthErrorPathThroughArrays) {
  // allOf lists add two levels each; the error path carries the indices.
  std::string clause = R"({"claim": "snp.vmpl", "equals": 0})";
  std::string expected_tail;
  for (int i = 0; i < 16; ++i) {
    clause = absl::StrCat(R"({"allOf": [{"claim": "snp.vmpl", "equals": 0}, )",
                          clause, "]}");
  }
  absl::StatusOr<Policy> p = Policy::Parse(Req(clause));
  ASSERT_FALSE(p.ok());
  // Root(1) require(2) then allOf list / element pairs: the 33rd container
  // is the list of the 16th allOf, reached through element [1] each time.
  std::string path = "$.require";
  for (int i = 0; i < 15; ++i) path += ".allOf[1]";
  EXPECT_EQ(p.status().message(),
            absl::StrCat(path, ".allOf: nesting deeper than 32 levels"));
}

TEST(PolicyParseTest, AcceptsEveryExample) {
  for (const char* name : {"snp.json", "tdx.json", "tpm.json",
                           "composite_snp_nvidia.json", "dev.json"}) {
    SCOPED_TRACE(name);
    EXPECT_OK(Policy::Parse(testing::ReadTestdata(name)));
  }
}

TEST(PolicyParseTest, ExposesWhatItParsed) {
  Policy p = testing::MustParse(testing::ReadTestdata("tdx.json"));
  EXPECT_THAT(p.required_tees(), ::testing::ElementsAre("tdx"));
  EXPECT_EQ(p.min_status(), TrustTier::kWarning);
  EXPECT_THAT(p.description(), HasSubstr("Intel TDX guest"));
  EXPECT_THAT(p.ReferencedSets(), ::testing::ElementsAre("approved-tdx-mrtd",
                                                         "approved-tdx-rtmr0"));
  EXPECT_FALSE(p.accepts_development_evidence());
  Policy minimal =
      testing::MustParse(Req(R"({"claim": "snp.vmpl", "equals": 0})"));
  EXPECT_TRUE(minimal.required_tees().empty());
  EXPECT_FALSE(minimal.min_status().has_value());
  EXPECT_TRUE(minimal.ReferencedSets().empty());
}

TEST(PolicyParseTest, ReferencedSetsAreUniqueInDocumentOrder) {
  Policy p = testing::MustParse(Req(R"({"anyOf": [
      {"claim": "snp.measurement", "in": {"referenceValues": "zeta"}},
      {"not": {"claim": "snp.chip_id", "in": {"referenceValues": "alpha"}}},
      {"claim": "snp.host_data", "in": {"referenceValues": "zeta"}}]})"));
  EXPECT_THAT(p.ReferencedSets(), ::testing::ElementsAre("zeta", "alpha"));
}

std::string Sha256HexOf(absl::string_view s) {
  uint8_t md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const uint8_t*>(s.data()), s.size(), md);
  return HexEncode(md);
}

TEST(PolicyDigestTest, StableAcrossWhitespaceAndKeyOrder) {
  Policy a = testing::MustParse(
      R"({"version":1,"tee":["snp"],"require":{"claim":"snp.vmpl","equals":0}})");
  Policy b = testing::MustParse(R"(
    {
      "require": { "equals": 0,   "claim": "snp.vmpl" },
      "tee": [ "snp" ],
      "version": 1
    }
  )");
  EXPECT_EQ(a.Digest(), b.Digest());
  EXPECT_EQ(a.ToJson(), b.ToJson());
  EXPECT_EQ(
      a.ToJson(),
      R"({"require":{"claim":"snp.vmpl","equals":0},"tee":["snp"],"version":1})");
  // The digest is SHA-256 over exactly the canonical form.
  EXPECT_EQ(a.Digest(), Sha256HexOf(a.ToJson()));
  EXPECT_EQ(a.Digest().size(), 64u);
}

TEST(PolicyDigestTest, ChangesWithContentAndSurvivesRoundTrip) {
  Policy a = testing::MustParse(testing::ReadTestdata("snp.json"));
  Policy b = testing::MustParse(Req(R"({"claim": "snp.vmpl", "equals": 1})"));
  Policy c = testing::MustParse(Req(R"({"claim": "snp.vmpl", "equals": 0})"));
  EXPECT_NE(a.Digest(), b.Digest());
  EXPECT_NE(b.Digest(), c.Digest());
  Policy again = testing::MustParse(a.ToJson());
  EXPECT_EQ(again.Digest(), a.Digest());
  EXPECT_EQ(again.ToJson(), a.ToJson());
}

}  // namespace
}  // namespace strongroom::attest
