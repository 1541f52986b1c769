// The quote bundle's two readers (attest/tpm/quote_bundle_internal.h): the
// fast one answers for bundles as BuildTpmQuoteBundle writes them, with the
// DOM reader's result, and leaves everything else to the DOM reader.
#include "attest/tpm/quote_bundle_internal.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
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

// The fast reader's own base64 and hex decoders: every length of base64
// padding and uppercase hex give the DOM reader's bytes; base64 that is not
// canonical (no padding, non-zero pad bits, whitespace, the URL alphabet),
// control and non-ASCII bytes are left to the DOM reader, which then
// decides.
TEST(TpmBundleReaderTest, FastDecodersAgreeWithTheDomReader) {
  TpmQuoteBundle original = SwtpmBundle("rsa");
  for (size_t trim = 0; trim < 3; ++trim) {  // "==", "=", no padding
    SCOPED_TRACE(trim);
    TpmQuoteBundle b = original;
    b.ek_public.resize(b.ek_public.size() - trim);
    b.ak_public.resize(b.ak_public.size() - 1 - trim);
    const std::string json = BuildTpmQuoteBundle(b);
    std::optional<TpmQuoteBundle> fast = ReadTpmQuoteBundleFast(json);
    ASSERT_TRUE(fast.has_value());
    ExpectSame(*fast, b);
    ASSERT_OK_AND_ASSIGN(TpmQuoteBundle dom, ParseTpmQuoteBundleDom(json));
    ExpectSame(dom, b);
  }
  const std::string json = BuildTpmQuoteBundle(original);
  const std::string pcr16 = HexEncode(original.pcrs.at(kTpmAlgSha256).at(16));
  const std::string upper = absl::AsciiStrToUpper(pcr16);
  ASSERT_NE(upper, pcr16);
  const std::string upper_json =
      absl::StrReplaceAll(json, {{pcr16, upper}});
  std::optional<TpmQuoteBundle> fast = ReadTpmQuoteBundleFast(upper_json);
  ASSERT_TRUE(fast.has_value());
  ExpectSame(*fast, original);

  const std::string quote_b64 = Base64Encode(original.quote);
  ASSERT_EQ(quote_b64.size() % 4, 0u);
  std::string unpadded = quote_b64;
  while (!unpadded.empty() && unpadded.back() == '=') unpadded.pop_back();
  std::vector<std::string> variants = {
      absl::StrReplaceAll(json, {{"\"" + quote_b64 + "\"",
                                  "\"" + quote_b64.substr(0, 8) + " " +
                                      quote_b64.substr(8) + "\""}}),
      absl::StrReplaceAll(json, {{pcr16, pcr16.substr(0, 10) + "\x01" +
                                             pcr16.substr(11)}}),
      absl::StrReplaceAll(json, {{pcr16, pcr16.substr(0, 10) + "\xc3\xa9" +
                                             pcr16.substr(12)}}),
  };
  if (unpadded != quote_b64) {
    variants.push_back(absl::StrReplaceAll(json, {{quote_b64, unpadded}}));
  }
  // Signature: its base64 ends in "=" or "==" for a 262-byte TPMT_SIGNATURE
  // (262 % 3 == 1): change the last data character so that pad bits are set.
  const std::string sig_b64 = Base64Encode(original.signature);
  ASSERT_TRUE(absl::EndsWith(sig_b64, "=="));
  constexpr absl::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string sig_bits = sig_b64;
  char& last = sig_bits[sig_bits.size() - 3];  // 2 data bits, 4 pad bits
  last = kAlphabet[kAlphabet.find(last) | 1];
  ASSERT_NE(sig_bits, sig_b64);
  variants.push_back(absl::StrReplaceAll(json, {{sig_b64, sig_bits}}));
  std::string url = sig_b64;
  for (char& c : url) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  if (url != sig_b64) {
    variants.push_back(absl::StrReplaceAll(json, {{sig_b64, url}}));
  }
  for (size_t i = 0; i < variants.size(); ++i) {
    SCOPED_TRACE(i);
    ASSERT_NE(variants[i], json);
    EXPECT_FALSE(ReadTpmQuoteBundleFast(variants[i]).has_value());
    EXPECT_EQ(ParseTpmQuoteBundle(variants[i]).status(),
              ParseTpmQuoteBundleDom(variants[i]).status());
  }
}

// PCR hex of every bank size (40 to 128 digits, across the vector decoder's
// 64-digit steps), every byte value, mixed case; and a bad character at
// every position of a value, which leaves the bundle to the DOM reader.
TEST(TpmBundleReaderTest, PcrHexOfEveryBankAndEveryBadPosition) {
  TpmQuoteBundle b = SwtpmBundle("rsa");
  int next = 0;
  for (uint16_t bank : {kTpmAlgSha1, kTpmAlgSha384, kTpmAlgSha512}) {
    for (uint32_t index : {0u, 7u, 23u}) {
      Bytes value(TpmHashSize(bank));
      for (uint8_t& v : value) v = static_cast<uint8_t>(next++);
      b.pcrs[bank][index] = value;
    }
  }
  ASSERT_GE(next, 256);
  const std::string json = BuildTpmQuoteBundle(b);
  std::optional<TpmQuoteBundle> fast = ReadTpmQuoteBundleFast(json);
  ASSERT_TRUE(fast.has_value());
  ExpectSame(*fast, b);

  const std::string hex = HexEncode(b.pcrs.at(kTpmAlgSha512).at(7));
  ASSERT_EQ(hex.size(), 128u);
  std::string mixed = hex;
  for (size_t i = 0; i < mixed.size(); i += 3) mixed[i] = absl::ascii_toupper(mixed[i]);
  fast = ReadTpmQuoteBundleFast(absl::StrReplaceAll(json, {{hex, mixed}}));
  ASSERT_TRUE(fast.has_value());
  ExpectSame(*fast, b);

  for (size_t pos = 0; pos < hex.size(); ++pos) {
    for (char bad : {'g', 'G', '/', ':', '@', '`', '\x7f', ' '}) {
      std::string broken = hex;
      broken[pos] = bad;
      const std::string variant = absl::StrReplaceAll(json, {{hex, broken}});
      ASSERT_NE(variant, json);
      EXPECT_FALSE(ReadTpmQuoteBundleFast(variant).has_value())
          << "position " << pos << ", character " << static_cast<int>(bad);
    }
  }
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
      // Refused by both readers: which copy counted would depend on the parser.
      {"DuplicateMember", "{\"format\":\"x\"," + rest, "format: appears twice"},
      {"DuplicateNestedMember",
       absl::StrReplaceAll(json, {{"\"sha256\":{", "\"sha256\":{\"16\":\"00\","}}),
       "16: appears twice"},
      {"UnknownMember", "{\"extra\":\"x\"," + rest, "extra: unknown member"},
      {"TrailingBytes", json + "x", "not valid JSON"},
      {"TrailingComma", json.substr(0, json.size() - 1) + ",}", "not valid JSON"},
      {"NotAnObject", "[" + json + "]", "not a JSON object"},
      {"NumberValue", "{\"quote\":1," + rest, ""},
      {"WrongFormat", absl::StrReplaceAll(json, {{"strongroom-tpm-quote/1", "other/1"}}),
       "format: 'other/1' is not"},
      {"BadPcrIndex", absl::StrReplaceAll(json, {{"\"16\":", "\"016\":"}}),
       "PCR index '016' is not a decimal"},
      {"BadBase64", absl::StrReplaceAll(json, {{"\"quote\":\"", "\"quote\":\"!"}}), "quote"},
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
