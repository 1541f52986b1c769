// Reference-value sets: JSON parsing and its refusals (with JSON paths),
// serialization round trips, and the in-memory resolver's versioning.
#include "attest/policy/reference_values.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/attest/policy/test_util.h"

namespace strongroom::attest {
namespace {

using ::strongroom::attest::testing::At;
using ::strongroom::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(ReferenceValueSetTest, ParsesTheExample) {
  ASSERT_OK_AND_ASSIGN(ReferenceValueSet set,
                       ParseReferenceValueSet(testing::ReadTestdata(
                           "approved_snp_measurements.json")));
  EXPECT_EQ(set.name, "approved-snp-measurements");
  EXPECT_EQ(set.version, 3);
  EXPECT_EQ(set.expires_at, At("2026-01-01T00:00:00Z"));
  EXPECT_THAT(set.description, HasSubstr("2024.06"));
  // The values are the launch measurements of both Milan vector reports.
  EXPECT_THAT(
      set.values,
      ElementsAre(testing::SnpMeasurementFromFields("milan/virtee_report.bin"),
                  testing::SnpMeasurementFromFields("milan/gosev_report.bin")));
  EXPECT_FALSE(set.ExpiredAt(At("2025-12-31T23:59:59Z")));
  EXPECT_TRUE(set.ExpiredAt(At("2026-01-01T00:00:00Z")));
}

TEST(ReferenceValueSetTest, OptionalFieldsDefault) {
  ASSERT_OK_AND_ASSIGN(
      ReferenceValueSet set,
      ParseReferenceValueSet(R"({"name": "pcr0", "values": ["ab"]})"));
  EXPECT_EQ(set.version, 0);
  EXPECT_EQ(set.expires_at, absl::InfiniteFuture());
  EXPECT_EQ(set.description, "");
  EXPECT_FALSE(set.ExpiredAt(At("2999-01-01T00:00:00Z")));
}

TEST(ReferenceValueSetTest, JsonRoundTrip) {
  ReferenceValueSet set{.name = "approved-tdx-mrtd",
                        .version = 7,
                        .values = {"ab01", "UpToDate"},
                        .expires_at = At("2025-06-30T12:34:56Z"),
                        .description = "MRTDs"};
  const std::string json = ReferenceValueSetToJson(set);
  EXPECT_EQ(json,
            R"({"description":"MRTDs","expiresAt":"2025-06-30T12:34:56Z",)"
            R"("name":"approved-tdx-mrtd","values":["ab01","UpToDate"],)"
            R"("version":7})");
  ASSERT_OK_AND_ASSIGN(ReferenceValueSet back, ParseReferenceValueSet(json));
  EXPECT_EQ(back.name, set.name);
  EXPECT_EQ(back.version, set.version);
  EXPECT_EQ(back.values, set.values);
  EXPECT_EQ(back.expires_at, set.expires_at);
  EXPECT_EQ(back.description, set.description);
  // No expiry: the key is omitted and comes back as never.
  set.expires_at = absl::InfiniteFuture();
  set.description.clear();
  EXPECT_EQ(ReferenceValueSetToJson(set),
            R"({"name":"approved-tdx-mrtd","values":["ab01","UpToDate"],)"
            R"("version":7})");
}

struct InvalidSetCase {
  const char* name;
  std::string json;
  std::string message;
};

void PrintTo(const InvalidSetCase& c, std::ostream* os) { *os << c.name; }

std::vector<InvalidSetCase> InvalidSetCases() {
  return {
      {"NotObject", R"(["ab"])", "$: expected an object, got array"},
      {"NameMissing", R"({"values": ["ab"]})", "$.name: required"},
      {"ValuesMissing", R"({"name": "a"})", "$.values: required"},
      {"NameNotString", R"({"name": 1, "values": ["ab"]})",
       "$.name: expected a string, got integer"},
      {"NameInvalid", R"({"name": "-bad", "values": ["ab"]})",
       "$.name: invalid reference-value set name \"-bad\" (1 to 63 of "
       "[a-z0-9._-], starting with a letter or digit)"},
      {"NameTooLong",
       absl::StrCat(R"({"name": ")", std::string(64, 'a'),
                    R"(", "values": ["ab"]})"),
       absl::StrCat("$.name: invalid reference-value set name \"",
                    std::string(64, 'a'),
                    "\" (1 to 63 of [a-z0-9._-], starting with a letter or "
                    "digit)")},
      {"ValuesEmpty", R"({"name": "a", "values": []})", "$.values: empty list"},
      {"ValuesNotList", R"({"name": "a", "values": "ab"})",
       "$.values: expected a list, got string"},
      {"ValueNotString", R"({"name": "a", "values": ["ab", 12]})",
       "$.values[1]: expected a string, got integer"},
      {"ValueEmpty", R"({"name": "a", "values": ["ab", ""]})",
       "$.values[1]: empty string"},
      {"ValueControlCharacter", R"({"name": "a", "values": ["a\nb"]})",
       "$.values[0]: control character in \"a\\nb\""},
      {"ValueDuplicate", R"({"name": "a", "values": ["ab", "cd", "ab"]})",
       "$.values[2]: duplicate value \"ab\""},
      {"ValueTooLong",
       absl::StrCat(R"({"name": "a", "values": [")", std::string(1025, 'a'),
                    R"("]})"),
       "$.values[0]: value is 1025 bytes, the limit is 1024"},
      {"VersionZero", R"({"name": "a", "version": 0, "values": ["ab"]})",
       "$.version: version must be >= 1, got 0"},
      {"VersionString", R"({"name": "a", "version": "1", "values": ["ab"]})",
       "$.version: expected an integer, got string"},
      {"ExpiresNotTime",
       R"({"name": "a", "expiresAt": "tomorrow", "values": ["ab"]})",
       "$.expiresAt: invalid RFC 3339 time \"tomorrow\": Failed to parse "
       "input"},
      {"ExpiresNotString",
       R"({"name": "a", "expiresAt": 1700000000, "values": ["ab"]})",
       "$.expiresAt: expected an RFC 3339 time string, got integer"},
      {"UnknownKey", R"({"name": "a", "values": ["ab"], "owner": "x"})",
       "$.owner: unknown key (expected one of name, version, description, "
       "expiresAt, values)"},
      {"DuplicateKey", R"({"name": "a", "name": "b", "values": ["ab"]})",
       "$: duplicate key \"name\""},
      {"TooDeep", R"({"name": "a", "values": [[[["ab"]]]]})",
       "$.values[0][0][0]: nesting deeper than 4 levels"},
  };
}

class ReferenceValueSetInvalidTest
    : public ::testing::TestWithParam<InvalidSetCase> {};

TEST_P(ReferenceValueSetInvalidTest, RefusedWithPath) {
  EXPECT_THAT(ParseReferenceValueSet(GetParam().json),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::Eq(GetParam().message)));
}

INSTANTIATE_TEST_SUITE_P(
    Table, ReferenceValueSetInvalidTest, ::testing::ValuesIn(InvalidSetCases()),
    [](const ::testing::TestParamInfo<InvalidSetCase>& info) {
      return std::string(info.param.name);
    });

TEST(ReferenceValueSetTest, SizeAndCountLimits) {
  std::string big = absl::StrCat(R"({"name": "a", "values": ["ab"]})",
                                 std::string(kMaxReferenceValueSetBytes, ' '));
  EXPECT_THAT(ParseReferenceValueSet(big),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       StartsWith("$: document is ")));
  ReferenceValueSet many{.name = "many"};
  for (size_t i = 0; i <= kMaxReferenceValues; ++i) {
    many.values.push_back(absl::StrCat(i));
  }
  EXPECT_THAT(ValidateReferenceValueSet(many),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "$.values: 10001 values, the limit is 10000"));
  many.values.pop_back();
  EXPECT_OK(ValidateReferenceValueSet(many));
}

TEST(InMemoryReferenceValuesTest, AssignsAndChecksVersions) {
  InMemoryReferenceValues store;
  EXPECT_THAT(store.Resolve("pcr0"),
              StatusIs(absl::StatusCode::kNotFound,
                       "reference-value set \"pcr0\" not found"));
  ASSERT_OK_AND_ASSIGN(int64_t v1,
                       store.Put({.name = "pcr0", .values = {"aa"}}));
  EXPECT_EQ(v1, 1);
  ASSERT_OK_AND_ASSIGN(int64_t v2,
                       store.Put({.name = "pcr0", .values = {"bb"}}));
  EXPECT_EQ(v2, 2);
  ASSERT_OK_AND_ASSIGN(ReferenceValueSet got, store.Resolve("pcr0"));
  EXPECT_EQ(got.version, 2);
  EXPECT_THAT(got.values, ElementsAre("bb"));
  // An explicit version must move forward.
  EXPECT_THAT(store.Put({.name = "pcr0", .version = 2, .values = {"cc"}}),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("version 2 is not after the current 2")));
  ASSERT_OK_AND_ASSIGN(
      int64_t v9, store.Put({.name = "pcr0", .version = 9, .values = {"cc"}}));
  EXPECT_EQ(v9, 9);
  // Invalid sets are refused before anything is stored.
  EXPECT_THAT(
      store.Put({.name = "pcr0", .values = {}}),
      StatusIs(absl::StatusCode::kInvalidArgument, "$.values: empty list"));
  ASSERT_OK_AND_ASSIGN(got, store.Resolve("pcr0"));
  EXPECT_EQ(got.version, 9);
  ASSERT_OK(store.Remove("pcr0"));
  EXPECT_THAT(store.Resolve("pcr0"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store.Remove("pcr0"), StatusIs(absl::StatusCode::kNotFound));
}

TEST(InMemoryReferenceValuesTest, ConcurrentPutAndResolve) {
  InMemoryReferenceValues store;
  ASSERT_OK(store.Put({.name = "s", .values = {"00"}}));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&store, t] {
      for (int i = 0; i < 200; ++i) {
        if (t % 2 == 0) {
          EXPECT_OK(store.Put({.name = "s", .values = {absl::StrCat(i)}}));
        } else {
          absl::StatusOr<ReferenceValueSet> s = store.Resolve("s");
          EXPECT_OK(s);
          if (s.ok()) {
            EXPECT_EQ(s->values.size(), 1u);
          }
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  ASSERT_OK_AND_ASSIGN(ReferenceValueSet last, store.Resolve("s"));
  EXPECT_EQ(last.version, 401);
}

}  // namespace
}  // namespace strongroom::attest
