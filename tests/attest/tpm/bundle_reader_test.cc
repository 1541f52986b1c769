// The quote bundle's two readers (attest/tpm/quote_bundle_internal.h): the
// fast one answers for bundles as BuildTpmQuoteBundle writes them, with the
// DOM reader's result, and leaves everything else to the DOM reader.
#include "attest/tpm/quote_bundle_internal.h"

#include "absl/strings/str_replace.h"
#include "attest/tpm/quote_bundle.h"
#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/attest/tpm/tpm_test_util.h"

namespace strongroom::attest {
namespace {

using ::strongroom::attest::testing::SwtpmBundle;
using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;
using tpm_internal::ParseTpmQuoteBundleDom;
using tpm_internal::ReadTpmQuoteBundleFast;

void ExpectSame(const TpmQuoteBundle& a, const TpmQuoteBundle& b) {
  EXPECT_EQ(a.quote, b.quote);
  EXPECT_EQ(a.signature, b.signature);
  EXPECT_EQ(a.pcrs, b.pcrs);
  EXPECT_EQ(a.ak_public, b.ak_public);
  EXPECT_EQ(a.ek_public, b.ek_public);
}

TEST(TpmBundleReaderTest, FastReaderReadsBuiltBundles) {
  for (const char* alg : {"ecc", "rsa"}) {
    SCOPED_TRACE(alg);
    TpmQuoteBundle original = SwtpmBundle(alg);
    original.pcrs[kTpmAlgSha1][0] = Bytes(20, 0x11);  // two banks
    const std::string json = BuildTpmQuoteBundle(original);
    std::optional<TpmQuoteBundle> fast = ReadTpmQuoteBundleFast(json);
    ASSERT_TRUE(fast.has_value());
    ExpectSame(*fast, original);
    ASSERT_OK_AND_ASSIGN(TpmQuoteBundle dom, ParseTpmQuoteBundleDom(json));
    ExpectSame(*fast, dom);
    // Pretty-printed (whitespace between tokens) is the same bundle.
    const std::string pretty = nlohmann::json::parse(json).dump(2);
    std::optional<TpmQuoteBundle> fast_pretty = ReadTpmQuoteBundleFast(pretty);
    ASSERT_TRUE(fast_pretty.has_value());
    ExpectSame(*fast_pretty, original);
  }
  // Without the optional members.
  TpmQuoteBundle bare = SwtpmBundle("ecc");
  bare.ak_public.clear();
  bare.ek_public.clear();
  std::optional<TpmQuoteBundle> fast =
      ReadTpmQuoteBundleFast(BuildTpmQuoteBundle(bare));
  ASSERT_TRUE(fast.has_value());
  ExpectSame(*fast, bare);
}

TEST(TpmBundleReaderTest, EscapedStringsAreLeftToTheDomReader) {
  const TpmQuoteBundle original = SwtpmBundle("ecc");
  const std::string json = BuildTpmQuoteBundle(original);
  // "\/" is "/" in JSON; an escaped format string is the same value.
  std::string escaped = absl::StrReplaceAll(
      json, {{"strongroom-tpm-quote/1", "strongroom-tpm-quote\\/1"}});
  ASSERT_NE(escaped, json);
  EXPECT_FALSE(ReadTpmQuoteBundleFast(escaped).has_value());
  ASSERT_OK_AND_ASSIGN(TpmQuoteBundle parsed, ParseTpmQuoteBundle(escaped));
  ExpectSame(parsed, original);
}

TEST(TpmBundleReaderTest, AnythingUnusualIsLeftToTheDomReader) {
  const std::string json = BuildTpmQuoteBundle(SwtpmBundle("ecc"));
  ASSERT_EQ(json.front(), '{');
  const std::string rest = json.substr(1);
  struct Case {
    std::string name;
    std::string json;
    std::string error;  // the DOM reader's, through ParseTpmQuoteBundle
  };
  const Case cases[] = {
      {"DuplicateMember", "{\"format\":\"x\"," + rest, ""},
      {"UnknownMember", "{\"extra\":\"x\"," + rest, "extra: unknown member"},
      {"TrailingBytes", json + "x", "not valid JSON"},
      {"TrailingComma", json.substr(0, json.size() - 1) + ",}",
       "not valid JSON"},
      {"NotAnObject", "[" + json + "]", "not a JSON object"},
      {"NumberValue", "{\"quote\":1," + rest, ""},
      {"WrongFormat",
       absl::StrReplaceAll(json, {{"strongroom-tpm-quote/1", "other/1"}}),
       "format: 'other/1' is not"},
      {"BadPcrIndex", absl::StrReplaceAll(json, {{"\"16\":", "\"016\":"}}),
       "PCR index '016' is not a decimal"},
      {"BadBase64", absl::StrReplaceAll(json, {{"\"quote\":\"", "\"quote\":\"!"}}),
       "quote"},
      {"Empty", "", "not valid JSON"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ASSERT_NE(c.json, json);
    EXPECT_FALSE(ReadTpmQuoteBundleFast(c.json).has_value());
    absl::StatusOr<TpmQuoteBundle> dom = ParseTpmQuoteBundleDom(c.json);
    absl::StatusOr<TpmQuoteBundle> parsed = ParseTpmQuoteBundle(c.json);
    EXPECT_EQ(parsed.status(), dom.status());
    if (!c.error.empty()) {
      EXPECT_THAT(parsed, StatusIs(absl::StatusCode::kInvalidArgument,
                                   HasSubstr(c.error)));
    }
  }
}

}  // namespace
}  // namespace strongroom::attest
